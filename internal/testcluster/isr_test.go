package testcluster_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

func TestAlterISREndpoint(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	registerBrokersAPI(t, c, 4)
	ok(c.API().CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: "isr"})).must(t)
	ok(c.API().CreatePartition(apiCtx(t), "isr", contract.CreatePartitionRequest{PartitionID: contract.Int32(0), Replicas: []int32{1, 2, 3}})).must(t)
	alter := func(node uint64, broker int32, epoch int64, members []int32, status int, code contract.Code) {
		t.Helper()
		_, _, err := c.NodeAPI(node).AlterISR(apiCtx(t), "isr", 0, broker, epoch, members)
		if code == "" {
			if err != nil {
				t.Fatalf("alter ISR on node %d: %v", node, err)
			}
			return
		}
		wantAPIError(t, err, status, code)
	}

	f := followers(c, lead)[0]
	alter(f, 1, 0, []int32{1, 2}, http.StatusOK, "") // epoch 0 -> 1, via a follower
	alter(lead, 1, 0, []int32{1}, http.StatusConflict, contract.CodeStalePartitionEpoch)
	alter(lead, 2, 1, []int32{1, 2}, http.StatusConflict, contract.CodeNotPartitionLeader)
	alter(lead, 1, 1, []int32{1, 4}, http.StatusBadRequest, contract.CodeInvalidReplicaAssignment) // 4 is not a replica
	fenced := contract.StatusFenced
	ok(c.API().PatchBroker(apiCtx(t), 3, contract.PatchBrokerRequest{BrokerStatus: &fenced})).must(t)
	alter(lead, 1, 1, []int32{1, 3}, http.StatusBadRequest, contract.CodeInvalidReplicaAssignment) // 3 is FENCED
	_, _, err := c.NodeAPI(lead).AlterISR(apiCtx(t), "nope", 0, 1, 0, []int32{1})
	wantAPIError(t, err, http.StatusNotFound, contract.CodeTopicNotFound)
	// A request without partitionEpoch: raw, as no client would send it.
	c.Must(t, lead, http.MethodPost, "/v1/topics/isr/partitions/0/isr", map[string]any{"brokerId": 1, "ISR": []int{1}}, http.StatusBadRequest, "INVALID_REQUEST")

	// A reassignment completes once the adding replica is in sync.
	ok(c.NodeAPI(lead).AddReplica(apiCtx(t), "isr", 0, 4)).must(t) // epoch 2
	alter(lead, 1, 2, []int32{1, 2, 4}, http.StatusOK, "")         // epoch 3

	c.Kill(c.MustLeader()) // the leader now, should an election have moved it
	newLead := c.MustLeader()
	alter(newLead, 1, 3, []int32{1, 4}, http.StatusOK, "") // epoch 4
	p, err := c.NodeAPI(followers(c, newLead)[0]).Partition(apiCtx(t), "isr", 0)
	if err != nil || fmt.Sprint(p.ISR) != "[1 4]" || len(p.AddingReplicas) != 0 || p.PartitionEpoch != 4 {
		t.Fatalf("partition after ISR changes: %+v %v", p, err)
	}
}
