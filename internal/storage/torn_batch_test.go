package storage

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// handSegment assembles a segment the way the WAL writes one: a sync frame
// at offset 0, then batch 1 (entries 1..3, hard state commit 3), which was
// fdatasync'ed, then batch 2 (entries 4..6, hard state commit 6) opened by
// the sync frame that records batch 1 as durable. With legacy set it has
// no sync frames, as written before they existed. It returns the bytes
// and the offset of every frame by name.
func handSegment(t *testing.T, legacy bool) ([]byte, map[string]int) {
	t.Helper()
	var b []byte
	at := map[string]int{}
	var err error
	add := func(name string, fn func([]byte) ([]byte, error)) {
		at[name] = len(b)
		if b, err = fn(b); err != nil {
			t.Fatal(err)
		}
	}
	sync := func(name string) {
		if !legacy {
			off := int64(len(b))
			add(name, func(b []byte) ([]byte, error) { return appendSyncFrame(b, off), nil })
		}
	}
	batch := func(lo, hi uint64) {
		for i := lo; i <= hi; i++ {
			e := entry(i, 1, 60)
			add(fmt.Sprint("e", i), func(b []byte) ([]byte, error) { return appendEntryFrame(b, &e) })
		}
		hs := raftpb.HardState{Term: 1, Vote: 1, Commit: hi}
		add(fmt.Sprint("hs", hi), func(b []byte) ([]byte, error) { return appendHardStateFrame(b, &hs) })
	}
	sync("sync0")
	batch(1, 3)
	sync("sync1") // the first write after batch 1's fdatasync
	batch(4, 6)
	return b, at
}

// writeHandSegment formats a data directory and replaces its only segment's
// content with seg (zero padded to the segment size), holes zeroed.
func writeHandSegment(t *testing.T, cfg Config, seg []byte, holes ...[2]int) string {
	t.Helper()
	mustClose(t, mustOpen(t, cfg))
	paths := segmentPaths(t, cfg.Dir)
	if len(paths) != 1 {
		t.Fatalf("%d segments in a fresh directory", len(paths))
	}
	data := make([]byte, cfg.SegmentSizeBytes)
	copy(data, seg)
	for _, h := range holes {
		clear(data[h[0]:h[1]])
	}
	if err := os.WriteFile(paths[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	return paths[0]
}

// TestTornUnsyncedBatchWithHole is a power cut on a device that wrote the
// pages of the last, never fdatasync'ed batch out of order: a zeroed frame
// followed by valid frames of the same batch. Open cuts the batch off at
// the hole with a warning. The same hole in the batch a sync frame proves
// durable refuses to start.
func TestTornUnsyncedBatchWithHole(t *testing.T) {
	seg, at := handSegment(t, false)
	frameSize := func(name string) int {
		f, reason := decodeFrame(seg, at[name])
		if reason != "" {
			t.Fatalf("frame %s: %s", name, reason)
		}
		return f.size()
	}
	hole := func(name string) [2]int { return [2]int{at[name], at[name] + frameSize(name)} }

	torn := []struct {
		name     string
		hole     string
		wantLast uint64
	}{
		{name: "first entry of the unsynced batch zeroed", hole: "e4", wantLast: 3},
		{name: "its sync frame zeroed", hole: "sync1", wantLast: 3},
		{name: "middle entry zeroed", hole: "e5", wantLast: 4},
	}
	for _, tt := range torn {
		t.Run(tt.name, func(t *testing.T) {
			cfg, rec := testConfig(t, t.TempDir())
			cfg.SegmentSizeBytes = minSegmentSizeBytes
			path := writeHandSegment(t, cfg, seg, hole(tt.hole))

			s, err := Open(cfg)
			if err != nil {
				t.Fatalf("Open refused a torn unsynced batch: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			checkLog(t, s, ents(1, tt.wantLast, 1, 60))
			checkHardState(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 3})
			if w := rec.warnings(); len(w) != 1 || w[0] != tornMsg {
				t.Fatalf("warnings %q, want one %q", w, tornMsg)
			}
			if off, _ := rec.attr(tornMsg, "offset"); off.Int64() != int64(at[tt.hole]) {
				t.Fatalf("torn tail at offset %v, want %d", off, at[tt.hole])
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if i := lastNonZero(data[at[tt.hole]:]); i >= 0 {
				t.Fatalf("byte %d after the cut is not zero: the discarded frames must not come back", at[tt.hole]+i)
			}
			// Appends continue at the cut and survive a reopen.
			next := ents(tt.wantLast+1, tt.wantLast+2, 2, 60)
			mustSave(t, s, raftpb.HardState{Term: 2, Commit: tt.wantLast + 2}, next)
			mustClose(t, s)
			s = mustOpen(t, cfg)
			checkLog(t, s, append(ents(1, tt.wantLast, 1, 60), next...))
		})
	}

	corrupt := []struct {
		name   string
		legacy bool
		hole   string
	}{
		{name: "hole in the synced batch", hole: "e2"},
		{name: "synced hard state zeroed", hole: "hs3"},
		{name: "hole before valid frames in a segment without sync frames", legacy: true, hole: "e5"},
	}
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			seg, at := seg, at
			if tt.legacy {
				seg, at = handSegment(t, true)
			}
			f, _ := decodeFrame(seg, at[tt.hole])
			cfg, _ := testConfig(t, t.TempDir())
			cfg.SegmentSizeBytes = minSegmentSizeBytes
			path := writeHandSegment(t, cfg, seg, [2]int{at[tt.hole], at[tt.hole] + f.size()})

			s, err := Open(cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded with a hole in fdatasync'ed data")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open error = %v, want *CorruptError", err)
			}
			if ce.File != path || ce.Offset != int64(at[tt.hole]) {
				t.Fatalf("CorruptError at %s:%d, want %s:%d (%v)", ce.File, ce.Offset, path, at[tt.hole], err)
			}
		})
	}
}

// TestLegacySegmentGetsSuccessor opens a directory whose newest segment was
// written without sync frames: it is read as before, and appends go to a
// new segment that has them, so a later torn batch can be told from
// corruption.
func TestLegacySegmentGetsSuccessor(t *testing.T) {
	seg, _ := handSegment(t, true)
	cfg, _ := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	legacy := writeHandSegment(t, cfg, seg)

	s := mustOpen(t, cfg)
	checkLog(t, s, ents(1, 6, 1, 60))
	checkHardState(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 6})
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 7}, ents(7, 7, 1, 60))
	mustClose(t, s)

	paths := segmentPaths(t, cfg.Dir)
	if len(paths) != 2 || paths[0] != legacy {
		t.Fatalf("segments %q, want the legacy one and a new one", paths)
	}
	frames := framesOf(t, paths[1])
	if frames[0].off != 0 || frames[0].typ != frameSync {
		t.Fatalf("new segment starts with a frame of type %d, want a sync frame", frames[0].typ)
	}
	if strings.Contains(paths[1], "0000000000000000-") {
		t.Fatalf("new segment %s has the legacy one's sequence number", paths[1])
	}
	s = mustOpen(t, cfg)
	checkLog(t, s, ents(1, 7, 1, 60))
}
