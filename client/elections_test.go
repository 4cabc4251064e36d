package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestElectionAndReassignmentCalls: the calls against a real node, their
// per-partition errors matched with errors.Is through ResultError.
func TestElectionAndReassignmentCalls(t *testing.T) {
	tc := testcluster.New(t, testcluster.Options{Nodes: 1})
	tc.MustLeader()
	c, err := client.New(client.Config{Endpoints: tc.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for id := int32(1); id <= 3; id++ {
		if _, _, err := c.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "10.0.0.1", BrokerPort: contract.PortNumber(9090 + int(id))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.CreateTopic(ctx, client.CreateTopicRequest{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	p0, two := int32(0), int32(2)
	if _, _, err := c.CreatePartition(ctx, "t", contract.CreatePartitionRequest{PartitionID: &p0, Replicas: []int32{1, 2}, Leader: &two}); err != nil {
		t.Fatal(err)
	}

	if _, _, err := c.ElectLeaders(ctx, client.ElectLeadersRequest{Type: "up"}); !errors.Is(err, client.ErrInvalidRequest) {
		t.Fatalf("an unknown election type: %v", err)
	}
	named := client.ElectLeadersRequest{Type: client.ElectionPreferred, Partitions: []client.TopicPartitions{{Topic: "t", Partitions: []int32{0}}}}
	res, meta, err := c.ElectLeaders(ctx, named)
	if err != nil || len(res.Results) != 1 || client.ResultError(res.Results[0]) != nil || *res.Results[0].Leader != 1 || meta.Offset != res.Offset {
		t.Fatalf("ElectLeaders: %+v %+v, %v", res, meta, err)
	}
	res, _, err = c.ElectLeaders(ctx, named)
	if err != nil || !errors.Is(client.ResultError(res.Results[0]), client.ErrElectionNotNeeded) {
		t.Fatalf("ElectLeaders again: %+v, %v", res, err)
	}

	move := client.ReassignRequest{Partitions: []client.PartitionReassignment{{Topic: "t", Partition: 0, Replicas: []int32{3, 1}}}}
	rr, _, err := c.AlterReassignments(ctx, move)
	if err != nil || len(rr.Results) != 1 || client.ResultError(rr.Results[0]) != nil {
		t.Fatalf("AlterReassignments: %+v, %v", rr, err)
	}
	list, err := c.ListReassignments(ctx, "t")
	if err != nil || len(list.Reassignments) != 1 || fmt.Sprint(list.Reassignments[0].AddingReplicas) != "[3]" {
		t.Fatalf("ListReassignments: %+v, %v", list, err)
	}
	cancelIt := client.ReassignRequest{Partitions: []client.PartitionReassignment{{Topic: "t", Partition: 0}}}
	if rr, _, err = c.AlterReassignments(ctx, cancelIt); err != nil || client.ResultError(rr.Results[0]) != nil {
		t.Fatalf("cancel: %+v, %v", rr, err)
	}
	rr, _, err = c.AlterReassignments(ctx, cancelIt)
	if err != nil || !errors.Is(client.ResultError(rr.Results[0]), client.ErrNoReassignmentInProgress) {
		t.Fatalf("cancel again: %+v, %v", rr, err)
	}
	if list, err := c.ListReassignments(ctx, ""); err != nil || len(list.Reassignments) != 0 {
		t.Fatalf("ListReassignments after the cancel: %+v, %v", list, err)
	}
	if rr, _, err = c.AlterReassignments(ctx, client.ReassignRequest{}); err != nil || len(rr.Results) != 0 {
		t.Fatalf("an empty reassignment: %+v, %v", rr, err)
	}
}
