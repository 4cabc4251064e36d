package testcluster_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestControlledShutdownLeavesNoPartitionOffline shuts down a broker that
// leads 1,000 partitions: leadership and ISR membership move to the other
// replicas, none goes offline, and the broker ends FENCED.
func TestControlledShutdownLeavesNoPartitionOffline(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	registerBrokersAPI(t, c, 3)
	ok(c.API().CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: "big", Partitions: contract.Int32(3000), ReplicationFactor: contract.Int32(3)})).must(t)

	partitions := func() []contract.Partition {
		d, err := c.NodeAPI(lead).Topic(apiCtx(t), "big")
		if err != nil {
			t.Fatal(err)
		}
		return d.Partitions
	}
	led := 0
	for _, p := range partitions() {
		if p.Leader == 1 {
			led++
		}
	}
	if led != 1000 {
		t.Fatalf("broker 1 leads %d partitions, want 1000", led)
	}

	f := followers(c, lead)[0]
	if moved, _, err := c.NodeAPI(f).ControlledShutdown(apiCtx(t), 1); err != nil || moved != 1000 {
		t.Fatalf("shutdown moved %d partitions (%v), want 1000", moved, err)
	}
	for i, p := range partitions() {
		if p.Leader == 1 || p.Leader == -1 {
			t.Fatalf("partition %d led by %d after broker 1's controlled shutdown", i, p.Leader)
		}
		if slices.Contains(p.ISR, 1) {
			t.Fatalf("partition %d keeps broker 1 in its ISR %v", i, p.ISR)
		}
	}
	if b, err := c.NodeAPI(f).Broker(apiCtx(t), 1); err != nil || b.BrokerStatus != contract.StatusFenced {
		t.Fatalf("broker 1 after shutdown: %+v %v", b, err)
	}
	_, _, err := c.NodeAPI(f).ControlledShutdown(apiCtx(t), 99)
	wantAPIError(t, err, http.StatusNotFound, contract.CodeBrokerNotFound)
	ok(c.NodeAPI(f).UnregisterBroker(apiCtx(t), 3)).must(t)
	_, _, err = c.NodeAPI(f).ControlledShutdown(apiCtx(t), 3)
	wantAPIError(t, err, http.StatusConflict, contract.CodeBrokerNotActive)
}

// TestDepartureBeyondOneBatch shuts down a broker in sync for 12,000
// partitions, more than one record batch may change
// (controller.MaxPartitionsPerRequest): the request is not refused, its
// first batch moves every leadership with the registration change, and
// follow-up batches, committed before the answer, take it out of every
// remaining ISR.
func TestDepartureBeyondOneBatch(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	registerBrokersAPI(t, c, 2)
	for _, name := range []string{"a", "b"} {
		ok(c.API().CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: name, Partitions: contract.Int32(6000), ReplicationFactor: contract.Int32(2)})).must(t)
	}
	before := c.Server(lead).Node.AppliedIndex()
	if moved, _, err := c.NodeAPI(lead).ControlledShutdown(apiCtx(t), 2); err != nil || moved != 6000 {
		t.Fatalf("shutdown moved %d partitions (%v), want the 6000 broker 2 led", moved, err)
	}
	if batches := c.Server(lead).Node.AppliedIndex() - before; batches < 2 {
		t.Fatalf("the shutdown committed %d entries, want at least 2 batches", batches)
	}
	for _, name := range []string{"a", "b"} {
		d, err := c.NodeAPI(followers(c, lead)[0]).Topic(apiCtx(t), name)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range d.Partitions {
			if p.Leader != 1 || !slices.Equal(p.ISR, []int32{1}) {
				t.Fatalf("%s/%d after broker 2's shutdown: leader %d, ISR %v; want 1, [1]", name, i, p.Leader, p.ISR)
			}
		}
	}
}
