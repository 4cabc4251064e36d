package metadata

import (
	"fmt"
	"sync"
	"testing"
)

// bigImage has 10 brokers and 10k topics of 10 partitions each (100k
// partitions), built once per test binary.
var bigImage = sync.OnceValue(func() *Image {
	var bodies []Body
	for b := range int32(10) {
		bodies = append(bodies, brk(b, 0, StatusAlive))
	}
	for i := range 10_000 {
		uuid := fmt.Sprintf("uuid-%05d", i)
		bodies = append(bodies, top(fmt.Sprintf("topic-%05d", i), uuid))
		for p := range int32(10) {
			bodies = append(bodies, prt(uuid, p, 0, p%10, (p+1)%10, (p+2)%10))
		}
	}
	d := NewDelta(Empty)
	if err := d.ReplayBatch(recsAt(1, bodies...)); err != nil {
		panic(err)
	}
	return d.Apply(int64(len(bodies)))
})

func createTopicBatch(name string, offset int64) []Record {
	uuid := "uuid-" + name
	return recsAt(offset, top(name, uuid), prt(uuid, 0, 0, 1, 2, 3), prt(uuid, 1, 0, 2, 3, 4), prt(uuid, 2, 0, 3, 4, 5))
}

// BenchmarkReplayApply: one create-topic batch (a TopicRecord and 3
// PartitionRecords) into the 10k-topic image, then Apply.
func BenchmarkReplayApply(b *testing.B) {
	base := bigImage()
	batch := createTopicBatch("new-topic", base.Offset()+1)
	b.ReportAllocs()
	for b.Loop() {
		d := NewDelta(base)
		if err := d.ReplayBatch(batch); err != nil {
			b.Fatal(err)
		}
		_ = d.Apply(base.Offset() + 1)
	}
}

// BenchmarkReplayApplyChained is the apply loop's steady state: each
// iteration builds on the previous image (one partition change per batch).
func BenchmarkReplayApplyChained(b *testing.B) {
	im := bigImage()
	b.ReportAllocs()
	epoch := int64(0)
	for b.Loop() {
		epoch++
		d := NewDelta(im)
		rec := Record{Offset: im.Offset() + 1, Body: with(prt("uuid-04242", 3, epoch, 3, 4, 5), func(p *PartitionRecord) {
			p.ISR = p.ISR[:1+epoch%3]
		})}
		if err := d.ReplayBatch([]Record{rec}); err != nil {
			b.Fatal(err)
		}
		im = d.Apply(rec.Offset)
	}
}

func BenchmarkEncodeDecodeRecords(b *testing.B) {
	for _, n := range []int{4, 100} {
		var recs []Record
		for len(recs) < n {
			recs = append(recs, createTopicBatch(fmt.Sprintf("t%d", len(recs)), int64(len(recs)))...)
		}
		recs = recs[:n]
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(EncodeRecords(recs))))
			for b.Loop() {
				if _, err := DecodeRecords(EncodeRecords(recs)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSnapshot: the 100k-partition image to bytes and back.
func BenchmarkSnapshot(b *testing.B) {
	im := bigImage()
	data := EncodeSnapshot(im)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			_ = EncodeSnapshot(im)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := DecodeSnapshot(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkView: the API's full snapshot view of the 100k-partition image.
func BenchmarkView(b *testing.B) {
	im := bigImage()
	_ = im.View(true) // sorted listings cached, as after the first fetch
	b.ReportAllocs()
	for b.Loop() {
		_ = im.View(true)
	}
}

func TestBigImageRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100k-partition image")
	}
	im := bigImage()
	if got := len(im.View(false).Partitions); got != 100_000 {
		t.Fatalf("partitions = %d", got)
	}
	dec, err := DecodeSnapshot(EncodeSnapshot(im))
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Equal(im) {
		t.Fatalf("100k-partition snapshot round trip differs")
	}
}
