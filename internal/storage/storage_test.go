package storage

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/defaults"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Dir: "d", ClusterID: "c", NodeID: 1}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
		check   func(*testing.T, Config)
	}{
		{name: "defaults", mutate: func(*Config) {}, check: func(t *testing.T, c Config) {
			if c.SegmentSizeBytes != defaults.SegmentSizeBytes || c.KeepSnapshots != defaults.KeepSnapshots || c.Logger == nil {
				t.Errorf("defaults not filled: %+v", c)
			}
		}},
		{name: "no dir", mutate: func(c *Config) { c.Dir = "" }, wantErr: "Dir"},
		{name: "node 0", mutate: func(c *Config) { c.NodeID = 0 }, wantErr: "NodeID"},
		// A formatted directory supplies it; Open refuses an unformatted
		// one (TestOpenAdoptsClusterID).
		{name: "no cluster", mutate: func(c *Config) { c.ClusterID = "" }},
		{name: "huge cluster id", mutate: func(c *Config) { c.ClusterID = strings.Repeat("x", 2000) }, wantErr: "ClusterID"},
		{name: "tiny segments", mutate: func(c *Config) { c.SegmentSizeBytes = 100 }, wantErr: "SegmentSizeBytes"},
		{name: "negative keep", mutate: func(c *Config) { c.KeepSnapshots = -1 }, wantErr: "KeepSnapshots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error about %s", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestSaveReopen runs a script of writes and checks the log and hard state
// both before Close and after a reopen.
func TestSaveReopen(t *testing.T) {
	hs := func(term, vote, commit uint64) raftpb.HardState {
		return raftpb.HardState{Term: term, Vote: vote, Commit: commit}
	}
	tests := []struct {
		name   string
		script func(t *testing.T, s *Storage)
		want   []raftpb.Entry
		wantHS raftpb.HardState
	}{
		{
			name:   "empty",
			script: func(*testing.T, *Storage) {},
		},
		{
			name: "entries and hard state",
			script: func(t *testing.T, s *Storage) {
				mustSave(t, s, hs(1, 1, 0), ents(1, 3, 1, 50))
				mustSave(t, s, hs(1, 1, 3), ents(4, 10, 1, 50))
			},
			want:   ents(1, 10, 1, 50),
			wantHS: hs(1, 1, 3),
		},
		{
			name: "conflicting suffix is overwritten",
			script: func(t *testing.T, s *Storage) {
				mustSave(t, s, hs(1, 1, 4), ents(1, 10, 1, 30))
				mustSave(t, s, hs(2, 2, 5), ents(6, 8, 2, 30))
			},
			want:   append(ents(1, 5, 1, 30), ents(6, 8, 2, 30)...),
			wantHS: hs(2, 2, 5),
		},
		{
			name: "overwrite from the first entry",
			script: func(t *testing.T, s *Storage) {
				mustSave(t, s, hs(1, 0, 0), ents(1, 5, 1, 10))
				mustSave(t, s, hs(3, 0, 0), ents(1, 2, 3, 10))
			},
			want:   ents(1, 2, 3, 10),
			wantHS: hs(3, 0, 0),
		},
		{
			name: "empty hard state is not written",
			script: func(t *testing.T, s *Storage) {
				mustSave(t, s, hs(2, 1, 2), ents(1, 2, 2, 10))
				mustSave(t, s, raftpb.HardState{}, ents(3, 4, 2, 10))
			},
			want:   ents(1, 4, 2, 10),
			wantHS: hs(2, 1, 2),
		},
		{
			name: "unsynced batch is flushed by Close",
			script: func(t *testing.T, s *Storage) {
				mustSave(t, s, hs(1, 1, 1), ents(1, 2, 1, 10))
				if err := s.Save(hs(1, 1, 2), nil, false); err != nil {
					t.Fatal(err)
				}
			},
			want:   ents(1, 2, 1, 10),
			wantHS: hs(1, 1, 2),
		},
		{
			name: "entries before the compaction point are ignored",
			script: func(t *testing.T, s *Storage) {
				mustSave(t, s, hs(1, 1, 10), ents(1, 10, 1, 10))
				if _, err := s.CreateSnapshot(6, &raftpb.ConfState{Voters: []uint64{1}}, []byte("state@6")); err != nil {
					t.Fatal(err)
				}
				if err := s.Compact(6); err != nil {
					t.Fatal(err)
				}
				// A re-send of 3..10 must not write the compacted 3..6:
				// replaying them would truncate the log back to 3.
				mustSave(t, s, raftpb.HardState{}, ents(3, 10, 1, 10))
			},
			want:   ents(7, 10, 1, 10), // before reopen FirstIndex is 7 too
			wantHS: hs(1, 1, 10),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			s := mustOpen(t, cfg)
			tt.script(t, s)
			checkLog(t, s, tt.want)
			checkHardState(t, s, tt.wantHS)
			mustClose(t, s)

			s = mustOpen(t, cfg)
			checkLog(t, s, tt.want)
			checkHardState(t, s, tt.wantHS)
		})
	}
}

// TestApplySnapshotReopen checks that a leader's snapshot replaces the log
// on replay even where the old log had entries past it.
func TestApplySnapshotReopen(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 3}, ents(1, 10, 1, 20))
	snap := raftpb.Snapshot{
		Data:     []byte("leader state at 8"),
		Metadata: raftpb.SnapshotMetadata{Index: 8, Term: 3, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}},
	}
	if err := s.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySnapshot(snap); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("second ApplySnapshot = %v, want ErrSnapOutOfDate", err)
	}
	wantHS := raftpb.HardState{Term: 3, Vote: 0, Commit: 8}
	mustSave(t, s, wantHS, ents(9, 9, 3, 20))
	check := func() {
		t.Helper()
		checkLog(t, s, ents(9, 9, 3, 20)) // old entry 10 (term 1) is gone
		checkHardState(t, s, wantHS)
		got, _ := s.Snapshot()
		if got.Metadata.Index != 8 || got.Metadata.Term != 3 || readSnapshotData(t, s, got) != "leader state at 8" {
			t.Fatalf("snapshot = %+v", got.Metadata)
		}
		if _, cs, _ := s.InitialState(); len(cs.Voters) != 3 {
			t.Fatalf("conf state = %+v, want 3 voters", cs)
		}
		if term, err := s.Term(8); err != nil || term != 3 {
			t.Fatalf("Term(8) = %d, %v; want 3", term, err)
		}
	}
	check()
	mustClose(t, s)
	s = mustOpen(t, cfg)
	check()
}

// TestSnapshotWithoutMarker covers a crash inside ApplySnapshot after the
// file was renamed but before the WAL marker: Open uses the snapshot and
// drops the log it replaced, and fixes the commit index.
func TestSnapshotWithoutMarker(t *testing.T) {
	tests := []struct {
		name     string
		snap     raftpb.SnapshotMetadata
		want     []raftpb.Entry
		wantWarn bool
	}{
		{name: "log shorter than snapshot", snap: raftpb.SnapshotMetadata{Index: 20, Term: 4}, wantWarn: true},
		{name: "log disagrees with snapshot", snap: raftpb.SnapshotMetadata{Index: 5, Term: 4}, wantWarn: true},
		{name: "log agrees with snapshot (local snapshot)", snap: raftpb.SnapshotMetadata{Index: 5, Term: 1}, want: ents(6, 10, 1, 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, rec := testConfig(t, t.TempDir())
			s := mustOpen(t, cfg)
			mustSave(t, s, raftpb.HardState{Term: 1, Commit: 2}, ents(1, 10, 1, 10))
			mustClose(t, s)
			snap := raftpb.Snapshot{Data: []byte("x"), Metadata: tt.snap}
			if _, err := writeSnapshotFile(filepath.Join(cfg.Dir, "snap"), &snap, snapTime); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			checkLog(t, s, tt.want)
			if got, _ := s.FirstIndex(); got != tt.snap.Index+1 {
				t.Fatalf("FirstIndex = %d, want %d", got, tt.snap.Index+1)
			}
			hs, _, _ := s.InitialState()
			if hs.Commit != tt.snap.Index {
				t.Fatalf("commit = %d, want the snapshot index %d", hs.Commit, tt.snap.Index)
			}
			if got := len(rec.warnings()) > 0; got != tt.wantWarn {
				t.Fatalf("warnings = %q, want some: %v", rec.warnings(), tt.wantWarn)
			}
		})
	}
}

func TestStorageContract(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 2, Commit: 20}, append(ents(1, 12, 1, 10), ents(13, 20, 2, 10)...))
	if _, err := s.CreateSnapshot(10, nil, []byte("s10")); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(10); err != nil {
		t.Fatal(err)
	}
	e11 := entry(11, 1, 10)
	size := uint64(e11.Size())

	entryTests := []struct {
		name      string
		lo, hi    uint64
		maxSize   uint64
		wantErr   error
		wantFirst uint64
		wantN     int
	}{
		{name: "at compaction point", lo: 10, hi: 12, maxSize: ^uint64(0), wantErr: raft.ErrCompacted},
		{name: "below compaction point", lo: 3, hi: 12, maxSize: ^uint64(0), wantErr: raft.ErrCompacted},
		{name: "hi past last", lo: 11, hi: 22, maxSize: ^uint64(0), wantErr: raft.ErrUnavailable},
		{name: "lo past last", lo: 21, hi: 22, maxSize: ^uint64(0), wantErr: raft.ErrUnavailable},
		{name: "lo above hi", lo: 15, hi: 14, maxSize: ^uint64(0), wantErr: raft.ErrUnavailable},
		{name: "all", lo: 11, hi: 21, maxSize: ^uint64(0), wantFirst: 11, wantN: 10},
		{name: "empty range", lo: 15, hi: 15, maxSize: ^uint64(0), wantN: 0},
		{name: "maxSize 0 still returns one", lo: 11, hi: 21, maxSize: 0, wantFirst: 11, wantN: 1},
		{name: "maxSize of three", lo: 12, hi: 21, maxSize: 3 * size, wantFirst: 12, wantN: 3},
		{name: "maxSize just under three", lo: 12, hi: 21, maxSize: 3*size - 1, wantFirst: 12, wantN: 2},
	}
	for _, tt := range entryTests {
		t.Run("Entries/"+tt.name, func(t *testing.T) {
			got, err := s.Entries(tt.lo, tt.hi, tt.maxSize)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Entries(%d, %d, %d) error = %v, want %v", tt.lo, tt.hi, tt.maxSize, err, tt.wantErr)
			}
			if len(got) != tt.wantN {
				t.Fatalf("Entries returned %d entries, want %d", len(got), tt.wantN)
			}
			if tt.wantN > 0 && got[0].Index != tt.wantFirst {
				t.Fatalf("first entry %d, want %d", got[0].Index, tt.wantFirst)
			}
		})
	}

	termTests := []struct {
		i        uint64
		wantTerm uint64
		wantErr  error
	}{
		{i: 9, wantErr: raft.ErrCompacted},
		{i: 10, wantTerm: 1}, // the compaction point keeps its term
		{i: 13, wantTerm: 2},
		{i: 20, wantTerm: 2},
		{i: 21, wantErr: raft.ErrUnavailable},
	}
	for _, tt := range termTests {
		got, err := s.Term(tt.i)
		if !errors.Is(err, tt.wantErr) || got != tt.wantTerm {
			t.Errorf("Term(%d) = %d, %v; want %d, %v", tt.i, got, err, tt.wantTerm, tt.wantErr)
		}
	}

	t.Run("caller owns the returned slice", func(t *testing.T) {
		got, err := s.Entries(11, 15, ^uint64(0))
		if err != nil {
			t.Fatal(err)
		}
		_ = append(got, raftpb.Entry{Index: 999, Term: 999})
		again, _ := s.Entries(15, 16, ^uint64(0))
		checkEntries(t, again, ents(15, 15, 2, 10))
	})

	writeTests := []struct {
		name    string
		op      func() error
		wantErr error // nil: any error
	}{
		{name: "Compact at compaction point", op: func() error { return s.Compact(10) }, wantErr: raft.ErrCompacted},
		{name: "Compact below compaction point", op: func() error { return s.Compact(4) }, wantErr: raft.ErrCompacted},
		{name: "Compact past snapshot", op: func() error { return s.Compact(15) }},
		{name: "Compact past last", op: func() error { return s.Compact(25) }},
		{name: "CreateSnapshot at snapshot", op: func() error { _, err := s.CreateSnapshot(10, nil, nil); return err }, wantErr: raft.ErrSnapOutOfDate},
		{name: "CreateSnapshot past last", op: func() error { _, err := s.CreateSnapshot(21, nil, nil); return err }},
		{name: "ApplySnapshot older", op: func() error {
			return s.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 9, Term: 1}})
		}, wantErr: raft.ErrSnapOutOfDate},
		{name: "Save with a gap", op: func() error { return s.Save(raftpb.HardState{}, ents(22, 23, 2, 1), true) }},
		{name: "Save not contiguous", op: func() error {
			return s.Save(raftpb.HardState{}, []raftpb.Entry{entry(21, 2, 1), entry(23, 2, 1)}, true)
		}},
	}
	for _, tt := range writeTests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
	// None of the refused writes changed anything or broke the WAL.
	checkLog(t, s, append(ents(11, 12, 1, 10), ents(13, 20, 2, 10)...))
	mustSave(t, s, raftpb.HardState{}, ents(21, 21, 2, 10))
}

func TestCreateSnapshotReopen(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Commit: 10}, ents(1, 10, 1, 10))
	cs := &raftpb.ConfState{Voters: []uint64{1, 2}}
	got, err := s.CreateSnapshot(7, cs, []byte("state@7"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata.Index != 7 || got.Metadata.Term != 1 || len(got.Metadata.ConfState.Voters) != 2 {
		t.Fatalf("CreateSnapshot returned %+v", got.Metadata)
	}
	// A nil ConfState keeps the previous one.
	if got, err = s.CreateSnapshot(8, nil, []byte("state@8")); err != nil || len(got.Metadata.ConfState.Voters) != 2 {
		t.Fatalf("CreateSnapshot(8, nil) = %+v, %v", got.Metadata, err)
	}
	mustClose(t, s)

	s = mustOpen(t, cfg)
	snap, _ := s.Snapshot()
	if snap.Metadata.Index != 8 || readSnapshotData(t, s, snap) != "state@8" {
		t.Fatalf("snapshot after reopen = %+v", snap.Metadata)
	}
	// Not compacted, but only entries after the snapshot are retained.
	checkLog(t, s, ents(9, 10, 1, 10))
	if term, err := s.Term(8); err != nil || term != 1 {
		t.Fatalf("Term(8) = %d, %v", term, err)
	}
}

func TestSnapshotsListAndPrune(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	cfg.KeepSnapshots = 2
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Commit: 10}, ents(1, 10, 1, 10))
	for _, i := range []uint64{2, 4, 6, 8} {
		if _, err := s.CreateSnapshot(i, nil, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := indexes(infos), []uint64{8, 6}; !equalIndexes(got, want) {
		t.Fatalf("Snapshots() indexes = %v, want %v", got, want)
	}
	if got := snapshotPaths(t, cfg.Dir); len(got) != 2 {
		t.Fatalf("snapshot files on disk: %v, want 2", got)
	}
	for _, info := range infos {
		_, fromDisk, err := readSnapshotFile(info.Path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Checksum != fromDisk.Checksum || info.SizeBytes != fromDisk.SizeBytes || !info.CreatedAt.Equal(fromDisk.CreatedAt) || info.Term != 1 {
			t.Fatalf("info %+v, file says %+v", info, fromDisk)
		}
		if !strings.HasPrefix(info.Checksum, "crc32c:") || len(info.Checksum) != len("crc32c:")+8 {
			t.Fatalf("checksum %q", info.Checksum)
		}
	}
	mustClose(t, s)
	s = mustOpen(t, cfg)
	again, _ := s.Snapshots()
	if got := indexes(again); !equalIndexes(got, []uint64{8, 6}) {
		t.Fatalf("after reopen Snapshots() = %v", got)
	}
	if again[0] != infos[0] {
		t.Fatalf("after reopen:\n-want %+v\n+got  %+v", infos[0], again[0])
	}
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantMatch bool
	}{
		{name: "same identity", mutate: func(*Config) {}, wantMatch: true},
		{name: "other node", mutate: func(c *Config) { c.NodeID = 2 }},
		{name: "other cluster", mutate: func(c *Config) { c.ClusterID = "other" }},
		{name: "both", mutate: func(c *Config) { c.NodeID, c.ClusterID = 7, "x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			s := mustOpen(t, cfg)
			mustSave(t, s, raftpb.HardState{Term: 1}, ents(1, 1, 1, 1))
			mustClose(t, s)

			other := cfg
			tt.mutate(&other)
			s2, err := Open(other)
			if tt.wantMatch {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s2.Close()
				return
			}
			if err == nil {
				s2.Close()
				t.Fatal("Open succeeded on another node's directory")
			}
			var ie *IdentityError
			if !errors.Is(err, ErrIdentityMismatch) || !errors.As(err, &ie) {
				t.Fatalf("Open error = %v, want *IdentityError wrapping ErrIdentityMismatch", err)
			}
			if ie.DiskNodeID != 1 || ie.DiskClusterID != "test-cluster" || ie.NodeID != other.NodeID || ie.ClusterID != other.ClusterID {
				t.Fatalf("IdentityError = %+v", ie)
			}
			// Refusing changed nothing.
			s = mustOpen(t, cfg)
			checkLog(t, s, ents(1, 1, 1, 1))
		})
	}
}

func TestDamagedMeta(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{name: "flipped byte", damage: func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, metaFileName), 14) }},
		{name: "truncated", damage: func(t *testing.T, dir string) { patchFileSize(t, filepath.Join(dir, metaFileName), 5) }},
		{name: "missing with a WAL", damage: func(t *testing.T, dir string) { removeFile(t, filepath.Join(dir, metaFileName)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t, t.TempDir())
			s := mustOpen(t, cfg)
			mustClose(t, s)
			tt.damage(t, cfg.Dir)
			if s, err := Open(cfg); err == nil {
				s.Close()
				t.Fatal("Open succeeded with a damaged meta file")
			} else if errors.Is(err, ErrIdentityMismatch) {
				t.Fatalf("Open error %v should not claim another identity", err)
			}
		})
	}
}

func TestCloseAndLock(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	if s2, err := Open(cfg); err == nil {
		s2.Close()
		t.Fatal("second Open of an open directory succeeded")
	}
	mustClose(t, s)
	mustClose(t, s) // idempotent
	for name, err := range map[string]error{
		"Save":           s.Save(raftpb.HardState{Term: 1}, nil, true),
		"Compact":        s.Compact(1),
		"ApplySnapshot":  s.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 5, Term: 1}}),
		"CreateSnapshot": func() error { _, err := s.CreateSnapshot(1, nil, nil); return err }(),
		"Snapshots":      func() error { _, err := s.Snapshots(); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	// The lock is released.
	s = mustOpen(t, cfg)
	mustClose(t, s)
}

func TestGroupCommitFsyncs(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	var syncs int
	cfg.OnFsync = func(d time.Duration) {
		if d < 0 {
			t.Errorf("negative fsync duration %v", d)
		}
		syncs++
	}
	s := mustOpen(t, cfg)
	tests := []struct {
		name      string
		hs        raftpb.HardState
		ents      []raftpb.Entry
		mustSync  bool
		wantSyncs int
	}{
		{name: "64 entries, one fdatasync", hs: raftpb.HardState{Term: 1}, ents: ents(1, 64, 1, 100), mustSync: true, wantSyncs: 1},
		{name: "not mustSync", hs: raftpb.HardState{Term: 1, Commit: 10}, mustSync: false, wantSyncs: 0},
		{name: "mustSync flushes the earlier batch", ents: ents(65, 65, 1, 100), mustSync: true, wantSyncs: 1},
		{name: "nothing to write", mustSync: false, wantSyncs: 0},
	}
	for _, tt := range tests {
		syncs = 0
		if err := s.Save(tt.hs, tt.ents, tt.mustSync); err != nil {
			t.Fatal(err)
		}
		if syncs != tt.wantSyncs {
			t.Errorf("%s: %d fdatasyncs, want %d", tt.name, syncs, tt.wantSyncs)
		}
	}
}

// TestConcurrentReaders runs the readers raft and HTTP handlers use against
// the writer, for the race detector.
func TestConcurrentReaders(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	cfg.SegmentSizeBytes = minSegmentSizeBytes
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1}, ents(1, 1, 1, 10))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if es, err := s.Entries(first, last+1, 1<<20); err == nil && len(es) > 0 {
					_ = append(es, raftpb.Entry{})
				}
				s.Term(last)
				s.Snapshot()
				s.InitialState()
				s.Snapshots()
			}
		}()
	}
	for i := uint64(2); i <= 200; i++ {
		mustSave(t, s, raftpb.HardState{Term: 1, Commit: i - 1}, ents(i, i, 1, 100))
		if i%50 == 0 {
			if _, err := s.CreateSnapshot(i-1, nil, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := s.Compact(i - 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	mustClose(t, s)
	s = mustOpen(t, cfg)
	checkLog(t, s, ents(200, 200, 1, 100))
}
