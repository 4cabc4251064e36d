package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestControllerAPIsWithoutLeader: with a quorum lost, the controller's
// APIs answer NOT_CONTROLLER (41), so clients retry elsewhere, and
// DescribeConfigs answers from the node's own state.
func TestControllerAPIsWithoutLeader(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Kafka: true})
	d := apiTest{t: t, c: c}
	epoch := d.register(t, 1)
	d.createTopic(t, "lonely", 1, 1)
	lead := c.MustLeader()
	var last uint64
	for _, id := range c.IDs() {
		if id != lead {
			last = id
		}
	}
	// The survivor must have applied the topic before the others go.
	if _, err := c.Server(last).Controller.Topic(context.Background(), "lonely", false); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		if id != last {
			c.Kill(id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctrl := c.Server(last).Controller
	if err := testcluster.WaitFor(ctx, func() bool { return ctrl.Leader() == 0 }); err != nil {
		t.Fatalf("node %d still knows a leader: %v", last, err)
	}

	if code, got := d.describeOne(t, last, describeConfigs(4, kmsg.ConfigResourceTypeTopic, "lonely", "retention.ms")); code != 0 || value(got["retention.ms"]) != "604800000" {
		t.Fatalf("DescribeConfigs without a leader: error %d, %+v", code, got)
	}
	if code := d.alterOne(t, last, incrementalAlter(false, kmsg.ConfigResourceTypeTopic, "lonely", alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("1")})); code != 41 {
		t.Errorf("IncrementalAlterConfigs without a leader: %d, want 41", code)
	}
	if resp := serveVia[*kmsg.ElectLeadersResponse](t, d, last, elect(2, 0, "lonely", 0)); resp.ErrorCode != 41 || resp.Topics[0].Partitions[0].ErrorCode != 41 {
		t.Errorf("ElectLeaders without a leader: %+v, want 41", resp)
	}
	if resp := serveVia[*kmsg.AlterPartitionAssignmentsResponse](t, d, last, reassign(0, "lonely", 0, []int32{1})); resp.ErrorCode != 41 {
		t.Errorf("AlterPartitionReassignments without a leader: %+v, want 41", resp)
	}
	if resp := serveVia[*kmsg.ListPartitionReassignmentsResponse](t, d, last, kmsg.NewPtrListPartitionReassignmentsRequest()); resp.ErrorCode != 41 {
		t.Errorf("ListPartitionReassignments without a leader: %+v, want 41", resp)
	}
	if resp := serveVia[*kmsg.BrokerHeartbeatResponse](t, d, last, heartbeat(1, epoch, 1<<40)); resp.ErrorCode != 41 {
		t.Errorf("BrokerHeartbeat without a leader: %+v, want 41", resp)
	}
	if resp := serveVia[*kmsg.AlterPartitionResponse](t, d, last, alterPartition(1, 1, -1, "lonely", [16]byte{}, newISR(0, 0, 1))); resp.ErrorCode != 41 {
		t.Errorf("AlterPartition without a leader: %+v, want 41", resp)
	}
}
