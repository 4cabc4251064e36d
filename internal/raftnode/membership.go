package raftnode

import (
	"context"
	"errors"

	"github.com/yakt/yakt/internal/storage"
)

// Member is one node of the quorum as the log records it: a voter, or an
// observer (a raft learner: it replicates the log and serves reads, but
// never votes or counts toward a quorum). A member is its node id and its
// directory id together: a node whose directory was wiped has a new
// directory id and is not the member it replaces.
type Member struct {
	NodeID uint64
	// DirectoryID is zero only for members of a cluster bootstrapped
	// before directory ids, until the leader has learnt it.
	DirectoryID storage.DirectoryID
	PeerAddr    string // where peers dial it
	HTTPAddr    string // its advertised HTTP address; "" until learnt
	Voter       bool   // false: an observer
}

// Membership errors. Callers branch on them with errors.Is; each means
// nothing was changed.
var (
	// ErrChangeInProgress: another membership change has not been applied
	// yet; one change happens at a time.
	ErrChangeInProgress = errors.New("raftnode: a membership change is in progress")
	// ErrUnknownMember: no member has that node id (and directory id).
	ErrUnknownMember = errors.New("raftnode: no such member")
	// ErrMemberExists: the node id is already a member (with another
	// directory id, or in another role).
	ErrMemberExists = errors.New("raftnode: node id is already a member")
	// ErrNotCaughtUp: the observer's log is too far behind the leader's to
	// promote it without stalling commits.
	ErrNotCaughtUp = errors.New("raftnode: observer has not caught up")
	// ErrLastVoter: the change would leave the quorum without a voter.
	ErrLastVoter = errors.New("raftnode: cannot remove the last voter")
	// ErrRemoved: this node has been removed from the quorum.
	ErrRemoved = errors.New("raftnode: this node was removed from the quorum")
)

// Members is the membership this node has applied, sorted by node id.
func (n *Node) Members() []Member { return nil }

// DirectoryID is this node's directory id.
func (n *Node) DirectoryID() storage.DirectoryID { return storage.DirectoryID{} }

// AddObserver adds m as an observer and returns once the change is
// applied here. Leader only (ErrNotLeader). Adding the same member again
// is a no-op.
func (n *Node) AddObserver(ctx context.Context, m Member) error { return errors.New("not implemented") }

// PromoteObserver makes observer id (with directory id dir; zero: any) a
// voter once its log is within PromoteLagEntries of the leader's, and
// returns once the change is applied here (ErrNotCaughtUp if ctx ends
// first). Leader only. Promoting a voter is a no-op.
func (n *Node) PromoteObserver(ctx context.Context, id uint64, dir storage.DirectoryID) error {
	return errors.New("not implemented")
}

// RemoveMember removes voter or observer id (with directory id dir; zero:
// any) and returns once the change is applied here. Leader only; when id
// is this node, it first hands leadership to the most caught-up other
// voter and returns ErrNotLeader, so the caller retries on the new leader.
func (n *Node) RemoveMember(ctx context.Context, id uint64, dir storage.DirectoryID) error {
	return errors.New("not implemented")
}

// TransferLeadershipTo hands leadership to voter id (0: the most
// caught-up other voter) and returns once it leads. Leader only.
func (n *Node) TransferLeadershipTo(ctx context.Context, id uint64) error {
	return errors.New("not implemented")
}

// Self is this node as a member would record it (its role as applied
// here: Voter is false for an observer and for a node not yet added).
func (n *Node) Self() Member { return Member{NodeID: n.cfg.NodeID} }
