package metadata

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

func writeSnapshot(t testing.TB, im *Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSnapshot(&b, im); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	return b.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	images := map[string]*Image{
		"empty":           Empty,
		"base":            base(t),
		"scenario":        replayAll(t, Empty, scenario(), 0),
		"representative":  representativeImage(t),
		"100k partitions": bigImage(),
	}
	for name, im := range images {
		t.Run(name, func(t *testing.T) {
			b := writeSnapshot(t, im)
			if !bytes.HasPrefix(b, []byte("YKSN\x02")) {
				t.Fatalf("snapshot starts % x, want YKSN version 2", b[:5])
			}
			got, err := ReadSnapshot(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("ReadSnapshot: %v", err)
			}
			if !got.Equal(im) || !im.Equal(got) {
				t.Fatalf("round trip differs (-want +got):\n%s", diffImages(im, got))
			}
			if !got.MaxTimestamp().Equal(im.MaxTimestamp()) || got.Offset() != im.Offset() {
				t.Errorf("offset %d, max timestamp %v; want %d, %v", got.Offset(), got.MaxTimestamp(), im.Offset(), im.MaxTimestamp())
			}
			// Equal images write equal bytes, and a decoded image is equal.
			if again := writeSnapshot(t, got); !bytes.Equal(again, b) {
				t.Errorf("the decoded image writes different bytes (%d vs %d)", len(again), len(b))
			}
			if again := writeSnapshot(t, im); !bytes.Equal(again, b) {
				t.Errorf("writing the same image twice gives different bytes")
			}
		})
	}
}

// TestSnapshotUpgradeFromV1: the documented upgrade path. A node that
// loads a version-1 file writes its next snapshot as version 2, which
// loads as the same image.
func TestSnapshotUpgradeFromV1(t *testing.T) {
	want := representativeImage(t)
	v1, err := ReadSnapshot(bytes.NewReader(encodeSnapshotV1(want)))
	if err != nil {
		t.Fatal(err)
	}
	v2 := writeSnapshot(t, v1)
	if !bytes.Equal(v2, writeSnapshot(t, want)) {
		t.Fatalf("the version-1 image writes other version-2 bytes than the original image")
	}
	got, err := DecodeSnapshot(v2)
	if err != nil {
		t.Fatal(err)
	}
	checkRepresentative(t, want, got)
}

// TestSnapshotInternsTopicUUIDs: every partition of a loaded topic
// shares the topic's UUID string, and a partition whose ISR is its
// replica list shares that list.
func TestSnapshotInternsTopicUUIDs(t *testing.T) {
	im, err := DecodeSnapshot(writeSnapshot(t, representativeImage(t)))
	if err != nil {
		t.Fatal(err)
	}
	checkInterned(t, im)
	shared := 0
	for _, ti := range im.topics.sortedTopics() {
		for _, p := range ti.sortedPartitions() {
			if sameIDs(p.ISR, p.Replicas) && unsafe.SliceData(p.ISR) == unsafe.SliceData(p.Replicas) {
				shared++
			}
		}
	}
	if shared == 0 {
		t.Errorf("no partition shares its ISR with its replicas")
	}
}

func checkInterned(t *testing.T, im *Image) {
	t.Helper()
	for _, ti := range im.topics.sortedTopics() {
		want := unsafe.StringData(ti.rec.TopicUUID)
		for _, p := range ti.sortedPartitions() {
			if unsafe.StringData(p.TopicUUID) != want {
				t.Fatalf("partition %d of %q has its own copy of the topic UUID", p.PartitionID, ti.rec.Name)
			}
		}
	}
}

func TestUUIDForm(t *testing.T) {
	for _, s := range []string{"6f1c9f40-2b6e-4b7a-9d38-0e5a3c1f2a11", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"} {
		u, ok := parseUUID(s)
		if !ok || formatUUID(u[:]) != s {
			t.Errorf("%q: parsed %v, formats as %q", s, ok, formatUUID(u[:]))
		}
	}
	// Only the form that formats back to itself is packed.
	for _, s := range []string{"", "uuid-x", "6F1C9F40-2B6E-4B7A-9D38-0E5A3C1F2A11", "6f1c9f40-2b6e-4b7a-9d38-0e5a3c1f2a1", "6f1c9f40x2b6e-4b7a-9d38-0e5a3c1f2a11",
		"6f1c9f40-2b6e-4b7a-9d38-0e5a3c1f2a1g", "{6f1c9f4-2b6e-4b7a-9d38-0e5a3c1f2a11}"} {
		if _, ok := parseUUID(s); ok {
			t.Errorf("parseUUID(%q) accepted", s)
		}
	}
}

// TestSnapshotWritesInBlocks: the writer hands w about one block at a
// time, never the whole snapshot.
func TestSnapshotWritesInBlocks(t *testing.T) {
	im := bigImage()
	var w maxWriter
	if err := WriteSnapshot(&w, im); err != nil {
		t.Fatal(err)
	}
	if w.total < 10*snapshotBlockSize || w.max > snapshotBlockSize+4096 {
		t.Errorf("wrote %d bytes, at most %d at once; want many blocks of about %d", w.total, w.max, snapshotBlockSize)
	}
}

type maxWriter struct{ max, total int }

func (w *maxWriter) Write(p []byte) (int, error) {
	w.max, w.total = max(w.max, len(p)), w.total+len(p)
	return len(p), nil
}

// errReader returns its bytes, then err.
type errReader struct {
	b   []byte
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestSnapshotReadsAStream: the reader takes the bytes as a stream gives
// them, however they are cut.
func TestSnapshotReadsAStream(t *testing.T) {
	im := bigImage()
	b := writeSnapshot(t, im)
	for name, r := range map[string]io.Reader{
		"one byte at a time": iotest.OneByteReader(bytes.NewReader(b)),
		"half reads":         iotest.HalfReader(bytes.NewReader(b)),
		"EOF with the data":  iotest.DataErrReader(bytes.NewReader(b)),
	} {
		got, err := ReadSnapshot(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.Equal(im) {
			t.Fatalf("%s: image differs", name)
		}
	}
}

func TestSnapshotIOErrors(t *testing.T) {
	good := writeSnapshot(t, bigImage())
	boom := errors.New("disk on fire")
	for _, n := range []int{0, 3, 100, len(good) / 2, len(good) - 1} {
		_, err := ReadSnapshot(&errReader{b: good[:n], err: boom})
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("reader failing after %d bytes: error %v, want the reader's, not ErrCorrupt", n, err)
		}
	}
	w := &failWriter{after: 3 * snapshotBlockSize, err: boom}
	if err := WriteSnapshot(w, bigImage()); !errors.Is(err, boom) {
		t.Errorf("WriteSnapshot to a failing writer: %v", err)
	}
}

type failWriter struct {
	after int
	err   error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return 0, w.err
	}
	w.after -= len(p)
	return len(p), nil
}

func TestSnapshotDamage(t *testing.T) {
	small := writeSnapshot(t, representativeImage(t))
	for i := range len(small) {
		if _, err := DecodeSnapshot(small[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: %v", i, len(small), err)
		}
	}
	for i := range len(small) {
		b := bytes.Clone(small)
		b[i] ^= 0x20
		if _, err := DecodeSnapshot(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d of %d flipped: %v", i, len(small), err)
		}
	}
	big := writeSnapshot(t, bigImage())
	for i := 5; i < len(big); i += len(big)/8 + 1 {
		b := bytes.Clone(big)
		b[i] ^= 0x01
		if _, err := DecodeSnapshot(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d of %d flipped: %v", i, len(big), err)
		}
	}
	if _, err := DecodeSnapshot(append(bytes.Clone(small), 0)); err == nil || !strings.Contains(err.Error(), "after the end") {
		t.Errorf("a byte after the end: %v", err)
	}
}

// craft writes a version-2 snapshot of raw items with valid checksums, so
// tests reach the checks behind them.
func craft(counts [4]int64, items ...[]byte) []byte {
	var out bytes.Buffer
	sw := snapWriter{w: bufio.NewWriter(&out)}
	sw.write([]byte("YKSN\x02"))
	var h fieldWriter
	h.int(tagSnap2Offset, 7)
	h.int(tagSnap2Brokers, counts[0])
	h.int(tagSnap2Topics, counts[1])
	h.int(tagSnap2ProducerIDs, counts[2])
	h.int(tagSnap2Keys, counts[3])
	sw.uvarint(uint64(len(h.b)))
	sw.buf = append(sw.buf, h.b...)
	sw.endItem()
	for _, it := range items {
		sw.buf = append(sw.buf, it...)
		sw.endItem()
	}
	if err := sw.finish(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

func item(f func(w *snapWriter)) []byte {
	var w snapWriter
	f(&w)
	return w.buf
}

func brokerItem(delta uint64, status byte) []byte {
	return item(func(w *snapWriter) {
		w.uvarint(delta)
		w.uuid("")
		w.varint(0)
		w.buf = append(w.buf, status)
		w.str("h")
		w.str("9092")
		w.str(ProtocolPlaintext)
		w.str("")
	})
}

func topicItem(name, uuid string, parts uint64) []byte {
	return item(func(w *snapWriter) { w.str(name); w.uuid(uuid); w.uvarint(parts) })
}

// partItem: replicas, then isr (0 = the replicas), leader, removing and
// adding as written.
func partItem(delta uint64, replicas []uint64, isr uint64, isrIdx []uint64, leader uint64, removing, adding []uint64) []byte {
	return partItemAt(delta, 0, replicas, isr, isrIdx, leader, removing, adding)
}

// partItemAt is partItem at a partition epoch.
func partItemAt(delta, epoch uint64, replicas []uint64, isr uint64, isrIdx []uint64, leader uint64, removing, adding []uint64) []byte {
	return item(func(w *snapWriter) {
		w.uvarint(delta)
		w.uvarint(epoch)
		w.uvarint(uint64(len(replicas)))
		for _, r := range replicas {
			w.uvarint(r)
		}
		w.uvarint(isr)
		for _, i := range isrIdx {
			w.uvarint(i)
		}
		w.uvarint(leader)
		for _, l := range [][]uint64{removing, adding} {
			w.uvarint(uint64(len(l)))
			for _, i := range l {
				w.uvarint(i)
			}
		}
	})
}

func pidItem(delta uint64, broker int64) []byte {
	return item(func(w *snapWriter) { w.uvarint(delta); w.varint(broker); w.varint(0) })
}

func TestSnapshotV2Errors(t *testing.T) {
	b0, b1 := brokerItem(1, 0), brokerItem(1, 1)
	okPart := partItem(1, []uint64{0, 1}, 0, nil, 1, nil, nil)
	valid := craft([4]int64{2, 1, 1, 0}, b0, b1, topicItem("t", "u", 1), okPart, pidItem(0, 1))
	if im, err := DecodeSnapshot(valid); err != nil || im.Offset() != 7 || im.PartitionCount("u") != 1 {
		t.Fatalf("the crafted baseline does not load: %v", err)
	}
	tests := []struct {
		name string
		in   []byte
		want string // in the message, or the *Error's code
	}{
		{"empty", nil, "not a snapshot"},
		{"bad magic", append([]byte("YKSX"), valid[4:]...), "bad magic"},
		{"newer version", append([]byte("YKSN\x03"), valid[5:]...), "version 3"},
		{"duplicate broker", craft([4]int64{2, 0, 0, 0}, b0, brokerItem(0, 0)), "out of order"},
		{"bad status", craft([4]int64{1, 0, 0, 0}, brokerItem(1, 3)), "status 3"},
		{"fewer items than counted", craft([4]int64{3, 0, 0, 0}, b0, b1), "ends before"},
		{"more items than counted", craft([4]int64{1, 0, 0, 0}, b0, b1), "after the last item"},
		{"invalid topic name", craft([4]int64{0, 1, 0, 0}, topicItem("a/b", "u", 0)), ReasonInvalidTopicName.String()},
		{"empty topic uuid", craft([4]int64{0, 1, 0, 0}, topicItem("a", "", 0)), ReasonInvalid.String()},
		{"topics out of order", craft([4]int64{0, 2, 0, 0}, topicItem("b", "u1", 0), topicItem("a", "u2", 0)), "out of order"},
		{"duplicate topic name", craft([4]int64{0, 2, 0, 0}, topicItem("a", "u1", 0), topicItem("a", "u2", 0)), "out of order"},
		{"duplicate topic uuid", craft([4]int64{0, 2, 0, 0}, topicItem("a", "u", 0), topicItem("b", "u", 0)), ReasonTopicAlreadyExists.String()},
		{"colliding topic names", craft([4]int64{0, 2, 0, 0}, topicItem("a.b", "u1", 0), topicItem("a_b", "u2", 0)), ReasonInvalidTopicName.String()},
		{"duplicate partition", craft([4]int64{2, 1, 0, 0}, b0, b1, topicItem("t", "u", 2), okPart, partItem(0, []uint64{0}, 0, nil, 0, nil, nil)), "out of order"},
		{"no replicas", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, nil, 0, nil, 0, nil, nil)), "no replicas"},
		{"duplicate replica", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, []uint64{3, 3}, 0, nil, 0, nil, nil)), ReasonInvalidReplicaAssignment.String()},
		{"replica beyond int32", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, []uint64{1 << 31}, 0, nil, 0, nil, nil)), "not a broker id"},
		{"ISR position out of range", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, []uint64{4, 5}, 2, []uint64{2}, 0, nil, nil)), "position 2 of 2"},
		{"ISR lists a replica twice", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, []uint64{4, 5}, 3, []uint64{1, 1}, 0, nil, nil)), ReasonInvalidReplicaAssignment.String()},
		{"leader beyond the ISR", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, []uint64{4, 5}, 2, []uint64{1}, 2, nil, nil)), "leader"},
		{"adding and removing", craft([4]int64{0, 1, 0, 0}, topicItem("t", "u", 1), partItem(1, []uint64{4, 5}, 0, nil, 1, []uint64{1}, []uint64{1})), ReasonInvalidReplicaAssignment.String()},
		{"producer ids of an unknown broker", craft([4]int64{1, 0, 1, 0}, b0, pidItem(0, 5)), ReasonBrokerNotFound.String()},
		{"producer ids out of range", craft([4]int64{1, 0, 1, 0}, b0, pidItem(1<<63, 0)), "out of range"},
		{"truncated key", craft([4]int64{0, 0, 0, 1}, []byte{9, 1}), "idempotency key"},
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
			if !strings.Contains(err.Error(), tt.want) && ReasonOf(err).String() != tt.want {
				t.Errorf("error %q (code %s) does not mention %q", err, ReasonOf(err), tt.want)
			}
		})
	}
}

// TestSnapshotChecksums: a block whose bytes were changed and its
// checksum recomputed still fails the total checksum.
func TestSnapshotChecksums(t *testing.T) {
	b := writeSnapshot(t, representativeImage(t))
	// One block: magic, version, size varint, payload, crc, end.
	n, sz := uvarintAt(b, 5)
	payload := b[5+sz : 5+sz+int(n)]
	host := bytes.Index(payload, []byte("10.0.0.1"))
	if host < 0 {
		t.Fatal("no broker host in the first block")
	}
	payload[host+7] = '9'
	crc := crc32.Update(crc32.Update(0, castagnoli, b[5:5+sz]), castagnoli, payload)
	c := b[5+sz+int(n):]
	c[0], c[1], c[2], c[3] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	if _, err := DecodeSnapshot(b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "total checksum") {
		t.Errorf("changed block with its checksum fixed: %v", err)
	}
}

func uvarintAt(b []byte, off int) (uint64, int) {
	r := reader{b: b, off: off}
	v, err := r.uvarint()
	if err != nil {
		panic(err)
	}
	return v, r.off - off
}

var _ io.Reader = (*errReader)(nil)

// oneBlock wraps payload as a one-block version-2 snapshot with valid
// checksums.
func oneBlock(payload []byte) []byte {
	var out bytes.Buffer
	sw := snapWriter{w: bufio.NewWriter(&out), buf: payload}
	sw.write([]byte("YKSN\x02"))
	if err := sw.finish(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// payloadOf is the payload of a one-block snapshot.
func payloadOf(b []byte) []byte {
	n, sz := uvarintAt(b, 5)
	return b[5+sz : 5+sz+int(n)]
}

// FuzzSnapshotItems fuzzes what is behind the checksums: the payload of a
// one-block snapshot, wrapped with valid ones. Seeds are real payloads.
func FuzzSnapshotItems(f *testing.F) {
	for _, im := range []*Image{Empty, base(f), replayAll(f, Empty, scenario(), 0), representativeImage(f)} {
		f.Add(bytes.Clone(payloadOf(EncodeSnapshot(im))))
	}
	f.Add(payloadOf(craft([4]int64{2, 1, 1, 0}, brokerItem(1, 0), brokerItem(1, 1), topicItem("t", "u", 1),
		partItem(1, []uint64{0, 1}, 2, []uint64{1}, 1, []uint64{0}, nil), pidItem(0, 1))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) == 0 {
			return // an empty block is the end marker
		}
		im, err := DecodeSnapshot(oneBlock(payload))
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
		if !again.Equal(im) || !im.Equal(again) {
			t.Fatalf("snapshot round trip differs:\n%s", diffImages(im, again))
		}
		// What loads is an image replay could build: its records replay.
		if _, err := ImageFromRecords(im.Records(), im.Offset()); err != nil {
			t.Fatalf("loaded image does not replay: %v", err)
		}
	})
}

// TestReplayInternsTopicUUIDs: partitions replayed from decoded records
// (each with its own copy of the UUID) share the topic's string too.
func TestReplayInternsTopicUUIDs(t *testing.T) {
	recs, err := DecodeRecords(EncodeRecords(recsAt(1, top("t", "uuid-t"), prt("uuid-t", 0, 0, 1, 2), prt("uuid-t", 1, 0, 2, 1),
		with(prt("uuid-t", 1, 1, 2, 1), func(p *PartitionRecord) { p.ISR, p.Leader = []int32{1}, 1 }))))
	if err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(recs[1].Body.(*PartitionRecord).TopicUUID) == unsafe.StringData(recs[0].Body.(*TopicRecord).TopicUUID) {
		t.Fatal("decoded records already share the string; the test proves nothing")
	}
	im := replayAll(t, Empty, recs, 0)
	checkInterned(t, im)
	p0, _ := im.partState("uuid-t", 0)
	if p0.isr >= 0 || len(p0.ids) != 2 {
		t.Errorf("partition 0's ISR equals its replicas but is a separate list")
	}
	if p1, _ := im.Partition("uuid-t", 1); !slices.Equal(p1.ISR, []int32{1}) || !slices.Equal(p1.Replicas, []int32{2, 1}) {
		t.Errorf("partition 1 = %+v", p1)
	}
}

// TestPartitionListingsAgree: the image's listings built from partState
// (Partitions, View, Records) agree with sortedPartitions deep-copied,
// and hand out lists the caller may change.
func TestPartitionListingsAgree(t *testing.T) {
	im := representativeImage(t)
	var fromView []PartitionRecord
	for _, ti := range im.topics.sortedTopics() {
		want := clonePartitions(ti.sortedPartitions())
		got := im.Partitions(ti.rec.TopicUUID)
		if diff := diffJSON(want, got); diff != "" {
			t.Fatalf("topic %q (-sortedPartitions +Partitions):\n%s", ti.rec.Name, diff)
		}
		fromView = append(fromView, want...)
		for _, p := range got {
			p.Replicas[0], p.ISR = -7, append(p.ISR, -8)
		}
	}
	if diff := diffJSON(fromView, im.View(false).Partitions); diff != "" {
		t.Fatalf("View (-want +got):\n%s", diff)
	}
	var fromRecords []PartitionRecord
	for _, r := range im.Records() {
		if p, ok := r.Body.(*PartitionRecord); ok {
			fromRecords = append(fromRecords, *p)
		}
	}
	if diff := diffJSON(fromView, fromRecords); diff != "" {
		t.Fatalf("Records (-want +got):\n%s", diff)
	}
}

// TestSnapshotIsCompact guards the size: a partition with three replicas,
// all in sync, takes about a dozen bytes (the 2,000,000 partitions
// fit in 60 MB only below 30).
func TestSnapshotIsCompact(t *testing.T) {
	b := writeSnapshot(t, bigImage())
	if per := float64(len(b)) / 100_000; per > 16 {
		t.Errorf("%d bytes for 100,000 partitions: %.1f per partition, want at most 16", len(b), per)
	}
}

// TestCheckPartStateAgrees: the decoder's short-list check accepts
// exactly what checkAssignment accepts, for partitions whose lists are
// drawn from their replicas (all a snapshot can express), repeats,
// overlaps and long replica lists included.
func TestCheckPartStateAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(replicas []int32, n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = replicas[rng.IntN(len(replicas))]
		}
		return out
	}
	accepted, rejected := 0, 0
	for range 20_000 {
		nr := 1 + rng.IntN(5)
		if rng.IntN(20) == 0 {
			nr = 15 + rng.IntN(5) // across the quadratic check's limit
		}
		replicas := make([]int32, nr)
		for i := range replicas {
			replicas[i] = int32(rng.IntN(2 * nr)) // repeats now and then
		}
		r := PartitionRecord{PartitionID: 1, Replicas: replicas, ISR: replicas, Leader: NoLeader}
		if rng.IntN(2) == 0 {
			r.ISR = pick(replicas, rng.IntN(nr+1))
		}
		r.RemovingReplicas = pick(replicas, rng.IntN(3))
		r.AddingReplicas = pick(replicas, rng.IntN(3))
		if len(r.ISR) > 0 && rng.IntN(2) == 0 {
			r.Leader = r.ISR[rng.IntN(len(r.ISR))]
		}
		p := newPartState(&r)
		want := checkAssignment(&r)
		if got := checkPartState(p); (got == nil) != (want == nil) {
			t.Fatalf("%+v: checkPartState = %v, checkAssignment = %v", r, got, want)
		}
		if want == nil {
			accepted++
		} else {
			rejected++
		}
	}
	if accepted < 1000 || rejected < 1000 {
		t.Fatalf("accepted %d, rejected %d: the cases do not cover both outcomes", accepted, rejected)
	}
}

// TestLoadedImageCopyOnWrite: a loaded image keeps its partitions and map
// nodes in shared slabs. Changes after the load (single ones, many in one
// batch under one edit token, new partitions, deleted and new topics)
// must leave every earlier image as it was, and give the same images as
// the same changes on the image the snapshot was taken of.
func TestLoadedImageCopyOnWrite(t *testing.T) {
	var bodies []Body
	for b := range int32(6) {
		bodies = append(bodies, brk(b, 0, StatusAlive))
	}
	uuids := []string{"uuid-a", "uuid-b", "uuid-c"}
	for i, u := range uuids {
		bodies = append(bodies, top(fmt.Sprintf("topic-%d", i), u))
		for p := range int32(300) {
			bodies = append(bodies, prt(u, p, 0, p%6, (p+1)%6, (p+2)%6))
		}
	}
	orig := build(t, bodies...)
	loaded, err := DecodeSnapshot(writeSnapshot(t, orig))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	epochs := map[string]int64{}
	change := func(u string, p int32) Body {
		k := fmt.Sprintf("%s/%d", u, p)
		epochs[k]++
		return with(prt(u, p, epochs[k], p%6, (p+1)%6, (p+2)%6), func(r *PartitionRecord) {
			r.ISR = r.ISR[:1+rng.IntN(3)]
			r.Leader = r.ISR[len(r.ISR)-1]
		})
	}
	var batches [][]Body
	for range 100 { // one change a batch
		batches = append(batches, []Body{change(uuids[rng.IntN(2)], int32(rng.IntN(300)))})
	}
	var many []Body // one batch changing most of a topic
	for p := range int32(300) {
		if p%7 != 0 {
			many = append(many, change("uuid-a", p))
		}
	}
	batches = append(batches, many,
		[]Body{prt("uuid-b", 300, 0, 1, 2, 3), prt("uuid-b", 301, 0, 2, 3, 4)},
		[]Body{rmTop("topic-2", "uuid-c")},
		[]Body{top("topic-2", "uuid-c2"), prt("uuid-c2", 0, 0, 0, 1)},
		[]Body{change("uuid-b", 300), change("uuid-b", 0)})

	want, got := []*Image{orig}, []*Image{loaded}
	offset := orig.Offset()
	for _, batch := range batches {
		recs := recsAt(offset+1, batch...)
		offset += int64(len(recs))
		want = append(want, replayAll(t, want[len(want)-1], recs, 0))
		got = append(got, replayAll(t, got[len(got)-1], recs, 0))
	}
	for i := range want {
		if want[i].Equal(got[i]) && got[i].Equal(want[i]) {
			continue
		}
		if diff := diffImages(want[i], got[i]); diff != "" {
			t.Fatalf("image %d of %d: loaded chain differs (-replayed +loaded):\n%s", i, len(want), diff)
		}
	}
	again, err := DecodeSnapshot(writeSnapshot(t, orig))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffImages(again, loaded); diff != "" {
		t.Fatalf("the loaded image changed under later changes:\n%s", diff)
	}
}

// TestPartitionFastAgrees: partitionFast accepts only what partition
// accepts, with the same result, and consumes nothing when it declines;
// most well-formed items take it. Items are written by the snapshot
// writer's own helpers, then truncated or changed at random.
func TestPartitionFastAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	positions := func(nr, n int) []uint64 {
		out := make([]uint64, n)
		for i := range out {
			out[i] = uint64(rng.IntN(nr + 1)) // now and then out of range
		}
		return out
	}
	big := []uint64{0, 1, 127, 128, 16383, 16384, 1<<31 - 1, 1 << 31, 1<<63 - 1, 1 << 63, 1<<64 - 1}
	value := func() uint64 {
		if rng.IntN(8) == 0 {
			return big[rng.IntN(len(big))]
		}
		return uint64(rng.IntN(300))
	}
	fast, declined := 0, 0
	for range 50_000 {
		nr := rng.IntN(5)
		replicas := make([]uint64, nr)
		for i := range replicas {
			replicas[i] = value()
		}
		isr, isrIdx := uint64(0), []uint64(nil)
		if rng.IntN(2) == 0 {
			isrIdx = positions(nr, rng.IntN(nr+1))
			isr = uint64(len(isrIdx)) + 1
		}
		b := partItemAt(value(), value(), replicas, isr, isrIdx, uint64(rng.IntN(nr+2)), positions(nr, rng.IntN(2)), positions(nr, rng.IntN(2)))
		switch rng.IntN(4) {
		case 0:
			b = b[:rng.IntN(len(b)+1)]
		case 1:
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		prev := int64(rng.IntN(3)) - 1
		sf := &snapReader{r: reader{b: b}}
		idF, pF, idsF, ok := sf.partitionFast(prev, []int32{42})
		ss := &snapReader{r: reader{b: b}}
		idS, pS, idsS, err := ss.partition(prev, []int32{42})
		if !ok {
			declined++
			if sf.r.off != 0 {
				t.Fatalf("%x: partitionFast declined but consumed %d bytes", b, sf.r.off)
			}
			continue
		}
		fast++
		if err != nil {
			t.Fatalf("%x: partitionFast accepted what partition rejects: %v", b, err)
		}
		if idF != idS || pF.ids != nil || pS.ids != nil || pF.epoch != pS.epoch || pF.leader != pS.leader ||
			pF.nrep != pS.nrep || pF.isr != pS.isr || pF.nrem != pS.nrem || !slices.Equal(idsF, idsS) || sf.r.off != ss.r.off {
			t.Fatalf("%x: partitionFast = %d %+v %v (at %d), partition = %d %+v %v (at %d)",
				b, idF, pF, idsF, sf.r.off, idS, pS, idsS, ss.r.off)
		}
	}
	if fast < 5000 || declined < 5000 {
		t.Fatalf("fast %d, declined %d: the cases do not cover both", fast, declined)
	}
}
