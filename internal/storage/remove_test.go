package storage

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

// failRemoveFS is a vfs.FS whose Remove of a WAL segment fails with EIO
// while failing is set; everything else passes through.
type failRemoveFS struct {
	vfs.FS
	mu      sync.Mutex
	failing bool
	failed  int
}

func (f *failRemoveFS) setFailing(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = on
}

func (f *failRemoveFS) Remove(name string) error {
	f.mu.Lock()
	fail := f.failing && strings.HasSuffix(name, walSuffix)
	if fail {
		f.failed++
	}
	f.mu.Unlock()
	if fail {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EIO}
	}
	return f.FS.Remove(name)
}

// TestSegmentRemoveFailureIsNotFatal compacts while deleting segments
// fails: Compact succeeds, the failure is logged and reported, the WAL
// keeps taking writes, no segment the log still needs is touched, and the
// obsolete segments go once deleting works again, both through
// RemoveObsoleteSegments and through the next Compact.
func TestSegmentRemoveFailureIsNotFatal(t *testing.T) {
	for _, retry := range []string{"RemoveObsoleteSegments", "Compact"} {
		t.Run(retry, func(t *testing.T) {
			cfg, rec := testConfig(t, t.TempDir())
			cfg.SegmentSizeBytes = minSegmentSizeBytes
			fs := &failRemoveFS{FS: vfs.NewCrashable(vfs.OS)}
			cfg.FS = fs
			reported := 0
			cfg.OnSegmentRemoveFailure = func() { reported++ }
			s := mustOpen(t, cfg)
			for i := uint64(1); i <= 60; i++ {
				mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: i}, ents(i, i, 1, 200))
			}
			before := segmentPaths(t, cfg.Dir)
			if len(before) < 3 {
				t.Fatalf("%d segments, want at least 3", len(before))
			}

			fs.setFailing(true)
			if _, err := s.CreateSnapshot(50, &raftpb.ConfState{Voters: []uint64{1}}, []byte("state@50")); err != nil {
				t.Fatal(err)
			}
			if err := s.Compact(50); err != nil {
				t.Fatalf("Compact with failing removes: %v (a segment that cannot be deleted must not stop the node)", err)
			}
			if reported == 0 || fs.failed == 0 {
				t.Fatalf("removal failure reported %d times, removes failed %d times; want both > 0", reported, fs.failed)
			}
			if got := segmentPaths(t, cfg.Dir); len(got) != len(before) {
				t.Fatalf("%d segments left, want all %d while removes fail", len(got), len(before))
			}
			warned := false
			for _, w := range rec.warnings() {
				warned = warned || strings.Contains(w, "could not delete obsolete WAL segments")
			}
			if !warned {
				t.Fatalf("warnings %q, want one about the segments that could not be deleted", rec.warnings())
			}
			// Still writable, and still failing: retries keep it usable.
			mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 61}, ents(61, 61, 1, 200))
			if err := s.RemoveObsoleteSegments(); err == nil {
				t.Fatal("RemoveObsoleteSegments succeeded while removes fail")
			}
			mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 62}, ents(62, 62, 1, 200))

			fs.setFailing(false)
			switch retry {
			case "RemoveObsoleteSegments":
				if err := s.RemoveObsoleteSegments(); err != nil {
					t.Fatalf("RemoveObsoleteSegments: %v", err)
				}
			case "Compact":
				mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 63}, ents(63, 63, 1, 200))
				if _, err := s.CreateSnapshot(55, nil, []byte("state@55")); err != nil {
					t.Fatal(err)
				}
				if err := s.Compact(51); err != nil {
					t.Fatal(err)
				}
			}
			after := segmentPaths(t, cfg.Dir)
			if len(after) >= len(before) {
				t.Fatalf("%d segments after removal works again, want fewer than %d", len(after), len(before))
			}
			// What is left still reaches the compaction point: nothing the
			// log needs was deleted.
			if got := firstEntryIn(t, after[0]); got > 51 {
				t.Fatalf("oldest segment %s starts at entry %d, past the compaction point 50", filepath.Base(after[0]), got)
			}
			if err := s.RemoveObsoleteSegments(); err != nil {
				t.Fatalf("RemoveObsoleteSegments with nothing to do: %v", err)
			}
			mustClose(t, s)
			cfg.FS = vfs.OS
			s = mustOpen(t, cfg)
			last, _ := s.LastIndex()
			if last < 62 {
				t.Fatalf("last index %d after reopen, want >= 62", last)
			}
		})
	}
}
