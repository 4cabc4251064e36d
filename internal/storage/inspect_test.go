package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// TestReadDirChangesNothing reads a directory whose WAL ends in a torn
// frame: ReadDir reports the tail without repairing it, gives the log Open
// would rebuild (with every entry before the snapshot the WAL holds), and
// refuses while the directory is open.
func TestReadDirChangesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 2, Vote: 1, Commit: 8}, ents(1, 10, 2, 100))
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if _, err := s.CreateSnapshot(6, &cs, []byte("state at 6")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDir(dir); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("ReadDir of an open directory = %v, want ErrDirInUse", err)
	}
	mustClose(t, s)

	// A torn write after the last frame: the start of a frame whose
	// fdatasync never finished.
	segs := segmentPaths(t, dir)
	last := segs[len(segs)-1]
	frames := framesOf(t, last)
	end := frames[len(frames)-1].off + frames[len(frames)-1].size
	patchFile(t, last, int64(end), []byte{frameMagic, frameEntry, 0x40, 0, 0, 0, 1, 2, 3, 4, 5})
	before, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}

	v, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := ReadIdentity(nil, dir); err != nil || v.DirectoryID != id.DirectoryID || id.DirectoryID.IsZero() {
		t.Errorf("view's directory id %q, meta file's %v (%v)", v.DirectoryID, id, err)
	}
	if v.NodeID != 1 || v.ClusterID != "test-cluster" || v.Snapshot.Index != 6 || v.SnapshotMetadata.Term != 2 ||
		len(v.SnapshotMetadata.ConfState.Voters) != 3 || v.HardState.Commit != 8 {
		t.Errorf("view %+v", v)
	}
	checkEntries(t, v.Entries, ents(1, 10, 2, 100))
	if !strings.Contains(v.TornTail, "offset") {
		t.Errorf("TornTail %q", v.TornTail)
	}
	after, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("ReadDir changed the segment")
	}

	sr, err := OpenSnapshotPath(v.Snapshot.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if sr.Info().Checksum != "" || sr.Version() != snapVersion {
		t.Errorf("before reading: checksum %q version %d", sr.Info().Checksum, sr.Version())
	}
	if data, err := io.ReadAll(sr); err != nil || string(data) != "state at 6" {
		t.Fatalf("data %q, %v", data, err)
	}
	if got := sr.Info().Checksum; got != v.Snapshot.Checksum {
		t.Errorf("checksum after reading %q, the listing says %q", got, v.Snapshot.Checksum)
	}
}
