package testcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/scalebench"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestSnapshotAtScaleKeepsLeader is the CI-sized run of `yakt bench scale`'s
// snapshot step: three real processes filled through the API with 100,000
// partitions (10 topics of 10,000 at replication factor 3), then a
// snapshot taken on demand on the leader and on each follower while a
// client keeps writing small changes to the leader. A snapshot that holds
// up a node's raft loop for longer than the election timeout shows here
// as a leader or term change, or as a small write that failed.
func TestSnapshotAtScaleKeepsLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100,000 partitions in real processes")
	}
	const (
		brokers  = 6
		topics   = 10
		perTopic = 10000
	)
	bin := testcluster.BuildYakt(t)
	// Nothing heartbeats for the brokers here: a session longer than the
	// test keeps them ALIVE, so placement always finds three.
	p := testcluster.StartProcesses(t, bin, 3, "--broker-session-timeout", "1h")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c := scalebench.NewClient(8)
	urls := p.URLs()

	fillStart := time.Now()
	if err := scalebench.RegisterBrokers(ctx, c, urls, brokers, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := scalebench.Fill(ctx, c, urls, "fill", topics, perTopic, 3, 2, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d partitions in %v", topics*perTopic, time.Since(fillStart).Round(time.Millisecond))

	lead, term, err := scalebench.FindLeader(ctx, c, urls)
	if err != nil {
		t.Fatal(err)
	}
	watch := scalebench.WatchQuorum(ctx, c, urls, 100*time.Millisecond)
	wctx, stopWrites := context.WithCancel(ctx)
	writes := scalebench.SmallWrites(wctx, c, func() string { return p.URL(lead) }, "small", 1)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopWrites()
			writes.Wait()
		}
	}
	defer stop()

	// Writes flow before the first snapshot, so a stall has writes to hold up.
	if err := testcluster.Pace(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	order := []uint64{lead}
	for _, id := range p.IDs() {
		if id != lead {
			order = append(order, id)
		}
	}
	for _, id := range order {
		snap, took, err := scalebench.TakeSnapshot(ctx, c, p.URL(id))
		if err != nil {
			t.Fatalf("snapshot on node %d: %v", id, err)
		}
		if snap.SizeBytes <= 0 || snap.Offset <= 0 {
			t.Fatalf("snapshot on node %d: %+v, want a positive offset and size", id, snap)
		}
		t.Logf("snapshot on node %d (leader %v): %v, offset %d, %d bytes", id, id == lead, took.Round(time.Millisecond), snap.Offset, snap.SizeBytes)
	}
	if err := testcluster.Pace(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	stop()
	q := watch.Stop()
	st := writes.Stats(time.Time{}, time.Time{})
	t.Logf("small writes during the snapshots: %d, p50 %v, p99 %v, max %v; quorum polls %d (max %v)",
		st.Count, st.P50, st.P99, st.Max, q.Polls, q.MaxPollLatency)
	if st.Failed > 0 {
		t.Errorf("%d of %d small writes failed during the snapshots; first: %v", st.Failed, st.Count, st.FirstErr)
	}
	if st.Count == 0 {
		t.Errorf("no small write completed during the snapshots")
	}
	if q.LeaderChanges > 0 || q.NoLeaderSeen > 0 {
		t.Errorf("the quorum changed during the snapshots: %d leader/term changes, %d answers without a leader; first: %s",
			q.LeaderChanges, q.NoLeaderSeen, q.FirstChangeReason)
	}
	endLead, endTerm, err := scalebench.FindLeader(ctx, c, urls)
	if err != nil {
		t.Fatal(err)
	}
	if endLead != lead || endTerm != term {
		t.Errorf("leader node %d term %d before the snapshots, node %d term %d after", lead, term, endLead, endTerm)
	}
}
