package raftnode

import (
	"context"
	"testing"
	"time"
)

// TestLeaderReadyWaitsForTheTermsFirstEntry: a node that has just won an
// election leads, but is not ready until it has applied its own first
// entry of the term; followers are never ready.
func TestLeaderReadyWaitsForTheTermsFirstEntry(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	old := c.leader()
	c.propose("first")
	waitFor(t, 10*time.Second, "the leader to be ready", func() bool {
		_, ready := old.LeaderReady()
		return ready
	})
	gate := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(gate)
		}
	}()
	for id, n := range c.nodes {
		if id == old.ID() {
			continue
		}
		c.sms[id].gate.Store(&gate)
		if _, ready := n.LeaderReady(); ready {
			t.Fatalf("follower %d reports itself a ready leader", id)
		}
	}
	// Hold both followers' apply goroutines on an entry of the old term:
	// the empty entry a new leader appends never reaches Apply, so the
	// gate alone would not hold it.
	c.propose("held")
	for id := range c.nodes {
		if id == old.ID() {
			continue
		}
		select {
		case <-c.sms[id].entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("follower %d never applied the held entry", id)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.TransferLeadership(ctx); err != nil {
		t.Fatalf("transfer leadership: %v", err)
	}
	var lead *Node
	waitFor(t, 10*time.Second, "a new leader", func() bool {
		for id, n := range c.nodes {
			if id != old.ID() && n.IsLeader() {
				lead = n
				return true
			}
		}
		return false
	})
	if term, ready := lead.LeaderReady(); ready {
		t.Fatalf("new leader ready in term %d before applying its first entry (applied %d)", term, lead.AppliedIndex())
	}
	close(gate)
	released = true
	waitFor(t, 10*time.Second, "the new leader to be ready", func() bool {
		term, ready := lead.LeaderReady()
		return ready && term == lead.Term()
	})
	if _, ready := old.LeaderReady(); ready {
		t.Fatal("the old leader still reports itself ready")
	}
}

// TestEnqueuedProposalsCommitInOrder: payloads enqueued one after another
// are applied in that order, while their waits run concurrently.
func TestEnqueuedProposalsCommitInOrder(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	lead := c.leader()
	c.propose("first")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 200
	props := make([]*Proposal, n)
	for i := range props {
		p, err := lead.Enqueue(ctx, []byte{byte(i)})
		if err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
		props[i] = p
	}
	results := make([]Result, n)
	errs := make(chan error, n)
	done := make(chan int, n)
	for i, p := range props {
		go func() {
			res, err := p.Wait(ctx)
			if err != nil {
				errs <- err
			}
			results[i] = res
			done <- i
		}()
	}
	for range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case <-done:
		}
	}
	for i := 1; i < n; i++ {
		if results[i].Index < results[i-1].Index {
			t.Fatalf("proposal %d committed at index %d, before proposal %d at %d", i, results[i].Index, i-1, results[i-1].Index)
		}
	}
}
