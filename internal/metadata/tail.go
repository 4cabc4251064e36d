package metadata

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Tail retains the most recent applied records, at most maxRecords of
// them, for "updates since offset" (metadata fetch diffs). One writer (the
// apply loop) calls Append and Reset; any number of readers call the rest
// concurrently.
//
// Records are evicted oldest first, a whole offset at a time (records of
// one raft entry share their offset, and a reader resuming "since offset o"
// must never have received only part of o). The tail keeps a floor: every
// record with Offset > floor that was appended is still held, and
// FirstOffset() = floor + 1.
//
// Returned records share their Bodies with the tail (and with whoever
// appended them): treat them as read-only. The slices are the caller's.
type Tail struct {
	mu  sync.RWMutex
	max int
	// recs[head:] are the retained records, offsets non-decreasing; the
	// prefix is evicted (zeroed) and reclaimed by compacting now and then.
	recs []Record
	head int
	// floor: every appended record with Offset > floor is in recs[head:].
	floor int64
	// last is the offset of the newest record appended, or of the Reset.
	last int64
	// droppedMax is the greatest Timestamp among records no longer held
	// (evicted, or before a ResetAt); timeUnknown means it is unknown
	// (after Reset), so no SinceTime can be answered.
	droppedMax  time.Time
	timeUnknown bool
	// inversions counts adjacent retained records whose timestamps
	// decrease; while it is 0, SinceTime binary-searches.
	inversions int
	// changed is closed (and replaced) when records are appended or on
	// Reset. Guarded by mu.
	changed chan struct{}
}

// NewTail returns an empty tail that retains up to maxRecords records
// (values below 1 mean 1). It answers from offset 0: every record appended
// will be retained until evicted.
func NewTail(maxRecords int) *Tail {
	return &Tail{max: max(maxRecords, 1), changed: make(chan struct{})}
}

// Append adds applied records. Their offsets must not decrease, within
// recs and relative to earlier Appends (a violation is a bug and panics).
// Records at or below the floor (covered by the snapshot of a Reset) are
// ignored.
func (t *Tail) Append(recs []Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	added := false
	for _, r := range recs {
		if r.Offset <= t.floor {
			continue
		}
		if r.Offset < t.last {
			panic(fmt.Sprintf("metadata: Tail.Append: offset %d after %d", r.Offset, t.last))
		}
		if n := len(t.recs); n > t.head && r.Timestamp.Before(t.recs[n-1].Timestamp) {
			t.inversions++
		}
		t.recs = append(t.recs, r)
		t.last = r.Offset
		added = true
	}
	for len(t.recs)-t.head > t.max {
		t.evictOldestOffset()
	}
	if t.head > 0 && t.head >= len(t.recs)/2 {
		n := copy(t.recs, t.recs[t.head:])
		clear(t.recs[n:])
		t.recs, t.head = t.recs[:n], 0
	}
	if added {
		t.signal()
	}
}

// evictOldestOffset drops every record of the oldest retained offset.
func (t *Tail) evictOldestOffset() {
	o := t.recs[t.head].Offset
	for t.head < len(t.recs) && t.recs[t.head].Offset == o {
		r := &t.recs[t.head]
		if r.Timestamp.After(t.droppedMax) {
			t.droppedMax = r.Timestamp
		}
		if t.head+1 < len(t.recs) && t.recs[t.head+1].Timestamp.Before(r.Timestamp) {
			t.inversions--
		}
		*r = Record{}
		t.head++
	}
	t.floor = o
}

// Reset empties the tail after a snapshot restore at offset: records after
// offset will follow. The timestamps of the records the snapshot replaced
// are unknown, so SinceTime returns ErrOffsetCompacted until the next
// ResetAt; prefer ResetAt.
func (t *Tail) Reset(offset int64) { t.reset(offset, time.Time{}, true) }

// ResetAt is Reset for a restore of an image whose MaxTimestamp is
// maxTimestamp: SinceTime(ts) keeps working for ts >= maxTimestamp.
func (t *Tail) ResetAt(offset int64, maxTimestamp time.Time) { t.reset(offset, maxTimestamp, false) }

func (t *Tail) reset(offset int64, maxTime time.Time, unknown bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.recs)
	t.recs, t.head = t.recs[:0], 0
	t.floor, t.last = offset, offset
	t.droppedMax, t.timeUnknown, t.inversions = maxTime, unknown, 0
	t.signal()
}

// signal wakes Changed waiters. Called with mu held for writing.
func (t *Tail) signal() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Changed returns a channel closed at the next Append that adds records or
// the next Reset. A long poll takes the channel first, then reads Since,
// then waits on it if the read was empty, so no append is missed.
func (t *Tail) Changed() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

// Since returns the records with Offset > offset, in order, at most limit
// of them (limit <= 0: no limit). It never splits an offset: it stops
// before an offset that would not fit whole, except that the first offset
// is returned whole even if it alone exceeds limit. It returns
// ErrOffsetCompacted when records after offset may have been dropped
// (offset < FirstOffset()-1); the caller then needs a snapshot. An offset
// beyond the newest record yields no records and no error.
func (t *Tail) Since(offset int64, limit int) ([]Record, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if offset < t.floor {
		return nil, ErrOffsetCompacted
	}
	live := t.recs[t.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].Offset > offset })
	return take(live[i:], limit), nil
}

// SinceTime returns the records with Timestamp > ts, in offset order, with
// Since's limit rules. It returns ErrOffsetCompacted when a record no
// longer held could have matched: one evicted with Timestamp > ts, or any
// after a Reset (see ResetAt).
func (t *Tail) SinceTime(ts time.Time, limit int) ([]Record, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.timeUnknown || t.droppedMax.After(ts) {
		return nil, ErrOffsetCompacted
	}
	live := t.recs[t.head:]
	if t.inversions == 0 {
		i := sort.Search(len(live), func(i int) bool { return live[i].Timestamp.After(ts) })
		return take(live[i:], limit), nil
	}
	var match []Record
	for _, r := range live {
		if r.Timestamp.After(ts) {
			match = append(match, r)
		}
	}
	return take(match, limit), nil
}

// take copies up to limit records of recs, cut at an offset boundary.
func take(recs []Record, limit int) []Record {
	n := len(recs)
	if limit > 0 && n > limit {
		n = limit
		for n > 0 && recs[n].Offset == recs[n-1].Offset {
			n--
		}
		if n == 0 { // the first offset alone exceeds limit: all of it
			for n < len(recs) && recs[n].Offset == recs[0].Offset {
				n++
			}
		}
	}
	out := make([]Record, n)
	copy(out, recs)
	return out
}

// FirstOffset is the oldest offset whose records are all held: Since(o)
// succeeds exactly when o >= FirstOffset()-1. It is 1 for a new tail and
// offset+1 after Reset(offset).
func (t *Tail) FirstOffset() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.floor + 1
}

// LastOffset is the offset of the newest record appended, or the offset
// of the last Reset if none was appended since.
func (t *Tail) LastOffset() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.last
}

// Len is the number of records held.
func (t *Tail) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.recs) - t.head
}
