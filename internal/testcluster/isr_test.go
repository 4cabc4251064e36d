package testcluster_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/yakt/yakt/internal/testcluster"
)

func TestAlterISREndpoint(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	for id := 1; id <= 4; id++ {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated, "")
	}
	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "isr"}, http.StatusCreated, "")
	c.Must(t, lead, http.MethodPost, "/v1/topics/isr/partitions", map[string]any{"partitionId": 0, "replicas": []int{1, 2, 3}}, http.StatusCreated, "")
	isr := "/v1/topics/isr/partitions/0/isr"
	alter := func(node uint64, broker int, epoch int, members []int, status int, code string) {
		t.Helper()
		c.Must(t, node, http.MethodPost, isr, map[string]any{"brokerId": broker, "partitionEpoch": epoch, "ISR": members}, status, code)
	}

	f := followers(c, lead)[0]
	alter(f, 1, 0, []int{1, 2}, http.StatusOK, "") // epoch 0 -> 1, via a follower
	alter(lead, 1, 0, []int{1}, http.StatusConflict, "STALE_PARTITION_EPOCH")
	alter(lead, 2, 1, []int{1, 2}, http.StatusConflict, "NOT_PARTITION_LEADER")
	alter(lead, 1, 1, []int{1, 4}, http.StatusBadRequest, "INVALID_REPLICA_ASSIGNMENT") // 4 is not a replica
	c.Must(t, lead, http.MethodPatch, "/v1/brokers/3", map[string]any{"brokerStatus": "FENCED"}, http.StatusOK, "")
	alter(lead, 1, 1, []int{1, 3}, http.StatusBadRequest, "INVALID_REPLICA_ASSIGNMENT") // 3 is FENCED
	c.Must(t, lead, http.MethodPost, "/v1/topics/nope/partitions/0/isr", map[string]any{"brokerId": 1, "partitionEpoch": 0, "ISR": []int{1}}, http.StatusNotFound, "TOPIC_NOT_FOUND")
	c.Must(t, lead, http.MethodPost, isr, map[string]any{"brokerId": 1, "ISR": []int{1}}, http.StatusBadRequest, "INVALID_REQUEST")

	// A reassignment completes once the adding replica is in sync.
	c.Must(t, lead, http.MethodPost, "/v1/topics/isr/partitions/0/replicas", map[string]any{"brokerId": 4}, http.StatusOK, "") // epoch 2
	alter(lead, 1, 2, []int{1, 2, 4}, http.StatusOK, "")                                                                       // epoch 3

	c.Kill(c.MustLeader()) // the leader now, should an election have moved it
	newLead := c.MustLeader()
	alter(newLead, 1, 3, []int{1, 4}, http.StatusOK, "") // epoch 4
	var p struct {
		ISR            []int `json:"ISR"`
		AddingReplicas []int `json:"addingReplicas"`
		PartitionEpoch int   `json:"partitionEpoch"`
	}
	resp := c.Must(t, followers(c, newLead)[0], http.MethodGet, "/v1/topics/isr/partitions/0", nil, http.StatusOK, "")
	if err := resp.JSON(&p); err != nil || fmt.Sprint(p.ISR) != "[1 4]" || len(p.AddingReplicas) != 0 || p.PartitionEpoch != 4 {
		t.Fatalf("partition after ISR changes: %s", resp.Body)
	}
}
