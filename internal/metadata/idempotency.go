package metadata

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Idempotency keys make a write safe to retry: a batch may carry the key
// its client chose and a fingerprint of the request. Replay remembers, per
// key, the answer of the batch that first applied with it (an
// IdempotencyEntry); a later batch with the same key applies nothing and
// is answered from that entry, or is rejected with
// IDEMPOTENCY_KEY_REUSED when its fingerprint differs. The table is part of
// the image, so it is replicated through the log, kept in snapshots and
// rebuilt on restore, and every node holds the same keys.
//
// Retention is decided by the log alone, never by a node's clock: after
// every batch that applies, entries leave in the order they were added
// while the oldest is more than IdempotencyWindow older than the newest
// record timestamp replayed so far, or while the table holds more than
// MaxIdempotencyKeys entries or MaxIdempotencyBytes bytes. Leaders'
// clocks may disagree, so timestamps in the table need not be ordered;
// eviction still only ever takes the oldest entry by offset, so two
// replays of the same log always keep the same keys.

// Retention limits of the key table. They are rules of the replicated
// state machine, not configuration: nodes with different values would
// hold different tables.
const (
	// IdempotencyWindow is how long (in log time) a key is remembered.
	IdempotencyWindow = 10 * time.Minute
	// MaxIdempotencyKeys caps the number of keys remembered.
	MaxIdempotencyKeys = 100_000
	// MaxIdempotencyBytes caps the table's size, counted as each entry's
	// key, answer, fingerprint and encoded records plus a fixed overhead.
	MaxIdempotencyBytes = 64 << 20
	// idempotencyEntryOverhead is what an entry costs beyond its variable
	// parts, for the byte bound.
	idempotencyEntryOverhead = 96
)

// Fingerprint identifies the request a key was first used with (the API
// uses a SHA-256 of the request). Replay only compares fingerprints.
type Fingerprint [32]byte

// Idempotency is the key part of a Batch.
type Idempotency struct {
	Key         string
	Fingerprint Fingerprint
	// Answer is opaque to replay: whatever the proposer needs, besides
	// the records, to rebuild its answer (for example a count it computed
	// while building them). It is stored with the key and handed back.
	Answer []byte
}

// Batch is what one write proposes: its records, applied atomically, and
// optionally the idempotency key it carries.
type Batch struct {
	Records     []Record
	Idempotency *Idempotency // nil: no key
}

// IdempotencyEntry is a remembered first answer: the batch that first
// applied with Key, as it applied. Entries are values once built; callers
// must not modify them or their records.
type IdempotencyEntry struct {
	Key         string
	Fingerprint Fingerprint
	Offset      int64     // where the batch committed
	Timestamp   time.Time // the batch's log time (its newest record timestamp)
	Records     []Record  // the applied records, with Offset set
	Answer      []byte    // Idempotency.Answer of the batch
	seq         int64     // position in the table's insertion order
	size        int64     // what the entry counts for MaxIdempotencyBytes
}

// Batch encoding. Version 1 is EncodeRecords' (no key); version 2 adds a
// header of tagged fields before the records:
//
//	batch2 = version:byte(=2) header:(size:uvarint fields[size]) count:uvarint record{count}
//
// Header tags: 1 key (bytes), 2 fingerprint (bytes, 32), 3 answer
// (bytes). Unknown header tags are skipped. A batch without a key is
// always written as version 1, so logs written before keys existed and
// logs that use none are the same bytes.
const (
	batchVersionKeyed = 2

	tagBatchKey         = 1
	tagBatchFingerprint = 2
	tagBatchAnswer      = 3
)

// EncodeBatch encodes b: EncodeRecords(b.Records) when it has no key, the
// version-2 layout above otherwise. It panics as EncodeRecords does.
func EncodeBatch(b Batch) []byte {
	if b.Idempotency == nil {
		return EncodeRecords(b.Records)
	}
	var h fieldWriter
	h.str(tagBatchKey, b.Idempotency.Key)
	h.bytes(tagBatchFingerprint, b.Idempotency.Fingerprint[:])
	h.bytes(tagBatchAnswer, b.Idempotency.Answer)
	out := make([]byte, 0, 16+len(h.b)+48*len(b.Records))
	out = append(out, batchVersionKeyed)
	out = binary.AppendUvarint(out, uint64(len(h.b)))
	out = append(out, h.b...)
	// appendRecords writes a version byte first; version 2 has none there.
	recs := appendRecords(nil, b.Records)
	return append(out, recs[1:]...)
}

// DecodeBatch decodes what EncodeBatch or EncodeRecords wrote. It never
// panics; any error matches ErrCorrupt.
func DecodeBatch(b []byte) (Batch, error) {
	if len(b) > 0 && b[0] == batchVersionKeyed {
		return decodeKeyedBatch(b)
	}
	recs, rest, err := decodeRecords(b)
	if err != nil {
		return Batch{}, err
	}
	if len(rest) != 0 {
		return Batch{}, corruptf("decode records: %d bytes after the last record", len(rest))
	}
	return Batch{Records: recs}, nil
}

func decodeKeyedBatch(b []byte) (Batch, error) {
	r := reader{b: b, off: 1}
	hb, err := r.bytes()
	if err != nil {
		return Batch{}, corruptf("decode batch: header: %v", err)
	}
	idem := &Idempotency{}
	var fp []byte
	f := fieldReader{name: "batch header", r: reader{b: hb}}
	for f.next() {
		switch f.tag {
		case tagBatchKey:
			idem.Key = f.str()
		case tagBatchFingerprint:
			fp = f.rawBytes()
		case tagBatchAnswer:
			idem.Answer = f.rawBytes()
		default:
			f.skip()
		}
	}
	if f.err != nil {
		return Batch{}, corruptf("decode batch: %v", f.err)
	}
	if idem.Key == "" || len(fp) != len(idem.Fingerprint) {
		return Batch{}, corruptf("decode batch: header has key of %d bytes and fingerprint of %d bytes", len(idem.Key), len(fp))
	}
	copy(idem.Fingerprint[:], fp)
	recs, rest, err := r.recordList()
	if err != nil {
		return Batch{}, err
	}
	if len(rest) != 0 {
		return Batch{}, corruptf("decode records: %d bytes after the last record", len(rest))
	}
	return Batch{Records: recs, Idempotency: idem}, nil
}

func (w *fieldWriter) bytes(tag uint64, v []byte) {
	if len(v) != 0 {
		w.key(tag, wireBytes)
		w.b = binary.AppendUvarint(w.b, uint64(len(v)))
		w.b = append(w.b, v...)
	}
}

// rawBytes reads a bytes field into a fresh slice (the input may be
// reused by the caller).
func (f *fieldReader) rawBytes() []byte {
	if !f.want(wireBytes) {
		return nil
	}
	b, err := f.r.bytes()
	f.fail(err)
	return bytes.Clone(b)
}

// keysImage is the idempotency-key table. Entries are never modified;
// bySeq holds them in insertion order at seq in [head, next), densely
// (only the oldest ever leaves).
type keysImage struct {
	byKey pmap[string, *IdempotencyEntry]
	bySeq pmap[int64, *IdempotencyEntry]
	head  int64
	next  int64
	bytes int64 // sum of the entries' size
}

// idempotencyLimits are the retention limits a Delta enforces.
type idempotencyLimits struct {
	window   time.Duration
	maxKeys  int
	maxBytes int64
}

var defaultIdempotencyLimits = idempotencyLimits{IdempotencyWindow, MaxIdempotencyKeys, MaxIdempotencyBytes}

// entries returns the table's entries, oldest first.
func (k *keysImage) entries() []*IdempotencyEntry {
	out := make([]*IdempotencyEntry, 0, k.byKey.Len())
	for s := k.head; s < k.next; s++ {
		e, ok := k.bySeq.get(hashInt(s), s)
		if !ok {
			panic(fmt.Sprintf("metadata: idempotency table has no entry at seq %d in [%d, %d)", s, k.head, k.next))
		}
		out = append(out, e)
	}
	return out
}

// Idempotency returns the remembered answer for key, if the image holds
// one.
func (im *Image) Idempotency(key string) (IdempotencyEntry, bool) { return im.state.idempotency(key) }

// IdempotencyKeys returns the number of keys the image remembers.
func (im *Image) IdempotencyKeys() int { return im.keys.byKey.Len() }

// Idempotency is Image.Idempotency as of the batches replayed so far.
func (d *Delta) Idempotency(key string) (IdempotencyEntry, bool) { return d.cur.idempotency(key) }

func (s *state) idempotency(key string) (IdempotencyEntry, bool) {
	e, ok := s.keys.byKey.get(hashString(key), key)
	if !ok {
		return IdempotencyEntry{}, false
	}
	return *e, true
}

// ReplayEntry replays the batch one raft entry committed at offset: the
// records get Offset = offset and, when the batch carries a key, the key
// is checked first:
//
//   - key known with the same fingerprint: nothing applies and the first
//     answer is returned (replayed != nil, err == nil);
//   - key known with another fingerprint: nothing applies, and err is an
//     *Error with ReasonIdempotencyKeyReused;
//   - otherwise the records replay as ReplayBatch does; if they apply, the
//     key is remembered with them.
//
// After a batch that applies, the table is trimmed to its retention
// limits (see the package comment on idempotency keys). A batch that is
// rejected remembers nothing, so its key may be used again.
func (d *Delta) ReplayEntry(offset int64, b Batch) (replayed *IdempotencyEntry, err error) {
	recs := b.Records
	for i := range recs {
		recs[i].Offset = offset
	}
	if k := b.Idempotency; k != nil {
		if e, ok := d.cur.keys.byKey.get(hashString(k.Key), k.Key); ok {
			if e.Fingerprint != k.Fingerprint {
				return nil, Errorf(ReasonIdempotencyKeyReused,
					"Idempotency-Key %q was first used at offset %d for a different request", k.Key, e.Offset)
			}
			return e, nil
		}
	}
	if err := d.ReplayBatch(recs); err != nil {
		return nil, err
	}
	if k := b.Idempotency; k != nil {
		d.rememberKey(offset, k, recs)
	}
	d.evictKeys()
	return nil, nil
}

func (d *Delta) rememberKey(offset int64, k *Idempotency, recs []Record) {
	var ts time.Time
	for _, r := range recs {
		if r.Timestamp.After(ts) {
			ts = r.Timestamp
		}
	}
	keys := d.cur.keys
	e := &IdempotencyEntry{
		Key: k.Key, Fingerprint: k.Fingerprint, Offset: offset, Timestamp: ts,
		Records: recs, Answer: k.Answer, seq: keys.next,
		size: int64(len(k.Key)+len(k.Answer)+len(k.Fingerprint)+len(EncodeRecords(recs))) + idempotencyEntryOverhead,
	}
	d.cur.keys = &keysImage{
		byKey: keys.byKey.set(d.ed, hashString(e.Key), e.Key, e),
		bySeq: keys.bySeq.set(d.ed, hashInt(e.seq), e.seq, e),
		head:  keys.head, next: keys.next + 1, bytes: keys.bytes + e.size,
	}
}

// evictKeys drops the oldest entries while the table is over a limit or
// the oldest is older than the window, in log time.
func (d *Delta) evictKeys() {
	keys := d.cur.keys
	if keys.head == keys.next {
		return
	}
	lim := d.limits
	var nk *keysImage
	for keys.head < keys.next {
		e, _ := keys.bySeq.get(hashInt(keys.head), keys.head)
		over := keys.byKey.Len() > lim.maxKeys || keys.bytes > lim.maxBytes
		if !over && d.maxTime.Sub(e.Timestamp) <= lim.window {
			break
		}
		if nk == nil {
			c := *keys
			nk, keys = &c, &c
		}
		nk.byKey = nk.byKey.del(d.ed, hashString(e.Key), e.Key)
		nk.bySeq = nk.bySeq.del(d.ed, hashInt(e.seq), e.seq)
		nk.head++
		nk.bytes -= e.size
	}
	if nk != nil {
		d.cur.keys = nk
	}
}

// keysFromEntries rebuilds a table from entries (oldest first), as a
// snapshot holds them.
func keysFromEntries(entries []*IdempotencyEntry) (*keysImage, error) {
	ed := new(edit)
	k := &keysImage{}
	for _, e := range entries {
		if _, dup := k.byKey.get(hashString(e.Key), e.Key); dup {
			return nil, fmt.Errorf("idempotency key %q listed twice", e.Key)
		}
		e.seq = k.next
		e.size = int64(len(e.Key)+len(e.Answer)+len(e.Fingerprint)+len(EncodeRecords(e.Records))) + idempotencyEntryOverhead
		k.byKey = k.byKey.set(ed, hashString(e.Key), e.Key, e)
		k.bySeq = k.bySeq.set(ed, hashInt(e.seq), e.seq, e)
		k.next++
		k.bytes += e.size
	}
	return k, nil
}

// Snapshot form of one entry (a header field tagSnapIdempotency, repeated
// oldest first): tagged fields 1 key, 2 fingerprint, 3 offset, 4
// timestamp (unix ms), 5 answer, 6 records (a version-1 batch, timestamps
// kept, offsets = the entry's offset).
const (
	tagEntryKey         = 1
	tagEntryFingerprint = 2
	tagEntryOffset      = 3
	tagEntryTimestamp   = 4
	tagEntryAnswer      = 5
	tagEntryRecords     = 6
)

func appendKeyEntry(b []byte, e *IdempotencyEntry) []byte {
	var w fieldWriter
	w.str(tagEntryKey, e.Key)
	w.bytes(tagEntryFingerprint, e.Fingerprint[:])
	w.int(tagEntryOffset, e.Offset)
	if !e.Timestamp.IsZero() {
		w.int(tagEntryTimestamp, encodeTime(e.Timestamp))
	}
	w.bytes(tagEntryAnswer, e.Answer)
	w.bytes(tagEntryRecords, EncodeRecords(e.Records))
	return append(b, w.b...)
}

func decodeKeyEntry(b []byte) (*IdempotencyEntry, error) {
	e := &IdempotencyEntry{}
	var fp, recs []byte
	f := fieldReader{name: "idempotency entry", r: reader{b: b}}
	for f.next() {
		switch f.tag {
		case tagEntryKey:
			e.Key = f.str()
		case tagEntryFingerprint:
			fp = f.rawBytes()
		case tagEntryOffset:
			e.Offset = f.int64()
		case tagEntryTimestamp:
			e.Timestamp = decodeTime(f.int64())
		case tagEntryAnswer:
			e.Answer = f.rawBytes()
		case tagEntryRecords:
			recs = f.rawBytes()
		default:
			f.skip()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	if e.Key == "" || len(fp) != len(e.Fingerprint) {
		return nil, fmt.Errorf("idempotency entry: key of %d bytes, fingerprint of %d bytes", len(e.Key), len(fp))
	}
	copy(e.Fingerprint[:], fp)
	rs, err := DecodeRecords(recs)
	if err != nil {
		return nil, fmt.Errorf("idempotency entry %q: %w", e.Key, err)
	}
	for i := range rs {
		rs[i].Offset = e.Offset
	}
	e.Records = rs
	return e, nil
}

// idempotencyEqual compares two tables: the same entries in the same
// order (positions are renumbered by snapshots and not compared).
func idempotencyEqual(a, b *keysImage) bool {
	if a == b {
		return true
	}
	if a.byKey.Len() != b.byKey.Len() || a.bytes != b.bytes {
		return false
	}
	x, y := a.entries(), b.entries()
	for i := range x {
		p, q := x[i], y[i]
		if p.Key != q.Key || p.Fingerprint != q.Fingerprint || p.Offset != q.Offset ||
			!p.Timestamp.Equal(q.Timestamp) || !bytes.Equal(p.Answer, q.Answer) || len(p.Records) != len(q.Records) {
			return false
		}
		for j := range p.Records {
			if !p.Records[j].Timestamp.Equal(q.Records[j].Timestamp) || !bodyEqual(p.Records[j].Body, q.Records[j].Body) {
				return false
			}
		}
	}
	return true
}
