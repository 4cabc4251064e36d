package testcluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// compacted reports whether dir holds a snapshot and its WAL no longer
// starts with the first segment (compaction deleted it).
func compacted(t *testing.T, dir string) bool {
	t.Helper()
	snaps, err := filepath.Glob(filepath.Join(dir, "snap", "*.snap"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := filepath.Glob(filepath.Join(dir, "wal", "0000000000000000-*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	return len(snaps) > 0 && len(first) == 0
}

// TestCorruptSnapshotIsRefetchedFromLeader damages every snapshot file of a
// follower whose WAL was compacted, so its own files cannot rebuild the
// state, and checks that it detects the damage by checksum, fetches a
// snapshot from a peer, comes up, converges, loses no acknowledged write
// and keeps serving writes, across a further restart too.
func TestCorruptSnapshotIsRefetchedFromLeader(t *testing.T) {
	logs := &testcluster.LogBuffer{}
	c := testcluster.New(t, testcluster.Options{
		SnapshotEntries: 10, CompactionMargin: 2, SegmentSizeBytes: 4 << 10, LogWriter: logs,
	})
	lead := c.MustLeader()
	f := followers(c, lead)[0]

	// Write until every node has snapshotted and compacted its WAL.
	round := 0
	var acked []string
	write := func(via uint64) {
		t.Helper()
		mixedWorkload(t, c, via, round)
		acked = append(acked, fmt.Sprintf("r%d-t0", round), fmt.Sprintf("r%d-t1", round))
		round++
	}
	for {
		write(lead)
		if err := c.WaitConverged(ctxFor(t, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		all := true
		for _, id := range c.IDs() {
			all = all && compacted(t, c.DataDir(id))
		}
		if all {
			break
		}
		if round == 20 {
			t.Fatal("nodes did not snapshot and compact their WALs after 20 rounds")
		}
	}

	c.Kill(f)
	write(lead) // the others move on while f is down
	snaps, err := filepath.Glob(filepath.Join(c.DataDir(f), "snap", "*.snap"))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("node %d snapshot files: %v %v", f, snaps, err)
	}
	for _, p := range snaps {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 2; i < len(b)/2+8 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	c.Start(f)
	for _, want := range [][]string{
		{"level=WARN", "skipping bad snapshot file", "checksum mismatch"},
		{"level=ERROR", "snapshot lost and the WAL cannot rebuild the state", "need_index="},
		{"level=WARN", "replaced the lost snapshot with one fetched from a peer", "peer="},
	} {
		if got := logs.Lines(append(want, fmt.Sprintf("test_node=%d", f))...); len(got) == 0 {
			t.Fatalf("node %d logged no line with %q", f, want)
		}
	}
	c.MustLeader()
	assertSameState(t, c)
	checkTopics := func() {
		t.Helper()
		have := c.TopicNames(f)
		for _, name := range acked {
			if !have[name] {
				t.Fatalf("node %d lost acknowledged topic %q", f, name)
			}
		}
	}
	checkTopics()

	// It serves writes (forwarded to the leader) and keeps up.
	write(f)
	assertSameState(t, c)
	checkTopics()

	// The installed snapshot and the WAL after it survive a restart.
	c.Kill(f)
	c.Start(f)
	c.MustLeader()
	write(f)
	assertSameState(t, c)
	checkTopics()
}
