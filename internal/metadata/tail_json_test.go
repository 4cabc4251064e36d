package metadata

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

// checkEncoded checks that SinceEncoded's (or SinceTimeEncoded's) answer
// enc holds the records of the plain answer want, each with its
// MarshalJSON encoding.
func checkEncoded(t *testing.T, want []Record, enc []TailRecord, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("encoded answer: %v", err)
	}
	if len(enc) != len(want) {
		t.Fatalf("encoded answer has %d records, the plain one %d", len(enc), len(want))
	}
	for i, r := range enc {
		if !reflect.DeepEqual(r.Record(), want[i]) {
			t.Errorf("encoded record %d = %+v, want %+v", i, r.Record(), want[i])
		}
		wantJSON, _ := want[i].MarshalJSON()
		for range 2 { // encoding, then the cached copy
			got, err := r.AppendJSON([]byte("["))
			if err != nil || string(got) != "["+string(wantJSON) {
				t.Errorf("record %d AppendJSON = %s, %v; want [%s", i, got, err, wantJSON)
			}
		}
	}
}

// countedBody counts its encodings (it goes through encoding/json).
type countedBody struct {
	N     int
	count *atomic.Int64
}

func (countedBody) RecordName() string { return "CountedRecord" }

func (b countedBody) MarshalJSON() ([]byte, error) {
	b.count.Add(1)
	return []byte(fmt.Sprintf(`{"n":%d}`, b.N)), nil
}

// A record is encoded the first time a reader asks for its JSON, never
// at Append and never twice, however many readers fetch it at once.
func TestTailEncodesOnceOnFirstUse(t *testing.T) {
	var count atomic.Int64
	tail := NewTail(1000)
	var recs []Record
	for i := range 300 { // more than a chunk
		recs = append(recs, Record{Offset: int64(i/2 + 1), Timestamp: t0, Body: countedBody{N: i, count: &count}})
	}
	tail.Append(recs[:100])
	tail.Append(recs[100:])
	if n := count.Load(); n != 0 {
		t.Fatalf("Append encoded %d records; want none before a reader asks", n)
	}
	if _, err := tail.SinceEncoded(0, 0); err != nil || count.Load() != 0 {
		t.Fatalf("SinceEncoded encoded %d records (err %v); want none before AppendJSON", count.Load(), err)
	}
	var wg sync.WaitGroup
	answers := make([][]byte, 8)
	for g := range answers {
		wg.Go(func() {
			enc, err := tail.SinceEncoded(int64(g%2), 0) // half skip offset 1
			if err != nil {
				t.Error(err)
				return
			}
			var b []byte
			for _, r := range enc {
				if b, err = r.AppendJSON(b); err != nil {
					t.Error(err)
					return
				}
			}
			answers[g] = b
		})
	}
	wg.Wait()
	if n := count.Load(); n != int64(len(recs)) {
		t.Errorf("%d readers of %d records encoded %d times; want once each", len(answers), len(recs), n)
	}
	var want []byte
	for _, r := range recs {
		want, _ = r.AppendJSON(want)
	}
	first, _ := recs[0].MarshalJSON()
	first2, _ := recs[1].MarshalJSON()
	for g, got := range answers {
		w := want
		if g%2 == 1 {
			w = want[len(first)+len(first2):]
		}
		if string(got) != string(w) {
			t.Errorf("reader %d got %.80s..., want %.80s...", g, got, w)
		}
	}
}

// A TailRecord stays usable after its record is evicted or the tail
// reset: a fetch may still be writing it.
func TestTailRecordOutlivesEviction(t *testing.T) {
	tail := NewTail(2)
	tail.Append([]Record{tr(1, 1), tr(2, 2)})
	enc, err := tail.SinceEncoded(0, 0)
	if err != nil || len(enc) != 2 {
		t.Fatalf("SinceEncoded = %d records, %v", len(enc), err)
	}
	tail.Append([]Record{tr(3, 3), tr(4, 4)})
	tail.Reset(10)
	for i, r := range enc {
		want, _ := tr(int64(i+1), i+1).MarshalJSON()
		got, err := r.AppendJSON(nil)
		if err != nil || string(got) != string(want) || r.Record().Offset != int64(i+1) {
			t.Errorf("evicted record %d: %s, %v; want %s", i, got, err, want)
		}
	}
}

// A record without a body fails to encode on every use, not just the
// first, and the records around it are unaffected.
func TestTailRecordEncodeError(t *testing.T) {
	tail := NewTail(10)
	tail.Append([]Record{tr(1, 1), {Offset: 2, Timestamp: t0}, tr(3, 3)})
	enc, _ := tail.SinceEncoded(0, 0)
	for range 2 {
		if b, err := enc[1].AppendJSON([]byte("x")); err == nil {
			t.Errorf("AppendJSON of a body-less record = %s, no error", b)
		}
	}
	for _, i := range []int{0, 2} {
		if b, err := enc[i].AppendJSON(nil); err != nil || !json.Valid(b) {
			t.Errorf("record %d: %s, %v", i, b, err)
		}
	}
}

// Append allocates its entries a chunk at a time, not one per record.
func TestTailAppendAllocations(t *testing.T) {
	tail := NewTail(1000)
	off := int64(0)
	batch := make([]Record, 200)
	appendBatch := func() {
		off++
		for i := range batch {
			batch[i] = Record{Offset: off, Timestamp: t0, Body: batch[0].Body}
		}
		tail.Append(batch)
	}
	batch[0].Body = top("a", "u")
	for range 20 { // until t.recs stops growing
		appendBatch()
	}
	// One chunk, and the channel Changed hands out.
	if got := testing.AllocsPerRun(50, appendBatch); got > 2 {
		t.Errorf("Append of %d records: %.1f allocations, want at most 2", len(batch), got)
	}
}

// BenchmarkTailAppend is the apply loop's part of a 10,000-partition
// topic creation: one Append of its records.
func BenchmarkTailAppend(b *testing.B) {
	recs := []Record{{Offset: 1, Timestamp: t0, Body: top("orders", "6f1c5d2a-7d1c-4b6e-9a3f-0123456789ab")}}
	for p := range int32(10_000) {
		recs = append(recs, Record{Offset: 1, Timestamp: t0, Body: prt("6f1c5d2a-7d1c-4b6e-9a3f-0123456789ab", p, 0, p%1000, (p+1)%1000, (p+2)%1000)})
	}
	tail := NewTail(100_000)
	off := int64(0)
	for b.Loop() {
		off++
		for i := range recs {
			recs[i].Offset = off
		}
		tail.Append(recs)
	}
}

// BenchmarkTailLastRegistration is a fenced broker's heartbeat asking for
// its registration in a full tail of 100,000 records, at worst (it is the
// oldest); "copy" is the same answer from Since, as it was found before.
func BenchmarkTailLastRegistration(b *testing.B) {
	tail := NewTail(100_000)
	recs := []Record{{Offset: 1, Timestamp: t0, Body: brk(7, 0, StatusAlive)}}
	for o := int64(2); len(recs) < 100_000; o++ {
		recs = append(recs, Record{Offset: o, Timestamp: t0, Body: top("t", "u")})
	}
	tail.Append(recs)
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if tail.LastRegistration(7) != 1 {
				b.Fatal("not found")
			}
		}
	})
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			floor := tail.FirstOffset() - 1
			all, _ := tail.Since(floor, 0)
			reg := floor
			for _, r := range all {
				if x, ok := r.Body.(*RegisterBrokerRecord); ok && x.BrokerID == 7 {
					reg = r.Offset
				}
			}
			if reg != 1 {
				b.Fatal("not found")
			}
		}
	})
}
