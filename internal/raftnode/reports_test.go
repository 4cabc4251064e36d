package raftnode

import (
	"net"
	"testing"
	"time"
)

// TestSnapshotReportSurvivesBusyLoop makes a snapshot send fail while the
// leader's raft loop is busy and a flood of unreachable reports for the
// same follower is already waiting (what a peer that is down produces for
// every dropped message). The failure report must still reach raft:
// otherwise the follower stays in raft's snapshot state, where the leader
// sends it nothing until the next election, and never catches up.
func TestSnapshotReportSurvivesBusyLoop(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.CompactionMargin = 1 })
	lead, res := startPastNode3(t, c)

	// Node 3 starts with an empty log, so the leader sends it a snapshot;
	// the proxy holds the snapshot stream.
	c.proxies[3].setHoldSnapshots(true)
	c.start(3)
	var held net.Conn
	select {
	case held = <-c.proxies[3].held:
	case <-time.After(30 * time.Second):
		t.Fatal("the leader sent node 3 no snapshot within 30s")
	}

	// Keep the leader's loop busy: it blocks handing over the answer to a
	// status request until the test reads it.
	busy := make(chan Status)
	select {
	case lead.statusc <- busy:
	case <-time.After(30 * time.Second):
		t.Fatal("leader loop did not take the status request")
	}
	for i := 0; i < 5000; i++ {
		lead.reportUnreachable(3)
	}
	fails := counterValue(lead.metrics.snapshotSendFails)
	held.Close() // the snapshot send fails
	waitFor(t, 30*time.Second, "the failed snapshot send to be reported", func() bool {
		return counterValue(lead.metrics.snapshotSendFails) > fails
	})
	c.proxies[3].setHoldSnapshots(false)
	<-busy

	// Raft learns the send failed, probes node 3 again and sends a new
	// snapshot, which now gets through.
	c.waitApplied(3, res.Index, 30*time.Second)
}
