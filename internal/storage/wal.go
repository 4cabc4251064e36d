package storage

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/vfs"
)

const walSuffix = ".wal"

// segment is one WAL file, named %016x-%016x.wal after seq and first.
type segment struct {
	seq   uint64
	first uint64 // the WAL's last index + 1 when the segment was started
	path  string
}

func segmentName(seq, first uint64) string {
	return fmt.Sprintf("%016x-%016x%s", seq, first, walSuffix)
}

// listSegments returns dir's segments in sequence order and checks that the
// sequence has no holes (a prefix may have been compacted away).
func (d disk) listSegments(dir string) ([]segment, error) {
	names, err := d.readDirNames(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, name := range names {
		if seq, first, ok := parsePairName(name, walSuffix); ok {
			segs = append(segs, segment{seq: seq, first: first, path: filepath.Join(dir, name)})
		}
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.seq, b.seq) })
	for i := 1; i < len(segs); i++ {
		if segs[i].seq != segs[i-1].seq+1 {
			return nil, fmt.Errorf("storage: WAL segments missing between %s and %s",
				filepath.Base(segs[i-1].path), filepath.Base(segs[i].path))
		}
	}
	return segs, nil
}

// wal appends frames to the newest segment. Its owner (Storage) serialises
// every call.
type wal struct {
	disk    disk
	dir     string
	segSize int64
	log     *slog.Logger
	onFsync func(time.Duration)

	segs     []segment // live segments, oldest first; the last is active
	f        vfs.File  // the active segment
	off      int64     // where the next frame goes in f
	capacity int64     // f's preallocated size
	// headEnd is the offset after the active segment's head frames, or -1
	// when it is not known to hold only them. A segment at off == headEnd
	// is "fresh": an oversized frame is written into it instead of
	// starting yet another segment.
	headEnd  int64
	unsynced bool // frames written since the last fdatasync

	// What the head frames of the next segment need, as written so far.
	lastIndex uint64           // last entry index the frames imply
	hs        raftpb.HardState // newest hard state written
	snap      marker           // newest snapshot marker written (reset cleared)

	// removeTo is the highest index Compact asked for: segments whose
	// entries all precede it are obsolete. dirDirty: a segment was removed
	// but the directory fsync that makes it durable failed.
	removeTo uint64
	dirDirty bool

	buf  []byte // reused frame buffer
	sbuf []byte // reused sync frame buffer
}

// createSegment creates, preallocates and durably names a new segment and
// makes it the active one, then writes the head frames.
func (w *wal) createSegment(seq, first uint64) error {
	s := segment{seq: seq, first: first, path: filepath.Join(w.dir, segmentName(seq, first))}
	tmp := s.path + tmpSuffix
	f, err := w.disk.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("storage: create segment: %w", err)
	}
	err = f.Preallocate(w.segSize)
	if err == nil {
		err = f.Sync() // the size and extents, not only data
	}
	if err == nil {
		err = w.disk.fs.Rename(tmp, s.path)
	}
	if err == nil {
		err = w.disk.syncDir(w.dir)
	}
	if err != nil {
		f.Close()
		w.disk.fs.Remove(tmp)
		return fmt.Errorf("storage: create segment %s: %w", s.path, err)
	}
	// Reopen under the final name, so that errors (which name the file
	// as opened) name the segment, not a temp file that no longer exists.
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: create segment %s: %w", s.path, err)
	}
	if f, err = w.disk.fs.OpenFile(s.path, os.O_RDWR, 0); err != nil {
		return fmt.Errorf("storage: open new segment: %w", err)
	}
	w.segs = append(w.segs, s)
	w.f, w.off, w.capacity, w.headEnd = f, 0, w.segSize, -1
	if err := w.writeHead(); err != nil {
		return err
	}
	// The head gets an fdatasync of its own, so that every later write
	// in this segment starts with a sync frame covering it.
	return w.sync()
}

// openActive makes the newest segment active, appending at off. frames is
// the number of valid frames it already holds; legacy says it has no sync
// frames, in which case appends go to a new segment so that every segment
// written to has them from its start.
func (w *wal) openActive(off int64, frames int, legacy bool) error {
	s := w.segs[len(w.segs)-1]
	f, err := w.disk.fs.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("storage: open segment: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() < w.segSize {
		err = f.Preallocate(w.segSize)
		if err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: open segment %s: %w", s.path, err)
	}
	w.f, w.off, w.capacity, w.headEnd = f, off, max(st.Size(), w.segSize), -1
	if frames == 0 {
		// Created but never written (a crash right after rotation), or
		// the first segment: it must carry the head like any other.
		if err := w.writeHead(); err != nil {
			return err
		}
		return w.sync()
	}
	if legacy {
		return w.rotate()
	}
	// Whether the frames recovered were fdatasync'ed is not known (the
	// process may have died with them in the page cache): claim nothing
	// in a sync frame until the next fdatasync.
	w.unsynced = true
	return nil
}

// writeHead writes the current hard state and snapshot marker at the start
// of the active segment, so that older segments can be deleted.
func (w *wal) writeHead() error {
	// A sync frame at offset 0 marks a segment whose writes all begin with
	// sync frames; recovery relies on them only in such a segment.
	buf := appendSyncFrame(w.buf[:0], 0)
	var err error
	if w.hs != (raftpb.HardState{}) {
		if buf, err = appendHardStateFrame(buf, &w.hs); err != nil {
			return err
		}
	}
	if w.snap.index > 0 {
		if buf, err = appendMarkerFrame(buf, marker{index: w.snap.index, term: w.snap.term}); err != nil {
			return err
		}
	}
	w.buf = buf
	if err := w.write(buf); err != nil {
		return err
	}
	w.headEnd = w.off
	return nil
}

// write appends b at w.off. The first write after an fdatasync is preceded
// by a sync frame recording how much of the segment that fdatasync made
// durable: recovery uses it to tell a hole in synced data (corruption)
// from a batch whose pages a power cut wrote out of order (a torn tail).
func (w *wal) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if w.needSyncFrame() {
		w.sbuf = appendSyncFrame(w.sbuf[:0], w.off)
		if _, err := w.f.WriteAt(w.sbuf, w.off); err != nil {
			return fmt.Errorf("storage: write WAL: %w", err)
		}
		w.off += int64(len(w.sbuf))
	}
	if _, err := w.f.WriteAt(b, w.off); err != nil {
		return fmt.Errorf("storage: write WAL: %w", err)
	}
	w.off += int64(len(b))
	w.unsynced = true
	return nil
}

// needSyncFrame reports whether the next write starts with a sync frame:
// everything before w.off is fdatasync'ed and there is something there.
func (w *wal) needSyncFrame() bool { return !w.unsynced && w.off > 0 }

// syncFrameReserve is the room the next write's sync frame takes, if any.
func (w *wal) syncFrameReserve() int64 {
	if w.needSyncFrame() {
		return syncFrameSize
	}
	return 0
}

func (w *wal) sync() error {
	start := time.Now()
	if err := w.f.Datasync(); err != nil {
		return fmt.Errorf("storage: fdatasync WAL: %w", err)
	}
	if w.onFsync != nil {
		w.onFsync(time.Since(start))
	}
	w.unsynced = false
	return nil
}

// rotate finishes the active segment (fdatasync, close) and starts the next.
func (w *wal) rotate() error {
	if err := w.sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("storage: close segment: %w", err)
	}
	w.f = nil
	return w.createSegment(w.segs[len(w.segs)-1].seq+1, w.lastIndex+1)
}

// appendBatch writes ents' frames, then hs's when not nil, rotating
// segments as they fill, and fdatasyncs once at the end when sync is set.
func (w *wal) appendBatch(ents []raftpb.Entry, hs *raftpb.HardState, sync bool) error {
	w.buf = w.buf[:0]
	var err error
	for i := range ents {
		mark := len(w.buf)
		if w.buf, err = appendEntryFrame(w.buf, &ents[i]); err != nil {
			return err
		}
		if w.buf, err = w.fit(mark); err != nil {
			return err
		}
		w.lastIndex = ents[i].Index
	}
	if hs != nil {
		mark := len(w.buf)
		if w.buf, err = appendHardStateFrame(w.buf, hs); err != nil {
			return err
		}
		if w.buf, err = w.fit(mark); err != nil {
			return err
		}
		w.hs = *hs
	}
	if err := w.write(w.buf); err != nil {
		return err
	}
	if sync && w.unsynced {
		return w.sync()
	}
	return nil
}

// fit rotates when the frame just encoded at w.buf[mark:] would overflow the
// active segment: frames before it go to the old segment, it moves to the
// front of the buffer for the new one. It returns the buffer to keep using.
func (w *wal) fit(mark int) ([]byte, error) {
	buf := w.buf
	if w.off+w.syncFrameReserve()+int64(len(buf)) <= w.capacity || w.off+int64(mark) == w.headEnd {
		return buf, nil
	}
	if err := w.write(buf[:mark]); err != nil {
		return buf, err
	}
	n := copy(buf, buf[mark:])
	pending := slices.Clone(buf[:n]) // rotate reuses w.buf for the head
	if err := w.rotate(); err != nil {
		return buf, err
	}
	return append(w.buf[:0], pending...), nil
}

// writeMarker appends a snapshot marker and fdatasyncs.
func (w *wal) writeMarker(m marker) error {
	var err error
	if w.buf, err = appendMarkerFrame(w.buf[:0], m); err != nil {
		return err
	}
	if w.buf, err = w.fit(0); err != nil {
		return err
	}
	if err := w.write(w.buf); err != nil {
		return err
	}
	if err := w.sync(); err != nil {
		return err
	}
	w.snap = marker{index: m.index, term: m.term}
	if m.reset {
		w.lastIndex = m.index
	}
	return nil
}

// removeBefore records compactIndex as the point the log is compacted to
// and deletes the segments that are now obsolete (see removeObsolete).
func (w *wal) removeBefore(compactIndex uint64) error {
	w.removeTo = max(w.removeTo, compactIndex)
	return w.removeObsolete()
}

// removeObsolete deletes the oldest segments whose live entries all precede
// removeTo: segment i goes when segment i+1 starts at or below it. The
// active segment is never removed. A segment it fails to delete stays
// listed, so the next call tries it again; so does a directory fsync that
// failed after a removal.
func (w *wal) removeObsolete() error {
	n := 0
	for n+1 < len(w.segs) && w.segs[n+1].first <= w.removeTo {
		n++
	}
	if n == 0 && !w.dirDirty {
		return nil
	}
	// NB: the remaining segments' head frames replace what is deleted, so
	// they must be durable first: the caller syncs (see flush).
	if w.unsynced {
		return errors.New("storage: remove WAL segments: unsynced frames")
	}
	var errs []error
	removed := 0
	for _, s := range w.segs[:n] {
		if err := w.disk.fs.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			break // keep the prefix property: never leave a hole
		}
		removed++
	}
	w.segs = slices.Delete(w.segs, 0, removed)
	if removed > 0 || w.dirDirty {
		w.dirDirty = true
		if err := w.disk.syncDir(w.dir); err != nil {
			errs = append(errs, err)
		} else {
			w.dirDirty = false
		}
	}
	if removed > 0 {
		w.log.Debug("storage: removed WAL segments", "count", removed, "compact_index", w.removeTo)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: remove WAL segments: %w", err)
	}
	return nil
}

// obsolete reports whether removeObsolete has work left: a segment it could
// not delete, or a directory fsync that failed.
func (w *wal) obsolete() bool {
	return w.dirDirty || (len(w.segs) > 1 && w.segs[1].first <= w.removeTo)
}

// flush fdatasyncs frames written without a sync, if any.
func (w *wal) flush() error {
	if !w.unsynced {
		return nil
	}
	return w.sync()
}

// close flushes unsynced frames and closes the active segment.
func (w *wal) close() error {
	if w.f == nil {
		return nil
	}
	var err error
	if w.unsynced {
		err = w.sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	return err
}
