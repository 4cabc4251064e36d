package raftnode

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/storage"
)

// addNode prepares a node id the cluster does not have yet: a proxy and
// a data directory. Start it with join set.
func (c *testCluster) addNode(id uint64) {
	c.proxies[id] = newPeerProxy(c.t)
	c.dirs[id] = c.t.TempDir()
}

// roles is the membership as node id has applied it: node id -> voter.
func roles(n *Node) map[uint64]bool {
	out := map[uint64]bool{}
	for _, m := range n.Members() {
		out[m.NodeID] = m.Voter
	}
	return out
}

func sameRoles(a, b map[uint64]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for id, v := range a {
		if w, ok := b[id]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitMembers waits until every running node has applied the membership want.
func (c *testCluster) waitMembers(want map[uint64]bool) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, "every node to apply the membership", func() bool {
		for _, n := range c.nodes {
			if !sameRoles(roles(n), want) {
				return false
			}
		}
		return true
	})
}

// waitPinned waits until the leader's membership knows every member's
// directory id.
func (c *testCluster) waitPinned() {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, "every member's directory id recorded", func() bool {
		for _, n := range c.nodes {
			for _, m := range n.Members() {
				if m.DirectoryID.IsZero() {
					return false
				}
			}
		}
		return true
	})
}

// change runs a membership change on whichever node leads, retrying while
// leadership moves or another change is being applied.
func (c *testCluster) change(what string, f func(ctx context.Context, lead *Node) error) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lead := c.leader()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := f(ctx, lead)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || !(errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) ||
			errors.Is(err, ErrChangeInProgress) || errors.Is(err, ErrProposalDropped) || errors.Is(err, ErrOutcomeUnknown)) {
			c.t.Fatalf("%s: %v", what, err)
		}
	}
}

func TestMembershipGrowPromoteShrink(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.propose("before")
	c.waitPinned()
	c.waitMembers(map[uint64]bool{1: true, 2: true, 3: true})

	// Node 4 joins: it starts with an empty log and no bootstrap, and the
	// leader adds it as an observer; it catches up and is promoted.
	c.addNode(4)
	join := c.tune
	c.tune = func(cfg *Config) {
		if cfg.NodeID == 4 {
			cfg.Join = true
		}
		if join != nil {
			join(cfg)
		}
	}
	n4 := c.start(4)
	if n4.Self().Voter || len(n4.Members()) != 0 {
		t.Fatalf("a joining node knows members before it is added: %+v", n4.Members())
	}
	c.change("add observer 4", func(ctx context.Context, lead *Node) error {
		return lead.AddObserver(ctx, n4.Self())
	})
	c.waitMembers(map[uint64]bool{1: true, 2: true, 3: true, 4: false})
	res := c.propose("while observing")
	c.waitApplied(4, res.Index, 10*time.Second)
	if got := c.sms[4].value(); got == 0 {
		t.Fatal("the observer applied nothing")
	}
	// An observer serves linearizable reads: its read barrier (ReadIndex
	// through the leader) returns once it has applied what the leader
	// had committed.
	res = c.propose("read through the observer")
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := n4.ReadBarrier(rctx); err != nil {
		t.Fatalf("read barrier on the observer: %v", err)
	}
	rcancel()
	if n4.AppliedIndex() < res.Index {
		t.Fatalf("the observer's read barrier returned at applied index %d, before %d", n4.AppliedIndex(), res.Index)
	}
	// Adding it again is a no-op; under another directory id it is refused.
	c.change("add observer 4 again", func(ctx context.Context, lead *Node) error {
		return lead.AddObserver(ctx, n4.Self())
	})
	other := n4.Self()
	other.DirectoryID = storage.NewDirectoryID()
	lead := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := lead.AddObserver(ctx, other); !errors.Is(err, ErrMemberExists) {
		t.Fatalf("adding node 4 under another directory id: %v, want ErrMemberExists", err)
	}
	cancel()

	c.change("promote 4", func(ctx context.Context, lead *Node) error {
		return lead.PromoteObserver(ctx, 4, n4.DirectoryID())
	})
	c.waitMembers(map[uint64]bool{1: true, 2: true, 3: true, 4: true})
	st, err := c.leader().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Voters) != 4 || len(st.Observers) != 0 {
		t.Fatalf("status after promotion: %d voters, %d observers", len(st.Voters), len(st.Observers))
	}

	// Remove the leader: it hands leadership over first, and the new
	// leader removes it.
	old := c.leader().ID()
	c.change("remove the leader", func(ctx context.Context, lead *Node) error {
		return lead.RemoveMember(ctx, old, storage.DirectoryID{})
	})
	if c.leader().ID() == old {
		t.Fatalf("node %d still leads after its removal", old)
	}
	c.stop(old)
	want := map[uint64]bool{1: true, 2: true, 3: true, 4: true}
	delete(want, old)
	c.waitMembers(want)
	res = c.propose("after removing the leader")
	for id := range c.nodes {
		c.waitApplied(id, res.Index, 10*time.Second)
	}
	lead = c.leader()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lead.RemoveMember(ctx, 99, storage.DirectoryID{}); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("removing an unknown node: %v, want ErrUnknownMember", err)
	}
}

// TestWipedVoterCannotElectALaggingLeader is the scenario a static voter
// set allows: an entry commits on the leader and one follower while the
// other follower is down; the leader dies and the follower that has the
// entry loses its disk. Were the wiped node to vote as its old self, the
// lagging follower would win an election without the entry, and the
// entry would be lost. Its new directory id keeps its votes from
// counting: no leader is elected until the old leader returns, and the
// entry survives.
func TestWipedVoterCannotElectALaggingLeader(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.propose("first")
	c.waitPinned()
	lead := c.leader().ID()
	var lagging, wiped uint64
	for id := uint64(1); id <= 3; id++ {
		if id == lead {
			continue
		}
		if lagging == 0 {
			lagging = id
		} else {
			wiped = id
		}
	}
	c.stop(lagging)
	res := c.propose("acknowledged while a follower was down")
	c.waitApplied(wiped, res.Index, 10*time.Second)
	c.stop(lead)
	c.stop(wiped)
	entries, err := os.ReadDir(c.dirs[wiped])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.dirs[wiped], e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// The wiped node restarts as its operator's unit would, with the
	// flags that bootstrapped it: a new directory, a new log.
	nw := c.start(wiped)
	nl := c.start(lagging)
	if nw.DirectoryID() == (storage.DirectoryID{}) {
		t.Fatal("the wiped node has no directory id")
	}
	// The lagging node hears the wiped one's answers only as refused
	// connections; wait for several.
	base := counterValue(c.metrics[lagging].refusedPeers)
	waitFor(t, 30*time.Second, "the lagging node to refuse the wiped node's connections", func() bool {
		return counterValue(c.metrics[lagging].refusedPeers) >= base+3
	})
	if nl.IsLeader() || nw.IsLeader() {
		t.Fatalf("a leader was elected without the acknowledged entry (lagging leads: %v, wiped leads: %v)", nl.IsLeader(), nw.IsLeader())
	}
	// The old leader returns: it has the entry, so it (or the lagging
	// node, once caught up from it) leads, and the entry is there.
	c.start(lead)
	c.leader()
	after := c.propose("after the old leader returned")
	c.waitApplied(lagging, after.Index, 10*time.Second)
	if c.nodes[lagging].AppliedIndex() < res.Index {
		t.Fatal("the acknowledged entry was lost")
	}
	for _, m := range c.leader().Members() {
		if m.NodeID == wiped && m.DirectoryID == nw.DirectoryID() {
			t.Fatal("the wiped node's new directory became a member without an operator")
		}
	}
}

// TestMembershipSurvivesSnapshotsAndRestarts adds an observer that can
// only catch up from a snapshot (the log before it is compacted), then
// restarts every node from its files: the membership, directory ids
// included, comes back from snapshots and the log.
func TestMembershipSurvivesSnapshotsAndRestarts(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotEntries = 20
		cfg.CompactionMargin = 5
	})
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.waitPinned()
	for i := 0; i < 60; i++ {
		c.propose("fill")
	}
	c.addNode(4)
	tune := c.tune
	c.tune = func(cfg *Config) {
		tune(cfg)
		if cfg.NodeID == 4 {
			cfg.Join = true
		}
	}
	n4 := c.start(4)
	c.change("add observer 4", func(ctx context.Context, lead *Node) error {
		return lead.AddObserver(ctx, n4.Self())
	})
	res := c.propose("after adding 4")
	c.waitApplied(4, res.Index, 20*time.Second)
	if got := counterValue(c.metrics[4].snapshotsInstalled); got < 1 {
		t.Fatalf("node 4 installed %v snapshots, want it to catch up from one", got)
	}
	want := map[uint64]bool{1: true, 2: true, 3: true, 4: false}
	c.waitMembers(want)
	dirs := map[uint64]storage.DirectoryID{}
	for _, m := range c.leader().Members() {
		dirs[m.NodeID] = m.DirectoryID
	}
	for id := range c.nodes {
		c.stop(id)
	}
	for id := uint64(1); id <= 4; id++ {
		c.start(id)
	}
	c.waitMembers(want)
	for id, n := range c.nodes {
		for _, m := range n.Members() {
			if m.DirectoryID != dirs[m.NodeID] {
				t.Fatalf("node %d restarted with member %d's directory id %s, want %s", id, m.NodeID, m.DirectoryID, dirs[m.NodeID])
			}
		}
	}
	if !slices.ContainsFunc(c.nodes[4].Members(), func(m Member) bool { return m.NodeID == 4 && !m.Voter }) {
		t.Fatal("node 4 lost its own membership across the restart")
	}
	c.propose("after restart")
}

// TestClusterFromBeforeMemberRecords starts nodes on logs written the way
// an earlier release bootstrapped them (configuration changes without
// member records, so no addresses or directory ids in the log): the
// nodes find each other through Config.Peers, and the leader records
// every member's directory id and addresses as their connections
// present them.
func TestClusterFromBeforeMemberRecords(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		st, err := storage.Open(storage.Config{Dir: c.dirs[id], ClusterID: "raftnode-test", NodeID: id})
		if err != nil {
			t.Fatal(err)
		}
		var ents []raftpb.Entry
		for i := uint64(1); i <= 3; i++ {
			cc := raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: i}
			data, err := cc.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			ents = append(ents, raftpb.Entry{Type: raftpb.EntryConfChange, Term: 1, Index: i, Data: data})
		}
		if err := st.Save(raftpb.HardState{Term: 1, Commit: 3}, ents, true); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.propose("after the upgrade")
	c.waitPinned()
	for id, n := range c.nodes {
		for _, m := range n.Members() {
			if want := c.proxies[m.NodeID].addr(); m.PeerAddr != want {
				t.Errorf("node %d records member %d at %q, want %q", id, m.NodeID, m.PeerAddr, want)
			}
			if m.DirectoryID != c.nodes[m.NodeID].DirectoryID() {
				t.Errorf("node %d records member %d with directory id %s, want %s", id, m.NodeID, m.DirectoryID, c.nodes[m.NodeID].DirectoryID())
			}
		}
	}
}

// TestMemberMovesToANewAddress restarts a follower behind a new address
// (a new peer proxy; the others were never told): its connections
// advertise the new address, the leader records it, and every node dials
// it there. The old address is gone, so the quorum depends on that.
func TestMemberMovesToANewAddress(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.propose("before the move")
	c.waitPinned()
	lead := c.leader().ID()
	moved := lead%3 + 1
	c.stop(moved)
	c.proxies[moved].close()
	c.proxies[moved] = newPeerProxy(t)
	newAddr := c.proxies[moved].addr()
	c.start(moved)
	waitFor(t, 30*time.Second, "every node to record the new address", func() bool {
		for _, n := range c.nodes {
			m, ok := n.membersView.Load().get(moved)
			if !ok || m.PeerAddr != newAddr {
				return false
			}
		}
		return true
	})
	// With the third node down, a write commits only if the leader
	// reaches the moved node at its new address.
	for id := uint64(1); id <= 3; id++ {
		if id != lead && id != moved {
			c.stop(id)
		}
	}
	res := c.propose("after the move")
	c.waitApplied(moved, res.Index, 10*time.Second)
}

// TestWipedNodeWaitsToBeReplaced starts a node on a wiped directory
// before the operator removed its old member: the leader still sends
// the old member's heartbeats there, which commit entries this log never
// had. The node must neither crash (etcd raft panics on such a
// heartbeat) nor be counted; once the old member is removed and the new
// one added and promoted, it catches up and votes.
func TestWipedNodeWaitsToBeReplaced(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.propose("before the disk is lost")
	c.waitPinned()
	lead := c.leader()
	wiped := lead.ID()%3 + 1
	oldDir := c.nodes[wiped].DirectoryID()
	c.stop(wiped)
	if err := os.RemoveAll(c.dirs[wiped]); err != nil {
		t.Fatal(err)
	}
	tune := c.tune
	c.tune = func(cfg *Config) {
		if tune != nil {
			tune(cfg)
		}
		if cfg.NodeID == wiped {
			cfg.Join = true
		}
	}
	nw := c.start(wiped)
	base := counterValue(c.metrics[lead.ID()].refusedPeers)
	waitFor(t, 30*time.Second, "the leader to refuse the wiped node's connections", func() bool {
		return counterValue(c.metrics[lead.ID()].refusedPeers) >= base+3
	})
	select {
	case <-nw.Done():
		t.Fatalf("the wiped node stopped: %v", nw.Err())
	default:
	}
	if len(nw.Members()) != 0 {
		t.Fatalf("the wiped node knows members before it was added: %+v", nw.Members())
	}
	c.change("remove the old member", func(ctx context.Context, lead *Node) error {
		return lead.RemoveMember(ctx, wiped, oldDir)
	})
	c.change("add the new one", func(ctx context.Context, lead *Node) error {
		return lead.AddObserver(ctx, nw.Self())
	})
	c.change("promote it", func(ctx context.Context, lead *Node) error {
		return lead.PromoteObserver(ctx, wiped, nw.DirectoryID())
	})
	c.waitMembers(map[uint64]bool{1: true, 2: true, 3: true})
	res := c.propose("after the replacement")
	c.waitApplied(wiped, res.Index, 10*time.Second)
}
