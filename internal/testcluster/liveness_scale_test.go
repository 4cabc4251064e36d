package testcluster_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestLeaderStallDoesNotFenceLiveBrokers: the leader stops handling
// anything for 20 s, twice the session timeout, while brokers 1-3 keep
// heartbeating (their heartbeats wait until it runs again) and broker 4
// is dead. The first check after the stall sees the gap, gives every
// broker a fresh session and fences no one; broker 4 is fenced one
// session timeout later, brokers 1-3 never. The liveness loop runs on a
// real 1 s ticker against the fake clock throughout, as in production.
func TestLeaderStallDoesNotFenceLiveBrokers(t *testing.T) {
	clock := testcluster.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	c := testcluster.New(t, testcluster.Options{Clock: clock, BrokerSessionTimeout: 9 * time.Second, LivenessInterval: time.Second})
	lead := c.MustLeader()
	ctx := ctxFor(t, 60*time.Second)
	for id := int32(1); id <= 4; id++ {
		ok(c.NodeAPI(lead).RegisterBroker(apiCtx(t), contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "h", BrokerPort: contract.PortNumber(9092)})).must(t)
	}
	status := func(id int32) string {
		b, _ := c.Server(lead).State.Image().Broker(id)
		return b.BrokerStatus
	}
	// step is one second of the leader working normally: brokers 1-3
	// heartbeat, and a check runs (besides those of the ticker).
	step := func() {
		t.Helper()
		clock.Advance(time.Second)
		for id := int32(1); id <= 3; id++ {
			fetch(t, c, lead, id, 0)
		}
		if _, err := c.Server(lead).Controller.FenceExpired(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		step()
	}
	if s := status(4); s != metadata.StatusAlive {
		t.Fatalf("broker 4 is %s after 5 s of silence", s)
	}

	// The stall: 20 s pass with no check and no heartbeat handled. Then
	// the leader runs again; its first check sees the gap.
	clock.Advance(20 * time.Second)
	fenced, err := c.Server(lead).Controller.FenceExpired(ctx)
	if err != nil || len(fenced) != 0 {
		t.Fatalf("first check after the stall fenced %v (%v), want no one", fenced, err)
	}
	for id := int32(1); id <= 4; id++ {
		if s := status(id); s != metadata.StatusAlive {
			t.Fatalf("broker %d is %s after the leader's stall", id, s)
		}
	}

	// Broker 4 gets one full session from the stall's end; 1-3 live on.
	fencedAt := 0
	for sec := 1; sec <= 12; sec++ {
		step()
		if fencedAt == 0 && status(4) == metadata.StatusFenced {
			fencedAt = sec
		}
		for id := int32(1); id <= 3; id++ {
			if s := status(id); s != metadata.StatusAlive {
				t.Fatalf("live broker %d is %s %d s after the stall", id, s, sec)
			}
		}
	}
	if fencedAt < 10 || fencedAt > 11 {
		t.Fatalf("dead broker 4 fenced %d s after the stall (0: never), want just past the 9 s session timeout", fencedAt)
	}
}

// registerBrokers registers brokers 1..n through node's controller from
// parallel callers.
func registerBrokers(tb testing.TB, c *testcluster.Cluster, node uint64, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctrl := c.Server(node).Controller
	var next atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1)
				if int(id) > n {
					return
				}
				req := contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "h", BrokerPort: contract.PortNumber(9092)}
				if _, _, err := ctrl.RegisterBroker(ctx, req); err != nil {
					errs <- fmt.Errorf("register broker %d: %w", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// TestTenThousandBrokersHeartbeatingDuringWritesAndSnapshots: 10,000
// brokers (2,000 under -race) each heartbeat every 2 s (of the fake clock) for 60 s, spread
// over 32 callers, while the cluster creates topics and takes snapshots,
// and the leader's liveness check runs every second. No broker is fenced,
// and the heartbeats add no entry to the log.
func TestTenThousandBrokersHeartbeatingDuringWritesAndSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 10,000 brokers")
	}
	brokers := 10_000
	if raceEnabled {
		brokers = 2_000 // registering is one raft write each
	}
	clock := testcluster.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	c := testcluster.New(t, testcluster.Options{Clock: clock, BrokerSessionTimeout: 9 * time.Second,
		LivenessInterval: time.Hour})
	lead := c.MustLeader()
	ctx := ctxFor(t, 5*time.Minute)
	registerBrokers(t, c, lead, brokers)
	srv := c.Server(lead)

	var writes int
	applied0 := srv.Node.AppliedIndex()
	for sec := 1; sec <= 60; sec++ {
		clock.Advance(time.Second)
		// Half the brokers heartbeat each second: every one every 2 s.
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := int32(1 + sec%2 + 2*g); id <= int32(brokers); id += 64 {
					srv.Controller.Heartbeat(id)
				}
			}()
		}
		wg.Wait()
		if sec%3 == 0 {
			ok(c.NodeAPI(lead).CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: fmt.Sprintf("w-%d", sec),
				Partitions: contract.Int32(50), ReplicationFactor: contract.Int32(3)})).must(t)
			writes++
		}
		if sec%10 == 5 { // a snapshot on every node, the leader included
			for _, node := range c.IDs() {
				if _, err := c.NodeAPI(node).TakeSnapshot(apiCtx(t)); err != nil {
					t.Fatalf("snapshot on node %d: %v", node, err)
				}
			}
		}
		fenced, err := srv.Controller.FenceExpired(ctx)
		if err != nil || len(fenced) != 0 {
			t.Fatalf("second %d: fenced %v (%v)", sec, fenced, err)
		}
	}
	img := srv.State.Image()
	for _, b := range img.Brokers() {
		if b.BrokerStatus != metadata.StatusAlive {
			t.Fatalf("broker %d is %s", b.BrokerID, b.BrokerStatus)
		}
	}
	// Every entry since the start is one of our writes (or a raft no-op,
	// at most one per election): 300,000 heartbeats wrote nothing.
	if grew := srv.Node.AppliedIndex() - applied0; grew > uint64(writes)+2 {
		t.Fatalf("the log grew by %d entries for %d writes", grew, writes)
	}
	if img.Offset() < int64(applied0) {
		t.Fatalf("image offset %d behind %d", img.Offset(), applied0)
	}
}

// BenchmarkHeartbeat10000Brokers measures the leader's Heartbeat for
// 10,000 registered brokers called from parallel goroutines (ns/op is
// one heartbeat), on the real clock.
func BenchmarkHeartbeat10000Brokers(b *testing.B) {
	const brokers = 10_000
	c := testcluster.New(b, testcluster.Options{Nodes: 1})
	lead := c.MustLeader()
	registerBrokers(b, c, lead, brokers)
	ctrl := c.Server(lead).Controller
	var seq atomic.Int32
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := seq.Add(7919) % brokers
		for pb.Next() {
			ctrl.Heartbeat(id + 1)
			id = (id + 1) % brokers
		}
	})
}
