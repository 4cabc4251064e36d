package raftnode

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/vfs"
)

// failingRemoveFS fails Remove of WAL segments with EIO while failing is
// set; everything else goes to the crashable disk underneath.
type failingRemoveFS struct {
	*vfs.Crashable
	failing atomic.Bool
}

func (f *failingRemoveFS) Remove(name string) error {
	if f.failing.Load() && strings.HasSuffix(name, ".wal") {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.EIO}
	}
	return f.Crashable.Remove(name)
}

func walSegments(t *testing.T, dir string) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

// TestWALRemoveFailureKeepsNodeRunning snapshots and compacts while
// deleting old WAL segments fails: the node keeps committing, counts the
// failures, and deletes the segments on its own once deleting works again.
func TestWALRemoveFailureKeepsNodeRunning(t *testing.T) {
	fs := &failingRemoveFS{Crashable: vfs.NewCrashable(vfs.OS)}
	fs.failing.Store(true)
	c := newTestCluster(t, 1, func(cfg *Config) {
		cfg.FS = fs
		cfg.SegmentSizeBytes = 4 << 10
		cfg.SnapshotEntries = 20
		cfg.CompactionMargin = 5
		cfg.SnapshotInterval = 100 * time.Millisecond // also the retry timer
	})
	n := c.start(1)
	c.leader()
	payload := strings.Repeat("x", 300)
	var last Result
	for i := 0; i < 100; i++ {
		last = c.propose(payload)
	}
	if counterValue(c.metrics[1].walRemoveFailures) == 0 {
		t.Fatal("no failed segment removal counted: the test did not exercise it")
	}
	if err := n.Err(); err != nil {
		t.Fatalf("node stopped: %v", err)
	}
	before := walSegments(t, c.dirs[1])
	if before < 5 {
		t.Fatalf("%d WAL segments while removes fail, want them piling up", before)
	}

	fs.failing.Store(false)
	waitFor(t, 30*time.Second, "the obsolete WAL segments to be deleted", func() bool {
		return walSegments(t, c.dirs[1]) < before
	})
	// Still serving.
	if res := c.propose(payload); res.Index <= last.Index {
		t.Fatalf("proposal after recovery committed at %d, want > %d", res.Index, last.Index)
	}
}
