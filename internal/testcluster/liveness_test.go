package testcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestSilentBrokerIsFencedAndNoMassFencingAfterFailover drives broker
// liveness with an injected clock: a broker silent past the session
// timeout is FENCED and loses leadership to an ALIVE ISR member; after a
// leader failover every broker gets a full session before anyone is fenced.
func TestSilentBrokerIsFencedAndNoMassFencingAfterFailover(t *testing.T) {
	c, clock, lead, ctx := livenessCluster(t)
	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "live"}, http.StatusCreated, "")
	for p, reps := range [][]int{{1, 2, 3}, {2, 1}, {1}} {
		c.Must(t, lead, http.MethodPost, "/v1/topics/live/partitions", map[string]any{"partitionId": p, "replicas": reps}, http.StatusCreated, "")
	}
	heartbeat := func(node uint64, ids ...int) {
		t.Helper()
		for _, id := range ids {
			c.Must(t, node, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": id, "offset": 0}, http.StatusOK, "")
		}
	}
	fence := func(node uint64) []int32 {
		t.Helper()
		got, err := c.Server(node).Controller.FenceExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}

	// Brokers 2 and 3 heartbeat (through a follower: forwarded to the
	// leader); broker 1 falls silent.
	f := followers(c, lead)[0]
	clock.Advance(5 * time.Second)
	heartbeat(f, 2, 3)
	if got := fence(lead); len(got) != 0 {
		t.Fatalf("fenced %v after 5 s", got)
	}
	clock.Advance(5 * time.Second) // broker 1: 10 s > 9 s
	heartbeat(f, 2, 3)
	if got := fence(lead); fmt.Sprint(got) != "[1]" {
		t.Fatalf("fenced %v, want [1]", got)
	}
	var b struct {
		BrokerStatus string `json:"brokerStatus"`
		Epoch        int64  `json:"epoch"`
	}
	if err := c.Must(t, f, http.MethodGet, "/v1/brokers/1", nil, http.StatusOK, "").JSON(&b); err != nil || b.BrokerStatus != "FENCED" || b.Epoch != 1 {
		t.Fatalf("broker 1 after fencing: %+v %v", b, err)
	}
	type part struct {
		Leader         int32   `json:"leader"`
		ISR            []int32 `json:"ISR"`
		PartitionEpoch int64   `json:"partitionEpoch"`
	}
	partition := func(id int) part {
		var p part
		if err := c.Must(t, f, http.MethodGet, fmt.Sprintf("/v1/topics/live/partitions/%d", id), nil, http.StatusOK, "").JSON(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := partition(0); p.Leader != 2 || fmt.Sprint(p.ISR) != "[2 3]" || p.PartitionEpoch != 1 {
		t.Fatalf("partition 0 (was led by 1): %+v, want leader 2, ISR [2 3], epoch 1", p)
	}
	if p := partition(1); p.Leader != 2 || fmt.Sprint(p.ISR) != "[2]" || p.PartitionEpoch != 1 {
		t.Fatalf("partition 1 (led by 2, 1 follows): %+v, want leader 2, ISR [2], epoch 1", p)
	}
	if p := partition(2); p.Leader != -1 || fmt.Sprint(p.ISR) != "[1]" {
		t.Fatalf("partition 2 (only replica fenced): %+v, want leader -1 with 1 kept as last ISR member", p)
	}

	// Broker 1 comes back. Until its fetch offset reaches its own
	// registration it stays FENCED; then it is ALIVE again (epoch + 1) and
	// the partition it was the last ISR member of gets it back as leader.
	heartbeat(f, 1) // offset 0: not caught up
	if err := c.Must(t, f, http.MethodGet, "/v1/brokers/1", nil, http.StatusOK, "").JSON(&b); err != nil || b.BrokerStatus != "FENCED" {
		t.Fatalf("broker 1 unfenced before catching up: %+v %v", b, err)
	}
	c.Must(t, f, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1, "offset": c.Server(lead).Node.AppliedIndex()}, http.StatusOK, "")
	if err := c.Must(t, f, http.MethodGet, "/v1/brokers/1", nil, http.StatusOK, "").JSON(&b); err != nil || b.BrokerStatus != "ALIVE" || b.Epoch != 2 {
		t.Fatalf("broker 1 after catching up: %+v %v, want ALIVE at epoch 2", b, err)
	}
	if p := partition(2); p.Leader != 1 || fmt.Sprint(p.ISR) != "[1]" || p.PartitionEpoch != 2 {
		t.Fatalf("offline partition 2 after broker 1 returned: %+v, want leader 1, ISR [1], epoch 2", p)
	}

	// Failover: the new leader gives everyone a full session timeout.
	c.Kill(c.MustLeader()) // the leader now, should an election have moved it
	newLead := c.MustLeader()
	if got := fence(newLead); len(got) != 0 {
		t.Fatalf("new leader fenced %v at once", got)
	}
	clock.Advance(8 * time.Second)
	if got := fence(newLead); len(got) != 0 {
		t.Fatalf("new leader fenced %v within the first session timeout", got)
	}
	heartbeat(newLead, 1, 2)
	clock.Advance(2 * time.Second) // broker 3: 10 s silent under the new leader; 1 and 2: 2 s
	if got := fence(newLead); fmt.Sprint(got) != "[3]" {
		t.Fatalf("after a full session under the new leader fenced %v, want [3]", got)
	}
}

// TestFencedFollowerLeavesEveryISR: a broker that only follows, silent
// past the session timeout, is FENCED and leaves the ISR of every
// partition it was in sync for (partitionEpoch + 1, leaders unchanged),
// except where it is the last ISR member, in the same batch as its
// registration change; every node's state agrees.
func TestFencedFollowerLeavesEveryISR(t *testing.T) {
	c, clock, lead, ctx := livenessCluster(t)
	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "f"}, http.StatusCreated, "")
	// Broker 3 leads nothing: it follows in 0..2 and is out of sync in 3.
	layout := []map[string]any{
		{"partitionId": 0, "replicas": []int{1, 2, 3}},
		{"partitionId": 1, "replicas": []int{2, 3}},
		{"partitionId": 2, "replicas": []int{1, 3}},
		{"partitionId": 3, "replicas": []int{2, 3}, "ISR": []int{2}},
	}
	for _, p := range layout {
		c.Must(t, lead, http.MethodPost, "/v1/topics/f/partitions", p, http.StatusCreated, "")
	}
	clock.Advance(10 * time.Second)
	for _, id := range []int{1, 2} {
		c.Must(t, lead, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": id, "offset": 0}, http.StatusOK, "")
	}
	got, err := c.Server(lead).Controller.FenceExpired(ctx)
	if err != nil || fmt.Sprint(got) != "[3]" {
		t.Fatalf("fenced %v (%v), want [3]", got, err)
	}
	type part struct {
		Leader         int32   `json:"leader"`
		ISR            []int32 `json:"ISR"`
		PartitionEpoch int64   `json:"partitionEpoch"`
	}
	want := []part{{1, []int32{1, 2}, 1}, {2, []int32{2}, 1}, {1, []int32{1}, 1}, {2, []int32{2}, 0}}
	// Read on every node: the batch is the same everywhere.
	for _, node := range c.IDs() {
		var d struct {
			Partitions []part `json:"partitions"`
		}
		if err := c.Must(t, node, http.MethodGet, "/v1/topics/f", nil, http.StatusOK, "").JSON(&d); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(d.Partitions) != fmt.Sprint(want) {
			t.Fatalf("node %d partitions after fencing broker 3:\n got  %v\n want %v", node, d.Partitions, want)
		}
	}
	// The registration change and the partition changes share one offset.
	var log struct {
		Records []struct {
			Name   string `json:"name"`
			Offset int64  `json:"offset"`
		} `json:"records"`
	}
	if err := c.Must(t, lead, http.MethodGet, "/v1/log?fromOffset=0&limit=1000", nil, http.StatusOK, "").JSON(&log); err != nil {
		t.Fatal(err)
	}
	n := len(log.Records)
	if n < 4 {
		t.Fatalf("log holds %d records", n)
	}
	batch := log.Records[n-4:]
	if batch[0].Name != "BrokerRegistrationChangeBrokerRecord" {
		t.Fatalf("last batch %+v does not start with the registration change", batch)
	}
	for _, r := range batch {
		if r.Offset != batch[0].Offset {
			t.Fatalf("fencing is not one batch: %+v", batch)
		}
	}
}

// livenessCluster is a cluster whose liveness runs on a fake clock (the
// leader checks only when a test advances it) with brokers 1-3
// registered through its leader, lead, and a context for the test.
func livenessCluster(t *testing.T) (*testcluster.Cluster, *testcluster.FakeClock, uint64, context.Context) {
	t.Helper()
	clock := testcluster.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	c := testcluster.New(t, testcluster.Options{Clock: clock, BrokerSessionTimeout: 9 * time.Second, LivenessInterval: time.Hour})
	lead := c.MustLeader()
	for id := 1; id <= 3; id++ {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated, "")
	}
	return c, clock, lead, ctxFor(t, 30*time.Second)
}
