package storage

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// validSegment returns the bytes of a small WAL segment with every frame
// type, for seeding.
func validSegment(f *testing.F) []byte {
	cfg := Config{Dir: f.TempDir(), ClusterID: "fuzz", NodeID: 1, SegmentSizeBytes: minSegmentSizeBytes, Logger: discardLogger}
	s, err := Open(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 2}, ents(1, 3, 1, 8), true); err != nil {
		f.Fatal(err)
	}
	if _, err := s.CreateSnapshot(2, nil, []byte("s")); err != nil {
		f.Fatal(err)
	}
	if err := s.Save(raftpb.HardState{Term: 2, Commit: 3}, ents(3, 4, 2, 8), true); err != nil {
		f.Fatal(err)
	}
	s.Close()
	segs, err := listSegments(cfg.Dir + "/wal")
	if err != nil || len(segs) != 1 {
		f.Fatal(segs, err)
	}
	b, err := os.ReadFile(segs[0].path)
	if err != nil {
		f.Fatal(err)
	}
	return b[:lastNonZero(b)+1]
}

// FuzzWALRecovery feeds arbitrary bytes as the only WAL segment. Open must
// not panic; when it succeeds the storage must be consistent and writable,
// and a reopen must see what was written.
func FuzzWALRecovery(f *testing.F) {
	valid := validSegment(f)
	f.Add(valid)
	f.Add(valid[:len(valid)-5])
	f.Add(flipped(valid, 12))
	f.Add(append(bytes.Clone(valid), 0, 0, 0, frameMagic, 2, 5))
	f.Add([]byte{})
	f.Add([]byte{frameMagic, frameEntry, 0xff, 0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{Dir: t.TempDir(), ClusterID: "fuzz", NodeID: 1, SegmentSizeBytes: minSegmentSizeBytes, Logger: discardLogger}
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		segs, err := listSegments(cfg.Dir + "/wal")
		if err != nil || len(segs) != 1 {
			t.Fatal(segs, err)
		}
		if err := os.WriteFile(segs[0].path, data, 0o600); err != nil {
			t.Fatal(err)
		}

		s, err = Open(cfg)
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) && ce.File != segs[0].path {
				t.Fatalf("CorruptError names %s", ce.File)
			}
			return // refusing is fine; panicking is not
		}
		t.Cleanup(func() { s.Close() }) // s is reassigned below: close the last one
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		hs, _, _ := s.InitialState()
		if last+1 < first || hs.Commit > last {
			t.Fatalf("inconsistent: first %d last %d commit %d", first, last, hs.Commit)
		}
		if last >= first {
			if _, err := s.Entries(first, last+1, 1<<30); err != nil {
				t.Fatalf("Entries(%d, %d): %v", first, last+1, err)
			}
		}
		e := entry(last+1, hs.Term+1, 5)
		if err := s.Save(raftpb.HardState{Term: hs.Term + 1, Commit: hs.Commit}, []raftpb.Entry{e}, true); err != nil {
			t.Fatalf("Save after recovery: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(cfg)
		if err != nil {
			t.Fatalf("reopen after recovery and Save: %v", err)
		}
		got, err := s.Entries(last+1, last+2, 1<<30)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, e.Data) {
			t.Fatalf("entry written after recovery: %v, %v", got, err)
		}
	})
}

// FuzzReplay runs the replay and snapshot fitting on arbitrary segment bytes
// in memory: many more executions than FuzzWALRecovery, same decoder.
func FuzzReplay(f *testing.F) {
	valid := validSegment(f)
	f.Add(valid, uint64(0), uint64(0))
	f.Add(valid, uint64(2), uint64(1))
	f.Add(flipped(valid, 40), uint64(3), uint64(2))
	f.Fuzz(func(t *testing.T, data []byte, snapIndex, snapTerm uint64) {
		res := &replayResult{torn: -1}
		if err := res.replaySegment("seg", data, true); err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset >= int64(len(data)) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if res.torn >= 0 && (res.torn != res.tailEnd || res.tornEnd <= res.torn || res.tornEnd > int64(len(data))) {
			t.Fatalf("torn [%d, %d) with tail end %d in %d bytes", res.torn, res.tornEnd, res.tailEnd, len(data))
		}
		ents, _, err := res.run.fit(raftpb.SnapshotMetadata{Index: snapIndex, Term: snapTerm})
		if err != nil {
			return
		}
		for i, e := range ents {
			if e.Index != snapIndex+1+uint64(i) {
				t.Fatalf("entry %d at position %d after snapshot %d", e.Index, i, snapIndex)
			}
		}
	})
}

// FuzzMetaDecode feeds arbitrary bytes to the meta file decoder: it must
// not panic, and what it accepts must encode back to the same bytes (no
// two files decode to one identity, no byte goes unchecked).
func FuzzMetaDecode(f *testing.F) {
	v2 := encodeMeta(Identity{ClusterID: "fuzz", NodeID: 1, DirectoryID: DirectoryID{1, 2, 3}})
	f.Add(v2)
	f.Add(encodeMetaV1("fuzz", 1))
	f.Add(encodeMeta(Identity{ClusterID: "", NodeID: 0}))
	f.Add(flipped(v2, 9))
	f.Add(v2[:len(v2)-5])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, v, err := decodeMeta(b)
		if err != nil {
			return
		}
		var again []byte
		switch v {
		case metaVersion1:
			if !id.DirectoryID.IsZero() {
				t.Fatalf("version 1 decoded directory id %q", id.DirectoryID)
			}
			again = encodeMetaV1(id.ClusterID, id.NodeID)
		case metaVersion:
			again = encodeMeta(id)
		default:
			t.Fatalf("decoded version %d", v)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("%v (version %d) encodes to %x, decoded from %x", id, v, again, b)
		}
	})
}

// FuzzSnapshotMetaSection feeds arbitrary bytes as a version 3 file's
// metadata section: splitting must not panic and must stay in bounds.
func FuzzSnapshotMetaSection(f *testing.F) {
	good, err := metaSection(raftpb.SnapshotMetadata{Index: 3, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1}}}, []byte("members"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:3])
	f.Add(flipped(good, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, members, err := splitMetaSection(b)
		if err != nil {
			return
		}
		if 4+len(md)+len(members) != len(b) || (members != nil && len(members) == 0) {
			t.Fatalf("split %d bytes into %d and %d", len(b), len(md), len(members))
		}
	})
}
