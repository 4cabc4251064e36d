package metadata

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Snapshot encoding:
//
//	snapshot = magic:"YKSN" version:byte(=1) header batch
//	header   = size:uvarint fields[size]     tagged fields, as in a record
//	batch    = the records of Image.Records(), as EncodeRecords writes them
//
// Header tags: 1 offset (varint), 2 maxTimestamp (varint unix ms; absent
// for the zero time), 3 one idempotency-key entry (bytes, see
// idempotency.go; repeated, oldest first; absent in snapshots written
// before keys existed, which restore with an empty table). Unknown header
// tags are skipped; a new version byte means an incompatible change. There
// is no checksum: storage checksums snapshot files.

var snapshotMagic = []byte("YKSN")

const (
	snapshotVersion = 1

	tagSnapOffset       = 1
	tagSnapMaxTimestamp = 2
	tagSnapIdempotency  = 3
)

// ImageFromRecords builds the image a snapshot holds: it replays recs (an
// image's Records(), or any records in that form) into Empty and stamps
// the result with offset. It is Records' inverse. Replay's rules apply, but
// for one relaxation: a ProducerIdsRecord needs only its broker to be
// registered, since the broker may have been fenced, closed or moved to
// another epoch after the block was given. Errors are replay's.
func ImageFromRecords(recs []Record, offset int64) (*Image, error) {
	d := NewDelta(Empty)
	d.snapshot = true
	if err := d.ReplayBatch(recs); err != nil {
		return nil, err
	}
	return d.Apply(offset), nil
}

// EncodeSnapshot writes im in the snapshot encoding: its offset, its
// MaxTimestamp, its idempotency keys and its canonical Records(). Equal
// images encode to equal bytes.
func EncodeSnapshot(im *Image) []byte {
	var h fieldWriter
	h.int(tagSnapOffset, im.offset)
	if !im.maxTime.IsZero() {
		h.int(tagSnapMaxTimestamp, encodeTime(im.maxTime))
	}
	for _, e := range im.keys.entries() {
		h.bytes(tagSnapIdempotency, appendKeyEntry(nil, e))
	}
	recs := im.Records()
	b := make([]byte, 0, len(snapshotMagic)+16+len(h.b)+64*len(recs))
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.AppendUvarint(b, uint64(len(h.b)))
	b = append(b, h.b...)
	return appendRecords(b, recs)
}

// DecodeSnapshot reads what EncodeSnapshot wrote and rebuilds the image
// (ImageFromRecords), with Offset and MaxTimestamp restored. It never
// panics; every error matches ErrCorrupt, including records that decode
// but do not replay (errors.As then also finds their *Error).
func DecodeSnapshot(b []byte) (*Image, error) {
	if len(b) < len(snapshotMagic)+1 || string(b[:len(snapshotMagic)]) != string(snapshotMagic) {
		return nil, corruptf("decode snapshot: not a snapshot (bad magic)")
	}
	if v := b[len(snapshotMagic)]; v != snapshotVersion {
		return nil, corruptf("decode snapshot: version %d, this decoder reads %d", v, snapshotVersion)
	}
	r := reader{b: b, off: len(snapshotMagic) + 1}
	hb, err := r.bytes()
	if err != nil {
		return nil, corruptf("decode snapshot: header: %v", err)
	}
	var offset int64
	var maxTime time.Time
	var entries []*IdempotencyEntry
	f := fieldReader{name: "snapshot header", r: reader{b: hb}}
	for f.next() {
		switch f.tag {
		case tagSnapOffset:
			offset = f.int64()
		case tagSnapMaxTimestamp:
			maxTime = decodeTime(f.int64())
		case tagSnapIdempotency:
			if !f.want(wireBytes) {
				break
			}
			eb, err := f.r.bytes()
			if err != nil {
				f.fail(err)
				break
			}
			e, err := decodeKeyEntry(eb)
			if err != nil {
				f.fail(err)
				break
			}
			entries = append(entries, e)
		default:
			f.skip()
		}
	}
	if f.err != nil {
		return nil, corruptf("decode snapshot: %v", f.err)
	}
	recs, err := DecodeRecords(b[r.off:])
	if err != nil {
		return nil, fmt.Errorf("decode snapshot at offset %d: %w", offset, err)
	}
	im, err := ImageFromRecords(recs, offset)
	if err != nil {
		return nil, &corruptError{msg: fmt.Sprintf("decode snapshot at offset %d: %v", offset, err), err: err}
	}
	im.maxTime = maxTime
	if im.keys, err = keysFromEntries(entries); err != nil {
		return nil, corruptf("decode snapshot at offset %d: %v", offset, err)
	}
	return im, nil
}
