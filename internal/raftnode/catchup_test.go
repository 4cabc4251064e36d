package raftnode

import (
	"fmt"
	"testing"
	"time"
)

// TestRestartedNodesSendEntriesNotSnapshot restarts every node that took a
// snapshot, then starts a follower that is only a few entries behind it.
// The restarted nodes kept the log before their snapshot (down to the
// compaction margin), so the follower catches up from entries: no snapshot
// is sent or installed.
func TestRestartedNodesSendEntriesNotSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.CompactionMargin = 100 })
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.leader()
	var res Result
	for i := 0; i < 10; i++ {
		res = c.propose(fmt.Sprint("before-", i))
	}
	for id := uint64(1); id <= 3; id++ {
		c.waitApplied(id, res.Index, 30*time.Second)
	}

	// Node 3 falls a few entries behind, the others snapshot past it.
	c.stop(3)
	for i := 0; i < 5; i++ {
		res = c.propose(fmt.Sprint("while-3-is-down-", i))
	}
	for _, id := range []uint64{1, 2} {
		c.waitApplied(id, res.Index, 30*time.Second)
		info, err := c.nodes[id].TakeSnapshot(t.Context())
		if err != nil {
			t.Fatalf("snapshot node %d: %v", id, err)
		}
		if info.Index < res.Index {
			t.Fatalf("node %d snapshot at %d, want >= %d", id, info.Index, res.Index)
		}
	}
	c.stop(1)
	c.stop(2)
	c.start(1)
	c.start(2)
	c.leader()
	for _, id := range []uint64{1, 2} {
		if first, _ := c.nodes[id].storage.FirstIndex(); first > res.Index-4 {
			t.Fatalf("node %d's log starts at %d after restart: the entries node 3 lacks are gone", id, first)
		}
	}

	c.start(3)
	last := c.propose("after-restart")
	c.waitApplied(3, last.Index, 30*time.Second)
	if got := counterValue(c.metrics[3].snapshotsInstalled); got != 0 {
		t.Fatalf("node 3 installed %v snapshots, want 0: it was only a few entries behind", got)
	}
	for _, id := range []uint64{1, 2} {
		if got := counterValue(c.metrics[id].snapshotsSent) + counterValue(c.metrics[id].snapshotSendFails); got != 0 {
			t.Fatalf("node %d sent %v snapshots, want 0", id, got)
		}
	}
}
