package storage

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// TestOpenRetainsEntriesBeforeSnapshot reopens a log that has a snapshot
// and was compacted with a margin: with RetainEntries set, the entries
// before the snapshot that the WAL still holds are back in the log (at most
// RetainEntries of them), so raft can send them to a follower a little
// behind instead of the snapshot.
func TestOpenRetainsEntriesBeforeSnapshot(t *testing.T) {
	tests := []struct {
		name      string
		compact   uint64 // 0: none
		retain    uint64
		bytes     uint64                     // RetainBytes
		wantFirst func(oldest uint64) uint64 // oldest: first entry of the oldest segment
	}{
		{name: "none retained by default", compact: 70, retain: 0, wantFirst: func(uint64) uint64 { return 81 }},
		{name: "margin within the WAL", compact: 70, retain: 5, wantFirst: func(uint64) uint64 { return 76 }},
		{name: "margin reaching before the WAL", compact: 70, retain: 1000, wantFirst: func(oldest uint64) uint64 { return oldest + 1 }},
		{name: "never compacted", retain: 1000, wantFirst: func(uint64) uint64 { return 1 }},
		// Entries carry 200 bytes: 1,000 bytes are the last 5 before 80.
		{name: "margin bounded by bytes", compact: 70, retain: 50, bytes: 1000, wantFirst: func(uint64) uint64 { return 76 }},
		{name: "byte bound above the entry margin", compact: 70, retain: 3, bytes: 1 << 20, wantFirst: func(uint64) uint64 { return 78 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			cfg.SegmentSizeBytes = minSegmentSizeBytes
			s := mustOpen(t, cfg)
			want := ents(1, 100, 1, 200)
			for i := range want {
				mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(i + 1)}, want[i:i+1])
			}
			if _, err := s.CreateSnapshot(80, &raftpb.ConfState{Voters: []uint64{1}}, []byte("state@80")); err != nil {
				t.Fatal(err)
			}
			if tt.compact > 0 {
				if err := s.Compact(tt.compact); err != nil {
					t.Fatal(err)
				}
			}
			mustClose(t, s)
			oldest := firstEntryIn(t, segmentPaths(t, cfg.Dir)[0])
			if tt.compact > 0 && oldest >= 75 {
				t.Fatalf("oldest segment starts at %d: the test needs the WAL to reach well before the margin", oldest)
			}

			cfg.RetainEntries = tt.retain
			cfg.RetainBytes = tt.bytes
			s = mustOpen(t, cfg)
			first := tt.wantFirst(oldest)
			checkLog(t, s, want[first-1:])
			if term, err := s.Term(first - 1); err != nil || term != 1 && first > 1 {
				t.Fatalf("Term(%d) = %d, %v: raft needs the term before the first entry", first-1, term, err)
			}
			if snap, _ := s.Snapshot(); snap.Metadata.Index != 80 {
				t.Fatalf("snapshot at %d, want 80", snap.Metadata.Index)
			}
			// The log goes on as usual: appends, compaction, reopen.
			mustSave(t, s, raftpb.HardState{Term: 2, Vote: 1, Commit: 101}, ents(101, 101, 2, 200))
			if err := s.Compact(80); err != nil && !errors.Is(err, raft.ErrCompacted) {
				t.Fatal(err)
			}
			mustClose(t, s)
			s = mustOpen(t, cfg)
			got, _ := s.FirstIndex()
			if got > 81 {
				t.Fatalf("FirstIndex %d after reopen, want <= 81", got)
			}
			checkLog(t, s, append(append([]raftpb.Entry{}, want[got-1:]...), ents(101, 101, 2, 200)...))
		})
	}
}

// TestCompactionPointKeepsOpensMargin: the point a node compacts to after
// a snapshot keeps exactly the margin Open restores, by entries and by
// bytes, so a restart does not change which followers get the log.
func TestCompactionPointKeepsOpensMargin(t *testing.T) {
	tests := []struct {
		name           string
		retain, bytes  uint64
		index, wantCut uint64
	}{
		{name: "entries only", retain: 10, index: 80, wantCut: 70},
		{name: "bytes bind first", retain: 10, bytes: 1000, index: 80, wantCut: 75},
		{name: "entries bind first", retain: 3, bytes: 1000, index: 80, wantCut: 77},
		{name: "exact byte fit", retain: 10, bytes: 1200, index: 80, wantCut: 74},
		{name: "margin before the first entry", retain: 1000, bytes: 1 << 20, index: 80, wantCut: 0},
		{name: "one entry larger than the bound", retain: 10, bytes: 100, index: 80, wantCut: 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			cfg.RetainEntries, cfg.RetainBytes = tt.retain, tt.bytes
			s := mustOpen(t, cfg)
			defer mustClose(t, s)
			mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 100}, ents(1, 100, 1, 200))
			if got := s.CompactionPoint(tt.index); got != tt.wantCut {
				t.Fatalf("CompactionPoint(%d) = %d, want %d", tt.index, got, tt.wantCut)
			}
		})
	}
}
