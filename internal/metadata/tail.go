package metadata

import (
	"fmt"
	"slices"
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
//
// Each retained record's JSON (Record.AppendJSON) is made at most once,
// by the first reader that asks for it (TailRecord.AppendJSON), and then
// shared: every broker fetches every record, so encoding it per fetch
// was most of a serving node's CPU. Records nobody fetches are never
// encoded: apply pays only for the entry that will hold the JSON.
//
// Memory: a retained record costs a tailEntry (80 bytes on 64-bit:
// the 48-byte Record, a sync.Once, a string header) and an 8-byte
// pointer, where a bare Record cost 48: 40 bytes more, 4 MB at the
// default 100,000 records. Once fetched, its JSON adds its length: all
// of them together are exactly one diff answer of the whole tail, about
// 23 MB for the one-partition topics of the scale benchmarks (230 bytes
// a record), and that is the worst case for any mix as well: the cache
// never holds more than the answer a broker fetching from FirstOffset
// would get. Entries are allocated tailChunk at a time per Append, and
// a chunk lives while any of its entries is retained, so up to
// tailChunk-1 evicted entries (and their JSON) may stay on top.
type Tail struct {
	mu  sync.RWMutex
	max int
	// recs[head:] are the retained records, offsets non-decreasing; the
	// prefix is evicted and reclaimed by compacting now and then.
	// Entries are never changed once appended, except for their JSON,
	// which their sync.Once guards, so readers may use them unlocked.
	// Nor is a slot below len(recs) ever written again (compacting and
	// Reset start a new array), so SinceEncoded hands out parts of recs
	// itself instead of a copy for every fetch.
	recs []TailRecord
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

// tailEntry is a retained record and its JSON, made by the first
// reader that needs it.
type tailEntry struct {
	rec  Record
	once sync.Once
	// json is rec's AppendJSON once once has run; "" if it failed (a
	// Body-less record), and the error is then made again on each use.
	json string
}

// tailChunk is how many entries one allocation holds: one for an
// Append of up to that many records (nearly all of them), a few for the
// 10,000-partition batches, and a bound on the evicted entries a
// partly evicted chunk keeps alive.
const tailChunk = 256

// TailRecord is a record held by a Tail, with its JSON encoding shared
// by every reader. It stays valid after the tail evicts the record.
type TailRecord struct{ e *tailEntry }

// Record returns the record. Its Body is shared: read-only.
func (r TailRecord) Record() Record { return r.e.rec }

// AppendJSON appends the record's Record.AppendJSON encoding to b. The
// first call for a record encodes it; later calls, from any goroutine,
// copy that encoding.
func (r TailRecord) AppendJSON(b []byte) ([]byte, error) {
	e := r.e
	var fresh []byte
	e.once.Do(func() {
		// Encoded where it is asked for, and kept at its exact size.
		out, err := e.rec.AppendJSON(b)
		if err == nil {
			e.json, fresh = string(out[len(b):]), out
		}
	})
	switch {
	case fresh != nil:
		return fresh, nil
	case e.json == "":
		return e.rec.AppendJSON(b)
	}
	return append(b, e.json...), nil
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
	var chunk []tailEntry
	for i, r := range recs {
		if r.Offset <= t.floor {
			continue
		}
		if r.Offset < t.last {
			panic(fmt.Sprintf("metadata: Tail.Append: offset %d after %d", r.Offset, t.last))
		}
		if n := len(t.recs); n > t.head && r.Timestamp.Before(t.recs[n-1].e.rec.Timestamp) {
			t.inversions++
		}
		if len(chunk) == 0 {
			chunk = make([]tailEntry, min(len(recs)-i, tailChunk))
		}
		e := &chunk[0]
		chunk = chunk[1:]
		e.rec = r
		t.recs = append(t.recs, TailRecord{e})
		t.last = r.Offset
		added = true
	}
	for len(t.recs)-t.head > t.max {
		t.evictOldestOffset()
	}
	if t.head > 0 && t.head >= len(t.recs)/2 {
		live := t.recs[t.head:]
		t.recs, t.head = append(make([]TailRecord, 0, 2*len(live)+tailChunk), live...), 0
	}
	if added {
		t.signal()
	}
}

// evictOldestOffset drops every record of the oldest retained offset.
func (t *Tail) evictOldestOffset() {
	o := t.recs[t.head].e.rec.Offset
	for t.head < len(t.recs) && t.recs[t.head].e.rec.Offset == o {
		r := &t.recs[t.head].e.rec
		if r.Timestamp.After(t.droppedMax) {
			t.droppedMax = r.Timestamp
		}
		if t.head+1 < len(t.recs) && t.recs[t.head+1].e.rec.Timestamp.Before(r.Timestamp) {
			t.inversions--
		}
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
	t.recs, t.head = nil, 0
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
	match, err := t.since(offset, limit)
	if err != nil {
		return nil, err
	}
	return records(match), nil
}

// SinceEncoded is Since with each record's shared JSON encoding: for
// answers that send the records as JSON. The slice is the tail's own:
// read it, never write to it.
func (t *Tail) SinceEncoded(offset int64, limit int) ([]TailRecord, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	match, err := t.since(offset, limit)
	if err != nil {
		return nil, err
	}
	return slices.Clip(match), nil
}

// since is Since's match, in t.recs. Called with mu held.
func (t *Tail) since(offset int64, limit int) ([]TailRecord, error) {
	if offset < t.floor {
		return nil, ErrOffsetCompacted
	}
	live := t.recs[t.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].e.rec.Offset > offset })
	return take(live[i:], limit), nil
}

// SinceTime returns the records with Timestamp > ts, in offset order, with
// Since's limit rules. It returns ErrOffsetCompacted when a record no
// longer held could have matched: one evicted with Timestamp > ts, or any
// after a Reset (see ResetAt).
func (t *Tail) SinceTime(ts time.Time, limit int) ([]Record, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	match, err := t.sinceTime(ts, limit)
	if err != nil {
		return nil, err
	}
	return records(match), nil
}

// SinceTimeEncoded is SinceTime with each record's shared JSON encoding,
// in a slice that may be the tail's own (see SinceEncoded).
func (t *Tail) SinceTimeEncoded(ts time.Time, limit int) ([]TailRecord, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	match, err := t.sinceTime(ts, limit)
	if err != nil {
		return nil, err
	}
	return slices.Clip(match), nil
}

// sinceTime is SinceTime's match, in t.recs or a new slice. Called with
// mu held.
func (t *Tail) sinceTime(ts time.Time, limit int) ([]TailRecord, error) {
	if t.timeUnknown || t.droppedMax.After(ts) {
		return nil, ErrOffsetCompacted
	}
	live := t.recs[t.head:]
	if t.inversions == 0 {
		i := sort.Search(len(live), func(i int) bool { return live[i].e.rec.Timestamp.After(ts) })
		return take(live[i:], limit), nil
	}
	var match []TailRecord
	for _, e := range live {
		if e.e.rec.Timestamp.After(ts) {
			match = append(match, e)
		}
	}
	return take(match, limit), nil
}

// take returns the first up to limit entries of recs, cut at an offset
// boundary.
func take(recs []TailRecord, limit int) []TailRecord {
	n := len(recs)
	if limit > 0 && n > limit {
		n = limit
		for n > 0 && recs[n].e.rec.Offset == recs[n-1].e.rec.Offset {
			n--
		}
		if n == 0 { // the first offset alone exceeds limit: all of it
			for n < len(recs) && recs[n].e.rec.Offset == recs[0].e.rec.Offset {
				n++
			}
		}
	}
	return recs[:n]
}

// records copies the records out of entries (which may be t.recs: called
// with mu held). Never nil, so an empty answer is an empty list.
func records(entries []TailRecord) []Record {
	out := make([]Record, len(entries))
	for i, e := range entries {
		out[i] = e.e.rec
	}
	return out
}

// LastRegistration returns the offset of broker id's newest retained
// RegisterBrokerRecord, or FirstOffset()-1 when the tail holds none (any
// registration is then in the snapshot the tail starts after). It copies
// nothing: a fenced broker asks at every heartbeat.
func (t *Tail) LastRegistration(id int32) int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := len(t.recs) - 1; i >= t.head; i-- {
		if b, ok := t.recs[i].e.rec.Body.(*RegisterBrokerRecord); ok && b.BrokerID == id {
			return t.recs[i].e.rec.Offset
		}
	}
	return t.floor
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
