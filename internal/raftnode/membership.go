package raftnode

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"

	"github.com/yakt/yakt/internal/storage"
)

// Membership lives in the log, as raft configuration changes (etcd raft's
// ConfChange, one change at a time: any two majorities of consecutive
// voter sets overlap, and raft refuses a change while another is
// unapplied). Each change carries the member's record in its Context,
// so every node derives the same table from the log, and snapshots carry
// the table beside raft's ConfState. Roles come from raft's ConfState:
// voters, and learners, which YAKt calls observers.
//
// A member is its node id and its directory id together. The transport
// admits a peer's connection only when its hello names a member with the
// directory id recorded here, so a node whose directory was wiped (and
// reformatted with a new id) can neither vote nor count toward a quorum
// as the member it once was: its messages never reach raft. Clusters
// bootstrapped with --voters know only their own directory id at first;
// the leader pins each member's, as its connections present them, with
// an UpdateNode change (trust on first use, for the first seconds of a
// cluster's life or the first start after an upgrade).

// Member is one node of the quorum as the log records it: a voter, or an
// observer (a raft learner: it replicates the log and serves reads, but
// never votes or counts toward a quorum). A member is its node id and its
// directory id together: a node whose directory was wiped has a new
// directory id and is not the member it replaces.
type Member struct {
	NodeID uint64
	// DirectoryID is zero only while the leader has not learnt it (a
	// cluster bootstrapped with --voters, or formatted before directory
	// ids, in its first seconds).
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
)

// PromoteLagEntries is how far behind the leader's last index an
// observer may be and still be promoted: a voter that far behind catches
// up within a few appends, so the quorum does not wait on it.
const PromoteLagEntries = 1000

// memberRecord is a member as the log and snapshots carry it (JSON, so a
// later field is ignored by an older reader, not misread).
type memberRecord struct {
	NodeID      uint64              `json:"nodeId"`
	DirectoryID storage.DirectoryID `json:"directoryId"`
	PeerAddr    string              `json:"peerAddress,omitempty"`
	HTTPAddr    string              `json:"httpAddress,omitempty"`
}

// confContext is a ConfChange's Context. Op identifies the proposal on
// the node that made it (0: none waits), so it can tell its own change
// from another that took its place.
type confContext struct {
	Member *memberRecord `json:"member,omitempty"`
	Op     uint64        `json:"op,omitempty"`
}

// membersFile is the table as snapshots carry it.
type membersFile struct {
	Version int            `json:"version"`
	Members []memberRecord `json:"members"`
}

// membersView is the table as readers off the loop see it.
type membersView struct {
	list []Member // sorted by node id
	// known: this node has a configuration (bootstrapped, or received
	// one). A node that has just joined knows no members yet and admits
	// any peer of its cluster until the leader's snapshot arrives.
	known bool
}

func (v *membersView) get(id uint64) (Member, bool) {
	if v == nil {
		return Member{}, false
	}
	i := slices.IndexFunc(v.list, func(m Member) bool { return m.NodeID == id })
	if i < 0 {
		return Member{}, false
	}
	return v.list[i], true
}

// Members is the membership this node has applied, sorted by node id.
func (n *Node) Members() []Member {
	v := n.membersView.Load()
	if v == nil {
		return nil
	}
	return slices.Clone(v.list)
}

// DirectoryID is this node's directory id.
func (n *Node) DirectoryID() storage.DirectoryID { return n.dirID }

// Self is this node as a member would record it, with its role as
// applied here (Voter is false for an observer and for a node not yet
// added).
func (n *Node) Self() Member {
	m, _ := n.membersView.Load().get(n.cfg.NodeID)
	return Member{NodeID: n.cfg.NodeID, DirectoryID: n.dirID, PeerAddr: n.cfg.PeerAddr, HTTPAddr: n.cfg.HTTPAddr, Voter: m.Voter}
}

type confKind int

const (
	confAdd confKind = iota + 1
	confPromote
	confRemove
	confUpdate
)

// confReq asks the loop for one membership change.
type confReq struct {
	ctx    context.Context
	kind   confKind
	member memberRecord // confAdd, confUpdate; NodeID and DirectoryID for the others
	done   chan error   // buffered(1)
}

// confWaiter is a proposed change waiting to be applied.
type confWaiter struct {
	req   *confReq
	index uint64 // where it was appended; 0 until seen in a Ready
}

// AddObserver adds m as an observer and returns once the change is
// applied here. Leader only (ErrNotLeader). Adding the same member again
// is a no-op.
func (n *Node) AddObserver(ctx context.Context, m Member) error {
	if m.NodeID == 0 || m.DirectoryID.IsZero() {
		return fmt.Errorf("%w: a member needs a node id and a directory id", ErrUnknownMember)
	}
	if _, _, err := net.SplitHostPort(m.PeerAddr); err != nil {
		return fmt.Errorf("peer address %q: %w", m.PeerAddr, err)
	}
	return n.changeMembers(ctx, confAdd, memberRecord{NodeID: m.NodeID, DirectoryID: m.DirectoryID, PeerAddr: m.PeerAddr, HTTPAddr: m.HTTPAddr})
}

// PromoteObserver makes observer id (with directory id dir; zero: any) a
// voter once its log is within PromoteLagEntries of the leader's, and
// returns once the change is applied here (ErrNotCaughtUp if ctx ends
// first). Leader only. Promoting a voter is a no-op.
func (n *Node) PromoteObserver(ctx context.Context, id uint64, dir storage.DirectoryID) error {
	return n.retryWhile(ctx, ErrNotCaughtUp, func() error {
		return n.changeMembers(ctx, confPromote, memberRecord{NodeID: id, DirectoryID: dir})
	})
}

// RemoveMember removes voter or observer id (with directory id dir; zero:
// any) and returns once the change is applied here. Leader only; when id
// is this node, it first hands leadership to the most caught-up other
// voter and returns ErrNotLeader, so the caller retries on the new leader.
func (n *Node) RemoveMember(ctx context.Context, id uint64, dir storage.DirectoryID) error {
	if id == n.cfg.NodeID && n.IsLeader() {
		view := n.membersView.Load()
		m, ok := view.get(id)
		if !ok || (!dir.IsZero() && !m.DirectoryID.IsZero() && m.DirectoryID != dir) {
			return fmt.Errorf("%w: node %d with directory id %s", ErrUnknownMember, id, dirText(dir))
		}
		voters := 0
		for _, v := range view.list {
			if v.Voter {
				voters++
			}
		}
		if voters == 1 {
			return ErrLastVoter
		}
		if err := n.TransferLeadership(ctx); err != nil {
			return fmt.Errorf("hand leadership over before removing this node: %w", err)
		}
		return ErrNotLeader
	}
	return n.changeMembers(ctx, confRemove, memberRecord{NodeID: id, DirectoryID: dir})
}

// TransferLeadershipTo hands leadership to voter id (0: the most
// caught-up other voter) and returns once another node leads. Leader only.
func (n *Node) TransferLeadershipTo(ctx context.Context, id uint64) error {
	if !n.IsLeader() {
		if n.Leader() == 0 {
			return ErrNoLeader
		}
		return ErrNotLeader
	}
	if id == 0 {
		return n.TransferLeadership(ctx)
	}
	if id == n.cfg.NodeID {
		return nil
	}
	if m, ok := n.membersView.Load().get(id); !ok || !m.Voter {
		return fmt.Errorf("%w: node %d is not a voter", ErrUnknownMember, id)
	}
	for n.Leader() != id {
		select {
		case n.transferc <- id:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.donec:
			return ErrStopped
		}
		// Raft aborts a transfer that does not finish within an election
		// timeout; ask again until ctx ends.
		_, ch := n.AppliedNotify()
		t := time.NewTimer(n.cfg.TickInterval * time.Duration(n.cfg.ElectionTicks))
		for n.Leader() != id {
			select {
			case <-ch:
				_, ch = n.AppliedNotify()
				continue
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-n.donec:
				t.Stop()
				return ErrStopped
			}
			break
		}
		t.Stop()
	}
	return nil
}

// changeMembers hands one change to the loop and waits for its outcome.
// A change behind another that is not applied yet (an operator's, or the
// leader's own recording of a member's identity) waits its turn, within
// ctx: changes apply within a round trip or two.
func (n *Node) changeMembers(ctx context.Context, kind confKind, rec memberRecord) error {
	return n.retryWhile(ctx, ErrChangeInProgress, func() error { return n.changeMembersOnce(ctx, kind, rec) })
}

// retryWhile calls f once a tick while it fails with target, until ctx
// ends (then f's last error) or the node stops.
func (n *Node) retryWhile(ctx context.Context, target error, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, target) {
			return err
		}
		t := time.NewTimer(n.cfg.TickInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		case <-n.donec:
			t.Stop()
			return ErrStopped
		}
	}
}

func (n *Node) changeMembersOnce(ctx context.Context, kind confKind, rec memberRecord) error {
	if !n.IsLeader() {
		if n.Leader() == 0 {
			return ErrNoLeader
		}
		return ErrNotLeader
	}
	req := &confReq{ctx: ctx, kind: kind, member: rec, done: make(chan error, 1)}
	select {
	case n.confc <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.donec:
		return ErrStopped
	}
}

// proposeConfChange runs on the loop: it checks req against the applied
// membership and proposes the change, whose waiter the apply of its
// entry (or the loss of leadership) finishes.
func (n *Node) proposeConfChange(req *confReq) {
	if !n.leading {
		req.done <- ErrNotLeader
		return
	}
	if req.ctx.Err() != nil {
		req.done <- req.ctx.Err()
		return
	}
	if n.confPending > n.handed {
		req.done <- ErrChangeInProgress
		return
	}
	cc, noop, err := n.planConfChange(req)
	if err != nil || noop {
		req.done <- err
		return
	}
	op := randomUint64()
	cx := confContext{Op: op}
	if req.kind == confAdd || req.kind == confUpdate {
		rec := req.member
		cx.Member = &rec
	}
	if cc.Context, err = json.Marshal(cx); err != nil {
		req.done <- err
		return
	}
	if err := n.rn.ProposeConfChange(cc); err != nil {
		req.done <- fmt.Errorf("%w: %v", ErrProposalDropped, err)
		return
	}
	n.confWaiters[op] = &confWaiter{req: req}
}

// planConfChange turns req into raft's change; noop means the membership
// already is what req asks for.
func (n *Node) planConfChange(req *confReq) (cc raftpb.ConfChange, noop bool, err error) {
	id := req.member.NodeID
	cc.NodeID = id
	rec, isMember := n.members[id]
	voter := slices.Contains(n.confState.Voters, id)
	sameDir := func() error {
		if d := req.member.DirectoryID; !d.IsZero() && !rec.DirectoryID.IsZero() && d != rec.DirectoryID {
			return fmt.Errorf("%w: node %d has directory id %s, not %s", ErrUnknownMember, id, rec.DirectoryID, d)
		}
		return nil
	}
	switch req.kind {
	case confAdd:
		if isMember {
			if rec.DirectoryID == req.member.DirectoryID {
				return cc, true, nil
			}
			role := "an observer"
			if voter {
				role = "a voter"
			}
			return cc, false, fmt.Errorf("%w: node %d is %s with directory id %s; remove it first", ErrMemberExists, id, role, dirText(rec.DirectoryID))
		}
		cc.Type = raftpb.ConfChangeAddLearnerNode
	case confPromote:
		if !isMember {
			return cc, false, fmt.Errorf("%w: node %d", ErrUnknownMember, id)
		}
		if err := sameDir(); err != nil {
			return cc, false, err
		}
		if voter {
			return cc, true, nil
		}
		last, _ := n.storage.LastIndex()
		pr, ok := n.rn.Status().Progress[id]
		if !ok || pr.State != tracker.StateReplicate || pr.Match+PromoteLagEntries < last {
			var match uint64
			if ok {
				match = pr.Match
			}
			return cc, false, fmt.Errorf("%w: node %d has %d of %d entries (promotes within %d)", ErrNotCaughtUp, id, match, last, PromoteLagEntries)
		}
		cc.Type = raftpb.ConfChangeAddNode
	case confRemove:
		if !isMember {
			return cc, false, fmt.Errorf("%w: node %d", ErrUnknownMember, id)
		}
		if err := sameDir(); err != nil {
			return cc, false, err
		}
		if voter && len(n.confState.Voters) == 1 {
			return cc, false, ErrLastVoter
		}
		if id == n.cfg.NodeID {
			return cc, false, ErrNotLeader // RemoveMember hands over first
		}
		cc.Type = raftpb.ConfChangeRemoveNode
	case confUpdate:
		if !isMember {
			return cc, true, nil
		}
		cc.Type = raftpb.ConfChangeUpdateNode
	}
	return cc, false, nil
}

func dirText(d storage.DirectoryID) string {
	if d.IsZero() {
		return "(not yet known)"
	}
	return d.String()
}

// applyMemberChange updates the table for a committed change, on the
// loop, before raft applies it; it returns the change's op.
func (n *Node) applyMemberChange(cc raftpb.ConfChange) uint64 {
	var cx confContext
	if len(cc.Context) > 0 {
		if err := json.Unmarshal(cc.Context, &cx); err != nil {
			// Committed, so every node sees the same bytes: ignoring the
			// record keeps the table identical everywhere.
			n.log.Warn("membership change without a readable member record", "node_id", cc.NodeID, "err", err)
		}
	}
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode, raftpb.ConfChangeUpdateNode:
		rec := n.members[cc.NodeID]
		rec.NodeID = cc.NodeID
		if m := cx.Member; m != nil && m.NodeID == cc.NodeID {
			if !m.DirectoryID.IsZero() {
				rec.DirectoryID = m.DirectoryID
			}
			if m.PeerAddr != "" {
				rec.PeerAddr = m.PeerAddr
			}
			if m.HTTPAddr != "" {
				rec.HTTPAddr = m.HTTPAddr
			}
		}
		n.members[cc.NodeID] = rec
	case raftpb.ConfChangeRemoveNode:
		delete(n.members, cc.NodeID)
	}
	return cx.Op
}

// membersChanged runs on the loop after the table or raft's ConfState
// changed: it publishes the view, points the transport at the members'
// addresses, and makes peers whose record changed handshake again.
func (n *Node) membersChanged(prev *membersView) {
	n.publishMembers(prev, n.confState)
}

// publishMembers is membersChanged with the roles of cs.
func (n *Node) publishMembers(prev *membersView, cs raftpb.ConfState) {
	view := &membersView{known: len(cs.Voters) > 0 || len(cs.Learners) > 0}
	for id, rec := range n.members {
		if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.Learners, id) {
			continue // a record raft does not know (cannot happen from a valid log)
		}
		addr := rec.PeerAddr
		if addr == "" {
			addr = n.cfg.Peers[id] // a cluster bootstrapped before member records
		}
		view.list = append(view.list, Member{NodeID: id, DirectoryID: rec.DirectoryID, PeerAddr: addr, HTTPAddr: rec.HTTPAddr,
			Voter: slices.Contains(cs.Voters, id)})
	}
	if n.legacyMembers {
		// A snapshot from before member records: its configuration's
		// members have none until the leader records them.
		for _, ids := range [][]uint64{cs.Voters, cs.Learners} {
			for _, id := range ids {
				if _, ok := n.members[id]; !ok {
					view.list = append(view.list, Member{NodeID: id, PeerAddr: n.cfg.Peers[id], Voter: slices.Contains(cs.Voters, id)})
				}
			}
		}
	}
	slices.SortFunc(view.list, func(a, b Member) int { return cmp.Compare(a.NodeID, b.NodeID) })
	n.membersView.Store(view)
	n.metrics.setMembers(view.list)
	_, isMember := view.get(n.cfg.NodeID)
	if _, was := prev.get(n.cfg.NodeID); was && !isMember && view.known {
		n.log.Error("this node was removed from the quorum: it no longer votes or replicates; stop its process", "directory_id", n.dirID.String())
	}
	if n.transport == nil {
		return // restoring: New gets the peers
	}
	peers := n.transport.Peers()
	for _, m := range view.list {
		addr := m.PeerAddr
		if a, ok := n.cfg.PeerDialAddrs[m.NodeID]; ok {
			addr = a
		}
		if m.NodeID == n.cfg.NodeID || addr == "" {
			continue
		}
		if peers[m.NodeID] != addr {
			n.transport.SetPeer(m.NodeID, addr)
		}
		// A member added, or recorded under another directory id than a
		// known one: any connection admitted under an earlier identity
		// (the old disk of a replaced node, say) must handshake again.
		// Recording the directory id of a member that had none cuts
		// nothing (its connections presented that id: it is learnt from
		// them), nor does a removal: raft counts no message from a
		// non-member, and the removed node's own request for its removal
		// is answered on one.
		if old, ok := prev.get(m.NodeID); view.known && (!ok || !old.DirectoryID.IsZero() && old.DirectoryID != m.DirectoryID) {
			n.transport.Revoke(m.NodeID)
		}
	}
	for id := range peers {
		if _, ok := view.get(id); !ok && view.known {
			if _, ok := n.leaving[id]; !ok {
				n.leaving[id] = time.Now()
			}
		}
	}
}

// removedPeerGrace is how long a removed member stays a peer of the
// transport: raft sends it nothing more, but requests forwarded to or
// through it (a removed leader's request for its own removal, relayed
// by a follower) are answered on its connections.
const removedPeerGrace = 30 * time.Second

// dropLeftPeers removes from the transport the members removed more than
// removedPeerGrace ago (loop, on ticks). Their next hello is refused
// anyway: they are no members.
func (n *Node) dropLeftPeers() {
	if len(n.leaving) == 0 {
		return
	}
	view := n.membersView.Load()
	for id, at := range n.leaving {
		if _, back := view.get(id); back {
			delete(n.leaving, id) // added again meanwhile
			continue
		}
		if time.Since(at) >= removedPeerGrace {
			n.transport.RemovePeer(id)
			delete(n.leaving, id)
		}
	}
}

// loadMembers builds the membership as of the committed log on start,
// before the transport admits anyone: the snapshot's table, then every
// committed change after it. Raft re-delivers those changes for the
// loop to apply to its configuration, but the table and the view stay
// as built here until the replay passes them (membersFrom), so a
// restarting node never admits a peer under an identity the log has
// already replaced.
func (n *Node) loadMembers(snapCS raftpb.ConfState) error {
	hs, _, err := n.storage.InitialState()
	if err != nil {
		return err
	}
	first, err := n.storage.FirstIndex()
	if err != nil {
		return err
	}
	lo := max(n.snapIndex+1, first)
	cs := snapCS
	if hs.Commit >= lo {
		ents, err := n.storage.Entries(lo, hs.Commit+1, math.MaxUint64)
		if err != nil {
			return fmt.Errorf("read committed entries %d..%d: %w", lo, hs.Commit, err)
		}
		for _, e := range ents {
			if e.Type != raftpb.EntryConfChange {
				continue
			}
			var cc raftpb.ConfChange
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("decode conf change %d: %w", e.Index, err)
			}
			n.applyMemberChange(cc)
			cs = withRole(cs, cc)
		}
		n.membersFrom = hs.Commit
	}
	n.publishMembers(nil, cs)
	return nil
}

// withRole is cs after cc, as far as roles go (one change at a time,
// the only kind this node proposes).
func withRole(cs raftpb.ConfState, cc raftpb.ConfChange) raftpb.ConfState {
	del := func(ids []uint64) []uint64 {
		return slices.DeleteFunc(slices.Clone(ids), func(x uint64) bool { return x == cc.NodeID })
	}
	switch cc.Type {
	case raftpb.ConfChangeAddNode:
		cs.Learners = del(cs.Learners)
		if !slices.Contains(cs.Voters, cc.NodeID) {
			cs.Voters = append(slices.Clone(cs.Voters), cc.NodeID)
		}
	case raftpb.ConfChangeAddLearnerNode:
		cs.Voters = del(cs.Voters)
		if !slices.Contains(cs.Learners, cc.NodeID) {
			cs.Learners = append(slices.Clone(cs.Learners), cc.NodeID)
		}
	case raftpb.ConfChangeRemoveNode:
		cs.Voters, cs.Learners = del(cs.Voters), del(cs.Learners)
	}
	return cs
}

// admit is the transport's Admit: a peer's connection is let through only
// when its hello names a member with the directory id recorded here.
func (n *Node) admit(from uint64, dir [16]byte, peerAddr string) error {
	view := n.membersView.Load()
	if view == nil || !view.known {
		return nil // joining: no members known until the leader's snapshot
	}
	m, ok := view.get(from)
	if !ok {
		n.metrics.refusedPeers.Inc()
		return fmt.Errorf("node %d is not a member of the quorum (removed, or not added yet)", from)
	}
	if d := storage.DirectoryID(dir); !m.DirectoryID.IsZero() && d != m.DirectoryID {
		n.metrics.refusedPeers.Inc()
		if d.IsZero() {
			return fmt.Errorf("node %d is recorded with directory id %s; the peer presents none (an older version)", from, m.DirectoryID)
		}
		return fmt.Errorf("node %d is recorded with directory id %s; the peer presents %s: its directory was wiped or replaced, so it must be removed and added again as a new member",
			from, m.DirectoryID, d)
	}
	return nil
}

// maybePinMembers runs on the leader's ticks: it records what the log
// does not know yet about a member — its directory id (trust on first
// use), or a new peer or HTTP address it now advertises (a moved node) —
// one UpdateNode change at a time.
func (n *Node) maybePinMembers() {
	if !n.leading || n.confPending > n.handed || len(n.confWaiters) > 0 {
		return
	}
	if ts := n.termStart.Load(); ts == nil || n.handed < ts.index {
		return // entries of earlier terms may still change the table
	}
	// The view, not the table: a member of a snapshot from before member
	// records has no record yet, and this is how it gets one.
	for _, m := range n.membersView.Load().list {
		id := m.NodeID
		rec, ok := n.members[id]
		if !ok {
			rec = memberRecord{NodeID: id}
		}
		want := rec
		if want.PeerAddr == "" {
			want.PeerAddr = m.PeerAddr
		}
		if id == n.cfg.NodeID {
			want.DirectoryID, want.PeerAddr, want.HTTPAddr = n.dirID, n.cfg.PeerAddr, n.cfg.HTTPAddr
			if want.PeerAddr == "" {
				want.PeerAddr = rec.PeerAddr
			}
		} else {
			dir, peerAddr, httpAddr, ok := n.transport.PeerInfo(id)
			if !ok {
				continue
			}
			if d := storage.DirectoryID(dir); !d.IsZero() && rec.DirectoryID.IsZero() {
				want.DirectoryID = d
			}
			if storage.DirectoryID(dir) == want.DirectoryID && !want.DirectoryID.IsZero() {
				if peerAddr != "" {
					want.PeerAddr = peerAddr
				}
				if httpAddr != "" {
					want.HTTPAddr = httpAddr
				}
			}
		}
		if want == rec || want.DirectoryID.IsZero() {
			continue
		}
		n.log.Info("recording a member's identity", "member", id, "directory_id", want.DirectoryID.String(),
			"peer_address", want.PeerAddr, "http_address", want.HTTPAddr)
		req := &confReq{ctx: context.Background(), kind: confUpdate, member: want, done: make(chan error, 1)}
		n.proposeConfChange(req)
		return
	}
}

// trackConfAppended notes where this node's changes were appended (and,
// on the leader, the newest change in its log, which raft lets no other
// change follow until it is applied).
func (n *Node) trackConfAppended(ents []raftpb.Entry) {
	for _, e := range ents {
		if e.Type != raftpb.EntryConfChange {
			continue
		}
		if n.leading {
			n.confPending = max(n.confPending, e.Index)
		}
		var cc raftpb.ConfChange
		if cc.Unmarshal(e.Data) != nil || len(cc.Context) == 0 {
			continue
		}
		var cx confContext
		if json.Unmarshal(cc.Context, &cx) != nil || cx.Op == 0 {
			continue
		}
		if w, ok := n.confWaiters[cx.Op]; ok {
			w.index = e.Index
		}
	}
}

// dropUnappendedConf fails the changes raft refused: proposed but absent
// from the Ready that followed (raft replaces a change it refuses with an
// empty entry).
func (n *Node) dropUnappendedConf() {
	for op, w := range n.confWaiters {
		if w.index == 0 {
			w.req.done <- ErrChangeInProgress
			delete(n.confWaiters, op)
		}
	}
}

// finishConf completes the waiter of an applied change.
func (n *Node) finishConf(op uint64) {
	if w, ok := n.confWaiters[op]; ok {
		w.req.done <- nil
		delete(n.confWaiters, op)
	}
}

// failConf fails every waiting change: leadership was lost, so whether
// an appended one commits is for the next leader to decide.
func (n *Node) failConf() {
	for op, w := range n.confWaiters {
		err := ErrProposalDropped
		if w.index != 0 {
			err = ErrOutcomeUnknown
		}
		w.req.done <- err
		delete(n.confWaiters, op)
	}
}

// encodeMembers is the table as a snapshot carries it.
func (n *Node) encodeMembers() []byte {
	f := membersFile{Version: 1}
	for _, rec := range n.members {
		f.Members = append(f.Members, rec)
	}
	slices.SortFunc(f.Members, func(a, b memberRecord) int { return cmp.Compare(a.NodeID, b.NodeID) })
	b, _ := json.Marshal(f) // plain strings and numbers: cannot fail
	return b
}

// BootstrapMembers is the membership a snapshot of a new cluster carries
// (a restored backup): voters' ids and peer addresses; the leader records
// directory ids and HTTP addresses as it learns them.
func BootstrapMembers(voters map[uint64]string) []byte {
	f := membersFile{Version: 1}
	for id, addr := range voters {
		f.Members = append(f.Members, memberRecord{NodeID: id, PeerAddr: addr})
	}
	slices.SortFunc(f.Members, func(a, b memberRecord) int { return cmp.Compare(a.NodeID, b.NodeID) })
	b, _ := json.Marshal(f) // plain strings and numbers: cannot fail
	return b
}

// decodeMembers reads a snapshot's table; nil (a snapshot from before
// member records) is an empty table.
func decodeMembers(b []byte) (map[uint64]memberRecord, error) {
	out := make(map[uint64]memberRecord)
	if len(b) == 0 {
		return out, nil
	}
	var f membersFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode snapshot's members: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("decode snapshot's members: unknown version %d", f.Version)
	}
	for _, rec := range f.Members {
		if rec.NodeID == 0 {
			return nil, errors.New("decode snapshot's members: a member with node id 0")
		}
		out[rec.NodeID] = rec
	}
	return out, nil
}

// A snapshot streamed to a peer (MsgSnap, or a fetch by a node that lost
// its own) starts with the members frame, so the receiver gets the table
// with the state: magic, length, the table. A stream without it (from a
// node of an earlier version) starts with the state machine's data.
const (
	membersFrameMagic = "YKMB"
	maxMembersBytes   = 1 << 20
)

func membersFrame(members []byte) []byte {
	b := make([]byte, 0, 8+len(members))
	b = append(b, membersFrameMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(members)))
	return append(b, members...)
}

// readMembersFrame takes the members frame off the front of a streamed
// snapshot, if it has one, and returns the rest.
func readMembersFrame(r io.Reader) ([]byte, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(8)
	if err != nil || string(head[:4]) != membersFrameMagic {
		return nil, br, nil // no frame (or too short to hold one: the data's reader says why)
	}
	size := binary.BigEndian.Uint32(head[4:])
	if size > maxMembersBytes {
		return nil, nil, fmt.Errorf("snapshot's members frame of %d bytes exceeds %d", size, maxMembersBytes)
	}
	if _, err := br.Discard(8); err != nil {
		return nil, nil, err
	}
	members := make([]byte, size)
	if _, err := io.ReadFull(br, members); err != nil {
		return nil, nil, fmt.Errorf("read snapshot's members: %w", err)
	}
	return members, br, nil
}
