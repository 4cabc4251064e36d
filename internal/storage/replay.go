package storage

import (
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
)

// runLog is the log as the WAL describes it, before it is fitted to a
// snapshot. The WAL may begin after a compaction, so where the log starts is
// only known after a reset marker (baseKnown).
type runLog struct {
	baseKnown      bool
	base, baseTerm uint64
	ents           []raftpb.Entry // contiguous; ents[0].Index == base+1 when baseKnown
}

// add replays one entry frame with MemoryStorage.Append semantics. It
// returns a reason when the entry cannot follow the log.
func (r *runLog) add(e raftpb.Entry) string {
	if r.baseKnown && e.Index <= r.base {
		return "" // covered by the snapshot the log was reset to
	}
	if len(r.ents) == 0 {
		if r.baseKnown && e.Index != r.base+1 {
			return fmt.Sprintf("entry %d does not follow snapshot index %d", e.Index, r.base)
		}
		r.ents = append(r.ents, e)
		return ""
	}
	first, last := r.ents[0].Index, r.ents[len(r.ents)-1].Index
	switch {
	case e.Index > last+1:
		return fmt.Sprintf("entry %d leaves a gap after entry %d", e.Index, last)
	case e.Index < first:
		// Truncated below where the surviving WAL starts (only the
		// unknown-base case reaches here).
		r.ents = append(r.ents[:0], e)
	default:
		r.ents = append(r.ents[:e.Index-first], e)
	}
	return ""
}

func (r *runLog) reset(m marker) {
	r.baseKnown, r.base, r.baseTerm = true, m.index, m.term
	r.ents = r.ents[:0]
}

func (r *runLog) lastIndex() uint64 {
	if len(r.ents) > 0 {
		return r.ents[len(r.ents)-1].Index
	}
	return r.base
}

func (r *runLog) termAt(i uint64) (uint64, bool) {
	if r.baseKnown && i == r.base {
		return r.baseTerm, true
	}
	if len(r.ents) == 0 || i < r.ents[0].Index || i > r.ents[len(r.ents)-1].Index {
		return 0, false
	}
	return r.ents[i-r.ents[0].Index].Term, true
}

// replayResult is what reading the WAL produced.
type replayResult struct {
	run       runLog
	hs        raftpb.HardState
	maxMarker marker // newest snapshot marker seen, reset or not

	// The newest segment: where appends resume and how many valid frames
	// it holds.
	tailEnd    int64
	tailFrames int
	// tailLegacy: the newest segment does not begin with a sync frame (it
	// was written by a version without sync frames), so appends must go
	// to a new segment.
	tailLegacy bool
	// A torn tail to zero on success: [torn, tornEnd) of the newest
	// segment. torn < 0 when there is none.
	torn, tornEnd int64
	tornReason    string
}

// replayWAL reads every segment in order. Damage before the tail is a
// *CorruptError; a torn tail is reported, not yet repaired.
func (d disk) replayWAL(segs []segment) (*replayResult, error) {
	res := &replayResult{torn: -1}
	for i, s := range segs {
		data, err := d.fs.ReadFile(s.path)
		if err != nil {
			return nil, fmt.Errorf("storage: read WAL segment: %w", err)
		}
		if err := res.replaySegment(s.path, data, i == len(segs)-1); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// replaySegment replays one segment's bytes; last says it is the newest.
func (res *replayResult) replaySegment(path string, data []byte, last bool) error {
	frames := 0
	syncAware := false // begins with a sync frame: see doc.go
	end, bad, err := scanSegment(data, func(off int, f frame) error {
		frames++
		if off == 0 && f.typ == frameSync {
			syncAware = true
		}
		if reason := res.apply(f); reason != "" {
			return &CorruptError{File: path, Offset: int64(off), Reason: reason}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if bad != nil {
		corrupt := &CorruptError{File: path, Offset: int64(bad.offset), Reason: bad.reason}
		if !last {
			corrupt.Reason += " (in a segment that is not the newest)"
			return corrupt
		}
		res.tornReason = bad.reason
		if next := nextValidFrame(data, bad.offset+1); next >= 0 {
			// A device that writes the pages of one batch out of order can
			// leave a hole before valid frames when power fails before the
			// batch's fdatasync. That is a torn tail only if no sync frame
			// after the hole proves the hole's bytes had been synced, and
			// only a segment with sync frames can prove it either way.
			if !syncAware {
				corrupt.Reason += fmt.Sprintf(" (a valid frame follows at offset %d)", next)
				return corrupt
			}
			if at, synced := syncedPast(data, next, bad.offset); at >= 0 {
				corrupt.Reason += fmt.Sprintf(" (the sync frame at offset %d records that the segment was fdatasync'ed through offset %d)", at, synced)
				return corrupt
			}
			res.tornReason += fmt.Sprintf("; the valid frames from offset %d on belong to the same unsynced write and are discarded", next)
		}
		res.torn = int64(bad.offset)
		res.tornEnd = int64(bad.offset + lastNonZero(data[bad.offset:]) + 1)
	}
	if last {
		res.tailEnd, res.tailFrames, res.tailLegacy = int64(end), frames, !syncAware
	}
	return nil
}

// apply replays one verified frame, returning why it is corrupt if it is.
func (res *replayResult) apply(f frame) string {
	switch f.typ {
	case frameEntry:
		var e raftpb.Entry
		if err := e.Unmarshal(f.payload); err != nil {
			return fmt.Sprintf("undecodable entry: %v", err)
		}
		return res.run.add(e)
	case frameHardState:
		var hs raftpb.HardState
		if err := hs.Unmarshal(f.payload); err != nil {
			return fmt.Sprintf("undecodable hard state: %v", err)
		}
		res.hs = hs
	case frameSync:
		if _, err := decodeSync(f.payload); err != nil {
			return err.Error()
		}
	case frameSnapshot:
		m, err := decodeMarker(f.payload)
		if err != nil {
			return err.Error()
		}
		if m.index > res.maxMarker.index {
			res.maxMarker = m
		}
		if m.reset {
			res.run.reset(m)
		}
	}
	return ""
}

// fit fits the replayed log to snap, the newest valid snapshot (empty if
// none), and returns the entries after it. See "Recovery" in doc.go.
func (r *runLog) fit(snap raftpb.SnapshotMetadata) (ents []raftpb.Entry, dropped bool, err error) {
	si, st := snap.Index, snap.Term
	if r.baseKnown && si < r.base {
		return nil, false, &errLost{fmt.Sprintf("the WAL was reset to a snapshot at index %d (term %d) but no valid snapshot file is that new (newest valid: index %d)",
			r.base, r.baseTerm, si)}
	}
	if len(r.ents) == 0 && !r.baseKnown {
		return nil, false, nil
	}
	if t, ok := r.termAt(si); ok && t == st {
		return r.after(si), false, nil
	}
	if r.baseKnown && si == r.base {
		return nil, false, fmt.Errorf("storage: the WAL was reset to a snapshot at index %d term %d but the snapshot file at that index has term %d",
			r.base, r.baseTerm, st)
	}
	if len(r.ents) > 0 && r.ents[0].Index == si+1 {
		return r.ents, false, nil
	}
	if _, ok := r.termAt(si); ok || si >= r.lastIndex() {
		// The snapshot replaced a log that disagrees with it or is
		// shorter: a crash after the leader's snapshot file was written
		// but before its WAL marker.
		return nil, len(r.ents) > 0, nil
	}
	return nil, false, &errLost{fmt.Sprintf("the WAL starts at entry %d but the newest valid snapshot is at index %d: entries %d..%d are missing (snapshot files damaged or deleted after compaction)",
		r.ents[0].Index, si, si+1, r.ents[0].Index-1)}
}

func (r *runLog) after(i uint64) []raftpb.Entry {
	if len(r.ents) == 0 || i < r.ents[0].Index {
		return r.ents
	}
	return r.ents[i-r.ents[0].Index+1:]
}

// retained returns what Open keeps of the log before a snapshot at snap:
// the compaction point prev and the entries after it up to the snapshot's
// index, at most retain of them and only those the WAL still holds. It
// keeps nothing unless the log runs through the snapshot (its entry at the
// snapshot's index has the snapshot's term): then the entries before it are
// the committed prefix the snapshot was taken from.
func (r *runLog) retained(snap raftpb.SnapshotMetadata, retain, retainBytes uint64) (prev raftpb.Entry, ents []raftpb.Entry) {
	si, st := snap.Index, snap.Term
	prev = raftpb.Entry{Index: si, Term: st}
	if t, ok := r.termAt(si); retain == 0 || !ok || t != st || len(r.ents) == 0 {
		return prev, nil
	}
	lo := marginStart(r.ents, si, retain, retainBytes)
	first := r.ents[0].Index
	switch t, ok := r.termAt(lo); {
	case ok:
		prev = raftpb.Entry{Index: lo, Term: t}
	case lo == 0 && first == 1:
		prev = raftpb.Entry{} // before entry 1: index 0, term 0
	default:
		// The WAL does not reach back that far: its first entry becomes
		// the compaction point, as raft needs the term before the first
		// entry it sends.
		prev = raftpb.Entry{Index: first, Term: r.ents[0].Term}
	}
	if prev.Index >= si {
		return raftpb.Entry{Index: si, Term: st}, nil
	}
	return prev, r.ents[prev.Index+1-first : si+1-first]
}

// marginStart is the compaction point that keeps, of the entries up to
// index, at most maxEntries and at most maxBytes of entry data (0: no byte
// bound), ents being contiguous. Entries before ents' first are not
// counted against maxBytes: callers fit the result to what they hold.
func marginStart(ents []raftpb.Entry, index, maxEntries, maxBytes uint64) uint64 {
	lo := index - min(maxEntries, index)
	if maxBytes == 0 || len(ents) == 0 || index < ents[0].Index {
		return lo
	}
	first := ents[0].Index
	last := min(index, first+uint64(len(ents))-1)
	var size uint64
	for i := last; i > lo && i >= first; i-- {
		size += uint64(len(ents[i-first].Data))
		if size > maxBytes {
			return i
		}
	}
	return lo
}
