package metadata

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
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

// BenchmarkReplayCommitRound is the apply loop under a write load: 32
// create-topic batches (a commit round's worth) into one delta, then
// Apply; per batch.
func BenchmarkReplayCommitRound(b *testing.B) {
	im := bigImage()
	b.ReportAllocs()
	const round = 32
	n := 0
	for b.Loop() {
		d := NewDelta(im)
		off := im.Offset()
		for range round {
			n++
			if err := d.ReplayBatch(createTopicBatch(fmt.Sprintf("round-%07d", n), off+1)); err != nil {
				b.Fatal(err)
			}
			off++
		}
		im = d.Apply(off)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/batch")
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

// scalePartitions sizes the scale benchmarks: topics of 10,000 partitions
// (replication factor 3 over 1,000 brokers) up to this many partitions.
// The size is 2,000,000; the default keeps a run short.
var scalePartitions = flag.Int("scale-partitions", 200_000, "partitions in the scale benchmarks (multiple of 10,000)")

const (
	scaleBrokers  = 1000
	scalePerTopic = 10_000
)

// scaleImage builds an image the way a node does: each topic is one
// create batch that went through the log codec (so every record carries
// its own copy of the topic UUID, as decoded records do), and a tenth of
// the partitions then changed once (ISR shrink), as elections do.
func scaleImage(tb testing.TB, partitions int) *Image {
	tb.Helper()
	d := NewDelta(Empty)
	var bodies []Body
	for id := range int32(scaleBrokers) {
		b := brk(id, 1, StatusAlive)
		if id%100 == 99 {
			b.BrokerStatus = StatusFenced
		}
		b.InternalUUID = fmt.Sprintf("%08x-0000-4000-8000-%012x", id, id)
		bodies = append(bodies, b)
	}
	offset := int64(1)
	replay := func(bodies []Body) {
		recs, err := DecodeRecords(EncodeRecords(recsAt(offset, bodies...)))
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := d.ReplayEntry(offset, Batch{Records: recs}); err != nil {
			tb.Fatal(err)
		}
		d.Apply(offset)
		offset++
	}
	replay(bodies)
	for topic := 0; topic*scalePerTopic < partitions; topic++ {
		uuid := fmt.Sprintf("%08x-1111-4222-8333-%012x", topic, topic*7919)
		bodies = append(bodies[:0], top(fmt.Sprintf("topic-%04d", topic), uuid))
		for p := range int32(scalePerTopic) {
			first := (int32(topic)*31 + p) % scaleBrokers
			bodies = append(bodies, prt(uuid, p, 0, first, (first+1)%scaleBrokers, (first+2)%scaleBrokers))
		}
		replay(bodies)
		bodies = bodies[:0]
		for p := int32(0); p < scalePerTopic; p += 10 {
			first := (int32(topic)*31 + p) % scaleBrokers
			bodies = append(bodies, with(prt(uuid, p, 1, first, (first+1)%scaleBrokers, (first+2)%scaleBrokers),
				func(r *PartitionRecord) { r.ISR = r.ISR[:2] }))
		}
		replay(bodies)
	}
	for i := range int64(20) {
		replay([]Body{pid(int32(i), 1, i*ProducerIDBlockSize)})
	}
	return d.Apply(offset)
}

// cpuTime is the process's user and system CPU time in nanoseconds, all
// threads (the collector's too): on a shared machine a fairer figure than
// wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// heapAfterGC is the live heap after two collections.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkScaleImageMemory reports the live heap an image holds per
// partition, built by replay ("replayed", a node that applied the log)
// and by loading its snapshot ("loaded", a node that restarted).
func BenchmarkScaleImageMemory(b *testing.B) {
	n := *scalePartitions
	for b.Loop() {
		before := heapAfterGC()
		im := scaleImage(b, n)
		replayed := heapAfterGC()
		var buf bytes.Buffer
		if err := WriteSnapshot(&buf, im); err != nil {
			b.Fatal(err)
		}
		im = nil
		data := buf.Bytes()
		before2 := heapAfterGC()
		loaded, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		after := heapAfterGC()
		b.ReportMetric(float64(replayed-before)/float64(n), "B/partition-replayed")
		b.ReportMetric(float64(after-before2)/float64(n), "B/partition-loaded")
		b.ReportMetric(float64(len(data)), "snapshot-bytes")
		runtime.KeepAlive(loaded)
		runtime.KeepAlive(data)
	}
}

// BenchmarkScaleSnapshot: WriteSnapshot and ReadSnapshot of the scale
// image (to and from memory, so disk speed is not measured).
func BenchmarkScaleSnapshot(b *testing.B) {
	im := scaleImage(b, *scalePartitions)
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, im); err != nil {
		b.Fatal(err)
	}
	data := bytes.Clone(buf.Bytes())
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		start := cpuTime()
		for b.Loop() {
			if err := WriteSnapshot(io.Discard, im); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(len(data)), "snapshot-bytes")
	})
	read := func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		start := cpuTime()
		for b.Loop() {
			if _, err := ReadSnapshot(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("read", read)
	// As a restarting node reads: with no image already on the heap for
	// the collector to mark while the new one is built.
	im = nil
	runtime.GC()
	b.Run("read-alone", read)
}
