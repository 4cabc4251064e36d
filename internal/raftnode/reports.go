package raftnode

import (
	"sync"

	"go.etcd.io/raft/v3"
)

// reports carries the transport's feedback for raft (a peer unreachable, a
// snapshot sent or failed) from the transport's goroutines, and from Send
// on the raft goroutine itself, to the raft loop. It never drops a report
// and never blocks the reporter: a snapshot report that is lost leaves
// the follower in raft's snapshot state, where the leader sends it nothing
// until the next election. Unreachable reports, which a peer that is down
// produces for every dropped message, coalesce per peer, so the queue
// stays as small as the number of peers plus the snapshot sends in
// flight.
type reports struct {
	mu          sync.Mutex
	unreachable map[uint64]struct{} // guarded by mu
	snapshots   []snapshotReport    // guarded by mu; in the order reported
	wake        chan struct{}       // buffered(1): something is pending
}

type snapshotReport struct {
	peer   uint64
	status raft.SnapshotStatus
}

func newReports() *reports {
	return &reports{unreachable: make(map[uint64]struct{}), wake: make(chan struct{}, 1)}
}

func (r *reports) addUnreachable(peer uint64) {
	r.mu.Lock()
	r.unreachable[peer] = struct{}{}
	r.mu.Unlock()
	r.signal()
}

func (r *reports) addSnapshot(peer uint64, status raft.SnapshotStatus) {
	r.mu.Lock()
	r.snapshots = append(r.snapshots, snapshotReport{peer: peer, status: status})
	r.mu.Unlock()
	r.signal()
}

// signal wakes the loop. A token already waiting covers this report too:
// the loop takes everything pending after receiving it.
func (r *reports) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// deliver hands every pending report to rn. Only the raft goroutine calls
// it.
func (r *reports) deliver(rn *raft.RawNode) {
	r.mu.Lock()
	var unreachable map[uint64]struct{}
	if len(r.unreachable) > 0 {
		unreachable, r.unreachable = r.unreachable, make(map[uint64]struct{})
	}
	snaps := r.snapshots
	r.snapshots = nil
	r.mu.Unlock()
	for peer := range unreachable {
		rn.ReportUnreachable(peer)
	}
	for _, s := range snaps {
		rn.ReportSnapshot(s.peer, s.status)
	}
}

// reportUnreachable is the transport's OnUnreachable. A heartbeat in
// flight to peer may be lost with the connection: its clock stops.
func (n *Node) reportUnreachable(peer uint64) {
	if c := n.heartbeatClock(peer, false); c != nil {
		c.sentAt.Store(0)
	}
	n.reports.addUnreachable(peer)
}

// reportSnapshot is the transport's OnSnapshotStatus. The metrics move
// only once the report is queued for raft.
func (n *Node) reportSnapshot(peer uint64, failed bool) {
	if failed {
		n.reports.addSnapshot(peer, raft.SnapshotFailure)
		n.metrics.snapshotSendFails.Inc()
		return
	}
	n.reports.addSnapshot(peer, raft.SnapshotFinish)
	n.metrics.snapshotsSent.Inc()
}
