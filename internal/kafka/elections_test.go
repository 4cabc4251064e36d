package kafka_test

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func (d apiTest) setStatus(t *testing.T, id int32, status string) {
	t.Helper()
	if _, _, err := d.ctrl().PatchBroker(context.Background(), id, contract.PatchBrokerRequest{BrokerStatus: &status}); err != nil {
		t.Fatalf("broker %d to %s: %v", id, status, err)
	}
}

// setISR has the partition's leader report isr (AlterPartition v1).
func (d apiTest) setISR(t *testing.T, topic string, isr ...int32) {
	t.Helper()
	cur := d.partition(t, topic, 0)
	resp := serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(1, cur.Leader, -1, topic, [16]byte{}, newISR(0, cur.PartitionEpoch, isr...)))
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("%s: ISR to %v: %+v", topic, isr, resp)
	}
}

func elect(version int16, typ int8, topic string, partitions ...int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version, req.ElectionType = version, typ
	if topic != "" {
		t := kmsg.NewElectLeadersRequestTopic()
		t.Topic, t.Partitions = topic, partitions
		req.Topics = append(req.Topics, t)
	}
	return req
}

// electOne is the error code of the one partition asked for.
func (d apiTest) electOne(t *testing.T, req *kmsg.ElectLeadersRequest) int16 {
	t.Helper()
	resp := serve[*kmsg.ElectLeadersResponse](t, d, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("ElectLeaders answer %+v, want one partition", resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (d apiTest) testElectLeaders(t *testing.T) {
	for _, id := range []int32{60, 61, 62} {
		d.register(t, id)
	}
	d.createTopic(t, "elect", 1, 3)
	p := d.partition(t, "elect", 0)
	a, b := p.Replicas[0], p.Replicas[1]
	if p.Leader != a {
		t.Fatalf("new partition %+v is not led by its first replica", p)
	}
	if code := d.electOne(t, elect(0, 0, "elect", 0)); code != 84 {
		t.Fatalf("preferred election on the preferred leader (v0): %d, want 84", code)
	}
	d.setStatus(t, a, metadata.StatusFenced)
	if code := d.electOne(t, elect(1, 0, "elect", 0)); code != 80 {
		t.Fatalf("preferred election with the preferred replica fenced: %d, want 80", code)
	}
	d.setStatus(t, a, metadata.StatusAlive)
	if code := d.electOne(t, elect(1, 0, "elect", 0)); code != 80 {
		t.Fatalf("preferred election with the preferred replica out of the ISR: %d, want 80", code)
	}
	d.setISR(t, "elect", p.Replicas...)
	if code := d.electOne(t, elect(2, 0, "elect", 0)); code != 0 {
		t.Fatalf("preferred election: %d, want 0", code)
	}
	if now := d.partition(t, "elect", 0); now.Leader != a {
		t.Fatalf("after the preferred election the leader is %d, want %d", now.Leader, a)
	}
	if code := d.electOne(t, elect(2, 0, "no-such-topic", 0)); code != 3 {
		t.Fatalf("election on an unknown topic: %d, want 3", code)
	}
	if code := d.electOne(t, elect(2, 0, "elect", 9)); code != 3 {
		t.Fatalf("election on an unknown partition: %d, want 3", code)
	}
	// Every partition (null topics): nothing to do here is no error.
	if resp := serve[*kmsg.ElectLeadersResponse](t, d, elect(2, 0, "")); resp.ErrorCode != 0 {
		t.Fatalf("election of every partition: %+v", resp)
	}

	// Unclean: the only ISR member is fenced; an alive replica out of the
	// ISR takes over.
	d.setISR(t, "elect", a)
	d.setStatus(t, a, metadata.StatusFenced)
	if now := d.partition(t, "elect", 0); now.Leader != -1 {
		t.Fatalf("partition with its only ISR member fenced = %+v, want offline", now)
	}
	if code := d.electOne(t, elect(1, 0, "elect", 0)); code != 80 {
		t.Fatalf("preferred election of an offline partition: %d, want 80", code)
	}
	if code := d.electOne(t, elect(1, 1, "elect", 0)); code != 0 {
		t.Fatalf("unclean election: %d, want 0", code)
	}
	if now := d.partition(t, "elect", 0); now.Leader != b || !slices.Equal(now.ISR, []int32{b}) {
		t.Fatalf("after the unclean election: %+v, want led by %d alone", now, b)
	}
	for _, id := range p.Replicas[1:] {
		d.setStatus(t, id, metadata.StatusFenced)
	}
	if code := d.electOne(t, elect(1, 1, "elect", 0)); code != 83 {
		t.Fatalf("unclean election with every replica fenced: %d, want 83", code)
	}
	for _, id := range p.Replicas {
		d.setStatus(t, id, metadata.StatusAlive)
	}
}

func reassign(version int16, topic string, partition int32, replicas []int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.Version = version
	t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	t.Topic = topic
	p := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	p.Partition, p.Replicas = partition, replicas
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func (d apiTest) reassignOne(t *testing.T, req *kmsg.AlterPartitionAssignmentsRequest) int16 {
	t.Helper()
	resp := serve[*kmsg.AlterPartitionAssignmentsResponse](t, d, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("AlterPartitionReassignments answer %+v, want one partition", resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (d apiTest) listReassignments(t *testing.T, topic string, partitions ...int32) []kmsg.ListPartitionReassignmentsResponseTopic {
	t.Helper()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	if topic != "" {
		lt := kmsg.NewListPartitionReassignmentsRequestTopic()
		lt.Topic, lt.Partitions = topic, partitions
		req.Topics = append(req.Topics, lt)
	}
	resp := serve[*kmsg.ListPartitionReassignmentsResponse](t, d, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("ListPartitionReassignments: %+v", resp)
	}
	return resp.Topics
}

func (d apiTest) testReassignments(t *testing.T) {
	for _, id := range []int32{70, 71, 72, 73} {
		d.register(t, id)
	}
	d.createTopic(t, "move", 1, 3)
	c := d.partition(t, "move", 0)
	var x int32 = -1 // an ALIVE broker that is not a replica
	for _, id := range []int32{70, 71, 72, 73} {
		if !slices.Contains(c.Replicas, id) {
			x = id
			break
		}
	}
	target := []int32{x, c.Replicas[0], c.Replicas[1]}
	if code := d.reassignOne(t, reassign(0, "move", 0, target)); code != 0 {
		t.Fatalf("reassign: %d", code)
	}
	want := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
	want.Partition, want.Replicas = 0, append(slices.Clone(target), c.Replicas[2])
	want.AddingReplicas, want.RemovingReplicas = []int32{x}, []int32{c.Replicas[2]}
	check := func(name string, got []kmsg.ListPartitionReassignmentsResponseTopic) {
		t.Helper()
		for _, lt := range got {
			if lt.Topic != "move" {
				continue
			}
			if len(lt.Partitions) != 1 {
				t.Fatalf("%s: %+v", name, lt)
			}
			g := lt.Partitions[0]
			if g.Partition != 0 || !slices.Equal(g.Replicas, want.Replicas) || !slices.Equal(g.AddingReplicas, want.AddingReplicas) || !slices.Equal(g.RemovingReplicas, want.RemovingReplicas) {
				t.Fatalf("%s: %+v, want %+v", name, g, want)
			}
			return
		}
		t.Fatalf("%s: %+v lists no reassignment of move", name, got)
	}
	check("list all", d.listReassignments(t, ""))
	check("list move/0", d.listReassignments(t, "move", 0))
	if got := d.listReassignments(t, "move", 1); len(got) != 0 {
		t.Fatalf("list of move/1: %+v, want none", got)
	}
	if got := d.listReassignments(t, "no-such-topic", 0); len(got) != 0 {
		t.Fatalf("list of an unknown topic: %+v, want none", got)
	}

	// Cancel, then cancel again.
	if code := d.reassignOne(t, reassign(0, "move", 0, nil)); code != 0 {
		t.Fatalf("cancel: %d", code)
	}
	if got := d.listReassignments(t, "move", 0); len(got) != 0 {
		t.Fatalf("list after the cancel: %+v", got)
	}
	if now := d.partition(t, "move", 0); !slices.Equal(now.Replicas, c.Replicas) {
		t.Fatalf("replicas after the cancel %v, want %v", now.Replicas, c.Replicas)
	}
	if code := d.reassignOne(t, reassign(1, "move", 0, nil)); code != 85 {
		t.Fatalf("cancel with none in progress: %d, want 85", code)
	}
	if code := d.reassignOne(t, reassign(0, "no-such-topic", 0, target)); code != 3 {
		t.Fatalf("reassign an unknown topic: %d, want 3", code)
	}
	if code := d.reassignOne(t, reassign(0, "move", 0, []int32{c.Replicas[0], 79})); code != 39 {
		t.Fatalf("reassign to an unknown broker: %d, want 39", code)
	}

	// Completed by the leader's ISR report.
	if code := d.reassignOne(t, reassign(0, "move", 0, target)); code != 0 {
		t.Fatalf("reassign again: %d", code)
	}
	d.setISR(t, "move", append(slices.Clone(target), c.Replicas[2])...)
	if got := d.listReassignments(t, "move", 0); len(got) != 0 {
		t.Fatalf("list after the ISR caught up: %+v", got)
	}
	if now := d.partition(t, "move", 0); !slices.Equal(now.Replicas, target) {
		t.Fatalf("replicas after completion %v, want %v", now.Replicas, target)
	}
}
