package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/transport"
)

// The front doors' view of the raft node: who this node is and who
// leads, barriers, the quorum and snapshots. They go through the
// controller, which owns the node, so that a front door needs only the
// controller and the contract.

// NodeID is this node's raft id.
func (c *Controller) NodeID() uint64 { return c.node.ID() }

// ClusterID is the cluster's id.
func (c *Controller) ClusterID() string { return c.clusterID }

// Leader is the leader this node knows, 0 if none.
func (c *Controller) Leader() uint64 { return c.node.Leader() }

// IsLeader reports whether this node leads.
func (c *Controller) IsLeader() bool { return c.node.IsLeader() }

// PeerHTTPAddr is the HTTP address node id advertised, if known.
func (c *Controller) PeerHTTPAddr(id uint64) (string, bool) { return c.node.PeerHTTPAddr(id) }

// WaitApplied returns once this node has applied offset, or ctx ends.
func (c *Controller) WaitApplied(ctx context.Context, offset int64) error {
	if offset <= 0 {
		return nil
	}
	return c.node.WaitApplied(ctx, uint64(offset))
}

// ForwardRequest sends req to peer to on the peer connection; errors
// wrapping transport.ErrRequestNotRun prove it did not run there.
func (c *Controller) ForwardRequest(ctx context.Context, to uint64, req *transport.Request) (*transport.Response, error) {
	return c.node.ForwardRequest(ctx, to, req)
}

// ServeForwarded sets the handler of the API's requests peers forward
// here; nil refuses them unrun. (Kafka's go to ServeForwardedKafka.)
func (c *Controller) ServeForwarded(h transport.RequestHandler) {
	c.forwarded.set(c.node, &c.forwarded.http, h)
}

// Readiness runs a read barrier bounded by ctx: ready exactly when this
// node can serve a linearizable read now.
func (c *Controller) Readiness(ctx context.Context) contract.Readiness {
	err := c.node.ReadBarrier(ctx)
	out := contract.Readiness{LeaderID: c.node.Leader(), AppliedOffset: c.node.AppliedIndex(), CommitOffset: c.node.CommitIndex(),
		Status: contract.Ready}
	if err != nil {
		out.Status, out.Reason = contract.NotReady, notReadyReason(err)
	}
	return out
}

func notReadyReason(err error) string {
	switch {
	case errors.Is(err, raftnode.ErrNoLeader):
		return "no leader is known: this node cannot reach a quorum"
	case errors.Is(err, context.DeadlineExceeded):
		return "read barrier timed out: the leader did not confirm its leadership in time"
	case errors.Is(err, raftnode.ErrStopped):
		return "node is stopping"
	}
	return "read barrier failed: " + err.Error()
}

// Quorum describes the quorum as this node sees it now (GET /v1/quorum
// without relaying to the leader): live on the leader, its last known
// values, marked stale, elsewhere.
func (c *Controller) Quorum(ctx context.Context) (contract.Quorum, error) {
	st, err := c.node.Status(ctx)
	if err != nil {
		return contract.Quorum{}, nodeError(err)
	}
	return describeQuorum(c.clusterID, st, c.node.Members(), time.Now()), nil
}

// describeQuorum turns a node's Status and the members it has applied
// into the quorum's description: voters, then observers (members that do
// not vote), each sorted by node id. A member's progress comes from the
// Status row of its id; a member Status has no row for yet gets none.
func describeQuorum(clusterID string, st raftnode.Status, members []raftnode.Member, now time.Time) contract.Quorum {
	live := st.State == "leader"
	resp := contract.Quorum{ClusterID: clusterID, NodeID: st.ID, Stale: !live, LeaderID: -1,
		LeaderEpoch: int64(st.Term), HighWatermark: int64(st.Commit), Voters: []contract.Voter{}, Observers: []contract.Voter{}}
	if st.Leader != 0 {
		resp.LeaderID = int64(st.Leader)
	}
	if st.LastLeader != 0 {
		resp.LastLeaderID = ptr(st.LastLeader)
	}
	if !st.FreshAt.IsZero() {
		resp.StaleMs = ptr(max(0, now.Sub(st.FreshAt).Milliseconds()))
	}
	if live {
		resp.StaleMs = ptr(int64(0))
	}
	byID := make(map[uint64]raftnode.Member, len(members))
	for _, m := range members {
		byID[m.NodeID] = m
	}
	add := func(v raftnode.VoterStatus) {
		qv := describeMember(st, v, live, now)
		m, ok := byID[v.ID]
		if ok {
			qv.DirectoryID = m.DirectoryID.String()
			if qv.PeerAddress == "" {
				qv.PeerAddress = m.PeerAddr
			}
			if qv.HTTPAddress == "" {
				qv.HTTPAddress = m.HTTPAddr
			}
		}
		if ok && !m.Voter {
			resp.Observers = append(resp.Observers, qv)
		} else {
			resp.Voters = append(resp.Voters, qv)
		}
	}
	seen := make(map[uint64]bool, len(st.Voters)+len(st.Observers))
	for _, v := range append(slices.Clone(st.Voters), st.Observers...) {
		seen[v.ID] = true
		add(v)
	}
	for _, m := range members {
		if !seen[m.NodeID] {
			add(raftnode.VoterStatus{ID: m.NodeID, PeerAddr: m.PeerAddr, HTTPAddr: m.HTTPAddr})
		}
	}
	byNode := func(a, b contract.Voter) int { return cmp.Compare(a.NodeID, b.NodeID) }
	slices.SortFunc(resp.Voters, byNode)
	slices.SortFunc(resp.Observers, byNode)
	return resp
}

// describeMember is one voter's or observer's row.
func describeMember(st raftnode.Status, v raftnode.VoterStatus, live bool, now time.Time) contract.Voter {
	qv := contract.Voter{NodeID: v.ID, PeerAddress: v.PeerAddr, HTTPAddress: v.HTTPAddr}
	// The leader judges reachability by raft messages (a follower whose
	// raft loop is wedged does not answer them); other nodes by
	// anything, keepalives included, as voters send each other no raft
	// messages while a leader is in charge.
	heard := v.LastHeard
	if live {
		heard = v.LastContact
	}
	if !heard.IsZero() {
		qv.LastContactMs = ptr(max(0, now.Sub(heard).Milliseconds()))
	}
	reachable := !heard.IsZero() && now.Sub(heard) < st.ElectionTimeout
	if v.MatchKnown {
		qv.LogEndOffset = ptr(int64(v.Match))
		if !st.ProgressAt.IsZero() && (live || v.ID != st.ID) {
			qv.Lag = ptr(int64(st.ProgressLastIndex - min(v.Match, st.ProgressLastIndex)))
		}
	}
	switch {
	case v.ID == st.ID && live:
		qv.Status = contract.VoterLeader
	case v.ID == st.ID && st.Leader != 0:
		qv.Status = contract.VoterFollower
	case v.ID == st.ID:
		qv.Status = contract.VoterCandidate
	case !reachable:
		qv.Status = contract.VoterUnreachable
	case v.ID == st.Leader:
		qv.Status = contract.VoterLeader
	case !live:
		qv.Status = contract.VoterUnknown
	case v.State == "replicate":
		qv.Status = contract.VoterFollower
	default:
		qv.Status = contract.VoterLagging
	}
	return qv
}

func ptr[T any](v T) *T { return &v }

func snapshotEntry(in storage.SnapshotInfo) contract.Snapshot {
	return contract.Snapshot{Offset: in.Index, Term: in.Term, SizeBytes: in.SizeBytes,
		CreatedAt: metadata.FormatTime(in.CreatedAt), Checksum: in.Checksum}
}

// Snapshots lists this node's snapshot files, newest first.
func (c *Controller) Snapshots() ([]contract.Snapshot, error) {
	infos, err := c.node.Snapshots()
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	out := make([]contract.Snapshot, 0, len(infos))
	for _, in := range infos {
		out = append(out, snapshotEntry(in))
	}
	return out, nil
}

// TakeSnapshot snapshots the applied state now and returns once a
// snapshot at least that new is on disk. NOT_READY when the node stops or
// has applied nothing yet.
func (c *Controller) TakeSnapshot(ctx context.Context) (contract.Snapshot, error) {
	in, err := c.node.TakeSnapshot(ctx)
	if errors.Is(err, raftnode.ErrStopped) {
		return contract.Snapshot{}, contract.Errorf(contract.CodeNotReady, "node is shutting down")
	}
	if err != nil {
		return contract.Snapshot{}, err
	}
	if in.Index == 0 {
		return contract.Snapshot{}, contract.Errorf(contract.CodeNotReady, "nothing applied yet; no snapshot to take")
	}
	return snapshotEntry(in), nil
}

// SnapshotFile is an open snapshot file, as stored.
type SnapshotFile struct {
	io.ReadCloser
	Info contract.Snapshot
}

// OpenLatestSnapshot opens this node's newest snapshot file through the
// node's file system. NOT_READY when it has none yet.
func (c *Controller) OpenLatestSnapshot() (SnapshotFile, error) {
	infos, err := c.node.Snapshots()
	if err != nil {
		return SnapshotFile{}, fmt.Errorf("list snapshots: %w", err)
	}
	for _, in := range infos { // newest first; one may be pruned under us
		f, err := c.fs.OpenFile(in.Path, os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		return SnapshotFile{ReadCloser: f, Info: snapshotEntry(in)}, nil
	}
	return SnapshotFile{}, contract.Errorf(contract.CodeNotReady, "this node has no snapshot yet; POST /v1/snapshots takes one")
}
