package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// writeSnapshotV2File writes a version 2 snapshot file (metadata section =
// the raft metadata alone), the layout of earlier releases.
func writeSnapshotV2File(t testing.TB, path string, md raftpb.SnapshotMetadata, data []byte) {
	t.Helper()
	mb, err := md.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := writeSnapshotBody(&b, snapVersion2, mb, md, time.Now(), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b.Bytes())
}

func readAllSnapshot(t testing.TB, sr *SnapshotReader) []byte {
	t.Helper()
	defer sr.Close()
	b, err := io.ReadAll(sr)
	if err != nil {
		t.Fatalf("read snapshot data: %v", err)
	}
	return b
}

// TestSnapshotMembersRoundTrip writes and receives version 3 files with
// members and reads them back, also after a restart; the whole-file
// checksum the reader computes is the one Snapshots lists.
func TestSnapshotMembersRoundTrip(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 1, Vote: 1, Commit: 10}, ents(1, 10, 1, 8))
	md, err := s.SnapshotMetadata(5, &raftpb.ConfState{Voters: []uint64{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	members := []byte("members at 5: 1, 2, 3")
	info, err := s.WriteSnapshot(md, members, func(w io.Writer) error { _, err := io.WriteString(w, "state at 5"); return err })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSnapshot(md, info); err != nil {
		t.Fatal(err)
	}
	sr, err := s.OpenSnapshot(md)
	if err != nil {
		t.Fatal(err)
	}
	if sr.Version() != snapVersion || !bytes.Equal(sr.Members, members) || sr.Metadata.Index != 5 || len(sr.Metadata.ConfState.Voters) != 3 {
		t.Fatalf("version %d members %q metadata %+v", sr.Version(), sr.Members, sr.Metadata)
	}
	if got := readAllSnapshot(t, sr); string(got) != "state at 5" {
		t.Fatalf("data %q", got)
	}
	if sr.Info().Checksum != info.Checksum {
		t.Fatalf("reader checksum %s, written %s", sr.Info().Checksum, info.Checksum)
	}

	md2 := raftpb.SnapshotMetadata{Index: 20, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}}
	members2 := []byte("members at 20: 1, 2")
	rinfo, err := s.ReceiveSnapshot(md2, members2, strings.NewReader("state at 20"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AdoptSnapshot(md2, rinfo); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	s = mustOpen(t, cfg)
	snap, _ := s.Snapshot()
	if snap.Metadata.Index != 20 {
		t.Fatalf("snapshot %d after restart, want 20", snap.Metadata.Index)
	}
	for _, c := range []struct {
		md      raftpb.SnapshotMetadata
		members []byte
		data    string
	}{{md, members, "state at 5"}, {md2, members2, "state at 20"}} {
		sr, err := s.OpenSnapshot(c.md)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sr.Members, c.members) {
			t.Fatalf("snapshot %d members %q, want %q", c.md.Index, sr.Members, c.members)
		}
		if got := readAllSnapshot(t, sr); string(got) != c.data {
			t.Fatalf("snapshot %d data %q", c.md.Index, got)
		}
	}

	// No members: stored as an empty section, read back as nil.
	info3, err := s.ReceiveSnapshot(raftpb.SnapshotMetadata{Index: 30, Term: 2}, nil, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.DiscardReceived(info3)
	sr3, err := s.OpenSnapshotFile(info3.Path)
	if err != nil {
		t.Fatal(err)
	}
	if sr3.Members != nil {
		t.Fatalf("members %q, want nil", sr3.Members)
	}
	sr3.Close()

	// Members beyond the bound are refused and leave no file.
	before := dirNames(t, filepath.Join(cfg.Dir, "snap"))
	if _, err := s.ReceiveSnapshot(raftpb.SnapshotMetadata{Index: 31, Term: 2}, make([]byte, maxSnapMetaBytes+1), strings.NewReader("x")); err == nil {
		t.Fatal("ReceiveSnapshot accepted members beyond the bound")
	}
	if after := dirNames(t, filepath.Join(cfg.Dir, "snap")); !equalStrings(after, before) {
		t.Fatalf("refused snapshot left files: %v, was %v", after, before)
	}
}

// TestVersion2SnapshotFileLoads puts a version 2 file (no members) into a
// data directory: Open adopts it, its reader has nil members, and its
// checksum is that of the whole file.
func TestVersion2SnapshotFileLoads(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	mustSave(t, s, raftpb.HardState{Term: 2, Vote: 1, Commit: 7}, ents(1, 7, 2, 16))
	mustClose(t, s)
	md := raftpb.SnapshotMetadata{Index: 5, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}
	path := filepath.Join(cfg.Dir, "snap", snapName(2, 5))
	writeSnapshotV2File(t, path, md, []byte("version 2 state"))

	s = mustOpen(t, cfg)
	snap, _ := s.Snapshot()
	if snap.Metadata.Index != 5 || len(snap.Metadata.ConfState.Voters) != 3 {
		t.Fatalf("snapshot metadata %+v", snap.Metadata)
	}
	sr, err := s.OpenSnapshot(snap.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if sr.Version() != snapVersion2 || sr.Members != nil {
		t.Fatalf("version %d members %q, want 2 and nil", sr.Version(), sr.Members)
	}
	if got := readAllSnapshot(t, sr); string(got) != "version 2 state" {
		t.Fatalf("data %q", got)
	}
	want := fmt.Sprintf("crc32c:%08x", crc32.Checksum(readFile(t, path), crcTable))
	if sr.Info().Checksum != want {
		t.Fatalf("checksum %s, want %s", sr.Info().Checksum, want)
	}
	infos, err := s.Snapshots()
	if err != nil || len(infos) != 1 || infos[0].Checksum != want {
		t.Fatalf("Snapshots() = %+v, %v", infos, err)
	}
}

// TestDamagedMembersLength refuses version 3 files whose metadata length
// inside the metadata section is damaged, before reading any data.
func TestDamagedMembersLength(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	s := mustOpen(t, cfg)
	md := raftpb.SnapshotMetadata{Index: 9, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1}}}
	info, err := s.ReceiveSnapshot(md, []byte("members"), strings.NewReader("data"))
	if err != nil {
		t.Fatal(err)
	}
	good := readFile(t, info.Path)
	s.DiscardReceived(info)
	mlen := binary.LittleEndian.Uint32(good[16:20])
	for name, mdLen := range map[string]uint32{
		"beyond the section": mlen - 3,
		"huge":               0xffffffff,
		"beyond the bound":   maxSnapMetaBytes + 1,
	} {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[snapV2HeaderSize:], mdLen)
			path := filepath.Join(t.TempDir(), snapName(1, 9))
			writeFile(t, path, b)
			if sr, err := OpenSnapshotPath(path); err == nil {
				sr.Close()
				t.Fatal("OpenSnapshotPath accepted a damaged metadata length")
			} else if !strings.Contains(err.Error(), "does not fit") {
				t.Fatalf("error %v, want one about the metadata length", err)
			}
		})
	}
	// A shorter metadata length moves bytes into the members: the raft
	// metadata then fails to decode, or the body checksum catches it.
	b := bytes.Clone(good)
	binary.LittleEndian.PutUint32(b[snapV2HeaderSize:], 1)
	path := filepath.Join(t.TempDir(), snapName(1, 9))
	writeFile(t, path, b)
	if sr, err := OpenSnapshotPath(path); err == nil {
		_, err = io.ReadAll(sr)
		sr.Close()
		if err == nil {
			t.Fatal("a shortened metadata length went unnoticed")
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
