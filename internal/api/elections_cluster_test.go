package api_test

import (
	"fmt"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestElectionsAndReassignmentsOverHTTP: POST /v1/elections, POST and GET
// /v1/reassignments on a real three-node cluster, through a follower
// (forwarded) and the leader, their answers checked against the OpenAPI
// document; per-partition failures are 200 with the error in the result.
func TestElectionsAndReassignmentsOverHTTP(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPI())
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	var follower uint64
	for _, id := range c.IDs() {
		if id != lead {
			follower = id
			break
		}
	}
	for id := 1; id <= 3; id++ {
		c.Must(t, lead, "POST", "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "10.0.0.1", "brokerPort": 9090 + id}, 201, "")
	}
	c.Must(t, lead, "POST", "/v1/topics", map[string]any{"name": "t"}, 201, "")
	// Partition 0: [1 2 3] led by 2; partition 1: [2 3] led by 2.
	c.Must(t, lead, "POST", "/v1/topics/t/partitions", map[string]any{"partitionId": 0, "replicas": []int{1, 2, 3}, "leader": 2}, 201, "")
	c.Must(t, lead, "POST", "/v1/topics/t/partitions", map[string]any{"partitionId": 1, "replicas": []int{2, 3}}, 201, "")

	// Elections: one moves, one needs none, one does not exist; through a
	// follower.
	var el contract.ElectLeadersResponse
	resp := c.Must(t, follower, "POST", "/v1/elections", map[string]any{"type": "PREFERRED",
		"partitions": []map[string]any{{"topic": "t", "partitions": []int{0, 1, 7}}}}, 200, "")
	if err := resp.JSON(&el); err != nil {
		t.Fatal(err)
	}
	if got := resultCodes(el.Results); got != "[t/0->1 t/1:ELECTION_NOT_NEEDED t/7:PARTITION_NOT_FOUND]" {
		t.Fatalf("elections: %s", got)
	}
	if resp.Header.Get(api.HeaderOffset) != fmt.Sprint(el.Offset) {
		t.Fatalf("X-Yakt-Offset %q, offset %d", resp.Header.Get(api.HeaderOffset), el.Offset)
	}
	checkAnswer(t, doc, c, "POST", "/v1/elections", "/v1/elections", map[string]any{"type": "unclean"}, 200, "")
	checkAnswer(t, doc, c, "POST", "/v1/elections", "/v1/elections", map[string]any{"type": "sideways"}, 400, "INVALID_REQUEST")
	checkAnswer(t, doc, c, "POST", "/v1/elections", "/v1/elections", map[string]any{"type": "PREFERRED", "partitions": []map[string]any{{"topic": "nope"}}}, 200, "")
	c.Must(t, follower, "POST", "/v1/elections", map[string]any{"kind": "PREFERRED"}, 400, "INVALID_REQUEST")

	// Reassignments: move partition 1 from [2 3] to [1 3] (1 added, 2
	// removed); list it; the leader reports 1 in sync and it completes.
	var rr contract.ReassignResponse
	c.Must(t, follower, "POST", "/v1/reassignments", map[string]any{"partitions": []map[string]any{
		{"topic": "t", "partition": 1, "replicas": []int{1, 3}},
		{"topic": "t", "partition": 0, "replicas": nil},
		{"topic": "t", "partition": 0, "replicas": []int{1, 9}},
	}}, 400, "INVALID_REQUEST") // partition 0 twice
	resp = c.Must(t, follower, "POST", "/v1/reassignments", map[string]any{"partitions": []map[string]any{
		{"topic": "t", "partition": 1, "replicas": []int{1, 3}},
		{"topic": "t", "partition": 0, "replicas": nil},
		{"topic": "nope", "partition": 0, "replicas": []int{1}},
	}}, 200, "")
	if err := resp.JSON(&rr); err != nil {
		t.Fatal(err)
	}
	if got := resultCodes(rr.Results); got != "[t/1:ok t/0:NO_REASSIGNMENT_IN_PROGRESS nope/0:TOPIC_NOT_FOUND]" {
		t.Fatalf("reassignments: %s", got)
	}
	checkAnswer(t, doc, c, "POST", "/v1/reassignments", "/v1/reassignments", map[string]any{"partitions": []map[string]any{
		{"topic": "t", "partition": 0, "replicas": []int{1, 9}}}}, 200, "")
	checkAnswer(t, doc, c, "POST", "/v1/reassignments", "/v1/reassignments", map[string]any{}, 400, "INVALID_REQUEST")
	checkAnswer(t, doc, c, "GET", "/v1/reassignments", "/v1/reassignments", nil, 200, "")
	checkAnswer(t, doc, c, "GET", "/v1/reassignments", "/v1/reassignments?topic=t&stale=true", nil, 200, "")
	checkAnswer(t, doc, c, "GET", "/v1/reassignments", "/v1/reassignments?partition=1", nil, 400, "INVALID_REQUEST")

	list := func(query string) string {
		t.Helper()
		var l contract.ReassignmentList
		if err := c.Must(t, follower, "GET", "/v1/reassignments"+query, nil, 200, "").JSON(&l); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l.Reassignments {
			out = append(out, fmt.Sprintf("%s/%d %v +%v -%v", r.Topic, r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas))
		}
		return fmt.Sprint(out)
	}
	if got := list("?topic=t"); got != "[t/1 [1 3 2] +[1] -[2]]" {
		t.Fatalf("listed: %s", got)
	}
	if got := list("?topic=other"); got != "[]" {
		t.Fatalf("listed for another topic: %s", got)
	}
	var p struct {
		Leader         int32 `json:"leader"`
		PartitionEpoch int64 `json:"partitionEpoch"`
	}
	if err := c.Must(t, lead, "GET", "/v1/topics/t/partitions/1", nil, 200, "").JSON(&p); err != nil {
		t.Fatal(err)
	}
	var done struct {
		Replicas []int32 `json:"replicas"`
		ISR      []int32 `json:"ISR"`
		Leader   int32   `json:"leader"`
	}
	resp = c.Must(t, lead, "POST", "/v1/topics/t/partitions/1/isr", map[string]any{"brokerId": p.Leader, "partitionEpoch": p.PartitionEpoch, "ISR": []int{2, 3, 1}}, 200, "")
	if err := c.Must(t, follower, "GET", "/v1/topics/t/partitions/1", nil, 200, "").JSON(&done); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(done.Replicas, done.ISR, done.Leader); got != "[1 3] [3 1] 1" {
		t.Fatalf("after the ISR caught up: %s (ISR answer %s)", got, resp.Body)
	}
	if got := list(""); got != "[]" {
		t.Fatalf("listed after completion: %s", got)
	}
}

func resultCodes(rs []contract.PartitionResult) string { return fmt.Sprint(rs) }
