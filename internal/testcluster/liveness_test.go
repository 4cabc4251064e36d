package testcluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestSilentBrokerIsFencedAndNoMassFencingAfterFailover drives broker
// liveness with an injected clock: a broker silent past the session
// timeout is FENCED and loses leadership to an ALIVE ISR member; after a
// leader failover every broker gets a full session before anyone is fenced.
func TestSilentBrokerIsFencedAndNoMassFencingAfterFailover(t *testing.T) {
	c, clock, lead, ctx := livenessCluster(t)
	ok(c.NodeAPI(lead).CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: "live"})).must(t)
	for p, reps := range [][]int32{{1, 2, 3}, {2, 1}, {1}} {
		ok(c.NodeAPI(lead).CreatePartition(apiCtx(t), "live", contract.CreatePartitionRequest{PartitionID: contract.Int32(int32(p)), Replicas: reps})).must(t)
	}
	heartbeat := func(node uint64, ids ...int32) {
		t.Helper()
		for _, id := range ids {
			fetch(t, c, node, id, 0)
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
	if b, err := c.NodeAPI(f).Broker(apiCtx(t), 1); err != nil || b.BrokerStatus != contract.StatusFenced || b.Epoch != 1 {
		t.Fatalf("broker 1 after fencing: %+v %v", b, err)
	}
	partition := func(id int32) contract.Partition {
		p, err := c.NodeAPI(f).Partition(apiCtx(t), "live", id)
		if err != nil {
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
	if b, err := c.NodeAPI(f).Broker(apiCtx(t), 1); err != nil || b.BrokerStatus != contract.StatusFenced {
		t.Fatalf("broker 1 unfenced before catching up: %+v %v", b, err)
	}
	fetch(t, c, f, 1, int64(c.Server(lead).Node.AppliedIndex()))
	if b, err := c.NodeAPI(f).Broker(apiCtx(t), 1); err != nil || b.BrokerStatus != contract.StatusAlive || b.Epoch != 2 {
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
	ok(c.NodeAPI(lead).CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: "f"})).must(t)
	// Broker 3 leads nothing: it follows in 0..2 and is out of sync in 3.
	layout := []contract.CreatePartitionRequest{
		{PartitionID: contract.Int32(0), Replicas: []int32{1, 2, 3}},
		{PartitionID: contract.Int32(1), Replicas: []int32{2, 3}},
		{PartitionID: contract.Int32(2), Replicas: []int32{1, 3}},
		{PartitionID: contract.Int32(3), Replicas: []int32{2, 3}, ISR: []int32{2}},
	}
	for _, p := range layout {
		ok(c.NodeAPI(lead).CreatePartition(apiCtx(t), "f", p)).must(t)
	}
	clock.Advance(10 * time.Second)
	for _, id := range []int32{1, 2} {
		fetch(t, c, lead, id, 0)
	}
	got, err := c.Server(lead).Controller.FenceExpired(ctx)
	if err != nil || fmt.Sprint(got) != "[3]" {
		t.Fatalf("fenced %v (%v), want [3]", got, err)
	}
	type part struct {
		Leader         int32
		ISR            []int32
		PartitionEpoch int64
	}
	want := []part{{1, []int32{1, 2}, 1}, {2, []int32{2}, 1}, {1, []int32{1}, 1}, {2, []int32{2}, 0}}
	// Read on every node: the batch is the same everywhere.
	for _, node := range c.IDs() {
		d, err := c.NodeAPI(node).Topic(apiCtx(t), "f")
		if err != nil {
			t.Fatal(err)
		}
		got := make([]part, len(d.Partitions))
		for i, p := range d.Partitions {
			got[i] = part{p.Leader, p.ISR, p.PartitionEpoch}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("node %d partitions after fencing broker 3:\n got  %v\n want %v", node, got, want)
		}
	}
	// The registration change and the partition changes share one offset.
	log, err := c.NodeAPI(lead).Log(apiCtx(t), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := len(log.Records)
	if n < 4 {
		t.Fatalf("log holds %d records", n)
	}
	batch := log.Records[n-4:]
	if batch[0].Body.RecordName() != "BrokerRegistrationChangeBrokerRecord" {
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
	for id := int32(1); id <= 3; id++ {
		ok(c.NodeAPI(lead).RegisterBroker(apiCtx(t), contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "h", BrokerPort: contract.PortNumber(9092)})).must(t)
	}
	return c, clock, lead, ctxFor(t, 30*time.Second)
}

// fetch is broker id's BrokerMgmt fetch (its heartbeat) from offset,
// through node.
func fetch(t *testing.T, c *testcluster.Cluster, node uint64, id int32, offset int64) contract.FetchResponse {
	t.Helper()
	res, err := c.NodeAPI(node).BrokerFetch(apiCtx(t), id, client.FetchOptions{Offset: &offset})
	if err != nil {
		t.Fatalf("broker %d fetch via node %d: %v", id, node, err)
	}
	return res
}
