package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// updateV1 rewrites testdata/snapshot-v1.yksn from representativeImage.
// Only ever needed again if the fixture's content has to change; the file
// then keeps being written by the version-1 encoder (encodeSnapshotV1).
var updateV1 = flag.Bool("update-v1", false, "rewrite testdata/snapshot-v1.yksn")

const v1Fixture = "testdata/snapshot-v1.yksn"

// representativeImage has a bit of everything a snapshot holds: brokers
// ALIVE, FENCED, CLOSED and re-registered; topics with canonical and
// free-form UUIDs; partitions with shrunk ISRs, no leader, adding and
// removing replicas and epochs above 0; producer-id blocks (one of a
// fenced broker, one of a broker at an older epoch); idempotency keys; and
// a max timestamp.
func representativeImage(t testing.TB) *Image {
	t.Helper()
	const (
		orders   = "6f1c9f40-2b6e-4b7a-9d38-0e5a3c1f2a11"
		payments = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
		legacy   = "uuid-legacy"
		gone     = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
	)
	ts := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []entryStep{
		{1, keyed("", "", ts(1), brk(0, 0, StatusAlive), brk(1, 0, StatusAlive), brk(2, 0, StatusAlive))},
		{2, keyed("", "", ts(2), brk(3, 0, StatusAlive), brk(4, 0, StatusAlive), brk(7, 0, StatusAlive),
			&RegisterBrokerRecord{InternalUUID: "9b2f1c3e-5d4a-4e6f-8a7b-1c2d3e4f5a6b", BrokerID: 1000,
				BrokerHost: "broker-1000.example", BrokerPort: "19092", SecurityProtocol: ProtocolSASLSSL,
				BrokerStatus: StatusAlive, RackID: "", Epoch: 5})},
		{3, keyed("create-orders", "req-orders", ts(3),
			top("orders", orders),
			prt(orders, 0, 0, 0, 1, 2), prt(orders, 1, 0, 1, 2, 3), prt(orders, 2, 0, 2, 3, 4), prt(orders, 3, 0, 3, 4, 7))},
		{4, keyed("", "", ts(4), pid(0, 0, 0), pid(2, 0, 1000), pid(7, 0, 7000))},
		{5, keyed("", "", ts(5), chg(2, 1, StatusFenced), chg(3, 1, StatusClosed))},
		{6, keyed("", "", ts(6),
			with(prt(orders, 0, 1, 0, 1, 2), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{1, 0}, 1 }),
			with(prt(orders, 2, 1, 2, 3, 4), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{}, NoLeader }),
			with(prt(orders, 3, 1, 3, 4, 7, 0), func(r *PartitionRecord) {
				r.ISR, r.AddingReplicas, r.RemovingReplicas, r.Leader = []int32{4, 7}, []int32{0}, []int32{3}, 4
			}))},
		{7, keyed("create-legacy", "req-legacy", ts(7), top("legacy.topic_x", legacy), prt(legacy, 0, 0, 1000), prt(legacy, 5, 0, 0, 1000))},
		{8, keyed("", "", ts(8), top("gone", gone), prt(gone, 0, 0, 1))},
		{9, keyed("", "", ts(9), rmTop("gone", gone), top("payments", payments),
			prt(payments, 0, 0, 4, 1000, 0), prt(payments, 1, 0, 1000, 0, 1))},
		{10, keyed("", "", ts(10), chg(7, 1, StatusAlive), pid(7, 1, 3000), pid(1000, 5, 1_000_000))},
		{11, keyed("", "", ts(11), brk(3, 4, StatusAlive), chg(4, 1, StatusFenced))},
		{12, keyed("", "", ts(12),
			with(prt(payments, 1, 1, 1000, 0, 1), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{0, 1}, 0 }),
			with(prt(payments, 1, 2, 1000, 0, 1), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{0}, 0 }))},
	}
	// Unlike replayEntries, every batch must apply.
	d := NewDelta(Empty)
	for _, s := range steps {
		b, err := DecodeBatch(EncodeBatch(s.batch))
		if err != nil {
			t.Fatalf("decode batch at %d: %v", s.offset, err)
		}
		if _, err := d.ReplayEntry(s.offset, b); err != nil {
			t.Fatalf("replay entry at %d: %v", s.offset, err)
		}
	}
	return d.Apply(steps[len(steps)-1].offset)
}

// checkRepresentative checks im is representativeImage, keys and max
// timestamp included.
func checkRepresentative(t *testing.T, want, got *Image) {
	t.Helper()
	if diff := diffImages(want, got); diff != "" {
		t.Fatalf("loaded image differs (-want +got):\n%s", diff)
	}
	if !got.MaxTimestamp().Equal(want.MaxTimestamp()) {
		t.Errorf("MaxTimestamp = %v, want %v", got.MaxTimestamp(), want.MaxTimestamp())
	}
	if got.IdempotencyKeys() != 2 {
		t.Errorf("IdempotencyKeys = %d, want 2", got.IdempotencyKeys())
	}
	e, ok := got.Idempotency("create-orders")
	if !ok || e.Offset != 3 || len(e.Records) != 5 || string(e.Answer) != "answer-req-orders" {
		t.Errorf("Idempotency(create-orders) = %+v, %v", e, ok)
	}
}

// TestSnapshotV1FixtureLoads: a snapshot file written by the version-1
// encoder (committed bytes, not regenerated) still loads, through both
// ReadSnapshot and DecodeSnapshot, as the image it was written from.
func TestSnapshotV1FixtureLoads(t *testing.T) {
	want := representativeImage(t)
	if want.Offset() != 12 || len(want.Brokers()) != 7 || len(want.Topics()) != 3 || len(want.ProducerIDs().Blocks) != 5 {
		t.Fatalf("fixture image: offset %d, %d brokers, %d topics, %d blocks",
			want.Offset(), len(want.Brokers()), len(want.Topics()), len(want.ProducerIDs().Blocks))
	}
	if *updateV1 {
		if err := os.WriteFile(v1Fixture, encodeSnapshotV1(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.FromSlash(v1Fixture))
	if err != nil {
		t.Fatalf("read fixture (regenerate with -update-v1): %v", err)
	}
	if !bytes.HasPrefix(data, []byte("YKSN\x01")) {
		t.Fatalf("fixture is not a version-1 snapshot: % x", data[:min(len(data), 5)])
	}
	// The fixture was written from representativeImage: if this fails the
	// builder changed, not the decoder.
	if enc := encodeSnapshotV1(want); !bytes.Equal(enc, data) {
		t.Fatalf("fixture no longer matches representativeImage (%d vs %d bytes)", len(enc), len(data))
	}
	got, err := ReadSnapshot(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadSnapshot: %v", err)
	}
	checkRepresentative(t, want, got)
	got, err = DecodeSnapshot(data)
	if err != nil {
		t.Fatalf("DecodeSnapshot: %v", err)
	}
	checkRepresentative(t, want, got)
	for i := range len(data) {
		if _, err := ReadSnapshot(bytes.NewReader(data[:i])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("fixture truncated to %d of %d bytes: error %v, want ErrCorrupt", i, len(data), err)
		}
	}
}

// encodeSnapshotV1 is the version-1 encoder the fixture was written with
// (the package's EncodeSnapshot before version 2), kept to test that
// version-1 files still load.
func encodeSnapshotV1(im *Image) []byte {
	var h fieldWriter
	h.int(tagSnapOffset, im.offset)
	if !im.maxTime.IsZero() {
		h.int(tagSnapMaxTimestamp, encodeTime(im.maxTime))
	}
	for _, e := range im.keys.entries() {
		h.bytes(tagSnapIdempotency, appendKeyEntry(nil, e))
	}
	recs := im.Records()
	b := append([]byte(nil), snapshotMagic...)
	b = append(b, snapshotVersion1)
	b = binary.AppendUvarint(b, uint64(len(h.b)))
	b = append(b, h.b...)
	return appendRecords(b, recs)
}
