package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

// encodeMetaV1 is the encoder of meta file version 1 (no directory id),
// kept to write what data directories of earlier releases hold.
func encodeMetaV1(clusterID string, nodeID uint64) []byte {
	b := []byte(metaMagic)
	b = binary.LittleEndian.AppendUint32(b, metaVersion1)
	b = binary.LittleEndian.AppendUint64(b, nodeID)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(clusterID)))
	b = append(b, clusterID...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustReadIdentity(t testing.TB, dir string) Identity {
	t.Helper()
	id, err := ReadIdentity(vfs.OS, dir)
	if err != nil {
		t.Fatalf("ReadIdentity(%s): %v", dir, err)
	}
	return id
}

// TestFormatThenOpen formats a directory and opens it: with the cluster id
// configured, and without it (the directory supplies it); another cluster
// id is refused. A directory id given to Format is kept.
func TestFormatThenOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Format creates it
	want := Identity{ClusterID: "formatted-cluster", NodeID: 3, DirectoryID: NewDirectoryID()}
	if err := Format(vfs.OS, dir, want); err != nil {
		t.Fatalf("Format: %v", err)
	}
	if got := mustReadIdentity(t, dir); got != want {
		t.Fatalf("ReadIdentity = %v, want %v", got, want)
	}
	for _, clusterID := range []string{"formatted-cluster", ""} {
		cfg, _ := testConfig(t, dir)
		cfg.ClusterID, cfg.NodeID = clusterID, 3
		s := mustOpen(t, cfg)
		if got := s.Identity(); got != want {
			t.Fatalf("Open with cluster id %q: Identity() = %v, want %v", clusterID, got, want)
		}
		mustSave(t, s, raftpb.HardState{Term: 1, Vote: 3, Commit: 1}, ents(1, 1, 1, 8))
		mustClose(t, s)
	}
	cfg, _ := testConfig(t, dir)
	cfg.ClusterID, cfg.NodeID = "other-cluster", 3
	if s, err := Open(cfg); !errors.Is(err, ErrIdentityMismatch) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open for another cluster = %v, want ErrIdentityMismatch", err)
	}

	// A zero directory id is drawn.
	dir2 := t.TempDir()
	if err := Format(vfs.OS, dir2, Identity{ClusterID: "c", NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	if got := mustReadIdentity(t, dir2); got.DirectoryID.IsZero() || got.DirectoryID == want.DirectoryID {
		t.Fatalf("Format drew directory id %q", got.DirectoryID)
	}
}

// TestFormatRefuses checks that Format changes nothing on a directory that
// is formatted or holds WAL files, nor for an invalid identity.
func TestFormatRefuses(t *testing.T) {
	t.Run("formatted", func(t *testing.T) {
		dir := t.TempDir()
		if err := Format(vfs.OS, dir, Identity{ClusterID: "first", NodeID: 1}); err != nil {
			t.Fatal(err)
		}
		meta := readFile(t, filepath.Join(dir, metaFileName))
		names := dirNames(t, dir)
		err := Format(vfs.OS, dir, Identity{ClusterID: "second", NodeID: 2})
		if !errors.Is(err, ErrFormatted) || !strings.Contains(err.Error(), `"first"`) {
			t.Fatalf("Format of a formatted directory = %v, want ErrFormatted naming cluster \"first\"", err)
		}
		if !bytes.Equal(readFile(t, filepath.Join(dir, metaFileName)), meta) || !equalStrings(dirNames(t, dir), names) {
			t.Fatal("refused Format changed the directory")
		}
	})
	t.Run("WAL without meta", func(t *testing.T) {
		cfg, _ := testConfig(t, t.TempDir())
		s := mustOpen(t, cfg)
		mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 1}, ents(1, 1, 1, 8))
		mustClose(t, s)
		removeFile(t, filepath.Join(cfg.Dir, metaFileName))
		names := dirNames(t, cfg.Dir)
		err := Format(vfs.OS, cfg.Dir, Identity{ClusterID: "test-cluster", NodeID: 1})
		if !errors.Is(err, ErrFormatted) {
			t.Fatalf("Format of a directory with WAL files = %v, want ErrFormatted", err)
		}
		if !equalStrings(dirNames(t, cfg.Dir), names) {
			t.Fatalf("refused Format changed the directory: %v, was %v", dirNames(t, cfg.Dir), names)
		}
	})
	for name, id := range map[string]Identity{
		"node 0":          {ClusterID: "c"},
		"no cluster":      {NodeID: 1},
		"huge cluster id": {ClusterID: strings.Repeat("x", maxClusterIDBytes+1), NodeID: 1},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := Format(vfs.OS, dir, id); err == nil {
				t.Fatal("Format accepted an invalid identity")
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("refused Format created the directory: %v", err)
			}
		})
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestReadIdentity reads unformatted, version 1 and version 2 directories.
func TestReadIdentity(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		if _, err := ReadIdentity(vfs.OS, dir); !errors.Is(err, ErrNotFormatted) {
			t.Fatalf("ReadIdentity(%s) = %v, want ErrNotFormatted", dir, err)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, metaFileName), encodeMetaV1("old-cluster", 7))
	if got, want := mustReadIdentity(t, dir), (Identity{ClusterID: "old-cluster", NodeID: 7}); got != want {
		t.Fatalf("ReadIdentity of version 1 = %v, want %v", got, want)
	}
	want := Identity{ClusterID: "new-cluster", NodeID: 8, DirectoryID: NewDirectoryID()}
	writeFile(t, filepath.Join(dir, metaFileName), encodeMeta(want))
	if got := mustReadIdentity(t, dir); got != want {
		t.Fatalf("ReadIdentity of version 2 = %v, want %v", got, want)
	}
	flipByte(t, filepath.Join(dir, metaFileName), 30)
	if _, err := ReadIdentity(vfs.OS, dir); err == nil || errors.Is(err, ErrNotFormatted) {
		t.Fatalf("ReadIdentity of a damaged meta file = %v, want a damage error", err)
	}
}

// TestOpenUpgradesVersion1Meta opens a directory whose meta file is
// version 1: Open keeps its cluster and node id and the log, gives it a
// directory id (logged) that a second Open keeps; InstallSnapshotFrom on a
// version 1 directory works and leaves the upgrade to Open.
func TestOpenUpgradesVersion1Meta(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 3}, ents(1, 3, 1, 8))
	mustClose(t, s)
	metaPath := filepath.Join(cfg.Dir, metaFileName)
	writeFile(t, metaPath, encodeMetaV1(cfg.ClusterID, cfg.NodeID))

	md := raftpb.SnapshotMetadata{Index: 3, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1}}}
	members := []byte("members at 3")
	installCfg := cfg
	installCfg.ClusterID = ""
	if err := InstallSnapshotFrom(installCfg, md, members, strings.NewReader("state at 3")); err != nil {
		t.Fatalf("InstallSnapshotFrom on a version 1 directory: %v", err)
	}
	if id := mustReadIdentity(t, cfg.Dir); !id.DirectoryID.IsZero() {
		t.Fatalf("InstallSnapshotFrom assigned directory id %q; only Open upgrades", id.DirectoryID)
	}

	openCfg, rec := testConfig(t, cfg.Dir)
	openCfg.ClusterID = "" // the directory's is adopted
	s = mustOpen(t, openCfg)
	id := s.Identity()
	if id.ClusterID != "test-cluster" || id.NodeID != 1 || id.DirectoryID.IsZero() {
		t.Fatalf("Identity() after the upgrade = %v", id)
	}
	logged, ok := rec.attr("storage: assigned directory id to a data directory formatted before directory ids", "directory_id")
	if !ok || logged.String() != id.DirectoryID.String() {
		t.Fatalf("upgrade logged directory_id %v (found %v), want %q", logged, ok, id.DirectoryID)
	}
	if onDisk, v, err := decodeMeta(readFile(t, metaPath)); err != nil || v != metaVersion || onDisk != id {
		t.Fatalf("meta file after the upgrade: %v version %d, %v; want %v version %d", onDisk, v, err, id, metaVersion)
	}
	checkLog(t, s, nil) // the installed snapshot at 3 covers the whole log
	snap, _ := s.Snapshot()
	sr, err := s.OpenSnapshot(snap.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sr.Members, members) {
		t.Fatalf("installed snapshot's members %q, want %q", sr.Members, members)
	}
	sr.Close()
	mustClose(t, s)

	again, rec := testConfig(t, cfg.Dir)
	s = mustOpen(t, again)
	if got := s.Identity(); got != id {
		t.Fatalf("second Open: Identity() = %v, want %v", got, id)
	}
	if _, ok := rec.attr("storage: assigned directory id to a data directory formatted before directory ids", "directory_id"); ok {
		t.Fatal("second Open assigned a directory id again")
	}
}

// TestOpenAdoptsClusterID opens with no cluster id configured: a fresh
// directory is refused (nothing to format it with, nothing written), a
// formatted one supplies its own.
func TestOpenAdoptsClusterID(t *testing.T) {
	cfg, rec := testConfig(t, t.TempDir())
	cfg.ClusterID = ""
	if s, err := Open(cfg); err == nil {
		s.Close()
		t.Fatal("Open of an unformatted directory without a cluster id succeeded")
	}
	if _, err := ReadIdentity(vfs.OS, cfg.Dir); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("refused Open left a meta file: %v", err)
	}
	cfg.ClusterID = "test-cluster"
	s := mustOpen(t, cfg)
	first := s.Identity()
	if first.DirectoryID.IsZero() {
		t.Fatal("first start formatted without a directory id")
	}
	if v, ok := rec.attr("storage: formatted data directory", "directory_id"); !ok || v.String() != first.DirectoryID.String() {
		t.Fatalf("format logged directory_id %v, want %q", v, first.DirectoryID)
	}
	mustClose(t, s)
	cfg.ClusterID = ""
	s = mustOpen(t, cfg)
	if got := s.Identity(); got != first {
		t.Fatalf("Open without a cluster id: Identity() = %v, want %v", got, first)
	}
}

// A lock that another open file of LOCK holds for a moment (a forked
// child's copy of a descriptor the node already closed) delays the next
// Open instead of refusing it; one held for good is refused.
func TestLockWaitsOutAMomentaryHolder(t *testing.T) {
	dir := t.TempDir()
	holder, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Closed just before the holder lets go: the next lock can only be
	// had after it (closing after Close would race with the taker).
	releasing := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(lockGrace / 4) // the holder lets go while the next lock waits
		close(releasing)
		holder.Close()
	}()
	defer func() { <-done }()
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock released %v after the attempt: %v", lockGrace/4, err)
	}
	select {
	case <-releasing:
	default:
		t.Fatal("took the lock while another open file held it")
	}
	defer lock.Close()
	if _, err := lockDir(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a lock held for good: got %v, want the in-use refusal", err)
	}
}
