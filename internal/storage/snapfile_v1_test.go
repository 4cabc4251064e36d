package storage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// v1SnapshotFile was written by the first snapshot file format (whole
// raftpb.Snapshot in one checksummed body) and is kept as is: data
// directories written by earlier releases hold such files.
const v1SnapshotFile = "testdata/v1-0000000000000002-0000000000000005.snap"

const v1SnapshotData = "state machine bytes of a version 1 snapshot file"

// TestVersion1SnapshotFileLoads puts a version 1 snapshot file into a data
// directory whose WAL runs through its index and checks that Open adopts
// it: its metadata becomes the log's snapshot and its data reads back.
func TestVersion1SnapshotFileLoads(t *testing.T) {
	b, err := os.ReadFile(v1SnapshotFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 2, Vote: 1, Commit: 7}, ents(1, 7, 2, 16))
	mustClose(t, s)
	if err := os.WriteFile(filepath.Join(dir, "snap", "0000000000000002-0000000000000005.snap"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, cfg)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	md := snap.Metadata
	if md.Index != 5 || md.Term != 2 || !slices.Equal(md.ConfState.Voters, []uint64{1, 2, 3}) {
		t.Fatalf("snapshot metadata %+v, want index 5 term 2 voters [1 2 3]", md)
	}
	if got := readSnapshotData(t, s, snap); got != v1SnapshotData {
		t.Fatalf("snapshot data %q, want %q", got, v1SnapshotData)
	}
	infos, err := s.Snapshots()
	if err != nil || len(infos) != 1 || infos[0].Index != 5 || infos[0].SizeBytes != int64(len(b)) {
		t.Fatalf("Snapshots() = %+v, %v; want the one file of %d bytes at index 5", infos, err, len(b))
	}
	if last, _ := s.LastIndex(); last != 7 {
		t.Fatalf("last index %d, want 7: the entries after the snapshot stay", last)
	}
}
