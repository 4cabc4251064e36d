package raftnode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestApplyRunsOffTheRaftLoop: while the leader's state machine is stuck
// in Apply, its raft loop still answers Status and commits the next
// proposal; the proposals finish, in order, once Apply goes on; and Stop
// stops the apply goroutine.
func TestApplyRunsOffTheRaftLoop(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	// The leader records the members' directory ids first: entries
	// this test does not count on.
	c.waitPinned()
	lead := c.leader()
	first := c.propose("first")
	sm := c.sms[lead.ID()]
	gate := make(chan struct{})
	sm.gate.Store(&gate)
	released := false
	defer func() {
		if !released {
			close(gate)
		}
	}()

	type outcome struct {
		res Result
		err error
	}
	results := make(chan outcome, 2)
	propose := func(payload string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := lead.Propose(ctx, []byte(payload))
		results <- outcome{res, err}
	}
	go propose("second")
	<-sm.entered // Apply of "second" is stuck

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := lead.Status(ctx); err != nil {
		t.Fatalf("status while Apply is stuck: %v", err)
	}
	go propose("third")
	waitFor(t, 10*time.Second, "the next proposal to commit while Apply is stuck", func() bool {
		return lead.CommitIndex() >= first.Index+2
	})
	if got := lead.AppliedIndex(); got > first.Index {
		t.Fatalf("applied index %d moved past %d while Apply is stuck", got, first.Index)
	}

	sm.gate.Store(nil)
	close(gate)
	released = true
	var idx []uint64
	for i := 0; i < 2; i++ {
		out := <-results
		if out.err != nil {
			t.Fatalf("propose: %v", out.err)
		}
		idx = append(idx, out.res.Index)
	}
	if idx[0] == idx[1] || idx[0] <= first.Index || idx[1] <= first.Index {
		t.Fatalf("committed at %v after %d", idx, first.Index)
	}
	if got := sm.value(); got != 3 {
		t.Fatalf("leader applied %d payloads, want 3", got)
	}

	c.stop(lead.ID())
	select {
	case <-lead.applyDone:
	default:
		t.Fatal("the apply goroutine still runs after Stop")
	}
}

// TestSnapshotsCapturedAtTheirIndexUnderLoad: with snapshots every few
// entries and a state machine slower than the log, every capture sees the
// state at exactly the index its metadata records (counterSM checks, and
// the cluster's stop reports any violation), and a restart from those
// snapshots rebuilds the same count.
func TestSnapshotsCapturedAtTheirIndexUnderLoad(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotEntries = 5
		cfg.CompactionMargin = 5
	})
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	lead := c.leader()
	c.propose("warm-up")
	const proposers, each = 16, 40
	var wg sync.WaitGroup
	errc := make(chan error, proposers)
	for p := 0; p < proposers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := lead.Propose(ctx, []byte(fmt.Sprintf("p%d-%d", p, i)))
				cancel()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("propose: %v", err)
	}
	last := c.propose("last")
	for id := uint64(1); id <= 3; id++ {
		c.waitApplied(id, last.Index, 20*time.Second)
	}
	sm := c.sms[lead.ID()]
	sm.mu.Lock()
	captures := sm.captures
	sm.mu.Unlock()
	if captures < 2 {
		t.Fatalf("leader captured %d snapshots, want several", captures)
	}
	if v := sm.orderViolation(); v != "" {
		t.Fatal(v)
	}
	want := sm.value()
	if want != proposers*each+2 {
		t.Fatalf("leader applied %d payloads, want %d", want, proposers*each+2)
	}
	id := lead.ID()
	c.stop(id)
	c.start(id)
	c.waitApplied(id, last.Index, 20*time.Second)
	if got := c.sms[id].value(); got != want {
		t.Fatalf("after restart node %d counts %d, want %d", id, got, want)
	}
}

// TestApplyFailureStopsTheNode: a state machine that cannot apply a
// committed entry stops the node (fail-stop) with the cause, from the
// apply goroutine as it did from the loop, and the proposal is never
// acknowledged.
func TestApplyFailureStopsTheNode(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	// The leader records the members' directory ids first: entries
	// this test does not count on.
	c.waitPinned()
	lead := c.leader()
	first := c.propose("first")
	c.sms[lead.ID()].failApply.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if res, err := lead.Propose(ctx, []byte("poison")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose on a node whose Apply fails: %+v, %v; want ErrStopped", res, err)
	}
	select {
	case <-lead.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the node still runs after Apply failed")
	}
	if err := lead.Err(); err == nil || !strings.Contains(err.Error(), "record does not decode") {
		t.Fatalf("node stopped with %v, want the apply failure", err)
	}
	if got := lead.AppliedIndex(); got != first.Index {
		t.Fatalf("applied index %d after the failure, want %d", got, first.Index)
	}
	select {
	case <-lead.applyDone:
	default:
		t.Fatal("the apply goroutine still runs after the node stopped")
	}
}
