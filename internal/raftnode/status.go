package raftnode

import (
	"context"
	"slices"
	"sort"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"

	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/transport"
)

// Status is a point-in-time view of the quorum as this node sees it.
// Replication progress of other voters is known only on the leader; a
// node that is not leading reports what it last knew, and says how old
// that is (FreshAt, ProgressAt).
type Status struct {
	ID, Leader, Term, Commit, Applied uint64
	LastIndex                         uint64
	SnapshotIndex                     uint64
	// State is this node's raft role: "leader", "follower" or "candidate"
	// (pre-candidates included: a node without a leader trying to get
	// elected).
	State string
	// LastLeader is the most recent leader this node knew, itself
	// included; 0 if it has known none since it started.
	LastLeader uint64
	// FreshAt is when this node last had word of a live leader: now on
	// the leader; on a follower, the last message from LastLeader; on a
	// node that led last, its last tick as leader. Zero if never.
	FreshAt time.Time
	// ProgressAt is when the voters' Match, MatchKnown and State were
	// taken from a leader's view: now on the leader, or this node's last
	// tick as leader if it was the last leader it knew (the view it had
	// when it lost leadership). Zero when Voters carry no progress.
	ProgressAt time.Time
	// ProgressLastIndex is the leader's last index at ProgressAt, the
	// reference for voters' lag.
	ProgressLastIndex uint64
	// ElectionTimeout is ElectionTicks × TickInterval: a voter not heard
	// from for that long counts as unreachable.
	ElectionTimeout time.Duration
	Voters          []VoterStatus // sorted by id
	Observers       []VoterStatus // non-voting members (raft learners), sorted by id
}

// VoterStatus is one voter as this node sees it.
type VoterStatus struct {
	ID          uint64
	DirectoryID storage.DirectoryID // zero while not yet known
	PeerAddr    string              // from the membership
	HTTPAddr    string              // advertised in the voter's handshake; "" if unknown
	// Match is the highest index known replicated there, valid when
	// MatchKnown (see Status.ProgressAt).
	Match      uint64
	MatchKnown bool
	Active     bool   // leader's view: raft heard from it within the election timeout
	State      string // leader's view: probe, replicate or snapshot; "" when unknown
	// LastContact is when this node last received a raft message from the
	// voter; LastHeard also counts transport keepalives, so it shows the
	// voter's process is up and connected even when raft is quiet. Both
	// are now for this node itself and zero if never.
	LastContact time.Time
	LastHeard   time.Time
}

// statusMemory is what Status needs beyond raft's live state. Owned by
// the run goroutine (remember runs on every tick there).
type statusMemory struct {
	lastLeader uint64
	ledAt      time.Time     // last tick as leader
	led        []VoterStatus // voters as of ledAt; nil if this node never led
	ledLast    uint64        // LastIndex as of ledAt
}

// remember notes the leader once a tick, and while leading keeps the
// voters' progress, so that after losing the leadership (and the
// progress with it) Status can still say what it last knew.
func (n *Node) remember() {
	lead := n.leader.Load()
	if lead == raft.None {
		return
	}
	n.memory.lastLeader = lead
	// NB: the published leader lags raft by a Ready: the tick that just
	// ran may have stepped this node down, and its progress with it.
	if lead != n.cfg.NodeID || n.rn.BasicStatus().RaftState != raft.StateLeader {
		return
	}
	st := n.liveStatus()
	n.memory.ledAt = time.Now()
	n.memory.led = st.Voters
	n.memory.ledLast = st.LastIndex
	n.progress.Store(&progressView{last: st.LastIndex, voters: st.Voters})
}

// Status asks the raft loop for a consistent view.
func (n *Node) Status(ctx context.Context) (Status, error) {
	ch := make(chan Status, 1)
	select {
	case n.statusc <- ch:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	case <-n.donec:
		return Status{}, ErrStopped
	}
	select {
	case st := <-ch:
		return st, nil
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
}

// Incarnation is the random id of this run of the node, sent to peers in
// every handshake so they can refuse a second process claiming this
// node's id.
func (n *Node) Incarnation() uint64 { return n.transport.Incarnation() }

// TransportStats returns the peer transport's counters.
func (n *Node) TransportStats() transport.Stats { return n.transport.Stats() }

// status runs on the raft loop.
func (n *Node) status() Status {
	st := n.liveStatus()
	now := time.Now()
	mem := &n.memory
	if st.Leader != raft.None && mem.lastLeader != st.Leader {
		mem.lastLeader = st.Leader // a leader newer than the last tick
	}
	st.LastLeader = mem.lastLeader
	switch {
	case st.State == "leader":
		st.FreshAt, st.ProgressAt, st.ProgressLastIndex = now, now, st.LastIndex
		return st
	case mem.lastLeader == n.cfg.NodeID:
		st.FreshAt = mem.ledAt
	case mem.lastLeader != raft.None:
		st.FreshAt = n.transport.LastContact(mem.lastLeader)
	}
	// Progress from this node's own leadership is worth showing only while
	// nothing newer is known: no other leader since.
	if mem.lastLeader == n.cfg.NodeID && mem.led != nil {
		st.ProgressAt, st.ProgressLastIndex = mem.ledAt, mem.ledLast
		for i := range st.Voters {
			v := &st.Voters[i]
			if v.ID == n.cfg.NodeID {
				continue
			}
			if j := slices.IndexFunc(mem.led, func(o VoterStatus) bool { return o.ID == v.ID }); j >= 0 {
				v.Match, v.MatchKnown, v.State = mem.led[j].Match, mem.led[j].MatchKnown, mem.led[j].State
			}
		}
	}
	return st
}

// liveStatus is raft's state right now; voters carry progress only on
// the leader.
func (n *Node) liveStatus() Status {
	rs := n.rn.Status()
	last, _ := n.storage.LastIndex()
	st := Status{
		ID: n.cfg.NodeID, Leader: rs.Lead, Term: rs.Term, Commit: rs.Commit,
		Applied: n.applied.Load(), LastIndex: last, SnapshotIndex: n.snapIndex,
		State:           roleName(rs.RaftState),
		ElectionTimeout: n.cfg.TickInterval * time.Duration(n.cfg.ElectionTicks),
	}
	now := time.Now()
	view := n.membersView.Load()
	for _, id := range append(slices.Clone(n.confState.Voters), n.confState.Learners...) {
		m, _ := view.get(id)
		v := VoterStatus{ID: id, DirectoryID: m.DirectoryID, PeerAddr: m.PeerAddr}
		v.HTTPAddr, _ = n.PeerHTTPAddr(id)
		if pr, ok := rs.Progress[id]; ok {
			v.Match, v.MatchKnown, v.Active, v.State = pr.Match, true, pr.RecentActive, progressState(pr)
		}
		if id == n.cfg.NodeID {
			v.Active, v.LastContact, v.LastHeard = true, now, now
			v.Match, v.MatchKnown = last, true // its own log is always known
		} else {
			v.LastContact = n.transport.LastContact(id)
			v.LastHeard = n.transport.LastHeard(id)
		}
		if slices.Contains(n.confState.Learners, id) {
			st.Observers = append(st.Observers, v)
		} else {
			st.Voters = append(st.Voters, v)
		}
	}
	sort.Slice(st.Voters, func(i, j int) bool { return st.Voters[i].ID < st.Voters[j].ID })
	sort.Slice(st.Observers, func(i, j int) bool { return st.Observers[i].ID < st.Observers[j].ID })
	return st
}

func roleName(s raft.StateType) string {
	switch s {
	case raft.StateLeader:
		return "leader"
	case raft.StateFollower:
		return "follower"
	}
	return "candidate"
}

func progressState(pr tracker.Progress) string {
	switch pr.State {
	case tracker.StateProbe:
		return "probe"
	case tracker.StateReplicate:
		return "replicate"
	case tracker.StateSnapshot:
		return "snapshot"
	}
	return ""
}

// TransferLeadership hands leadership to the most up-to-date follower and
// waits until this node no longer leads. Used before a clean shutdown so
// the cluster does not wait an election timeout for a new leader.
func (n *Node) TransferLeadership(ctx context.Context) error {
	for n.IsLeader() {
		st, err := n.Status(ctx)
		if err != nil {
			return err
		}
		if st.State != "leader" {
			// The hand-over already happened; IsLeader follows once the
			// loop has processed the step-down.
			return nil
		}
		var best VoterStatus
		for _, v := range st.Voters {
			if v.ID != n.cfg.NodeID && v.Active && v.Match >= best.Match {
				best = v
			}
		}
		if best.ID == raft.None {
			// No follower has answered yet (a leader's progress starts
			// blank on election): wait a tick for one, until ctx ends.
			t := time.NewTimer(n.cfg.TickInterval)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return ErrNoLeader // no live follower to hand over to
			case <-n.donec:
				t.Stop()
				return ErrStopped
			}
		}
		select {
		case n.transferc <- best.ID:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.donec:
			return ErrStopped
		}
		_, ch := n.AppliedNotify()
		t := time.NewTimer(n.cfg.TickInterval)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
	return nil
}
