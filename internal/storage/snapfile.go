package storage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

// Snapshot file layout: see doc.go.
const (
	snapMagic      = "YKSN"
	snapVersion    = 1
	snapHeaderSize = 32
	snapSuffix     = ".snap"
)

// SnapshotInfo describes one snapshot file on disk.
type SnapshotInfo struct {
	Index, Term uint64
	SizeBytes   int64
	CreatedAt   time.Time
	Checksum    string // "crc32c:%08x" of the whole file
	Path        string
}

func snapName(term, index uint64) string {
	return fmt.Sprintf("%016x-%016x%s", term, index, snapSuffix)
}

// parsePairName parses "%016x-%016x<suffix>".
func parsePairName(name, suffix string) (a, b uint64, ok bool) {
	s, found := strings.CutSuffix(name, suffix)
	if !found || len(s) != 33 || s[16] != '-' {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(s[:16], 16, 64)
	b, err2 := strconv.ParseUint(s[17:], 16, 64)
	return a, b, err1 == nil && err2 == nil
}

func encodeSnapshot(snap *raftpb.Snapshot, createdAt time.Time) ([]byte, error) {
	n := snap.Size()
	buf := make([]byte, snapHeaderSize+n)
	if _, err := snap.MarshalToSizedBuffer(buf[snapHeaderSize:]); err != nil {
		return nil, fmt.Errorf("marshal snapshot: %w", err)
	}
	h := buf[:snapHeaderSize]
	copy(h, snapMagic)
	binary.LittleEndian.PutUint32(h[4:8], snapVersion)
	binary.LittleEndian.PutUint64(h[8:16], uint64(createdAt.UnixNano()))
	binary.LittleEndian.PutUint64(h[16:24], uint64(n))
	binary.LittleEndian.PutUint32(h[24:28], crc32.Checksum(buf[snapHeaderSize:], crcTable))
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(h[:28], crcTable))
	return buf, nil
}

func decodeSnapshot(b []byte) (raftpb.Snapshot, time.Time, error) {
	if len(b) < snapHeaderSize {
		return raftpb.Snapshot{}, time.Time{}, fmt.Errorf("%d bytes, shorter than the header", len(b))
	}
	h := b[:snapHeaderSize]
	if string(h[:4]) != snapMagic {
		return raftpb.Snapshot{}, time.Time{}, errors.New("bad magic")
	}
	if crc32.Checksum(h[:28], crcTable) != binary.LittleEndian.Uint32(h[28:32]) {
		return raftpb.Snapshot{}, time.Time{}, errors.New("header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(h[4:8]); v != snapVersion {
		return raftpb.Snapshot{}, time.Time{}, fmt.Errorf("unsupported version %d", v)
	}
	body := b[snapHeaderSize:]
	if n := binary.LittleEndian.Uint64(h[16:24]); n != uint64(len(body)) {
		return raftpb.Snapshot{}, time.Time{}, fmt.Errorf("header says %d body bytes, file has %d", n, len(body))
	}
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(h[24:28]) {
		return raftpb.Snapshot{}, time.Time{}, errors.New("body checksum mismatch")
	}
	var snap raftpb.Snapshot
	if err := snap.Unmarshal(body); err != nil {
		return raftpb.Snapshot{}, time.Time{}, fmt.Errorf("decode body: %w", err)
	}
	return snap, time.Unix(0, int64(binary.LittleEndian.Uint64(h[8:16]))), nil
}

// ReadSnapshotFile reads and verifies a snapshot file written by this
// package: header, checksums, and that the name (when it has the standard
// form) matches the snapshot's term and index.
func ReadSnapshotFile(path string) (raftpb.Snapshot, error) {
	snap, _, err := disk{vfs.OS}.readSnapshotFile(path)
	return snap, err
}

func (d disk) readSnapshotFile(path string) (raftpb.Snapshot, SnapshotInfo, error) {
	b, err := d.fs.ReadFile(path)
	if err != nil {
		return raftpb.Snapshot{}, SnapshotInfo{}, fmt.Errorf("storage: read snapshot: %w", err)
	}
	snap, createdAt, err := decodeSnapshot(b)
	if err != nil {
		return raftpb.Snapshot{}, SnapshotInfo{}, fmt.Errorf("storage: snapshot %s: %w", path, err)
	}
	md := snap.Metadata
	if term, index, ok := parsePairName(filepath.Base(path), snapSuffix); ok && (term != md.Term || index != md.Index) {
		return raftpb.Snapshot{}, SnapshotInfo{}, fmt.Errorf("storage: snapshot %s holds term %d index %d, not what its name says", path, md.Term, md.Index)
	}
	return snap, snapshotInfo(path, b, md, createdAt), nil
}

func snapshotInfo(path string, file []byte, md raftpb.SnapshotMetadata, createdAt time.Time) SnapshotInfo {
	return SnapshotInfo{
		Index:     md.Index,
		Term:      md.Term,
		SizeBytes: int64(len(file)),
		CreatedAt: createdAt,
		Checksum:  fmt.Sprintf("crc32c:%08x", crc32.Checksum(file, crcTable)),
		Path:      path,
	}
}

// writeSnapshotFile makes snap durable under dir (temp, fsync, rename,
// fsync dir).
func (d disk) writeSnapshotFile(dir string, snap *raftpb.Snapshot, now time.Time) (SnapshotInfo, error) {
	now = time.Unix(0, now.UnixNano()) // what reading the file back gives
	b, err := encodeSnapshot(snap, now)
	if err != nil {
		return SnapshotInfo{}, err
	}
	path := filepath.Join(dir, snapName(snap.Metadata.Term, snap.Metadata.Index))
	if err := d.writeFileAtomic(path, b); err != nil {
		return SnapshotInfo{}, fmt.Errorf("storage: write snapshot %s: %w", path, err)
	}
	return snapshotInfo(path, b, snap.Metadata, now), nil
}

type snapFile struct {
	term, index uint64
	path        string
}

// listSnapshotFiles returns dir's snapshot files, newest first.
func (d disk) listSnapshotFiles(dir string) ([]snapFile, error) {
	names, err := d.readDirNames(dir)
	if err != nil {
		return nil, err
	}
	var files []snapFile
	for _, name := range names {
		if term, index, ok := parsePairName(name, snapSuffix); ok {
			files = append(files, snapFile{term: term, index: index, path: filepath.Join(dir, name)})
		}
	}
	slices.SortFunc(files, func(a, b snapFile) int {
		return cmp.Or(cmp.Compare(b.index, a.index), cmp.Compare(b.term, a.term))
	})
	return files, nil
}
