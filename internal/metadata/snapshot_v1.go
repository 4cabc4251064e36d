package metadata

import (
	"fmt"
	"time"
)

// Snapshot encoding version 1, read for files written before version 2
// (there is no writer any more):
//
//	snapshot = magic:"YKSN" version:byte(=1) header batch
//	header   = size:uvarint fields[size]     tagged fields, as in a record
//	batch    = the records of Image.Records(), as EncodeRecords writes them
//
// Header tags: 1 offset (varint), 2 maxTimestamp (varint unix ms; absent
// for the zero time), 3 one idempotency-key entry (bytes, see
// idempotency.go; repeated, oldest first; absent in snapshots written
// before keys existed, which restore with an empty table). Unknown header
// tags are skipped. There is no checksum. The records are replayed into
// Empty (ImageFromRecords).
const (
	snapshotVersion1 = 1

	tagSnapOffset       = 1
	tagSnapMaxTimestamp = 2
	tagSnapIdempotency  = 3
)

// decodeSnapshotV1 decodes a whole version-1 snapshot (magic and version
// byte included).
func decodeSnapshotV1(b []byte) (*Image, error) {
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
