package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/vfs"
)

const (
	minSegmentSizeBytes = 4 << 10
	maxClusterIDBytes   = 1 << 10
)

// Config configures Open. The zero value of every optional field means its
// default; Validate fills them in.
type Config struct {
	// Dir is the data directory; created if missing.
	Dir string
	// ClusterID is written on first start and checked on every later one.
	// Empty means "whatever the directory says": a formatted directory
	// (Format, or an earlier start) supplies it, and Open fills it in; an
	// unformatted one then refuses to start.
	ClusterID string
	// NodeID is written on first start and checked on every later one.
	NodeID uint64
	// SegmentSizeBytes is the WAL segment preallocation size; default
	// defaults.SegmentSizeBytes, at least 4 KiB. A single frame larger than this gets a
	// segment of its own.
	SegmentSizeBytes int64
	// KeepSnapshots is how many snapshot files are kept when pruning;
	// default defaults.KeepSnapshots.
	KeepSnapshots int
	// RetainEntries is how many entries before the snapshot's index Open
	// keeps in the log, of those the WAL still holds (Compact deletes only
	// whole segments), so that raft can send a follower a little behind
	// entries instead of the whole snapshot; default 0, the log starts
	// after the snapshot. Set it to the compaction margin.
	RetainEntries uint64
	// RetainBytes also bounds that margin by the entries' data bytes (0:
	// no bound): a margin of a few large entries (a topic of thousands of
	// partitions each) would otherwise keep hundreds of megabytes in
	// memory. Set it to the compaction margin's byte bound.
	RetainBytes uint64
	// Logger receives recovery warnings; default slog.Default(). It
	// should carry the node id (storage logs no "node" key of its own).
	Logger *slog.Logger
	// OnFsync, if set, is called with the duration of every WAL
	// fdatasync, on the goroutine that caused it. It must be cheap.
	OnFsync func(time.Duration)
	// OnSegmentRemoveFailure, if set, is called each time deleting an
	// obsolete WAL segment (or fsyncing the directory after it) fails,
	// on the goroutine that caused it. The segment is retried later.
	OnSegmentRemoveFailure func()
	// FS is the file system every WAL, snapshot and meta file operation
	// goes through; default vfs.OS. Tests pass a *vfs.Crashable to crash
	// the node or fail fsync. The directory lock (LOCK) always uses the
	// real file system.
	FS vfs.FS
}

// Validate fills in defaults and reports the first invalid field.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("storage: config: Dir is required")
	}
	if c.NodeID == 0 {
		return errors.New("storage: config: NodeID must not be 0")
	}
	if len(c.ClusterID) > maxClusterIDBytes {
		return fmt.Errorf("storage: config: ClusterID is %d bytes, at most %d allowed", len(c.ClusterID), maxClusterIDBytes)
	}
	switch {
	case c.SegmentSizeBytes == 0:
		c.SegmentSizeBytes = defaults.SegmentSizeBytes
	case c.SegmentSizeBytes < minSegmentSizeBytes:
		return fmt.Errorf("storage: config: SegmentSizeBytes %d is below the minimum %d", c.SegmentSizeBytes, minSegmentSizeBytes)
	}
	switch {
	case c.KeepSnapshots == 0:
		c.KeepSnapshots = defaults.KeepSnapshots
	case c.KeepSnapshots < 0:
		return fmt.Errorf("storage: config: KeepSnapshots %d is negative", c.KeepSnapshots)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.FS == nil {
		c.FS = vfs.OS
	}
	return nil
}

var (
	// ErrIdentityMismatch is returned (wrapped in *IdentityError) by Open
	// when the data directory was formatted for another node id or
	// cluster id. Nothing on disk is changed.
	ErrIdentityMismatch = errors.New("storage: data directory belongs to another node or cluster")
	// ErrClosed is returned by every method that writes, and by
	// Snapshots, after Close.
	ErrClosed = errors.New("storage: closed")
)

// CorruptError reports WAL damage that is not a torn tail: a bad frame
// before the last valid one, a bad frame in a segment other than the newest,
// a frame that verifies but does not decode, or an entry that leaves a gap.
// Open refuses to start on it; recovering needs an operator (restore the
// directory from a peer).
type CorruptError struct {
	File   string // path of the segment file
	Offset int64  // byte offset of the offending frame in File
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: corrupt WAL %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// IdentityError is returned by Open when Dir's meta file names another node
// or cluster than the Config. It wraps ErrIdentityMismatch.
type IdentityError struct {
	Dir           string
	DiskClusterID string // what meta says
	DiskNodeID    uint64
	ClusterID     string // what Config says
	NodeID        uint64
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("%v: %s is formatted for cluster %q node %d, configured for cluster %q node %d",
		ErrIdentityMismatch, e.Dir, e.DiskClusterID, e.DiskNodeID, e.ClusterID, e.NodeID)
}

func (e *IdentityError) Unwrap() error { return ErrIdentityMismatch }
