package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

const tornMsg = "storage: truncating torn WAL tail"

// TestTornTail writes batches whose last frame is a small entry, then for
// every byte offset inside that frame zeroes the file from there to the
// frame's end (what a torn write leaves in a preallocated segment), and
// checks that Open recovers exactly the earlier entries, warns, and that the
// log keeps working.
func TestTornTail(t *testing.T) {
	golden := t.TempDir()
	cfg, _ := testConfig(t, golden)
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 3}, ents(1, 3, 1, 40))
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 5}, ents(4, 5, 1, 40))
	mustSave(t, s, raftpb.HardState{}, ents(6, 6, 1, 12)) // the frame to tear
	mustClose(t, s)

	seg := segmentPaths(t, golden)[0]
	frames := framesOf(t, seg)
	last := frames[len(frames)-1]
	if last.typ != frameEntry {
		t.Fatalf("last frame has type %d, want an entry", last.typ)
	}
	wantPrefix := ents(1, 5, 1, 40)
	wantHS := raftpb.HardState{Term: 1, Vote: 1, Commit: 5}

	for cut := last.off; cut < last.off+last.size; cut++ {
		t.Run(fmt.Sprintf("cut@%d", cut), func(t *testing.T) {
			dir := copyDir(t, golden)
			cfg, rec := testConfig(t, dir)
			seg := segmentPaths(t, dir)[0]
			patchFile(t, seg, int64(cut), make([]byte, last.off+last.size-cut))

			s := mustOpen(t, cfg)
			checkLog(t, s, wantPrefix)
			checkHardState(t, s, wantHS)
			// Zeroing the whole frame is a clean end of log; anything
			// less leaves a partial frame, which must be reported.
			torn := cut > last.off
			if got := len(rec.warnings()) == 1 && rec.warnings()[0] == tornMsg; got != torn {
				t.Fatalf("warnings %q, want a torn-tail warning: %v", rec.warnings(), torn)
			}
			if torn {
				if off, _ := rec.attr(tornMsg, "offset"); off.Int64() != int64(last.off) {
					t.Fatalf("warning names offset %v, want %d", off, last.off)
				}
				if file, _ := rec.attr(tornMsg, "file"); file.String() != seg {
					t.Fatalf("warning names file %v, want %s", file, seg)
				}
			}

			next := append(ents(6, 7, 2, 40), wantPrefix...)[:2]
			mustSave(t, s, raftpb.HardState{Term: 2, Commit: 6}, next)
			mustClose(t, s)
			s = mustOpen(t, cfg)
			checkLog(t, s, append(append([]raftpb.Entry{}, wantPrefix...), next...))
			checkHardState(t, s, raftpb.HardState{Term: 2, Commit: 6})
		})
	}
}

// TestTornTailGarbage checks that non-zero garbage after the last valid
// frame (a partially written batch) is zeroed, so that later appends are
// not followed by stale bytes.
func TestTornTailGarbage(t *testing.T) {
	cfg, rec := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1}, ents(1, 4, 1, 30))
	mustClose(t, s)
	seg := segmentPaths(t, cfg.Dir)[0]
	frames := framesOf(t, seg)
	end := frames[len(frames)-1].off + frames[len(frames)-1].size
	patchFile(t, seg, int64(end), bytes.Repeat([]byte{0xA7, 0x01, 0xFF}, 100))

	s = mustOpen(t, cfg)
	checkLog(t, s, ents(1, 4, 1, 30))
	if w := rec.warnings(); len(w) != 1 || w[0] != tornMsg {
		t.Fatalf("warnings = %q", w)
	}
	data, _ := os.ReadFile(seg)
	if i := lastNonZero(data[end:]); i >= 0 {
		t.Fatalf("byte %d after the last frame is not zero after repair", end+i)
	}
	mustSave(t, s, raftpb.HardState{}, ents(5, 5, 1, 30))
	mustClose(t, s)
	s = mustOpen(t, cfg)
	checkLog(t, s, ents(1, 5, 1, 30))
}

// TestCorruptionBeforeTail damages the WAL in ways a torn write cannot
// explain and checks Open refuses with the file and offset of the damage.
func TestCorruptionBeforeTail(t *testing.T) {
	type target struct {
		seg, off int // segment number, byte offset in it
	}
	tests := []struct {
		name string
		// damage returns where Open must report corruption.
		damage func(t *testing.T, segs []string) target
	}{
		{
			name: "flipped payload byte in an early frame",
			damage: func(t *testing.T, segs []string) target {
				last := len(segs) - 1
				f := framesOf(t, segs[last])[2]
				flipByte(t, segs[last], int64(f.off+f.size-1))
				return target{last, f.off}
			},
		},
		{
			name: "flipped header byte in an early frame",
			damage: func(t *testing.T, segs []string) target {
				last := len(segs) - 1
				f := framesOf(t, segs[last])[1]
				flipByte(t, segs[last], int64(f.off+3))
				return target{last, f.off}
			},
		},
		{
			name: "zeroed hole before valid frames",
			damage: func(t *testing.T, segs []string) target {
				last := len(segs) - 1
				f := framesOf(t, segs[last])[1]
				patchFile(t, segs[last], int64(f.off), make([]byte, f.size))
				return target{last, f.off}
			},
		},
		{
			name: "damaged last frame of an older segment",
			damage: func(t *testing.T, segs []string) target {
				frames := framesOf(t, segs[0])
				f := frames[len(frames)-1]
				flipByte(t, segs[0], int64(f.off+f.size-1))
				return target{0, f.off}
			},
		},
		{
			name: "verified frame that does not decode",
			damage: func(t *testing.T, segs []string) target {
				last := len(segs) - 1
				end := frameEnd(t, segs[last])
				b, _ := appendFrame(nil, frameEntry, 3, func(p []byte) error { copy(p, []byte{0xff, 0xff, 0xff}); return nil })
				patchFile(t, segs[last], int64(end), b)
				return target{last, end}
			},
		},
		{
			name: "entry leaving a gap",
			damage: func(t *testing.T, segs []string) target {
				last := len(segs) - 1
				end := frameEnd(t, segs[last])
				e := entry(500, 1, 10)
				b, _ := appendEntryFrame(nil, &e)
				patchFile(t, segs[last], int64(end), b)
				return target{last, end}
			},
		},
		{
			name: "snapshot marker with unknown flags",
			damage: func(t *testing.T, segs []string) target {
				last := len(segs) - 1
				end := frameEnd(t, segs[last])
				b, _ := appendFrame(nil, frameSnapshot, markerSize, func(p []byte) error { p[16] = 0x80; return nil })
				patchFile(t, segs[last], int64(end), b)
				return target{last, end}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			cfg.SegmentSizeBytes = minSegmentSizeBytes
			s := mustOpen(t, cfg)
			for i := uint64(1); i <= 30; i++ {
				mustSave(t, s, raftpb.HardState{Term: 1, Commit: i - 1}, ents(i, i, 1, 200))
			}
			mustClose(t, s)
			segs := segmentPaths(t, cfg.Dir)
			if len(segs) < 2 {
				t.Fatalf("want several segments, got %d", len(segs))
			}
			want := tt.damage(t, segs)

			s, err := Open(cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a corrupt WAL")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open error = %v, want *CorruptError", err)
			}
			if ce.File != segs[want.seg] || ce.Offset != int64(want.off) {
				t.Fatalf("CorruptError at %s:%d, want %s:%d (%v)", ce.File, ce.Offset, segs[want.seg], want.off, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("corrupt WAL %s at offset %d: ", ce.File, ce.Offset)) {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

// frameEnd is the offset after the last valid frame of a segment.
func frameEnd(t *testing.T, path string) int {
	frames := framesOf(t, path)
	f := frames[len(frames)-1]
	return f.off + f.size
}

func TestMissingSegment(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	s := mustOpen(t, cfg)
	for i := uint64(1); i <= 60; i++ {
		mustSave(t, s, raftpb.HardState{Term: 1}, ents(i, i, 1, 200))
	}
	mustClose(t, s)
	segs := segmentPaths(t, cfg.Dir)
	removeFile(t, segs[1])
	if s, err := Open(cfg); err == nil {
		s.Close()
		t.Fatal("Open succeeded with a segment missing")
	}
}

// TestRotationAndCompaction fills small segments, compacts after a
// snapshot, and checks which segments are deleted and what a reopen
// recovers.
func TestRotationAndCompaction(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	s := mustOpen(t, cfg)
	var want []raftpb.Entry
	for i := uint64(1); i <= 100; i++ {
		size := 200
		if i == 50 {
			size = 3 * minSegmentSizeBytes // bigger than a segment
		}
		e := entry(i, 1+i/40, size)
		want = append(want, e)
		mustSave(t, s, raftpb.HardState{Term: 1 + i/40, Vote: 1, Commit: i - 1}, []raftpb.Entry{e})
	}
	segs := segmentPaths(t, cfg.Dir)
	if len(segs) < 6 {
		t.Fatalf("%d segments, want at least 6", len(segs))
	}
	// Each segment is named after the first entry it holds.
	for _, path := range segs {
		_, first, _ := parsePairName(filepath.Base(path), walSuffix)
		if got := firstEntryIn(t, path); got != first {
			t.Fatalf("%s holds entries from %d", filepath.Base(path), got)
		}
	}
	mustClose(t, s)
	s = mustOpen(t, cfg)
	checkLog(t, s, want)

	snap, err := s.CreateSnapshot(80, &raftpb.ConfState{Voters: []uint64{1}}, []byte("state@80"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(70); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FirstIndex(); got != 71 {
		t.Fatalf("FirstIndex after Compact(70) = %d, want 71", got)
	}
	left := segmentPaths(t, cfg.Dir)
	if len(left) >= len(segs) {
		t.Fatalf("Compact removed no segment (%d before, %d after)", len(segs), len(left))
	}
	// The oldest remaining segment still holds entry 70 or earlier, its
	// successor starts after 70.
	if got := firstEntryIn(t, left[0]); got > 71 {
		t.Fatalf("oldest segment starts at %d: entries up to 70 were deleted too eagerly", got)
	}
	if got := firstEntryIn(t, left[1]); got <= 70 {
		t.Fatalf("segment %s starts at %d <= 70 and should be the oldest kept", left[1], got)
	}
	mustSave(t, s, raftpb.HardState{Term: 3, Vote: 1, Commit: 100}, nil)
	mustClose(t, s)

	s = mustOpen(t, cfg)
	checkLog(t, s, want[80:])
	checkHardState(t, s, raftpb.HardState{Term: 3, Vote: 1, Commit: 100})
	if got, _ := s.Snapshot(); got.Metadata.Index != snap.Metadata.Index || readSnapshotData(t, s, got) != "state@80" {
		t.Fatalf("snapshot after reopen: %+v", got.Metadata)
	}
	// Compacting far ahead leaves the hard state recoverable from segment
	// heads alone.
	mustSave(t, s, raftpb.HardState{}, ents(101, 150, 3, 200))
	if _, err := s.CreateSnapshot(140, nil, []byte("state@140")); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(140); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	for _, path := range segmentPaths(t, cfg.Dir) {
		for _, f := range framesOf(t, path) {
			if f.typ == frameHardState {
				goto found
			}
		}
	}
	t.Fatal("no hard state frame left in the WAL")
found:
	s = mustOpen(t, cfg)
	checkLog(t, s, ents(141, 150, 3, 200))
	checkHardState(t, s, raftpb.HardState{Term: 3, Vote: 1, Commit: 140})
}

// firstEntryIn returns the index of the first entry frame of a segment.
func firstEntryIn(t *testing.T, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range framesOf(t, path) {
		if f.typ == frameEntry {
			var e raftpb.Entry
			if err := e.Unmarshal(data[f.off+frameHeaderSize : f.off+f.size]); err != nil {
				t.Fatal(err)
			}
			return e.Index
		}
	}
	t.Fatalf("%s holds no entry", path)
	return 0
}

// TestSnapshotFallback damages snapshot files and checks Open falls back to
// an older one while the WAL still reaches it, and fails clearly when not.
func TestSnapshotFallback(t *testing.T) {
	tests := []struct {
		name      string
		compact   uint64 // 0: no compaction
		damage    []int  // snapshot files to damage, 0 = newest
		wantSnap  uint64
		wantFirst uint64
		wantErr   string
	}{
		{name: "newest damaged", damage: []int{0}, wantSnap: 30, wantFirst: 31},
		{name: "all damaged, WAL complete", damage: []int{0, 1}, wantSnap: 0, wantFirst: 1},
		{name: "newest damaged, WAL still reaches the older one", compact: 25, damage: []int{0}, wantSnap: 30, wantFirst: 31},
		{name: "newest damaged after compaction past the older one", compact: 90, damage: []int{0}, wantErr: "entries 31.."},
		{name: "none damaged", compact: 90, wantSnap: 90, wantFirst: 91},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, rec := testConfig(t, t.TempDir())
			cfg.SegmentSizeBytes = minSegmentSizeBytes
			s := mustOpen(t, cfg)
			for i := uint64(1); i <= 100; i++ {
				mustSave(t, s, raftpb.HardState{Term: 1, Commit: i}, ents(i, i, 1, 200))
				if i == 30 || i == 90 {
					if _, err := s.CreateSnapshot(i, nil, []byte(fmt.Sprint("state@", i))); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.compact > 0 {
				if err := s.Compact(tt.compact); err != nil {
					t.Fatal(err)
				}
			}
			mustClose(t, s)
			snaps := snapshotPaths(t, cfg.Dir)
			for _, i := range tt.damage {
				info, err := os.Stat(snaps[i])
				if err != nil {
					t.Fatal(err)
				}
				flipByte(t, snaps[i], info.Size()-1)
			}

			s, err := Open(cfg)
			if tt.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded without a usable snapshot")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			snap, _ := s.Snapshot()
			if snap.Metadata.Index != tt.wantSnap {
				t.Fatalf("snapshot index %d, want %d", snap.Metadata.Index, tt.wantSnap)
			}
			if tt.wantSnap > 0 && readSnapshotData(t, s, snap) != fmt.Sprint("state@", tt.wantSnap) {
				t.Fatalf("snapshot data %q", readSnapshotData(t, s, snap))
			}
			if got, _ := s.FirstIndex(); got != tt.wantFirst {
				t.Fatalf("FirstIndex = %d, want %d", got, tt.wantFirst)
			}
			checkLog(t, s, ents(tt.wantFirst, 100, 1, 200))
			infos, _ := s.Snapshots()
			if len(infos) != 2-len(tt.damage) {
				t.Fatalf("Snapshots() = %v, want the %d undamaged", indexes(infos), 2-len(tt.damage))
			}
			if got := len(rec.warnings()) > 0; got != (len(tt.damage) > 0) {
				t.Fatalf("warnings %q", rec.warnings())
			}
		})
	}
}

func TestReadSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	snap := raftpb.Snapshot{Data: []byte("hello"), Metadata: raftpb.SnapshotMetadata{Index: 7, Term: 2}}
	info, err := writeSnapshotFile(dir, &snap, snapTime)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(info.Path)
	tests := []struct {
		name    string
		file    string
		content []byte
		wantErr bool
	}{
		{name: "valid", file: filepath.Base(info.Path), content: good},
		{name: "flipped body byte", file: filepath.Base(info.Path), content: flipped(good, len(good)-1), wantErr: true},
		{name: "flipped header byte", file: filepath.Base(info.Path), content: flipped(good, 9), wantErr: true},
		{name: "truncated", file: filepath.Base(info.Path), content: good[:len(good)-1], wantErr: true},
		{name: "short", file: filepath.Base(info.Path), content: good[:10], wantErr: true},
		{name: "name disagrees", file: snapName(2, 8), content: good, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSnapshotFile(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReadSnapshotFile error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && (got.Metadata.Index != 7 || string(got.Data) != "hello") {
				t.Fatalf("read %+v", got)
			}
		})
	}
}

func flipped(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}
