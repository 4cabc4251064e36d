package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// failingReader yields its data, then err instead of io.EOF, as a
// snapshot stream whose checksum failed or whose peer went away does.
type failingReader struct {
	r   io.Reader
	err error
}

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

// TestReceivedSnapshotIsAdoptedOrRefused streams snapshots from the leader
// into storage: one whose stream fails (damaged or cut) leaves no file and
// changes nothing; an intact one is adopted by renaming the received file
// (no temp file remains), replaces the log, and survives a restart with
// its data intact.
func TestReceivedSnapshotIsAdoptedOrRefused(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 5}, ents(1, 5, 1, 10))
	md := raftpb.SnapshotMetadata{Index: 40, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}
	data := bytes.Repeat([]byte("leader state "), 200_000) // > 2 MiB: several buffer fills

	broken := errors.New("snapshot data checksum mismatch")
	if _, err := s.ReceiveSnapshot(md, nil, failingReader{bytes.NewReader(data[:len(data)/2]), broken}); !errors.Is(err, broken) {
		t.Fatalf("ReceiveSnapshot of a broken stream = %v, want %v", err, broken)
	}
	if names := dirNames(t, filepath.Join(dir, "snap")); len(names) != 0 {
		t.Fatalf("files left by a refused snapshot: %v", names)
	}
	if snap, _ := s.Snapshot(); snap.Metadata.Index != 0 {
		t.Fatalf("snapshot %d after a refused one, want none", snap.Metadata.Index)
	}

	info, err := s.ReceiveSnapshot(md, nil, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.Path, tmpSuffix) {
		t.Fatalf("received snapshot at %s, want a temp name until adopted", info.Path)
	}
	if err := s.AdoptSnapshot(md, info); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, filepath.Join(dir, "snap")); len(names) != 1 || names[0] != snapName(2, 40) {
		t.Fatalf("snapshot directory holds %v, want only %s", names, snapName(2, 40))
	}
	if first, _ := s.FirstIndex(); first != 41 {
		t.Fatalf("FirstIndex = %d after adopting a snapshot at 40, want 41", first)
	}
	if err := s.AdoptSnapshot(md, info); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("adopting it again = %v, want ErrSnapOutOfDate", err)
	}
	mustClose(t, s)

	s = mustOpen(t, cfg)
	snap, _ := s.Snapshot()
	if snap.Metadata.Index != 40 || snap.Metadata.Term != 2 || len(snap.Data) != 0 {
		t.Fatalf("snapshot after reopen %+v with %d data bytes in memory, want index 40 term 2 and none", snap.Metadata, len(snap.Data))
	}
	if got := readSnapshotData(t, s, snap); got != string(data) {
		t.Fatalf("snapshot data after reopen: %d bytes, want %d", len(got), len(data))
	}
	infos, _ := s.Snapshots()
	if len(infos) != 1 || infos[0].Checksum != info.Checksum || infos[0].SizeBytes != info.SizeBytes {
		t.Fatalf("Snapshots() = %+v, want the received file's size and checksum %s", infos, info.Checksum)
	}
}

// TestDamagedSnapshotDataFailsOnRead flips one data byte of a snapshot
// file: opening it still works (header, metadata and trailer are intact),
// but reading the data ends in a checksum error instead of io.EOF, so
// nobody decodes or sends it as good.
func TestDamagedSnapshotDataFailsOnRead(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := testConfig(t, dir)
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 5}, ents(1, 5, 1, 10))
	snap, err := s.CreateSnapshot(5, &raftpb.ConfState{Voters: []uint64{1}}, []byte("state at five"))
	if err != nil {
		t.Fatal(err)
	}
	infos, _ := s.Snapshots()
	b, err := os.ReadFile(infos[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-snapTrailerSize-1] ^= 0x01
	if err := os.WriteFile(infos[0].Path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sr, err := s.OpenSnapshot(snap.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if _, err := io.ReadAll(sr); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("reading damaged data = %v, want a checksum mismatch", err)
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
