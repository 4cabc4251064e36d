package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

// ErrDirInUse is returned (wrapped) by ReadDir when a running node holds
// the data directory's lock.
var ErrDirInUse = errors.New("storage: data directory is in use by a running node")

// DirView is what a data directory holds, as Open would rebuild it, read
// by ReadDir without changing anything: a tool's view (yakt log dump).
type DirView struct {
	Dir       string
	NodeID    uint64
	ClusterID string
	// DirectoryID is zero for a directory formatted before directory ids
	// that no node has opened since (Open assigns one).
	DirectoryID DirectoryID
	// HardState is the WAL's newest hard state, before Open's fix-up of
	// Commit.
	HardState raftpb.HardState
	// Snapshot is the newest snapshot file that verifies (Index 0: none)
	// and SnapshotMetadata its raft metadata.
	Snapshot         SnapshotInfo
	SnapshotMetadata raftpb.SnapshotMetadata
	// BadSnapshots are the snapshot files that did not verify, newest
	// first; Open skips them the same way.
	BadSnapshots []BadSnapshotFile
	// Entries are the log Open would keep, contiguous: every entry the
	// WAL still holds at or before the snapshot's index (when the log
	// runs through the snapshot; Open keeps only a margin of them), then
	// those after it.
	Entries []raftpb.Entry
	// TornTail describes a damaged end of the newest segment that Open
	// would cut off (a write the node never finished); "" when there is
	// none. ReadDir does not repair it.
	TornTail string
}

// ReadDir reads dir as Open would and changes nothing on disk: it verifies
// the snapshot files, replays the WAL and fits it to the newest valid
// snapshot, and reports a torn tail instead of repairing it. It holds the
// directory's lock while reading, so it refuses (ErrDirInUse) a directory
// a running node has open, and a node started meanwhile refuses to start
// until it is done. Errors are Open's: *CorruptError, *SnapshotLostError,
// or I/O.
func ReadDir(dir string) (*DirView, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: data directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("storage: %s is not a directory", dir)
	}
	lock, err := lockDirShared(dir)
	if err != nil {
		return nil, err
	}
	if lock != nil {
		defer lock.Close()
	}
	d := disk{vfs.OS}
	id, _, err := readMeta(d, dir) // its errors name dir
	if err != nil {
		return nil, err
	}
	v := &DirView{Dir: dir, NodeID: id.NodeID, ClusterID: id.ClusterID, DirectoryID: id.DirectoryID}

	snapFiles, err := d.listSnapshotFiles(filepath.Join(dir, "snap"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("storage: list snapshots: %w", err)
	}
	for _, f := range snapFiles {
		snap, info, err := d.readSnapshotFile(f.path)
		if err != nil {
			v.BadSnapshots = append(v.BadSnapshots, BadSnapshotFile{Path: f.path, Err: err})
			continue
		}
		if v.Snapshot.Index == 0 {
			v.Snapshot, v.SnapshotMetadata = info, snap.Metadata
		}
	}
	segs, err := d.listSegments(filepath.Join(dir, "wal"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	res, err := d.replayWAL(segs)
	if err != nil {
		return nil, err
	}
	v.HardState = res.hs
	if res.torn >= 0 {
		v.TornTail = fmt.Sprintf("%s at offset %d: %s (%d bytes a restart discards)",
			segs[len(segs)-1].path, res.torn, res.tornReason, res.tornEnd-res.torn)
	}
	md := v.SnapshotMetadata
	after, _, err := res.run.fit(md)
	if lost := (*errLost)(nil); errors.As(err, &lost) {
		return nil, &SnapshotLostError{Dir: dir, Index: res.maxMarker.index, Term: res.maxMarker.term,
			NewestValid: md.Index, Bad: v.BadSnapshots, Reason: lost.reason}
	}
	if err != nil {
		return nil, err
	}
	if t, ok := res.run.termAt(md.Index); ok && t == md.Term {
		for _, e := range res.run.ents {
			if e.Index <= md.Index {
				v.Entries = append(v.Entries, e)
			}
		}
	}
	v.Entries = append(v.Entries, after...)
	return v, nil
}

// OpenSnapshotPath opens any snapshot file on the real file system (a
// node's, or one saved by GET /v1/snapshots/latest) for streaming its data;
// reading it to io.EOF verifies the checksum, and Info then has it. The
// header, trailer and metadata are verified here.
func OpenSnapshotPath(path string) (*SnapshotReader, error) {
	return disk{vfs.OS}.openSnapshot(path)
}

// Info describes the file. Its Checksum (of the whole file, as Snapshots
// lists it) is known once Read has returned io.EOF; before that it is ""
// for a version 2 file.
func (r *SnapshotReader) Info() SnapshotInfo {
	info := r.info
	if v, ok := r.r.(*verifyingReader); ok && v.done != io.EOF {
		info.Checksum = ""
	}
	return info
}

// Version is the file format's version (1, 2 or 3; see doc.go).
func (r *SnapshotReader) Version() int { return r.version }
