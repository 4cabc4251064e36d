package raftnode

import (
	"context"
	"sort"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// Status is a point-in-time view of the quorum as this node sees it.
// Progress of other voters is known only on the leader.
type Status struct {
	ID, Leader, Term, Commit, Applied uint64
	LastIndex                         uint64
	SnapshotIndex                     uint64
	Voters                            []VoterStatus // sorted by id
}

// VoterStatus is one voter's replication progress (leader's view).
type VoterStatus struct {
	ID          uint64
	Match       uint64 // highest index known replicated there
	Active      bool   // heard from within the election timeout
	State       string // probe, replicate or snapshot; "" when unknown
	LastContact time.Time
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

func (n *Node) status() Status {
	rs := n.rn.Status()
	last, _ := n.storage.LastIndex()
	st := Status{
		ID: n.cfg.NodeID, Leader: rs.Lead, Term: rs.Term, Commit: rs.Commit,
		Applied: n.applied.Load(), LastIndex: last, SnapshotIndex: n.snapIndex,
	}
	for _, id := range n.confState.Voters {
		v := VoterStatus{ID: id}
		if pr, ok := rs.Progress[id]; ok {
			v.Match, v.Active, v.State = pr.Match, pr.RecentActive, progressState(pr)
		}
		if id == n.cfg.NodeID {
			v.Active, v.LastContact = true, time.Now()
			if v.Match == 0 {
				v.Match = last
			}
		} else {
			v.LastContact = n.transport.LastContact(id)
		}
		st.Voters = append(st.Voters, v)
	}
	sort.Slice(st.Voters, func(i, j int) bool { return st.Voters[i].ID < st.Voters[j].ID })
	return st
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
		var best VoterStatus
		for _, v := range st.Voters {
			if v.ID != n.cfg.NodeID && v.Active && v.Match >= best.Match {
				best = v
			}
		}
		if best.ID == raft.None {
			return ErrNoLeader // no live follower to hand over to
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
