package storage

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
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
	snapMagic        = "YKSN"
	snapVersion1     = 1 // whole raftpb.Snapshot in one body; read only
	snapVersion2     = 2 // metadata, streamed data, trailer; read only
	snapVersion      = 3 // version 2 with the membership beside the metadata
	snapHeaderSize   = 32
	snapV2HeaderSize = 24
	snapTrailerSize  = 16
	snapSuffix       = ".snap"
	// maxSnapMetaBytes bounds a file's raft metadata (a ConfState), and
	// separately its membership: a bigger length is damage, refused before
	// any allocation.
	maxSnapMetaBytes = 1 << 20
	snapIOBuffer     = 1 << 20
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

// decodeSnapshotV1 decodes a whole version 1 file.
func decodeSnapshotV1(b []byte) (raftpb.Snapshot, time.Time, error) {
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
	if v := binary.LittleEndian.Uint32(h[4:8]); v != snapVersion1 {
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
// form) matches the snapshot's term and index. The data is read into
// memory: a tool's call, not the node's.
func ReadSnapshotFile(path string) (raftpb.Snapshot, error) {
	d := disk{vfs.OS}
	sr, err := d.openSnapshot(path)
	if err != nil {
		return raftpb.Snapshot{}, err
	}
	defer sr.Close()
	data, err := io.ReadAll(sr)
	if err != nil {
		return raftpb.Snapshot{}, fmt.Errorf("storage: snapshot %s: %w", path, err)
	}
	return raftpb.Snapshot{Metadata: sr.Metadata, Data: data}, nil
}

// SnapshotReader reads the state machine data of one snapshot file. Read
// returns an error instead of io.EOF when the file's checksum does not
// match, so a reader that reached io.EOF has read verified data.
type SnapshotReader struct {
	Metadata raftpb.SnapshotMetadata
	// Members is the quorum's membership stored beside Metadata (opaque
	// here: the raft layer encodes it); nil for a version 1 or 2 file,
	// written before it was stored, and when none was given.
	Members   []byte
	CreatedAt time.Time
	Size      int64 // data bytes
	r         io.Reader
	f         vfs.File // nil for a version 1 file, read whole
	version   int
	info      SnapshotInfo
}

func (r *SnapshotReader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Close closes the file.
func (r *SnapshotReader) Close() error {
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}

// checkName verifies that path, when it has the standard form, names md.
func checkName(path string, md raftpb.SnapshotMetadata) error {
	if term, index, ok := parsePairName(filepath.Base(path), snapSuffix); ok && (term != md.Term || index != md.Index) {
		return fmt.Errorf("storage: snapshot %s holds term %d index %d, not what its name says", path, md.Term, md.Index)
	}
	return nil
}

// openSnapshot opens a snapshot file of either version for reading its
// data. Headers and metadata are checked here, the data's checksum as it
// is read.
func (d disk) openSnapshot(path string) (*SnapshotReader, error) {
	f, err := d.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("storage: open snapshot: %w", err)
	}
	sr, err := d.openSnapshotFile(path, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: snapshot %s: %w", path, err)
	}
	if sr.f == nil {
		f.Close()
	}
	if err := checkName(path, sr.Metadata); err != nil {
		sr.Close()
		return nil, err
	}
	return sr, nil
}

func (d disk) openSnapshotFile(path string, f vfs.File) (*SnapshotReader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	var h [snapV2HeaderSize]byte
	if _, err := f.ReadAt(h[:8], 0); err != nil {
		return nil, fmt.Errorf("%d bytes, shorter than the header", size)
	}
	if string(h[:4]) != snapMagic {
		return nil, errors.New("bad magic")
	}
	if binary.LittleEndian.Uint32(h[4:8]) == snapVersion1 {
		b, err := d.fs.ReadFile(path)
		if err != nil {
			return nil, err
		}
		snap, createdAt, err := decodeSnapshotV1(b)
		if err != nil {
			return nil, err
		}
		return &SnapshotReader{Metadata: snap.Metadata, CreatedAt: createdAt, Size: int64(len(snap.Data)), version: snapVersion1,
			r: bytes.NewReader(snap.Data), info: snapshotInfo(path, int64(len(b)), crc32.Checksum(b, crcTable), snap.Metadata, createdAt)}, nil
	}
	if size < snapV2HeaderSize+snapTrailerSize {
		return nil, fmt.Errorf("%d bytes, shorter than header and trailer", size)
	}
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil, err
	}
	if crc32.Checksum(h[:20], crcTable) != binary.LittleEndian.Uint32(h[20:24]) {
		return nil, errors.New("header checksum mismatch")
	}
	version := binary.LittleEndian.Uint32(h[4:8])
	maxMeta := int64(maxSnapMetaBytes)
	switch version {
	case snapVersion2:
	case snapVersion:
		maxMeta = 4 + 2*maxSnapMetaBytes // length, metadata, members
	default:
		return nil, fmt.Errorf("unsupported version %d", version)
	}
	createdAt := time.Unix(0, int64(binary.LittleEndian.Uint64(h[8:16])))
	mlen := int64(binary.LittleEndian.Uint32(h[16:20]))
	if mlen > maxMeta || snapV2HeaderSize+mlen+snapTrailerSize > size {
		return nil, fmt.Errorf("metadata of %d bytes does not fit a file of %d", mlen, size)
	}
	var tr [snapTrailerSize]byte
	if _, err := f.ReadAt(tr[:], size-snapTrailerSize); err != nil {
		return nil, err
	}
	if crc32.Checksum(tr[:12], crcTable) != binary.LittleEndian.Uint32(tr[12:16]) {
		return nil, errors.New("trailer checksum mismatch")
	}
	dataLen := size - snapV2HeaderSize - mlen - snapTrailerSize
	if n := binary.LittleEndian.Uint64(tr[:8]); n != uint64(dataLen) {
		return nil, fmt.Errorf("trailer says %d data bytes, file has %d", n, dataLen)
	}
	mb := make([]byte, mlen)
	if _, err := f.ReadAt(mb, snapV2HeaderSize); err != nil {
		return nil, err
	}
	mdb, members := mb, []byte(nil)
	if version == snapVersion {
		var err error
		if mdb, members, err = splitMetaSection(mb); err != nil {
			return nil, err
		}
	}
	var md raftpb.SnapshotMetadata
	if err := md.Unmarshal(mdb); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	// The whole-file checksum is what Snapshots lists; it is known only
	// once the data has been read, so the verifying reader computes both.
	whole := crc32.New(crcTable)
	whole.Write(h[:])
	whole.Write(mb)
	body := crc32.New(crcTable)
	body.Write(mb)
	sr := &SnapshotReader{Metadata: md, Members: members, CreatedAt: createdAt, Size: dataLen, f: f, version: int(version),
		info: snapshotInfo(path, size, 0, md, createdAt)}
	sr.r = &verifyingReader{
		r:    bufio.NewReaderSize(io.NewSectionReader(f, snapV2HeaderSize+mlen, dataLen), snapIOBuffer),
		body: body, whole: whole, want: binary.LittleEndian.Uint32(tr[8:12]), trailer: tr, info: &sr.info,
	}
	return sr, nil
}

// splitMetaSection splits a version 3 file's metadata section into the
// raft metadata and the membership (nil when empty).
func splitMetaSection(b []byte) (md, members []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("metadata section of %d bytes has no metadata length", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxSnapMetaBytes || uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("metadata of %d bytes does not fit a metadata section of %d", n, len(b))
	}
	md, rest := b[4:4+n], b[4+n:]
	if len(rest) > maxSnapMetaBytes {
		return nil, nil, fmt.Errorf("membership of %d bytes, at most %d allowed", len(rest), maxSnapMetaBytes)
	}
	if len(rest) > 0 {
		members = rest
	}
	return md, members, nil
}

// metaSection encodes a version 3 file's metadata section.
func metaSection(md raftpb.SnapshotMetadata, members []byte) ([]byte, error) {
	mb, err := md.Marshal()
	if err != nil {
		return nil, fmt.Errorf("storage: marshal snapshot metadata: %w", err)
	}
	if len(mb) > maxSnapMetaBytes {
		return nil, fmt.Errorf("storage: snapshot metadata of %d bytes, at most %d allowed", len(mb), maxSnapMetaBytes)
	}
	if len(members) > maxSnapMetaBytes {
		return nil, fmt.Errorf("storage: snapshot membership of %d bytes, at most %d allowed", len(members), maxSnapMetaBytes)
	}
	b := make([]byte, 0, 4+len(mb)+len(members))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(mb)))
	b = append(b, mb...)
	return append(b, members...), nil
}

// verifyingReader passes a version 2 file's data through, checking the
// body checksum at the end.
type verifyingReader struct {
	r           io.Reader
	body, whole hash.Hash32
	want        uint32
	trailer     [snapTrailerSize]byte
	info        *SnapshotInfo
	done        error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.done != nil {
		return 0, v.done
	}
	n, err := v.r.Read(p)
	v.body.Write(p[:n])
	v.whole.Write(p[:n])
	if err == io.EOF {
		if v.body.Sum32() != v.want {
			err = errors.New("storage: snapshot body checksum mismatch")
		} else {
			v.whole.Write(v.trailer[:])
			v.info.Checksum = fmt.Sprintf("crc32c:%08x", v.whole.Sum32())
		}
		v.done = err
	}
	return n, err
}

// readSnapshotFile verifies a whole snapshot file, reading its data once
// through a small buffer, and returns its metadata (no data) and info.
func (d disk) readSnapshotFile(path string) (raftpb.Snapshot, SnapshotInfo, error) {
	sr, err := d.openSnapshot(path)
	if err != nil {
		return raftpb.Snapshot{}, SnapshotInfo{}, err
	}
	defer sr.Close()
	if _, err := io.Copy(io.Discard, sr); err != nil {
		return raftpb.Snapshot{}, SnapshotInfo{}, fmt.Errorf("storage: snapshot %s: %w", path, err)
	}
	return raftpb.Snapshot{Metadata: sr.Metadata}, sr.info, nil
}

func snapshotInfo(path string, size int64, sum uint32, md raftpb.SnapshotMetadata, createdAt time.Time) SnapshotInfo {
	return SnapshotInfo{
		Index:     md.Index,
		Term:      md.Term,
		SizeBytes: size,
		CreatedAt: createdAt,
		Checksum:  fmt.Sprintf("crc32c:%08x", sum),
		Path:      path,
	}
}

// countingWriter counts and checksums what passes through it.
type countingWriter struct {
	w           io.Writer
	n           int64
	body, whole hash.Hash32
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.body.Write(p[:n])
	c.whole.Write(p[:n])
	return n, err
}

// writeSnapshotTemp streams a snapshot file for md and members into a fresh
// temp file in dir and fsyncs it; write produces the data. The returned
// info's Path is the temp file, which publishSnapshot renames.
func (d disk) writeSnapshotTemp(dir string, md raftpb.SnapshotMetadata, members []byte, now time.Time, write func(io.Writer) error) (SnapshotInfo, error) {
	now = time.Unix(0, now.UnixNano()) // what reading the file back gives
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand panics instead)
	tmp := filepath.Join(dir, snapName(md.Term, md.Index)+"."+hex.EncodeToString(rnd[:])+tmpSuffix)
	mb, err := metaSection(md, members)
	if err != nil {
		return SnapshotInfo{}, err
	}
	f, err := d.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("storage: create snapshot file: %w", err)
	}
	info, err := writeSnapshotBody(f, snapVersion, mb, md, now, write)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.fs.Remove(tmp)
		return SnapshotInfo{}, fmt.Errorf("storage: write snapshot %s: %w", tmp, err)
	}
	info.Path = tmp
	return info, nil
}

// writeSnapshotBody writes a version 2 or 3 file: header, metadata
// section mb (its layout is the version's), data, trailer.
func writeSnapshotBody(f io.Writer, version uint32, mb []byte, md raftpb.SnapshotMetadata, now time.Time, write func(io.Writer) error) (SnapshotInfo, error) {
	bw := bufio.NewWriterSize(f, snapIOBuffer)
	whole := crc32.New(crcTable)
	var h [snapV2HeaderSize]byte
	copy(h[:], snapMagic)
	binary.LittleEndian.PutUint32(h[4:8], version)
	binary.LittleEndian.PutUint64(h[8:16], uint64(now.UnixNano()))
	binary.LittleEndian.PutUint32(h[16:20], uint32(len(mb)))
	binary.LittleEndian.PutUint32(h[20:24], crc32.Checksum(h[:20], crcTable))
	whole.Write(h[:])
	_, _ = bw.Write(h[:]) // bufio errors are sticky: Flush reports them
	body := crc32.New(crcTable)
	cw := &countingWriter{w: bw, body: body, whole: whole}
	_, _ = cw.Write(mb)
	meta := cw.n
	if err := write(cw); err != nil {
		return SnapshotInfo{}, err
	}
	var tr [snapTrailerSize]byte
	binary.LittleEndian.PutUint64(tr[:8], uint64(cw.n-meta))
	binary.LittleEndian.PutUint32(tr[8:12], body.Sum32())
	binary.LittleEndian.PutUint32(tr[12:16], crc32.Checksum(tr[:12], crcTable))
	whole.Write(tr[:])
	_, _ = bw.Write(tr[:])
	if err := bw.Flush(); err != nil {
		return SnapshotInfo{}, err
	}
	size := snapV2HeaderSize + cw.n + snapTrailerSize
	return snapshotInfo("", size, whole.Sum32(), md, now), nil
}

// publishSnapshot renames a temp file from writeSnapshotTemp to its
// standard name and fsyncs the directory.
func (d disk) publishSnapshot(info SnapshotInfo) (SnapshotInfo, error) {
	path := filepath.Join(filepath.Dir(info.Path), snapName(info.Term, info.Index))
	if err := d.fs.Rename(info.Path, path); err != nil {
		d.fs.Remove(info.Path)
		return SnapshotInfo{}, fmt.Errorf("storage: publish snapshot %s: %w", path, err)
	}
	info.Path = path
	if err := d.syncDir(filepath.Dir(path)); err != nil {
		return SnapshotInfo{}, err
	}
	return info, nil
}

// writeSnapshotFile makes snap durable under dir (temp, fsync, rename,
// fsync dir).
func (d disk) writeSnapshotFile(dir string, snap *raftpb.Snapshot, now time.Time) (SnapshotInfo, error) {
	info, err := d.writeSnapshotTemp(dir, snap.Metadata, nil, now, func(w io.Writer) error {
		_, err := w.Write(snap.Data)
		return err
	})
	if err != nil {
		return SnapshotInfo{}, err
	}
	return d.publishSnapshot(info)
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
