package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Storage is the node's durable raft log. It implements raft.Storage; the
// package doc states who calls what.
type Storage struct {
	cfg     Config
	log     *slog.Logger
	walDir  string
	snapDir string
	disk    disk     // cfg.FS
	lock    *os.File // flock'ed dir/LOCK (on the real file system); nil off Linux
	id      Identity // the meta file's, set by open and never changed

	closed atomic.Bool

	// walMu serialises the writers: Save, ApplySnapshot, CreateSnapshot,
	// Compact, Close.
	walMu  sync.Mutex
	wal    *wal  // guarded by walMu
	failed error // guarded by walMu; sticky once a WAL write failed

	// memMu guards mem and snaps. Writers change them holding walMu and
	// memMu, so code holding walMu may read them without memMu.
	memMu sync.RWMutex
	mem   memLog
	snaps []SnapshotInfo // valid snapshot files, newest first
}

var _ raft.Storage = (*Storage)(nil)

// Identity returns the data directory's identity: cluster id (the
// configured one, or the directory's when none was), node id and
// directory id (never zero: Open assigns one to an older directory).
func (s *Storage) Identity() Identity { return s.id }

// Open formats cfg.Dir on first start, checks its identity on later ones,
// loads the newest valid snapshot, replays the WAL and returns storage ready
// for raft. It fails with *IdentityError (ErrIdentityMismatch) for another
// node's or cluster's directory and *CorruptError for WAL damage before the
// tail; a torn tail is truncated with a warning. It never panics on disk
// contents.
func Open(cfg Config) (*Storage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Storage{
		cfg:     cfg,
		log:     cfg.Logger,
		walDir:  filepath.Join(cfg.Dir, "wal"),
		snapDir: filepath.Join(cfg.Dir, "snap"),
		disk:    disk{cfg.FS},
	}
	if err := s.open(); err != nil {
		if s.wal != nil {
			s.wal.close()
		}
		if s.lock != nil {
			s.lock.Close()
		}
		return nil, err
	}
	return s, nil
}

func (s *Storage) open() error {
	if err := s.disk.fs.MkdirAll(s.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("storage: create data directory: %w", err)
	}
	lock, err := lockDir(s.cfg.Dir)
	if err != nil {
		return err
	}
	s.lock = lock
	for _, d := range []string{s.walDir, s.snapDir} {
		if err := s.disk.fs.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("storage: create %s: %w", d, err)
		}
		if err := s.disk.removeTemps(d); err != nil {
			return fmt.Errorf("storage: remove temp files in %s: %w", d, err)
		}
	}
	if err := s.disk.syncDir(s.cfg.Dir); err != nil {
		return err
	}

	segs, err := s.disk.listSegments(s.walDir)
	if err != nil {
		return err
	}
	snapFiles, err := s.disk.listSnapshotFiles(s.snapDir)
	if err != nil {
		return fmt.Errorf("storage: list snapshots: %w", err)
	}
	id, err := checkIdentity(&s.cfg, len(segs) == 0 && len(snapFiles) == 0, true)
	if err != nil {
		return err
	}
	s.id = id
	if len(segs) == 0 && len(snapFiles) > 0 {
		return fmt.Errorf("storage: %s has snapshots but no WAL segments; the hard state (term, vote) is lost", s.cfg.Dir)
	}

	snap, bad := s.loadSnapshots(snapFiles)
	res, err := s.disk.replayWAL(segs)
	if err != nil {
		return err
	}
	if res.maxMarker.index > snap.Metadata.Index {
		s.log.Warn("storage: the WAL records a newer snapshot than the newest valid snapshot file; falling back",
			"wal_snapshot_index", res.maxMarker.index, "snapshot_index", snap.Metadata.Index)
	}
	ents, dropped, err := res.run.fit(snap.Metadata)
	if lost := (*errLost)(nil); errors.As(err, &lost) {
		return &SnapshotLostError{Dir: s.cfg.Dir, Index: res.maxMarker.index, Term: res.maxMarker.term,
			NewestValid: snap.Metadata.Index, Bad: bad, Reason: lost.reason}
	}
	if err != nil {
		return err
	}
	if dropped {
		s.log.Warn("storage: log replaced by a newer snapshot the WAL does not record (installed from a peer, or saved without its WAL marker)",
			"snapshot_index", snap.Metadata.Index, "snapshot_term", snap.Metadata.Term)
	}
	prev, kept := res.run.retained(snap.Metadata, s.cfg.RetainEntries, s.cfg.RetainBytes)
	s.mem = newMemLog(snap, res.hs, prev, kept, ents)
	// Fix up the hard state the way raft requires: snapshot <= commit <=
	// last index.
	s.mem.hs.Commit = min(max(s.mem.hs.Commit, snap.Metadata.Index), s.mem.lastIndex())

	s.wal = &wal{
		disk:      s.disk,
		dir:       s.walDir,
		segSize:   s.cfg.SegmentSizeBytes,
		log:       s.log,
		onFsync:   s.cfg.OnFsync,
		segs:      segs,
		lastIndex: s.mem.lastIndex(),
		hs:        s.mem.hs,
		snap:      marker{index: snap.Metadata.Index, term: snap.Metadata.Term},
	}
	if len(segs) == 0 {
		if err := s.wal.createSegment(0, s.mem.lastIndex()+1); err != nil {
			return err
		}
		return s.wal.sync()
	}
	if res.torn >= 0 {
		if err := s.repairTail(segs[len(segs)-1].path, res); err != nil {
			return err
		}
	}
	if err := s.wal.openActive(res.tailEnd, res.tailFrames, res.tailLegacy); err != nil {
		return err
	}
	// NB: a snapshot the WAL does not record (installed from a peer by
	// InstallSnapshot, or a leader's snapshot whose marker a crash cut
	// off) that replaced the replayed log, or starts past its end, needs a
	// reset marker now: without it the next replay would see the old
	// entries followed by entries from snapshot index + 1 on, a gap or a
	// bogus truncation. Writing it again after a crash is harmless.
	if si := snap.Metadata.Index; si > 0 && (dropped || si > res.run.lastIndex()) {
		return s.wal.writeMarker(marker{index: si, term: snap.Metadata.Term, reset: true})
	}
	return nil
}

// loadSnapshots verifies the snapshot files, newest first, and returns the
// newest valid one (empty if none) and the bad ones, which are logged and
// skipped.
func (s *Storage) loadSnapshots(files []snapFile) (raftpb.Snapshot, []BadSnapshotFile) {
	var newest raftpb.Snapshot
	var bad []BadSnapshotFile
	for _, f := range files {
		snap, info, err := s.disk.readSnapshotFile(f.path)
		if err != nil {
			s.log.Warn("storage: skipping bad snapshot file", "file", f.path, "err", err)
			bad = append(bad, BadSnapshotFile{Path: f.path, Err: err})
			continue
		}
		if len(s.snaps) == 0 {
			newest = snap
		}
		s.snaps = append(s.snaps, info)
	}
	return newest, bad
}

// repairTail zeroes a torn tail so appends continue where the valid frames
// end.
func (s *Storage) repairTail(path string, res *replayResult) error {
	s.log.Warn("storage: truncating torn WAL tail",
		"file", path, "offset", res.torn, "discarded_bytes", res.tornEnd-res.torn, "reason", res.tornReason)
	f, err := s.disk.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("storage: repair torn WAL tail: %w", err)
	}
	_, err = f.WriteAt(make([]byte, res.tornEnd-res.torn), res.torn)
	if err == nil {
		err = f.Datasync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: repair torn WAL tail of %s: %w", path, err)
	}
	return nil
}

// writable reports why a write must not proceed. Callers hold walMu.
func (s *Storage) writable() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.failed
}

// fail makes a WAL write error sticky: the file may hold a partial frame
// that only Open's recovery can cut off.
func (s *Storage) fail(err error) error {
	s.failed = fmt.Errorf("storage: WAL unusable after an earlier failure: %w", err)
	return err
}

// Save persists a Ready's hard state and entries: it appends their frames to
// the WAL, fdatasyncs once when mustSync (group commit), then makes the
// entries visible through raft.Storage with MemoryStorage.Append semantics
// (an entry at an index <= LastIndex truncates the suffix). An empty hs is
// not written; entries already compacted away are skipped. Errors: ErrClosed,
// a sticky WAL write/fsync error, or an error for entries that are not
// contiguous with the log (a caller bug; nothing is written).
func (s *Storage) Save(hs raftpb.HardState, ents []raftpb.Entry, mustSync bool) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if len(ents) > 0 {
		for i := 1; i < len(ents); i++ {
			if ents[i].Index != ents[i-1].Index+1 {
				return fmt.Errorf("storage: save: entry %d follows entry %d", ents[i].Index, ents[i-1].Index)
			}
		}
		if last := s.mem.lastIndex(); ents[0].Index > last+1 {
			return fmt.Errorf("storage: save: entry %d would leave a gap after last index %d", ents[0].Index, last)
		}
		// Entries at or below the compaction point are in the snapshot;
		// writing them would make replay truncate the log back to them.
		first := s.mem.firstIndex()
		switch {
		case ents[len(ents)-1].Index < first:
			ents = nil
		case ents[0].Index < first:
			ents = ents[first-ents[0].Index:]
		}
	}
	var hsp *raftpb.HardState
	if !raft.IsEmptyHardState(hs) {
		hsp = &hs
	}
	if len(ents) > 0 || hsp != nil || mustSync {
		if err := s.wal.appendBatch(ents, hsp, mustSync); err != nil {
			return s.fail(err)
		}
	}
	s.memMu.Lock()
	s.mem.append(ents)
	if hsp != nil {
		s.mem.hs = hs
	}
	s.memMu.Unlock()
	return nil
}

// ApplySnapshot persists a snapshot received from the leader whose data
// is in memory: ReceiveSnapshot of snap.Data, then AdoptSnapshot. Storage
// does not keep snap.Data. Returns raft.ErrSnapOutOfDate if it is not newer
// than the current snapshot.
func (s *Storage) ApplySnapshot(snap raftpb.Snapshot) error {
	if err := s.checkNewer(snap.Metadata.Index); err != nil {
		return err
	}
	info, err := s.ReceiveSnapshot(snap.Metadata, nil, bytes.NewReader(snap.Data))
	if err != nil {
		return err
	}
	if err := s.AdoptSnapshot(snap.Metadata, info); err != nil {
		s.DiscardReceived(info)
		return err
	}
	return nil
}

// checkNewer returns raft.ErrSnapOutOfDate unless index is newer than the
// current snapshot, or why storage cannot be written.
func (s *Storage) checkNewer(index uint64) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if index <= s.mem.snap.Metadata.Index {
		return raft.ErrSnapOutOfDate
	}
	return nil
}

// ReceiveSnapshot streams a snapshot's data from r into a new snapshot
// file under a temp name and fsyncs it; AdoptSnapshot makes it the
// node's snapshot, DiscardReceived deletes it. r must end with io.EOF
// only when all the data arrived intact (an error otherwise, which
// discards the file). Safe from any goroutine, concurrently with the raft
// goroutine's calls: it touches only its own file. Memory stays bounded
// whatever the size. members (the quorum's membership, opaque here) is
// stored beside md; OpenSnapshot's reader returns it.
func (s *Storage) ReceiveSnapshot(md raftpb.SnapshotMetadata, members []byte, r io.Reader) (SnapshotInfo, error) {
	if s.closed.Load() {
		return SnapshotInfo{}, ErrClosed
	}
	return s.disk.writeSnapshotTemp(s.snapDir, md, members, time.Now(), func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// DiscardReceived deletes a file ReceiveSnapshot wrote that will not be
// adopted. Open deletes any left behind by a crash.
func (s *Storage) DiscardReceived(info SnapshotInfo) {
	if err := s.disk.fs.Remove(info.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("storage: remove received snapshot", "file", info.Path, "err", err)
	}
}

// AdoptSnapshot makes a snapshot ReceiveSnapshot wrote (info) the node's
// snapshot, as raft's Ready asks for a snapshot from the leader: the file
// is renamed to its standard name (the data is not written again) and the
// directory fsynced, then a reset marker is written to the WAL
// (fdatasync'ed), then the in-memory log is replaced by the snapshot and
// old snapshot files are pruned. Returns raft.ErrSnapOutOfDate if md is not
// newer than the current snapshot; the file is then left to the caller.
func (s *Storage) AdoptSnapshot(md raftpb.SnapshotMetadata, info SnapshotInfo) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if md.Index <= s.mem.snap.Metadata.Index {
		return raft.ErrSnapOutOfDate
	}
	if info.Index != md.Index || info.Term != md.Term {
		return fmt.Errorf("storage: adopt snapshot: file holds index %d term %d, raft installs index %d term %d", info.Index, info.Term, md.Index, md.Term)
	}
	info, err := s.disk.publishSnapshot(info)
	if err != nil {
		return err
	}
	if err := s.wal.writeMarker(marker{index: md.Index, term: md.Term, reset: true}); err != nil {
		return s.fail(err)
	}
	s.memMu.Lock()
	s.mem.reset(raftpb.Snapshot{Metadata: md})
	s.mem.hs.Commit = max(s.mem.hs.Commit, md.Index)
	s.memMu.Unlock()
	s.addSnapshot(info)
	return nil
}

// CreateSnapshot records a snapshot of the applied state at index whose
// data is in memory: WriteSnapshot then RecordSnapshot, with the term of
// the entry at index. The caller guarantees index is applied (so
// index <= LastIndex). A nil cs keeps the previous snapshot's ConfState.
// Storage does not keep data. Returns raft.ErrSnapOutOfDate if index is
// not newer than the current snapshot.
func (s *Storage) CreateSnapshot(index uint64, cs *raftpb.ConfState, data []byte) (raftpb.Snapshot, error) {
	if err := s.checkNewer(index); err != nil {
		return raftpb.Snapshot{}, err
	}
	md, err := s.SnapshotMetadata(index, cs)
	if err != nil {
		return raftpb.Snapshot{}, err
	}
	info, err := s.WriteSnapshot(md, nil, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return raftpb.Snapshot{}, err
	}
	if err := s.RecordSnapshot(md, info); err != nil {
		return raftpb.Snapshot{}, err
	}
	return raftpb.Snapshot{Metadata: md}, nil
}

// SnapshotMetadata returns the metadata of a snapshot at index, an entry
// the log holds: its term, and cs (nil: the current snapshot's
// ConfState). Returns raft.ErrSnapOutOfDate if index is not newer than the
// current snapshot.
func (s *Storage) SnapshotMetadata(index uint64, cs *raftpb.ConfState) (raftpb.SnapshotMetadata, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	if index <= s.mem.snap.Metadata.Index {
		return raftpb.SnapshotMetadata{}, raft.ErrSnapOutOfDate
	}
	term, err := s.mem.term(index)
	if err != nil {
		return raftpb.SnapshotMetadata{}, fmt.Errorf("storage: snapshot at index %d (last index %d): %w", index, s.mem.lastIndex(), err)
	}
	md := s.mem.snap.Metadata
	md.Index, md.Term = index, term
	if cs != nil {
		md.ConfState = *cs
	}
	return md, nil
}

// WriteSnapshot writes a snapshot file for md, its data streamed by write
// through a buffer (temp file, fsync, rename, fsync dir), and returns its
// info; RecordSnapshot then makes it the node's snapshot. It is meant to
// run off the raft goroutine, concurrently with Save and the raft.Storage
// methods: it touches only its own file. An error from write discards the
// file. members (the quorum's membership, opaque here) is stored beside
// md; OpenSnapshot's reader returns it.
func (s *Storage) WriteSnapshot(md raftpb.SnapshotMetadata, members []byte, write func(io.Writer) error) (SnapshotInfo, error) {
	if s.closed.Load() {
		return SnapshotInfo{}, ErrClosed
	}
	info, err := s.disk.writeSnapshotTemp(s.snapDir, md, members, time.Now(), write)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return s.disk.publishSnapshot(info)
}

// RecordSnapshot makes a file WriteSnapshot wrote the snapshot raft sends
// to lagging followers: a WAL marker (fdatasync'ed), the
// in-memory snapshot metadata, and pruning of files beyond KeepSnapshots.
// Returns raft.ErrSnapOutOfDate, and deletes the file, if a newer snapshot
// was recorded or installed meanwhile.
func (s *Storage) RecordSnapshot(md raftpb.SnapshotMetadata, info SnapshotInfo) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if md.Index <= s.mem.snap.Metadata.Index {
		if md.Index < s.mem.snap.Metadata.Index {
			s.DiscardReceived(info)
		}
		return raft.ErrSnapOutOfDate
	}
	if err := s.wal.writeMarker(marker{index: md.Index, term: md.Term}); err != nil {
		return s.fail(err)
	}
	s.memMu.Lock()
	s.mem.snap = raftpb.Snapshot{Metadata: md}
	s.memMu.Unlock()
	s.addSnapshot(info)
	return nil
}

// OpenSnapshot opens the data of the snapshot file md names (one of
// Snapshots, typically the current one raft sends). Safe from any
// goroutine; a file pruned meanwhile is an error wrapping os.ErrNotExist.
func (s *Storage) OpenSnapshot(md raftpb.SnapshotMetadata) (*SnapshotReader, error) {
	sr, err := s.OpenSnapshotFile(filepath.Join(s.snapDir, snapName(md.Term, md.Index)))
	if err != nil {
		return nil, err
	}
	if sr.Metadata.Index != md.Index || sr.Metadata.Term != md.Term {
		sr.Close()
		return nil, fmt.Errorf("storage: snapshot file for index %d term %d holds index %d term %d", md.Index, md.Term, sr.Metadata.Index, sr.Metadata.Term)
	}
	return sr, nil
}

// OpenSnapshotFile opens the data of a snapshot file by path, for example
// one ReceiveSnapshot wrote. Reading it to io.EOF verifies its checksum.
func (s *Storage) OpenSnapshotFile(path string) (*SnapshotReader, error) {
	return s.disk.openSnapshot(path)
}

// addSnapshot lists a new snapshot file and deletes the files beyond
// KeepSnapshots, damaged ones included. Pruning failures are logged: an
// extra file is harmless. Callers hold walMu.
func (s *Storage) addSnapshot(info SnapshotInfo) {
	s.memMu.Lock()
	s.snaps = append([]SnapshotInfo{info}, s.snaps...)
	if len(s.snaps) > s.cfg.KeepSnapshots {
		s.snaps = s.snaps[:s.cfg.KeepSnapshots:s.cfg.KeepSnapshots]
	}
	oldest := s.snaps[len(s.snaps)-1].Index
	s.memMu.Unlock()

	files, err := s.disk.listSnapshotFiles(s.snapDir)
	if err != nil {
		s.log.Warn("storage: list snapshots for pruning", "err", err)
		return
	}
	removed := false
	for _, f := range files {
		if f.index >= oldest {
			continue
		}
		if err := s.disk.fs.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("storage: prune snapshot", "file", f.path, "err", err)
			continue
		}
		removed = true
	}
	if removed {
		if err := s.disk.syncDir(s.snapDir); err != nil {
			s.log.Warn("storage: prune snapshots", "err", err)
		}
	}
}

// Compact discards the entries before compactIndex from memory, keeping
// compactIndex's term for matching, and deletes the WAL segments whose live
// entries all precede it (never the segment in use). Returns
// raft.ErrCompacted if compactIndex is not past the current compaction
// point, and an error if it is beyond the last index or the newest snapshot
// (the entries after the snapshot must stay recoverable). A segment that
// cannot be deleted is not an error: it only costs disk space, so it is
// logged, reported through Config.OnSegmentRemoveFailure, and deleted by a
// later Compact or RemoveObsoleteSegments.
func (s *Storage) Compact(compactIndex uint64) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	switch {
	case compactIndex <= s.mem.offset():
		return raft.ErrCompacted
	case compactIndex > s.mem.lastIndex():
		return fmt.Errorf("storage: compact to %d beyond last index %d", compactIndex, s.mem.lastIndex())
	case compactIndex > s.mem.snap.Metadata.Index:
		return fmt.Errorf("storage: compact to %d beyond snapshot index %d would lose entries on restart", compactIndex, s.mem.snap.Metadata.Index)
	}
	s.memMu.Lock()
	s.mem.compact(compactIndex)
	s.memMu.Unlock()
	if err := s.wal.flush(); err != nil {
		return s.fail(err)
	}
	s.removeFailed(s.wal.removeBefore(compactIndex))
	return nil
}

// CompactionPoint is where Compact should cut the log for a snapshot at
// index to keep the margin Open keeps on restart: at most RetainEntries
// entries before index and at most RetainBytes of their data.
func (s *Storage) CompactionPoint(index uint64) uint64 {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return marginStart(s.mem.ents[1:], index, s.cfg.RetainEntries, s.cfg.RetainBytes)
}

// RemoveObsoleteSegments retries deleting the WAL segments an earlier
// Compact could not delete; it does nothing when there are none. The error
// is the removal's (logged and reported like Compact's) and leaves Storage
// usable, or a sticky WAL error.
func (s *Storage) RemoveObsoleteSegments() error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if !s.wal.obsolete() {
		return nil
	}
	if err := s.wal.flush(); err != nil {
		return s.fail(err)
	}
	err := s.wal.removeObsolete()
	s.removeFailed(err)
	return err
}

// removeFailed logs and reports a failed segment removal (nil: none).
// Callers hold walMu.
func (s *Storage) removeFailed(err error) {
	if err == nil {
		return
	}
	s.log.Warn("storage: could not delete obsolete WAL segments; retrying later", "err", err)
	if s.cfg.OnSegmentRemoveFailure != nil {
		s.cfg.OnSegmentRemoveFailure()
	}
}

// Snapshots lists the valid snapshot files, newest first. Safe from any
// goroutine; returns ErrClosed after Close.
func (s *Storage) Snapshots() ([]SnapshotInfo, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return append([]SnapshotInfo(nil), s.snaps...), nil
}

// Close fdatasyncs frames written without mustSync, closes the files and
// releases the directory lock. It is idempotent; later writes return
// ErrClosed.
func (s *Storage) Close() error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	var err error
	if s.failed == nil {
		err = s.wal.close()
	} else if s.wal.f != nil {
		s.wal.f.Close()
	}
	if s.lock != nil {
		if cerr := s.lock.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// InitialState implements raft.Storage.
func (s *Storage) InitialState() (raftpb.HardState, raftpb.ConfState, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return s.mem.hs, s.mem.snap.Metadata.ConfState, nil
}

// Entries implements raft.Storage: ErrCompacted if lo <= the compaction
// point, ErrUnavailable if hi > LastIndex+1 (or lo > hi). The returned slice
// is the caller's to append to; its entries must not be modified.
func (s *Storage) Entries(lo, hi, maxSize uint64) ([]raftpb.Entry, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return s.mem.entries(lo, hi, maxSize)
}

// Term implements raft.Storage: ErrCompacted below FirstIndex-1,
// ErrUnavailable above LastIndex.
func (s *Storage) Term(i uint64) (uint64, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return s.mem.term(i)
}

// LastIndex implements raft.Storage.
func (s *Storage) LastIndex() (uint64, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return s.mem.lastIndex(), nil
}

// FirstIndex implements raft.Storage.
func (s *Storage) FirstIndex() (uint64, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return s.mem.firstIndex(), nil
}

// Snapshot implements raft.Storage: the newest snapshot (empty if none),
// metadata only. Its data stays on disk: OpenSnapshot reads it.
func (s *Storage) Snapshot() (raftpb.Snapshot, error) {
	s.memMu.RLock()
	defer s.memMu.RUnlock()
	return s.mem.snap, nil
}
