package storage

import (
	"errors"
	"os"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// lostSnapshotDir builds a directory whose only snapshot (index 30, term 1)
// is damaged after the WAL was compacted past its start, so Open cannot
// rebuild the state: entries 1..40 at term 1, hard state {3, 2, 30}.
func lostSnapshotDir(t *testing.T) (Config, *logRecorder) {
	t.Helper()
	cfg, rec := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	s := mustOpen(t, cfg)
	for i := uint64(1); i <= 40; i++ {
		mustSave(t, s, raftpb.HardState{Term: 3, Vote: 2, Commit: min(i, 30)}, ents(i, i, 1, 1000))
	}
	if _, err := s.CreateSnapshot(30, &raftpb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state@30")); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(30); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	paths := snapshotPaths(t, cfg.Dir)
	if len(paths) != 1 {
		t.Fatalf("snapshot files %v, want 1", paths)
	}
	st, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, paths[0], st.Size()/2)
	return cfg, rec
}

// TestOpenReportsLostSnapshot: a damaged snapshot that the compacted WAL
// cannot make up for is reported as *SnapshotLostError naming the index a
// replacement needs and the damaged file, after a warning about the file.
func TestOpenReportsLostSnapshot(t *testing.T) {
	cfg, rec := lostSnapshotDir(t)
	_, err := Open(cfg)
	var lost *SnapshotLostError
	if !errors.As(err, &lost) {
		t.Fatalf("Open = %v, want *SnapshotLostError", err)
	}
	if lost.Index != 30 || lost.Term != 1 || lost.NewestValid != 0 || len(lost.Bad) != 1 {
		t.Fatalf("lost = %+v, want index 30 term 1, newest valid 0, one bad file", lost)
	}
	if v, ok := rec.attr("storage: skipping bad snapshot file", "file"); !ok || v.String() != lost.Bad[0].Path {
		t.Fatalf("no warning naming the damaged file %s: %q", lost.Bad[0].Path, rec.warnings())
	}
	// Nothing changed: it fails the same way again.
	if _, err := Open(cfg); !errors.As(err, &lost) {
		t.Fatalf("second Open = %v, want *SnapshotLostError", err)
	}
}

// TestInstallSnapshotThenOpen checks the rules InstallSnapshot documents:
// the hard state's term and vote survive, entries after the snapshot are
// kept when the local log agrees with it at its index, the whole log is
// replaced when it does not, a snapshot older than the WAL's newest marker
// is refused, and a replaced log keeps working across restarts.
func TestInstallSnapshotThenOpen(t *testing.T) {
	tests := []struct {
		name        string
		snap        raftpb.SnapshotMetadata
		wantErr     bool
		wantEntries []raftpb.Entry // after the snapshot
	}{
		{name: "terms match: entries after it kept", snap: raftpb.SnapshotMetadata{Index: 35, Term: 1}, wantEntries: ents(36, 40, 1, 1000)},
		{name: "same index as the lost one", snap: raftpb.SnapshotMetadata{Index: 30, Term: 1}, wantEntries: ents(31, 40, 1, 1000)},
		{name: "terms conflict: log replaced", snap: raftpb.SnapshotMetadata{Index: 35, Term: 2}},
		{name: "past the log's end: log replaced", snap: raftpb.SnapshotMetadata{Index: 50, Term: 2}},
		{name: "older than the lost snapshot: refused", snap: raftpb.SnapshotMetadata{Index: 29, Term: 1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := lostSnapshotDir(t)
			tt.snap.ConfState = raftpb.ConfState{Voters: []uint64{1, 2, 3}}
			err := InstallSnapshot(cfg, raftpb.Snapshot{Data: []byte("fetched"), Metadata: tt.snap})
			if tt.wantErr {
				if err == nil {
					t.Fatal("InstallSnapshot succeeded")
				}
				var lost *SnapshotLostError
				if _, err := Open(cfg); !errors.As(err, &lost) {
					t.Fatalf("Open after a refused install = %v, want *SnapshotLostError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, cfg)
			check := func(s *Storage, want []raftpb.Entry) {
				t.Helper()
				snap, _ := s.Snapshot()
				if snap.Metadata.Index != tt.snap.Index || snap.Metadata.Term != tt.snap.Term || readSnapshotData(t, s, snap) != "fetched" {
					t.Fatalf("snapshot = %+v", snap.Metadata)
				}
				checkLog(t, s, want)
				if got, _ := s.FirstIndex(); got != tt.snap.Index+1 {
					t.Fatalf("FirstIndex = %d, want %d", got, tt.snap.Index+1)
				}
				hs, _, _ := s.InitialState()
				if hs.Term != 3 || hs.Vote != 2 {
					t.Fatalf("hard state = %+v, want term 3 vote 2 kept", hs)
				}
				if hs.Commit < tt.snap.Index {
					t.Fatalf("commit = %d below the snapshot index %d", hs.Commit, tt.snap.Index)
				}
			}
			check(s, tt.wantEntries)
			// The log goes on after the snapshot and survives restarts.
			next := tt.snap.Index + 1
			if len(tt.wantEntries) > 0 {
				next = tt.wantEntries[len(tt.wantEntries)-1].Index + 1
			}
			mustSave(t, s, raftpb.HardState{Term: 3, Vote: 2, Commit: tt.snap.Index}, ents(next, next+1, 3, 100))
			mustClose(t, s)
			s = mustOpen(t, cfg)
			check(s, append(append([]raftpb.Entry(nil), tt.wantEntries...), ents(next, next+1, 3, 100)...))
		})
	}
}
