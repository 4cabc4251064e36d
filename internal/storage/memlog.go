package storage

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// memLog is the in-memory half of Storage: the newest snapshot, the hard
// state, and the entries after the compaction point. It answers the
// raft.Storage queries; callers hold the locks (see Storage).
type memLog struct {
	hs   raftpb.HardState
	snap raftpb.Snapshot
	// ents[0] is a dummy holding the compaction point's index and term;
	// ents[i].Index == ents[0].Index+i. Invariant: ents[0].Index <=
	// snap.Metadata.Index (Compact never passes the snapshot).
	//
	// NB: entries are never modified in place, and a truncation copies,
	// because slices handed out by entries() share the array.
	ents []raftpb.Entry
}

// newMemLog builds the log: the compaction point prev (index and term
// only), the entries kept before the snapshot (up to its index, possibly
// none), and the entries after it.
func newMemLog(snap raftpb.Snapshot, hs raftpb.HardState, prev raftpb.Entry, kept, ents []raftpb.Entry) memLog {
	l := memLog{hs: hs, snap: snap}
	l.ents = make([]raftpb.Entry, 1, 1+len(kept)+len(ents))
	l.ents[0] = raftpb.Entry{Index: prev.Index, Term: prev.Term}
	l.ents = append(l.ents, kept...)
	l.ents = append(l.ents, ents...)
	return l
}

func (l *memLog) offset() uint64     { return l.ents[0].Index }
func (l *memLog) firstIndex() uint64 { return l.ents[0].Index + 1 }
func (l *memLog) lastIndex() uint64  { return l.ents[0].Index + uint64(len(l.ents)) - 1 }

func (l *memLog) term(i uint64) (uint64, error) {
	switch {
	case i < l.offset():
		return 0, raft.ErrCompacted
	case i > l.lastIndex():
		return 0, raft.ErrUnavailable
	}
	return l.ents[i-l.offset()].Term, nil
}

func (l *memLog) entries(lo, hi, maxSize uint64) ([]raftpb.Entry, error) {
	switch {
	case lo <= l.offset():
		return nil, raft.ErrCompacted
	case hi > l.lastIndex()+1 || lo > hi:
		return nil, raft.ErrUnavailable
	case lo == hi:
		return nil, nil
	}
	ents := l.ents[lo-l.offset() : hi-l.offset()]
	size := uint64(ents[0].Size())
	for n := 1; n < len(ents); n++ {
		size += uint64(ents[n].Size())
		if size > maxSize {
			ents = ents[:n]
			break
		}
	}
	// NB: the full slice expression makes a caller's append copy instead
	// of writing into l.ents' spare capacity.
	return ents[:len(ents):len(ents)], nil
}

// append adds ents (contiguous, ents[0].Index in [firstIndex,
// lastIndex+1]), truncating any conflicting suffix.
func (l *memLog) append(ents []raftpb.Entry) {
	if len(ents) == 0 {
		return
	}
	at := ents[0].Index - l.offset()
	if at == uint64(len(l.ents)) {
		l.ents = append(l.ents, ents...)
		return
	}
	l.ents = append(l.ents[:at:at], ents...)
}

// compact makes i (offset < i <= lastIndex) the new compaction point.
func (l *memLog) compact(i uint64) {
	at := i - l.offset()
	ents := make([]raftpb.Entry, 1, uint64(len(l.ents))-at)
	ents[0] = raftpb.Entry{Index: l.ents[at].Index, Term: l.ents[at].Term}
	l.ents = append(ents, l.ents[at+1:]...)
}

// reset replaces the whole log with snap (a snapshot from the leader).
func (l *memLog) reset(snap raftpb.Snapshot) {
	l.snap = snap
	l.ents = []raftpb.Entry{{Index: snap.Metadata.Index, Term: snap.Metadata.Term}}
}
