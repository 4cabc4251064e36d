package metadata

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// The binary codec. Layout (all integers are Go's encoding/binary varints:
// "uvarint" unsigned LEB128, "varint" zigzag-signed):
//
//	batch   = version:byte(=1) count:uvarint record{count}
//	record  = type:uvarint version:uvarint timestampMs:varint size:uvarint fields[size]
//	fields  = { key:uvarint value }            key = tag<<3 | wire
//	value   = varint                           wire 0: every integer, zigzag
//	        | len:uvarint byte{len}            wire 2: strings; []int32 packed as varints
//
// Forward and backward compatibility come from the tags: a decoder skips
// tags it does not know (by their wire type), and a field that is absent
// decodes as its default, which is always the Go zero value (strings "",
// integers 0, slices empty). The encoder omits fields equal to their
// default, so the encoding of a record is canonical. A new field gets a new
// tag and does not change the record's version; a record's version changes
// only for a change old decoders must not misread (a field changing
// meaning), and a decoder rejects versions newer than it knows. Tags are
// never reused. Offsets are not encoded: they are the raft index the
// records commit at.

const (
	batchVersion = 1

	wireVarint = 0
	wireBytes  = 2
)

// Record type ids. Never reuse or renumber one.
const (
	typeRegisterBroker        = 1
	typeTopic                 = 2
	typePartition             = 3
	typeProducerIDs           = 4
	typeBrokerRegistrationChg = 5
	typeRemoveTopic           = 6
	typeZkMigrationState      = 7
	typeConfig                = 8
)

// maxRecordVersion is the newest version this decoder reads, per type id.
var maxRecordVersion = map[uint64]uint64{
	typeRegisterBroker: 0, typeTopic: 0, typePartition: 0,
	typeProducerIDs: 0, typeBrokerRegistrationChg: 0, typeRemoveTopic: 0,
	typeZkMigrationState: 0, typeConfig: 0,
}

// Field tags, per record type.
const (
	// RegisterBrokerRecord
	tagRBInternalUUID     = 1
	tagRBBrokerID         = 2
	tagRBBrokerHost       = 3
	tagRBBrokerPort       = 4
	tagRBSecurityProtocol = 5
	tagRBBrokerStatus     = 6
	tagRBRackID           = 7
	tagRBEpoch            = 8
	// TopicRecord and RemoveTopicRecord
	tagTopicUUID = 1
	tagTopicName = 2
	// PartitionRecord
	tagPPartitionID      = 1
	tagPTopicUUID        = 2
	tagPReplicas         = 3
	tagPISR              = 4
	tagPRemovingReplicas = 5
	tagPAddingReplicas   = 6
	tagPLeader           = 7
	tagPPartitionEpoch   = 8
	// ProducerIdsRecord
	tagPIDBrokerID    = 1
	tagPIDBrokerEpoch = 2
	tagPIDProducerID  = 3
	// BrokerRegistrationChangeBrokerRecord
	tagBCBrokerID         = 1
	tagBCBrokerHost       = 2
	tagBCBrokerPort       = 3
	tagBCSecurityProtocol = 4
	tagBCBrokerStatus     = 5
	tagBCEpoch            = 6
	// ZkMigrationStateRecord
	tagZMPhase          = 1
	tagZMZkConnect      = 2
	tagZMZkClusterID    = 3
	tagZMZxid           = 4
	tagZMNextProducerID = 5
	tagZMTopicsImported = 6
	tagZMTopicsTotal    = 7
	tagZMError          = 8
	// ConfigRecord. A nil Value is tagCValueNull = 1 and no value; a set
	// value, "" included, is its string (omitted when "", as always).
	tagCResourceType = 1
	tagCResourceName = 2
	tagCName         = 3
	tagCValue        = 4
	tagCValueNull    = 5
)

// zeroTimeMs is time.Time{}.UnixMilli(): the zero time round-trips as itself.
var zeroTimeMs = time.Time{}.UnixMilli()

func encodeTime(t time.Time) int64 { return t.UnixMilli() }

func decodeTime(ms int64) time.Time {
	if ms == zeroTimeMs {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// EncodeRecords encodes recs as one batch; Offsets are dropped and
// Timestamps kept at millisecond precision. It panics if a record has no
// Body or a Body of a type not from this package (a programmer error).
func EncodeRecords(recs []Record) []byte {
	return appendRecords(make([]byte, 0, 16+48*len(recs)), recs)
}

func appendRecords(b []byte, recs []Record) []byte {
	b = append(b, batchVersion)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	var f fieldWriter
	for i, r := range recs {
		f.b = f.b[:0]
		typ := f.body(r.Body)
		if typ == 0 {
			panic(fmt.Sprintf("metadata: EncodeRecords: record %d has body %T", i, r.Body))
		}
		b = binary.AppendUvarint(b, typ)
		b = binary.AppendUvarint(b, 0) // version
		b = binary.AppendVarint(b, encodeTime(r.Timestamp))
		b = binary.AppendUvarint(b, uint64(len(f.b)))
		b = append(b, f.b...)
	}
	return b
}

// fieldWriter appends tagged fields, omitting defaults.
type fieldWriter struct{ b []byte }

func (w *fieldWriter) key(tag, wire uint64) { w.b = binary.AppendUvarint(w.b, tag<<3|wire) }

func (w *fieldWriter) int(tag uint64, v int64) {
	if v != 0 {
		w.key(tag, wireVarint)
		w.b = binary.AppendVarint(w.b, v)
	}
}

func (w *fieldWriter) str(tag uint64, s string) {
	if s != "" {
		w.key(tag, wireBytes)
		w.b = binary.AppendUvarint(w.b, uint64(len(s)))
		w.b = append(w.b, s...)
	}
}

func (w *fieldWriter) ints(tag uint64, vs []int32) {
	if len(vs) == 0 {
		return
	}
	n := 0
	for _, v := range vs {
		n += varintLen(int64(v))
	}
	w.key(tag, wireBytes)
	w.b = binary.AppendUvarint(w.b, uint64(n))
	for _, v := range vs {
		w.b = binary.AppendVarint(w.b, int64(v))
	}
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// body writes b's fields and returns its type id, or 0 for an unknown body.
func (w *fieldWriter) body(b Body) uint64 {
	switch r := b.(type) {
	case *RegisterBrokerRecord:
		w.str(tagRBInternalUUID, r.InternalUUID)
		w.int(tagRBBrokerID, int64(r.BrokerID))
		w.str(tagRBBrokerHost, r.BrokerHost)
		w.str(tagRBBrokerPort, r.BrokerPort)
		w.str(tagRBSecurityProtocol, r.SecurityProtocol)
		w.str(tagRBBrokerStatus, r.BrokerStatus)
		w.str(tagRBRackID, r.RackID)
		w.int(tagRBEpoch, r.Epoch)
		return typeRegisterBroker
	case *TopicRecord:
		w.str(tagTopicUUID, r.TopicUUID)
		w.str(tagTopicName, r.Name)
		return typeTopic
	case *PartitionRecord:
		w.int(tagPPartitionID, int64(r.PartitionID))
		w.str(tagPTopicUUID, r.TopicUUID)
		w.ints(tagPReplicas, r.Replicas)
		w.ints(tagPISR, r.ISR)
		w.ints(tagPRemovingReplicas, r.RemovingReplicas)
		w.ints(tagPAddingReplicas, r.AddingReplicas)
		w.int(tagPLeader, int64(r.Leader))
		w.int(tagPPartitionEpoch, r.PartitionEpoch)
		return typePartition
	case *ProducerIdsRecord:
		w.int(tagPIDBrokerID, int64(r.BrokerID))
		w.int(tagPIDBrokerEpoch, r.BrokerEpoch)
		w.int(tagPIDProducerID, r.ProducerID)
		return typeProducerIDs
	case *BrokerRegistrationChangeBrokerRecord:
		w.int(tagBCBrokerID, int64(r.BrokerID))
		w.str(tagBCBrokerHost, r.BrokerHost)
		w.str(tagBCBrokerPort, r.BrokerPort)
		w.str(tagBCSecurityProtocol, r.SecurityProtocol)
		w.str(tagBCBrokerStatus, r.BrokerStatus)
		w.int(tagBCEpoch, r.Epoch)
		return typeBrokerRegistrationChg
	case *RemoveTopicRecord:
		w.str(tagTopicUUID, r.TopicUUID)
		w.str(tagTopicName, r.Name)
		return typeRemoveTopic
	case *ZkMigrationStateRecord:
		w.str(tagZMPhase, r.Phase)
		w.str(tagZMZkConnect, r.ZkConnect)
		w.str(tagZMZkClusterID, r.ZkClusterID)
		w.int(tagZMZxid, r.Zxid)
		w.int(tagZMNextProducerID, r.NextProducerID)
		w.int(tagZMTopicsImported, r.TopicsImported)
		w.int(tagZMTopicsTotal, r.TopicsTotal)
		w.str(tagZMError, r.Error)
		return typeZkMigrationState
	case *ConfigRecord:
		w.str(tagCResourceType, r.ResourceType)
		w.str(tagCResourceName, r.ResourceName)
		w.str(tagCName, r.Name)
		if r.Value == nil {
			w.int(tagCValueNull, 1)
		} else {
			w.str(tagCValue, *r.Value)
		}
		return typeConfig
	}
	return 0
}

// DecodeRecords decodes a batch EncodeRecords (or EncodeBatch) wrote, by
// this version or any other that kept the rules above; an idempotency
// header is dropped. Records come back with Offset 0, UTC timestamps and
// non-nil slices. It never panics; any error matches ErrCorrupt and says
// where the bytes went wrong.
func DecodeRecords(b []byte) ([]Record, error) {
	batch, err := DecodeBatch(b)
	if err != nil {
		return nil, err
	}
	return batch.Records, nil
}

// decodeRecords decodes one version-1 batch from the front of b and
// returns the rest.
func decodeRecords(b []byte) ([]Record, []byte, error) {
	if len(b) == 0 {
		return nil, nil, corruptf("decode records: empty input")
	}
	if b[0] != batchVersion {
		return nil, nil, corruptf("decode records: batch version %d, this decoder reads %d", b[0], batchVersion)
	}
	r := reader{b: b, off: 1}
	return r.recordList()
}

// recordList reads "count:uvarint record{count}" and returns the rest.
func (r *reader) recordList() ([]Record, []byte, error) {
	count, err := r.uvarint()
	if err != nil {
		return nil, nil, corruptf("decode records: count: %v", err)
	}
	// Each record takes at least 4 bytes; refuse counts the input cannot hold
	// before allocating for them.
	if count > uint64(r.remaining()/4) {
		return nil, nil, corruptf("decode records: count %d exceeds what %d bytes can hold", count, r.remaining())
	}
	recs := make([]Record, 0, count)
	for i := range count {
		rec, err := r.record()
		if err != nil {
			return nil, nil, corruptf("decode records: record %d of %d (at byte %d): %v", i, count, r.start, err)
		}
		recs = append(recs, rec)
	}
	return recs, r.b[r.off:], nil
}

// reader reads the codec's primitives; errors are plain (the caller wraps
// them with ErrCorrupt and a position).
type reader struct {
	b     []byte
	off   int
	start int // offset of the record being read, for errors
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, varintErr(n)
	}
	r.off += n
	return v, nil
}

func (r *reader) varint() (int64, error) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		return 0, varintErr(n)
	}
	r.off += n
	return v, nil
}

func varintErr(n int) error {
	if n == 0 {
		return fmt.Errorf("truncated varint")
	}
	return fmt.Errorf("varint overflows 64 bits")
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(r.remaining()) {
		return nil, fmt.Errorf("length %d exceeds the %d bytes left", n, r.remaining())
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

func (r *reader) record() (Record, error) {
	r.start = r.off
	typ, err := r.uvarint()
	if err != nil {
		return Record{}, fmt.Errorf("type: %v", err)
	}
	maxVer, ok := maxRecordVersion[typ]
	if !ok {
		return Record{}, fmt.Errorf("unknown record type %d", typ)
	}
	ver, err := r.uvarint()
	if err != nil {
		return Record{}, fmt.Errorf("version: %v", err)
	}
	if ver > maxVer {
		return Record{}, fmt.Errorf("record type %d version %d is newer than this decoder (%d)", typ, ver, maxVer)
	}
	ms, err := r.varint()
	if err != nil {
		return Record{}, fmt.Errorf("timestamp: %v", err)
	}
	fields, err := r.bytes()
	if err != nil {
		return Record{}, fmt.Errorf("fields: %v", err)
	}
	body, err := decodeBody(typ, fields)
	if err != nil {
		return Record{}, err
	}
	return Record{Timestamp: decodeTime(ms), Body: body}, nil
}

// fieldReader walks tagged fields. next returns false at the end or on
// error; err is then set if the fields were malformed.
type fieldReader struct {
	name string
	r    reader
	tag  uint64
	wire uint64
	err  error
}

func (f *fieldReader) next() bool {
	if f.err != nil || f.r.remaining() == 0 {
		return false
	}
	key, err := f.r.uvarint()
	if err != nil {
		f.err = fmt.Errorf("%s: field key at byte %d: %v", f.name, f.r.off, err)
		return false
	}
	f.tag, f.wire = key>>3, key&7
	if f.tag == 0 {
		f.err = fmt.Errorf("%s: field tag 0 at byte %d", f.name, f.r.off)
		return false
	}
	if f.wire != wireVarint && f.wire != wireBytes {
		f.err = fmt.Errorf("%s: field %d has unknown wire type %d", f.name, f.tag, f.wire)
		return false
	}
	return true
}

// skip passes over the current (unknown) field.
func (f *fieldReader) skip() {
	if f.wire == wireVarint {
		_, err := f.r.varint()
		f.fail(err)
	} else {
		_, err := f.r.bytes()
		f.fail(err)
	}
}

func (f *fieldReader) fail(err error) {
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("%s: field %d: %v", f.name, f.tag, err)
	}
}

func (f *fieldReader) want(wire uint64) bool {
	if f.wire != wire {
		f.fail(fmt.Errorf("wire type %d, want %d", f.wire, wire))
		return false
	}
	return true
}

func (f *fieldReader) int64() int64 {
	if !f.want(wireVarint) {
		return 0
	}
	v, err := f.r.varint()
	f.fail(err)
	return v
}

func (f *fieldReader) int32() int32 {
	v := f.int64()
	if v < math.MinInt32 || v > math.MaxInt32 {
		f.fail(fmt.Errorf("value %d does not fit in int32", v))
		return 0
	}
	return int32(v)
}

func (f *fieldReader) str() string {
	if !f.want(wireBytes) {
		return ""
	}
	b, err := f.r.bytes()
	f.fail(err)
	return string(b)
}

func (f *fieldReader) ints() []int32 {
	if !f.want(wireBytes) {
		return nil
	}
	b, err := f.r.bytes()
	if err != nil {
		f.fail(err)
		return nil
	}
	// Every varint ends in the one byte of it below 0x80.
	n := 0
	for _, c := range b {
		if c < 0x80 {
			n++
		}
	}
	out := make([]int32, 0, n)
	for len(b) > 0 {
		v, n := binary.Varint(b)
		if n <= 0 {
			f.fail(fmt.Errorf("packed list: %v", varintErr(n)))
			return nil
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			f.fail(fmt.Errorf("packed list: value %d does not fit in int32", v))
			return nil
		}
		out = append(out, int32(v))
		b = b[n:]
	}
	return out
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

func decodeBody(typ uint64, b []byte) (Body, error) {
	f := fieldReader{r: reader{b: b}}
	switch typ {
	case typeRegisterBroker:
		f.name = NameRegisterBrokerRecord
		r := new(RegisterBrokerRecord)
		for f.next() {
			switch f.tag {
			case tagRBInternalUUID:
				r.InternalUUID = f.str()
			case tagRBBrokerID:
				r.BrokerID = f.int32()
			case tagRBBrokerHost:
				r.BrokerHost = f.str()
			case tagRBBrokerPort:
				r.BrokerPort = f.str()
			case tagRBSecurityProtocol:
				r.SecurityProtocol = f.str()
			case tagRBBrokerStatus:
				r.BrokerStatus = f.str()
			case tagRBRackID:
				r.RackID = f.str()
			case tagRBEpoch:
				r.Epoch = f.int64()
			default:
				f.skip()
			}
		}
		return r, f.err
	case typeTopic, typeRemoveTopic:
		var uuid, name string
		f.name = NameTopicRecord
		if typ == typeRemoveTopic {
			f.name = NameRemoveTopicRecord
		}
		for f.next() {
			switch f.tag {
			case tagTopicUUID:
				uuid = f.str()
			case tagTopicName:
				name = f.str()
			default:
				f.skip()
			}
		}
		if typ == typeRemoveTopic {
			return &RemoveTopicRecord{TopicUUID: uuid, Name: name}, f.err
		}
		return &TopicRecord{TopicUUID: uuid, Name: name}, f.err
	case typePartition:
		f.name = NamePartitionRecord
		r := new(PartitionRecord)
		for f.next() {
			switch f.tag {
			case tagPPartitionID:
				r.PartitionID = f.int32()
			case tagPTopicUUID:
				r.TopicUUID = f.str()
			case tagPReplicas:
				r.Replicas = f.ints()
			case tagPISR:
				r.ISR = f.ints()
			case tagPRemovingReplicas:
				r.RemovingReplicas = f.ints()
			case tagPAddingReplicas:
				r.AddingReplicas = f.ints()
			case tagPLeader:
				r.Leader = f.int32()
			case tagPPartitionEpoch:
				r.PartitionEpoch = f.int64()
			default:
				f.skip()
			}
		}
		r.Replicas, r.ISR = nonNil(r.Replicas), nonNil(r.ISR)
		r.RemovingReplicas, r.AddingReplicas = nonNil(r.RemovingReplicas), nonNil(r.AddingReplicas)
		return r, f.err
	case typeProducerIDs:
		f.name = NameProducerIdsRecord
		r := new(ProducerIdsRecord)
		for f.next() {
			switch f.tag {
			case tagPIDBrokerID:
				r.BrokerID = f.int32()
			case tagPIDBrokerEpoch:
				r.BrokerEpoch = f.int64()
			case tagPIDProducerID:
				r.ProducerID = f.int64()
			default:
				f.skip()
			}
		}
		return r, f.err
	case typeBrokerRegistrationChg:
		f.name = NameBrokerRegistrationChangeBrokerRecord
		r := new(BrokerRegistrationChangeBrokerRecord)
		for f.next() {
			switch f.tag {
			case tagBCBrokerID:
				r.BrokerID = f.int32()
			case tagBCBrokerHost:
				r.BrokerHost = f.str()
			case tagBCBrokerPort:
				r.BrokerPort = f.str()
			case tagBCSecurityProtocol:
				r.SecurityProtocol = f.str()
			case tagBCBrokerStatus:
				r.BrokerStatus = f.str()
			case tagBCEpoch:
				r.Epoch = f.int64()
			default:
				f.skip()
			}
		}
		return r, f.err
	case typeZkMigrationState:
		f.name = NameZkMigrationStateRecord
		r := new(ZkMigrationStateRecord)
		for f.next() {
			switch f.tag {
			case tagZMPhase:
				r.Phase = f.str()
			case tagZMZkConnect:
				r.ZkConnect = f.str()
			case tagZMZkClusterID:
				r.ZkClusterID = f.str()
			case tagZMZxid:
				r.Zxid = f.int64()
			case tagZMNextProducerID:
				r.NextProducerID = f.int64()
			case tagZMTopicsImported:
				r.TopicsImported = f.int64()
			case tagZMTopicsTotal:
				r.TopicsTotal = f.int64()
			case tagZMError:
				r.Error = f.str()
			default:
				f.skip()
			}
		}
		return r, f.err
	case typeConfig:
		f.name = NameConfigRecord
		r := new(ConfigRecord)
		var value string
		var hasValue bool
		var null int64
		for f.next() {
			switch f.tag {
			case tagCResourceType:
				r.ResourceType = f.str()
			case tagCResourceName:
				r.ResourceName = f.str()
			case tagCName:
				r.Name = f.str()
			case tagCValue:
				value, hasValue = f.str(), true
			case tagCValueNull:
				null = f.int64()
			default:
				f.skip()
			}
		}
		switch {
		case f.err != nil:
		case null != 0 && (null != 1 || hasValue):
			f.err = fmt.Errorf("%s: null marker %d with a value %t", f.name, null, hasValue)
		case null == 0:
			r.Value = &value
		}
		return r, f.err
	}
	return nil, fmt.Errorf("unknown record type %d", typ)
}
