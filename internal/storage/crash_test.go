package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// These tests model crashes on real files: a node writes, its files are
// damaged the way a crash or a bad disk damages them, and Open must
// recover exactly what was durable or refuse to start.

func crashConfig(dir string) Config {
	return Config{Dir: dir, ClusterID: "crash-test", NodeID: 1, SegmentSizeBytes: 1 << 20}
}

func crashEntry(i uint64) raftpb.Entry {
	return raftpb.Entry{Index: i, Term: 1, Data: []byte(fmt.Sprintf("entry-%03d-payload", i))}
}

// onlySegment returns the path of the WAL's single segment.
func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("want one WAL segment, got %v (%v)", segs, err)
	}
	return segs[0]
}

// frameOffsets lists the start offsets of the valid frames in a segment and
// the offset after the last one.
func frameOffsets(t *testing.T, path string) ([]int, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	end, bad, err := scanSegment(data, func(off int, _ frame) error { offs = append(offs, off); return nil })
	if err != nil || bad != nil {
		t.Fatalf("scan %s: %v %+v", path, err, bad)
	}
	return offs, end
}

// writeEntries saves entries 1..n, one fsynced batch each, and closes.
func writeEntries(t *testing.T, dir string, n uint64) {
	t.Helper()
	s, err := Open(crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= n; i++ {
		if err := s.Save(raftpb.HardState{Term: 1, Commit: i}, []raftpb.Entry{crashEntry(i)}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashCutLastFrameAtEveryByte cuts the WAL inside its last frame at
// every byte offset (the rest reads as the preallocated zeros a torn write
// leaves) and checks Open recovers exactly the entries before it, and that
// the log then accepts new entries.
func TestCrashCutLastFrameAtEveryByte(t *testing.T) {
	const n = 5
	golden := t.TempDir()
	writeEntries(t, golden, n)
	offs, end := frameOffsets(t, onlySegment(t, golden))
	last := offs[len(offs)-1]

	// The last frame is the hard state of batch n or its entry; the entry
	// frame of batch n is the last entry frame. Cutting anywhere from the
	// start of the final batch's frames loses at most entry n.
	for cut := last; cut < end; cut++ {
		t.Run(fmt.Sprintf("cut@%d", cut), func(t *testing.T) {
			dir := copyDir(t, golden)
			seg := onlySegment(t, dir)
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			for i := cut; i < end; i++ {
				data[i] = 0
			}
			if err := os.WriteFile(seg, data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(crashConfig(dir))
			if err != nil {
				t.Fatalf("open after a torn tail: %v", err)
			}
			lastIdx, _ := s.LastIndex()
			if lastIdx < n-1 {
				t.Fatalf("recovered up to %d, want at least %d (only the torn batch may be lost)", lastIdx, n-1)
			}
			ents, err := s.Entries(1, lastIdx+1, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range ents {
				if want := crashEntry(uint64(i + 1)); string(e.Data) != string(want.Data) {
					t.Fatalf("entry %d = %q, want %q", i+1, e.Data, want.Data)
				}
			}
			// The log continues after the cut.
			next := lastIdx + 1
			if err := s.Save(raftpb.HardState{Term: 1, Commit: next}, []raftpb.Entry{crashEntry(next)}, true); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = Open(crashConfig(dir))
			if err != nil {
				t.Fatalf("reopen after writing past the cut: %v", err)
			}
			defer s.Close()
			if got, _ := s.LastIndex(); got != next {
				t.Fatalf("after reopen last index %d, want %d", got, next)
			}
		})
	}
}

// TestCrashFlippedByteBeforeTailRefusesStart flips one byte inside an early
// frame: that is not a torn write but damage to acknowledged data, so Open
// must refuse with the file and offset.
func TestCrashFlippedByteBeforeTailRefusesStart(t *testing.T) {
	dir := t.TempDir()
	writeEntries(t, dir, 6)
	seg := onlySegment(t, dir)
	offs, _ := frameOffsets(t, seg)
	target := offs[2] // a frame with valid frames after it
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[target+frameHeaderSize] ^= 0x40
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(crashConfig(dir))
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Open = %v, want *CorruptError", err)
	}
	if filepath.Base(ce.File) != filepath.Base(seg) || ce.Offset != int64(target) {
		t.Fatalf("CorruptError names %s at %d, want %s at %d", ce.File, ce.Offset, filepath.Base(seg), target)
	}
}

// TestCrashHardStateAndSnapshotSurviveRestart checks the vote, term and
// commit and a snapshot with its conf state come back after Close+Open,
// with the log after the snapshot intact.
func TestCrashHardStateAndSnapshotSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	var ents []raftpb.Entry
	for i := uint64(1); i <= 20; i++ {
		ents = append(ents, raftpb.Entry{Index: i, Term: 3, Data: []byte{byte(i)}})
	}
	hs := raftpb.HardState{Term: 3, Vote: 2, Commit: 20}
	if err := s.Save(hs, ents, true); err != nil {
		t.Fatal(err)
	}
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if _, err := s.CreateSnapshot(12, &cs, []byte("state@12")); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(10); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(crashConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gotHS, gotCS, err := s.InitialState()
	if err != nil {
		t.Fatal(err)
	}
	if gotHS.Term != 3 || gotHS.Vote != 2 || gotHS.Commit != 20 {
		t.Fatalf("hard state after restart = %+v, want %+v", gotHS, hs)
	}
	sort.Slice(gotCS.Voters, func(i, j int) bool { return gotCS.Voters[i] < gotCS.Voters[j] })
	if fmt.Sprint(gotCS.Voters) != "[1 2 3]" {
		t.Fatalf("conf state voters = %v", gotCS.Voters)
	}
	snap, err := s.Snapshot()
	if err != nil || snap.Metadata.Index != 12 || string(snap.Data) != "state@12" {
		t.Fatalf("snapshot after restart = %+v, %v", snap.Metadata, err)
	}
	if last, _ := s.LastIndex(); last != 20 {
		t.Fatalf("last index after restart = %d, want 20", last)
	}
	got, err := s.Entries(13, 21, 1<<30)
	if err != nil || len(got) != 8 || got[0].Data[0] != 13 {
		t.Fatalf("entries after the snapshot: %v %v", got, err)
	}
	infos, err := s.Snapshots()
	if err != nil || len(infos) != 1 || infos[0].Index != 12 || infos[0].Checksum == "" {
		t.Fatalf("Snapshots() = %+v, %v", infos, err)
	}
}
