package raftnode

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3/raftpb"
)

// histogramCounts returns the sample count of each histogram in reg by
// name (label values appended after a space).
func histogramCounts(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					key += " " + l.GetValue()
				}
				out[key] = h.GetSampleCount()
			}
		}
	}
	return out
}

func metricsNode(t *testing.T) (*Node, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	n := &Node{
		cfg:     Config{NodeID: 1, TickInterval: 100 * time.Millisecond, ElectionTicks: 10},
		metrics: NewMetrics(reg),
		reports: newReports(),
	}
	n.heartbeatClock(2, true)
	n.heartbeatClock(3, true)
	return n, reg
}

func TestCommitLatencySkipsReplacedEntries(t *testing.T) {
	n, reg := metricsNode(t)
	at := time.Now().Add(-10 * time.Millisecond)
	n.commitClocks = []commitClock{{index: 5, term: 2, at: at}, {index: 6, term: 2, at: at}, {index: 8, term: 2, at: at}}
	// Entry 6 committed from another leader's term: this node's entry
	// there never committed and must not be timed.
	n.observeCommits([]raftpb.Entry{{Index: 5, Term: 2}, {Index: 6, Term: 3}, {Index: 7, Term: 3}})
	if got := histogramCounts(t, reg)["yakt_raft_commit_duration_seconds"]; got != 1 {
		t.Fatalf("timed %d commits, want 1", got)
	}
	if len(n.commitClocks) != 1 || n.commitClocks[0].index != 8 {
		t.Fatalf("clocks left %+v, want index 8's", n.commitClocks)
	}
	n.observeCommits([]raftpb.Entry{{Index: 8, Term: 2}})
	if got := histogramCounts(t, reg)["yakt_raft_commit_duration_seconds"]; got != 2 || n.commitClocks != nil {
		t.Fatalf("timed %d commits, clocks %+v; want 2 and none", got, n.commitClocks)
	}
}

func TestHeartbeatRoundTrips(t *testing.T) {
	n, reg := metricsNode(t)
	hb := func(to uint64) raftpb.Message { return raftpb.Message{Type: raftpb.MsgHeartbeat, From: 1, To: to} }
	n.noteHeartbeats([]raftpb.Message{hb(2), {Type: raftpb.MsgApp, To: 3}})
	first := n.heartbeatClock(2, false).sentAt.Load()
	n.noteHeartbeats([]raftpb.Message{hb(2)}) // the first is still unanswered: its clock runs on
	if n.heartbeatClock(2, false).sentAt.Load() != first || n.heartbeatClock(3, false).sentAt.Load() != 0 {
		t.Fatal("a second heartbeat restarted the clock, or an append started one")
	}
	n.heartbeatAnswered(2)
	n.heartbeatAnswered(2) // the second heartbeat's answer: no clock running
	n.heartbeatAnswered(3) // nothing sent
	if got := histogramCounts(t, reg); got["yakt_peer_round_trip_time_seconds 2"] != 1 || got["yakt_peer_round_trip_time_seconds 3"] != 0 {
		t.Fatalf("round trips timed: %v", got)
	}
	// A heartbeat lost with a connection is not timed by a later answer.
	n.noteHeartbeats([]raftpb.Message{hb(3)})
	n.reportUnreachable(3)
	n.heartbeatAnswered(3)
	if got := histogramCounts(t, reg)["yakt_peer_round_trip_time_seconds 3"]; got != 0 {
		t.Fatalf("timed %d round trips to an unreachable peer", got)
	}
}

func TestElectionDuration(t *testing.T) {
	n, reg := metricsNode(t)
	n.observeLeader(0, 2) // the first leader after start: no leader was lost
	if got := histogramCounts(t, reg)["yakt_raft_election_duration_seconds"]; got != 0 {
		t.Fatalf("timed %d elections at start", got)
	}
	n.observeLeader(2, 0)
	n.observeLeader(0, 0) // still none
	n.observeLeader(0, 3)
	n.observeLeader(3, 3) // no change
	if got := histogramCounts(t, reg)["yakt_raft_election_duration_seconds"]; got != 1 {
		t.Fatalf("timed %d elections, want 1", got)
	}
}
