package raftnode

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowSnapshot is how long the test state machine takes to encode or
// decode a snapshot here, and slowElectionTicks the election timeout of
// these tests (3s at 10ms ticks): a raft loop that waited for the state
// machine would miss heartbeats for longer than that, and elections would
// follow. The timeout is generous so that a machine starved of CPU does
// not elect new leaders by itself.
const (
	slowSnapshot      = 4 * time.Second
	slowElectionTicks = 300
)

// writeLoad proposes small payloads on lead one after another until stop
// is closed, and records how long each took to commit.
type writeLoad struct {
	mu   sync.Mutex
	lat  []time.Duration
	errs []error
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once
}

func startWriteLoad(t *testing.T, lead *Node) *writeLoad {
	w := &writeLoad{stop: make(chan struct{})}
	t.Cleanup(w.halt) // a test that fails early must not leave it proposing
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			_, err := lead.Propose(ctx, []byte(fmt.Sprint("small-", i)))
			cancel()
			w.mu.Lock()
			w.lat = append(w.lat, time.Since(start))
			if err != nil {
				w.errs = append(w.errs, err)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// halt stops the load and waits for it; safe to call more than once.
func (w *writeLoad) halt() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// finish stops the load and checks that every write committed, at least
// minWrites of them, none slower than maxLatency.
func (w *writeLoad) finish(t *testing.T, minWrites int, maxLatency time.Duration) {
	t.Helper()
	w.halt()
	if len(w.errs) > 0 {
		t.Fatalf("%d of %d small writes failed, first: %v", len(w.errs), len(w.lat), w.errs[0])
	}
	if len(w.lat) < minWrites {
		t.Fatalf("%d small writes committed meanwhile, want >= %d", len(w.lat), minWrites)
	}
	worst := slices.Max(w.lat)
	if worst > maxLatency {
		t.Fatalf("slowest of %d small writes took %v, want <= %v", len(w.lat), worst, maxLatency)
	}
	t.Logf("%d small writes during the snapshot, slowest %v", len(w.lat), worst)
}

// leaderSnapshot is who leads in which term, as each node sees it, and how
// many leader changes each has counted.
func leaderSnapshot(c *testCluster) map[uint64][3]uint64 {
	out := map[uint64][3]uint64{}
	for id, n := range c.nodes {
		out[id] = [3]uint64{n.Leader(), n.Term(), uint64(counterValue(c.metrics[id].leaderChanges))}
	}
	return out
}

// TestSnapshotCreationDoesNotBlockRaft takes snapshots on all three nodes
// at once while each state machine needs 4s to encode one: the leader and
// term stay, no node counts a leader change, and small writes keep
// committing quickly throughout, because encoding, writing and fsyncing
// run off the raft loop.
func TestSnapshotCreationDoesNotBlockRaft(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.CompactionMargin, cfg.ElectionTicks = 5, slowElectionTicks })
	for id := uint64(1); id <= 3; id++ {
		c.slow[id] = slowSnapshot
		c.start(id)
	}
	lead := c.leader()
	var res Result
	for i := 0; i < 20; i++ {
		res = c.propose(fmt.Sprint("before-", i))
	}
	for id := uint64(1); id <= 3; id++ {
		c.waitApplied(id, res.Index, 30*time.Second)
	}
	before := leaderSnapshot(c)

	load := startWriteLoad(t, lead)
	start := time.Now()
	type outcome struct {
		id    uint64
		index uint64
		err   error
	}
	done := make(chan outcome, 3)
	for id, n := range c.nodes {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			info, err := n.TakeSnapshot(ctx)
			done <- outcome{id, info.Index, err}
		}()
	}
	for range 3 {
		out := <-done
		if out.err != nil {
			t.Fatalf("snapshot on node %d: %v", out.id, out.err)
		}
		if out.index < res.Index {
			t.Fatalf("node %d snapshot at %d, want >= %d", out.id, out.index, res.Index)
		}
	}
	took := time.Since(start)
	load.finish(t, 20, slowSnapshot*7/8)
	if took < slowSnapshot {
		t.Fatalf("snapshots took %v, less than the encoder's %v: the slow encoder did not run", took, slowSnapshot)
	}
	if after := leaderSnapshot(c); !mapsEqual(before, after) {
		t.Fatalf("leader, term, leader changes per node went from %v to %v", before, after)
	}
	for id := uint64(1); id <= 3; id++ {
		if first, _ := c.nodes[id].storage.FirstIndex(); first <= res.Index-5 {
			t.Fatalf("node %d's log starts at %d: not compacted after its snapshot at >= %d", id, first, res.Index)
		}
		if got := gaugeValue(c.metrics[id].snapshotsInProgress); got != 0 {
			t.Fatalf("node %d reports %v snapshots in progress after they finished", id, got)
		}
	}
}

// TestSnapshotInstallationDoesNotBlockRaft starts a follower that needs the
// leader's snapshot while its state machine needs 4s to decode one: while
// it decodes, its raft loop keeps answering (status requests), the leader
// and term stay, and small writes keep committing; then it installs the
// snapshot and catches up.
func TestSnapshotInstallationDoesNotBlockRaft(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.CompactionMargin, cfg.ElectionTicks = 1, slowElectionTicks })
	lead, _ := startPastNode3(t, c)
	before := leaderSnapshot(c)

	c.slow[3] = slowSnapshot
	c.decoding[3] = make(chan uint64, 4)
	load := startWriteLoad(t, lead)
	n3 := c.start(3)
	select {
	case <-c.decoding[3]:
	case <-time.After(30 * time.Second):
		t.Fatal("node 3 did not start decoding a snapshot within 30s")
	}
	decodeStart := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	asked := 0
	for time.Since(decodeStart) < slowSnapshot*3/4 {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := n3.Status(ctx)
		cancel()
		if err != nil {
			t.Fatalf("node 3's raft loop did not answer while its snapshot decoded: %v", err)
		}
		asked++
		<-tick.C
	}
	last := c.propose("after-decode")
	c.waitApplied(3, last.Index, 30*time.Second)
	load.finish(t, 20, slowSnapshot*7/8)
	if got := counterValue(c.metrics[3].snapshotsInstalled); got != 1 {
		t.Fatalf("node 3 installed %v snapshots, want 1", got)
	}
	after := leaderSnapshot(c)
	for id := range before {
		if after[id] != before[id] {
			t.Fatalf("node %d: leader, term, leader changes went from %v to %v", id, before[id], after[id])
		}
	}
	if got := after[3]; got[0] != lead.ID() || got[1] != lead.Term() {
		t.Fatalf("node 3 sees leader %d term %d, want %d term %d", got[0], got[1], lead.ID(), lead.Term())
	}
	final := c.propose("final")
	c.waitApplied(3, final.Index, 30*time.Second)
	c.waitApplied(lead.ID(), final.Index, 30*time.Second)
	if got, want := c.sms[3].value(), c.sms[lead.ID()].value(); got != want {
		t.Fatalf("node 3 counts %d, the leader %d: the installed state is not the leader's", got, want)
	}
	// The received file was adopted, not copied: no temp files remain.
	if tmps, _ := filepath.Glob(filepath.Join(c.dirs[3], "snap", "*.tmp")); len(tmps) != 0 {
		t.Fatalf("temp files left in node 3's snapshot directory: %v", tmps)
	}
	t.Logf("node 3's loop answered %d status requests while decoding", asked)
}

// TestDamagedSnapshotFileIsNotSent damages the data of the leader's only
// snapshot file: a follower that needs it is never sent it (the leader's
// read fails the checksum, so the transfer is cut before its checksum and
// never acked), nothing is installed, no node stops, and once the leader
// takes a new snapshot the follower catches up.
func TestDamagedSnapshotFileIsNotSent(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.CompactionMargin = 1 })
	c.start(1)
	c.start(2)
	lead := c.leader()
	var res Result
	for i := 0; i < 20; i++ {
		res = c.propose(fmt.Sprint("entry-", i))
	}
	c.waitApplied(lead.ID(), res.Index, 30*time.Second)
	info, err := lead.TakeSnapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-20] ^= 0xff // last data byte (a trailer of 16 bytes follows)
	if err := os.WriteFile(info.Path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	fails := counterValue(lead.metrics.snapshotSendFails)
	c.start(3)
	waitFor(t, 30*time.Second, "the leader to fail sending its damaged snapshot", func() bool {
		return counterValue(lead.metrics.snapshotSendFails) > fails
	})
	if got := counterValue(c.metrics[3].snapshotsInstalled); got != 0 {
		t.Fatalf("node 3 installed %v snapshots from a damaged file", got)
	}
	for id, n := range c.nodes {
		if err := n.Err(); err != nil {
			t.Fatalf("node %d stopped: %v", id, err)
		}
	}

	last := c.propose("after-damage")
	c.waitApplied(lead.ID(), last.Index, 30*time.Second)
	if _, err := lead.TakeSnapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.waitApplied(3, last.Index, 30*time.Second)
	if got := c.sms[3].value(); got != c.sms[lead.ID()].value() {
		t.Fatalf("node 3 counts %d, the leader %d", got, c.sms[lead.ID()].value())
	}
}

// TestUndecodableSnapshotIsRefused: a follower whose state machine cannot
// decode the leader's snapshot refuses it cleanly: the leader learns the
// send failed, the follower installs nothing, keeps running and leaves no
// file behind; once it can decode, the next send gets it in.
func TestUndecodableSnapshotIsRefused(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.CompactionMargin = 1 })
	lead, _ := startPastNode3(t, c)

	c.refuse[3] = true
	fails := counterValue(lead.metrics.snapshotSendFails)
	n3 := c.start(3)
	waitFor(t, 30*time.Second, "the leader to learn node 3 refused its snapshot", func() bool {
		return counterValue(lead.metrics.snapshotSendFails) > fails
	})
	if got := counterValue(c.metrics[3].snapshotsInstalled); got != 0 {
		t.Fatalf("node 3 installed %v snapshots it could not decode", got)
	}
	if err := n3.Err(); err != nil {
		t.Fatalf("node 3 stopped: %v", err)
	}
	// The leader retries, so a new transfer's temp file may come and go:
	// what must not happen is one that stays.
	waitFor(t, 30*time.Second, "no temp files in node 3's snapshot directory", func() bool {
		tmps, _ := filepath.Glob(filepath.Join(c.dirs[3], "snap", "*.tmp"))
		return len(tmps) == 0
	})

	c.sms[3].refuse.Store(false)
	last := c.propose("after-refusal")
	c.waitApplied(3, last.Index, 30*time.Second)
}

func mapsEqual(a, b map[uint64][3]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// startPastNode3 starts nodes 1 and 2 of c, commits 20 entries and has the
// leader snapshot and compact its log (c keeps a margin of 1), so node 3,
// started later, can only catch up by snapshot. It returns the leader and
// the last entry's result.
func startPastNode3(t *testing.T, c *testCluster) (*Node, Result) {
	t.Helper()
	c.start(1)
	c.start(2)
	lead := c.leader()
	var res Result
	for i := 0; i < 20; i++ {
		res = c.propose(fmt.Sprint("entry-", i))
	}
	c.waitApplied(lead.ID(), res.Index, 30*time.Second)
	if _, err := lead.TakeSnapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	if first, _ := lead.storage.FirstIndex(); first <= 4 {
		t.Fatalf("leader's log starts at %d; node 3 must need a snapshot", first)
	}
	return lead, res
}

// TestSnapshotAfterAppliedBytes: a few large entries, far fewer than
// SnapshotEntries, still make every node snapshot once they add up to
// SnapshotBytes, and the log kept before the snapshot holds no more than
// the margin's bytes. Without this a fill of large topics would never be
// snapshotted: a restart would replay it all and memory would hold it.
func TestSnapshotAfterAppliedBytes(t *testing.T) {
	const entryBytes = 4 << 10
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotEntries = 1 << 30
		cfg.CompactionMargin = 1000
		cfg.SnapshotBytes = 10 * entryBytes
	})
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	c.leader()
	payload := strings.Repeat("x", entryBytes)
	var res Result
	for i := 0; i < 25; i++ {
		res = c.propose(payload)
	}
	for id := uint64(1); id <= 3; id++ {
		c.waitApplied(id, res.Index, 30*time.Second)
		n := c.nodes[id]
		var st Status
		// 25 entries of 4 KiB cross 40 KiB twice: the second snapshot is
		// past index 20.
		waitFor(t, 30*time.Second, fmt.Sprintf("node %d to snapshot by bytes", id), func() bool {
			var err error
			st, err = n.Status(context.Background())
			return err == nil && st.SnapshotIndex >= 20 && gaugeValue(n.metrics.snapshotsInProgress) == 0
		})
		first, _ := n.storage.FirstIndex()
		// The margin keeps at most 10 entries' worth of data bytes up to
		// the snapshot (entries carry a little framing beyond the payload);
		// counted in bytes, as an election's empty entry takes none.
		if st.SnapshotIndex < first {
			t.Fatalf("node %d compacted to %d, past its snapshot at %d", id, first, st.SnapshotIndex)
		}
		kept, err := n.storage.Entries(first, st.SnapshotIndex+1, math.MaxUint64)
		if err != nil {
			t.Fatal(err)
		}
		var keptBytes int
		for _, e := range kept {
			keptBytes += len(e.Data)
		}
		if keptBytes > 10*(entryBytes+64) || len(kept) < 5 {
			t.Fatalf("node %d keeps %d entries (%d data bytes, from %d) up to its snapshot at %d, want 5 or more and at most 10 entries' worth",
				id, len(kept), keptBytes, first, st.SnapshotIndex)
		}
	}
}
