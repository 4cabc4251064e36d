package metadata

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// everyType is one record of each type with edge values.
func everyType() []Record {
	return []Record{
		{Timestamp: t0, Body: brk(1, 0, StatusAlive)},
		{Timestamp: time.Time{}, Body: &RegisterBrokerRecord{BrokerID: math.MaxInt32, Epoch: math.MaxInt64, BrokerHost: "höst-ü", RackID: strings.Repeat("r", 300)}},
		{Timestamp: time.UnixMilli(-1).UTC(), Body: &RegisterBrokerRecord{BrokerID: math.MinInt32, Epoch: math.MinInt64}},
		{Timestamp: time.UnixMilli(0).UTC(), Body: top("orders", "6f1c")},
		{Timestamp: t0, Body: &TopicRecord{}},
		{Timestamp: t0, Body: prt("u", 0, 0, 1, 2, 3)},
		{Timestamp: t0, Body: &PartitionRecord{PartitionID: math.MaxInt32, TopicUUID: "u", Replicas: []int32{math.MinInt32, -1, 0, math.MaxInt32},
			ISR: []int32{}, RemovingReplicas: []int32{5}, AddingReplicas: []int32{6, 7}, Leader: NoLeader, PartitionEpoch: math.MaxInt64}},
		{Timestamp: t0, Body: &PartitionRecord{}}, // nil slices decode as empty
		{Timestamp: time.UnixMilli(math.MaxInt64 / 2).UTC(), Body: pid(1, 2, 3000)},
		{Timestamp: t0, Body: &ProducerIdsRecord{BrokerID: -1, BrokerEpoch: math.MinInt64, ProducerID: math.MaxInt64}},
		{Timestamp: t0, Body: chg(1, 1, StatusFenced)},
		{Timestamp: t0, Body: &BrokerRegistrationChangeBrokerRecord{BrokerID: 0, Epoch: -5}},
		{Timestamp: t0, Body: rmTop("orders", "6f1c")},
		{Timestamp: t0, Body: &RemoveTopicRecord{Name: "\x00\xff"}},
		{Timestamp: t0, Body: mig(MigrationFollowing, 1<<40, 123000)},
		{Timestamp: t0, Body: &ZkMigrationStateRecord{Phase: MigrationFailed, Zxid: math.MaxInt64, NextProducerID: math.MinInt64,
			TopicsImported: -1, TopicsTotal: math.MaxInt64, Error: "/brokers/topics/a: bad JSON\n\x00"}},
		{Timestamp: t0, Body: &ZkMigrationStateRecord{}},
		{Timestamp: t0, Body: cfg(ConfigResourceTopic, "orders", "retention.ms", "86400000")},
		{Timestamp: t0, Body: cfg(ConfigResourceBroker, "", "log.cleanup.policy", "")},
		{Timestamp: t0, Body: &ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "7", Name: "min.insync.replicas"}},
		{Timestamp: t0, Body: &ConfigRecord{}},
	}
}

// normalized is what decoding recs must give: no offsets, non-nil slices.
func normalized(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = Record{Timestamp: r.Timestamp, Body: cloneBody(r.Body)}
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		recs []Record
	}{
		{"empty batch", []Record{}},
		{"every type, edge values", everyType()},
		{"scenario", scenario()},
		{"offsets are dropped", []Record{{Offset: 77, Timestamp: t0, Body: top("a", "b")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeRecords(tt.recs)
			got, err := DecodeRecords(b)
			if err != nil {
				t.Fatalf("DecodeRecords: %v", err)
			}
			if want := normalized(tt.recs); !reflect.DeepEqual(want, got) {
				t.Errorf("round trip (-want +got):\n%s", diffJSON(want, got))
			}
			if again := EncodeRecords(got); string(again) != string(b) {
				t.Errorf("re-encoding differs:\n got %x\nwant %x", again, b)
			}
		})
	}
}

func TestCodecTimestamps(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero time", time.Time{}, time.Time{}},
		{"unix epoch", time.Unix(0, 0), time.Unix(0, 0).UTC()},
		{"milliseconds kept", t0, t0},
		{"finer cut", t0.Add(999 * time.Microsecond), t0},
		{"other zone becomes UTC", t0.In(time.FixedZone("X", 3600)), t0},
		{"before 1970", time.Date(1960, 1, 2, 3, 4, 5, 6e6, time.UTC), time.Date(1960, 1, 2, 3, 4, 5, 6e6, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecords(EncodeRecords([]Record{{Timestamp: tt.in, Body: top("a", "b")}}))
			if err != nil {
				t.Fatal(err)
			}
			if ts := got[0].Timestamp; ts != tt.want {
				t.Errorf("timestamp = %#v, want %#v", ts, tt.want)
			}
		})
	}
}

// rawRecord encodes one record by hand: type, version, timestamp, fields.
func rawRecord(typ, version uint64, fields []byte) []byte {
	b := []byte{batchVersion, 1}
	b = binary.AppendUvarint(b, typ)
	b = binary.AppendUvarint(b, version)
	b = binary.AppendVarint(b, t0.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(fields)))
	return append(b, fields...)
}

func fields(f func(w *fieldWriter)) []byte {
	var w fieldWriter
	f(&w)
	return w.b
}

func TestCodecCompatibility(t *testing.T) {
	full := prt("u", 3, 4, 1, 2)
	full.AddingReplicas = []int32{2}
	tests := []struct {
		name string
		in   []byte
		want Body
	}{
		{"tomorrow's record: unknown varint and bytes tags are skipped", rawRecord(typePartition, 0, fields(func(w *fieldWriter) {
			w.int(99, -12345)
			w.body(full)
			w.str(15, "a new string field")
			w.ints(16, []int32{1, 2, 3})
			w.int(1<<20, 1)
		})), full},
		{"yesterday's record: missing fields take defaults", rawRecord(typePartition, 0, fields(func(w *fieldWriter) {
			w.int(tagPPartitionID, 3)
			w.str(tagPTopicUUID, "u")
			w.ints(tagPReplicas, []int32{1})
		})), &PartitionRecord{PartitionID: 3, TopicUUID: "u", Replicas: []int32{1}, ISR: []int32{}, RemovingReplicas: []int32{}, AddingReplicas: []int32{}}},
		{"fields in any order", rawRecord(typeTopic, 0, fields(func(w *fieldWriter) {
			w.str(tagTopicName, "n")
			w.str(tagTopicUUID, "u")
		})), top("n", "u")},
		{"a repeated field: last wins", rawRecord(typeProducerIDs, 0, fields(func(w *fieldWriter) {
			w.int(tagPIDProducerID, 1000)
			w.int(tagPIDProducerID, 2000)
		})), &ProducerIdsRecord{ProducerID: 2000}},
		{"no fields at all", rawRecord(typeRemoveTopic, 0, nil), &RemoveTopicRecord{}},
		{"migration state: unknown tags skipped, missing ones zero", rawRecord(typeZkMigrationState, 0, fields(func(w *fieldWriter) {
			w.str(tagZMPhase, MigrationDualWrite)
			w.int(tagZMZxid, 42)
			w.str(9, "a later field")
		})), &ZkMigrationStateRecord{Phase: MigrationDualWrite, Zxid: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecords(tt.in)
			if err != nil {
				t.Fatalf("DecodeRecords: %v", err)
			}
			want := []Record{{Timestamp: t0, Body: tt.want}}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("(-want +got):\n%s", diffJSON(want, got))
			}
		})
	}
}

func TestCodecErrors(t *testing.T) {
	good := EncodeRecords(scenario()[:3])
	tests := []struct {
		name    string
		in      []byte
		wantMsg string
	}{
		{"empty input", nil, "empty input"},
		{"unknown batch version", []byte{9, 0}, "batch version 9"},
		{"truncated count", []byte{batchVersion, 0x80}, "count"},
		{"count larger than input", []byte{batchVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}, "exceeds"},
		{"trailing bytes", append(EncodeRecords(nil), 0), "after the last record"},
		{"unknown record type", rawRecord(42, 0, nil), "unknown record type 42"},
		{"record type 0", rawRecord(0, 0, nil), "unknown record type 0"},
		{"newer version", rawRecord(typeTopic, 1, nil), "version 1 is newer"},
		{"fields longer than input", append(rawRecord(typeTopic, 0, nil)[:len(rawRecord(typeTopic, 0, nil))-1], 5), "fields"},
		{"tag 0", rawRecord(typeTopic, 0, []byte{0 << 3, 1}), "tag 0"},
		{"unknown wire type", rawRecord(typeTopic, 0, []byte{9<<3 | 5, 1}), "wire type 5"},
		{"wrong wire type for a known field", rawRecord(typeTopic, 0, fields(func(w *fieldWriter) { w.int(tagTopicName, 1) })), "wire type 0, want 2"},
		{"int32 overflow", rawRecord(typeProducerIDs, 0, fields(func(w *fieldWriter) { w.int(tagPIDBrokerID, math.MaxInt32+1) })), "does not fit in int32"},
		{"packed int32 overflow", rawRecord(typePartition, 0, binary.AppendVarint([]byte{tagPReplicas<<3 | wireBytes, 5}, math.MinInt32-1)), "does not fit in int32"},
		{"truncated packed list", rawRecord(typePartition, 0, []byte{tagPReplicas<<3 | wireBytes, 1, 0x80}), "truncated varint"},
		{"truncated string", rawRecord(typeTopic, 0, []byte{tagTopicName<<3 | wireBytes, 10, 'a'}), "exceeds"},
		{"truncated unknown field", rawRecord(typeTopic, 0, []byte{9<<3 | wireVarint, 0x80}), "field 9"},
		{"varint overflow", rawRecord(typeTopic, 0, []byte{9<<3 | wireVarint, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "overflows"},
		{"truncated record", good[:len(good)-1], "record 2 of 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecords(tt.in)
			if err == nil {
				t.Fatalf("DecodeRecords = %+v, want an error", got)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not match ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestCodecTruncationsAndFlips(t *testing.T) {
	b := EncodeRecords(scenario())
	for i := range len(b) {
		if recs, err := DecodeRecords(b[:i]); err == nil {
			t.Errorf("truncated to %d of %d bytes: decoded %d records, want an error", i, len(b), len(recs))
		}
	}
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := append([]byte(nil), b...)
			c[i] ^= x
			checkDecodeStable(t, c) // must not panic; if it decodes, it re-encodes stably
		}
	}
}

func TestEncodePanicsOnForeignBody(t *testing.T) {
	for _, body := range []Body{nil, foreignBody{}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("EncodeRecords with body %T did not panic", body)
				}
			}()
			EncodeRecords([]Record{{Body: body}})
		}()
	}
}

// checkDecodeStable: decoding b must not panic, and whatever decodes must
// encode and decode to the same records.
func checkDecodeStable(t *testing.T, b []byte) {
	t.Helper()
	recs, err := DecodeRecords(b)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not match ErrCorrupt", err)
		}
		return
	}
	enc := EncodeRecords(recs)
	again, err := DecodeRecords(enc)
	if err != nil {
		t.Fatalf("re-encoded records do not decode: %v", err)
	}
	if !reflect.DeepEqual(recs, again) {
		t.Fatalf("decode(encode(decode(b))) differs (-first +second):\n%s", diffJSON(recs, again))
	}
	if enc2 := EncodeRecords(again); string(enc2) != string(enc) {
		t.Fatalf("encoding is not canonical")
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(EncodeRecords(everyType()))
	f.Add(EncodeRecords(scenario()[:6]))
	f.Add(EncodeRecords(nil))
	f.Add(rawRecord(typePartition, 0, []byte{9 << 3, 1, 15<<3 | 2, 1, 'x'}))
	f.Add([]byte{})
	f.Add([]byte{batchVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeStable(t, b)
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(EncodeSnapshot(replayAll(f, Empty, scenario(), 0)))
	f.Add(EncodeSnapshot(Empty))
	f.Add(EncodeSnapshot(base(f)))
	f.Add(EncodeSnapshot(representativeImage(f)))
	f.Add(encodeSnapshotV1(representativeImage(f)))
	f.Add(EncodeSnapshot(build(f, top("t", "u"), cfg(ConfigResourceTopic, "t", "retention.ms", "1"), cfg(ConfigResourceBroker, "", "x", ""),
		cfg(ConfigResourceBroker, "3", "y", "z"))))
	f.Add(encodeSnapshotV1(replayAll(f, Empty, scenario(), 0)))
	f.Add(craft([4]int64{2, 1, 1, 0}, brokerItem(1, 0), brokerItem(1, 1), topicItem("t", "u", 1),
		partItem(1, []uint64{0, 1}, 2, []uint64{1}, 1, []uint64{0}, nil), pidItem(0, 1)))
	f.Add([]byte("YKSN"))
	f.Add([]byte("YKSN\x01\x00\x01\x00"))
	f.Add([]byte("YKSN\x02\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := DecodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		enc := EncodeSnapshot(im)
		again, err := DecodeSnapshot(enc)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if diff := diffImages(im, again); diff != "" {
			t.Fatalf("snapshot round trip (-first +second):\n%s", diff)
		}
		if !again.MaxTimestamp().Equal(im.MaxTimestamp()) {
			t.Fatalf("MaxTimestamp %v != %v", again.MaxTimestamp(), im.MaxTimestamp())
		}
		if string(EncodeSnapshot(again)) != string(enc) {
			t.Fatalf("snapshot encoding is not canonical")
		}
	})
}

func TestSnapshotV1Errors(t *testing.T) {
	good := encodeSnapshotV1(replayAll(t, Empty, scenario(), 0))
	headerLen := len(snapshotMagic) + 1
	tests := []struct {
		name    string
		in      []byte
		wantMsg string
	}{
		{"empty", nil, "not a snapshot"},
		{"bad magic", append([]byte("XXXX"), good[4:]...), "bad magic"},
		{"newer version", append(append([]byte("YKSN"), 3), good[headerLen:]...), "version 3"},
		{"truncated header", good[:headerLen+1], "header"},
		{"truncated records", good[:len(good)-3], "decode records"},
		{"records that do not replay", append([]byte("YKSN\x01\x00"), EncodeRecords(recsAt(1, prt("nope", 0, 0, 1)))...), "TOPIC_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := DecodeSnapshot(tt.in)
			if err == nil {
				t.Fatalf("DecodeSnapshot = %v, want an error", im)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not match ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) && !strings.Contains(ReasonOf(err).String(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
	for i := range len(good) {
		if _, err := DecodeSnapshot(good[:i]); err == nil {
			t.Errorf("snapshot truncated to %d of %d bytes decoded", i, len(good))
		}
	}
}

func TestSnapshotV1HeaderCompatibility(t *testing.T) {
	// A newer writer adds header tag 9; this decoder skips it.
	var h fieldWriter
	h.int(tagSnapOffset, 42)
	h.str(9, "future")
	h.int(tagSnapMaxTimestamp, t0.UnixMilli())
	b := append([]byte("YKSN\x01"), binary.AppendUvarint(nil, uint64(len(h.b)))...)
	b = append(b, h.b...)
	b = append(b, EncodeRecords(recsAt(1, brk(1, 0, StatusAlive)))...)
	im, err := DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if im.Offset() != 42 || !im.MaxTimestamp().Equal(t0) || len(im.Brokers()) != 1 {
		t.Errorf("decoded offset %d, max timestamp %v, %d brokers", im.Offset(), im.MaxTimestamp(), len(im.Brokers()))
	}
}
