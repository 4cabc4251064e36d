package controller

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/metadata"
)

// The scale of the full-fetch benchmarks: the 2,000,000
// partitions (200 topics of 10,000, replication factor 3) over 1,000
// brokers. -fullfetch.topics makes a smaller image for a quick run.
var benchTopics = flag.Int("fullfetch.topics", 200, "topics of 10,000 partitions in the full-fetch benchmarks' image")

const (
	benchBrokers          = 1000
	benchPartitionsPerTop = 10_000
)

// scaleImage is built by replaying records, as a node's apply loop would,
// once per test binary.
var scaleImage = sync.OnceValue(func() *metadata.Image {
	d := metadata.NewDelta(metadata.Empty)
	off := int64(1)
	var recs []metadata.Record
	for b := range int32(benchBrokers) {
		recs = append(recs, metadata.Record{Offset: off, Body: &metadata.RegisterBrokerRecord{
			InternalUUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", b), BrokerID: b,
			BrokerHost: fmt.Sprintf("broker-%d.kafka.example.com", b), BrokerPort: "9092",
			SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive, RackID: fmt.Sprintf("rack-%d", b%3),
		}})
	}
	if err := d.ReplayBatch(recs); err != nil {
		panic(err)
	}
	for t := range *benchTopics {
		uuid := fmt.Sprintf("%08x-7d1c-4b6e-9a3f-%012x", t*2654435761, t)
		recs = recs[:0]
		recs = append(recs, metadata.Record{Offset: off, Body: &metadata.TopicRecord{TopicUUID: uuid, Name: fmt.Sprintf("orders-%03d", t)}})
		for p := range int32(benchPartitionsPerTop) {
			lead := (int32(t)*7 + p) % benchBrokers
			reps := []int32{lead, (lead + 1) % benchBrokers, (lead + 2) % benchBrokers}
			recs = append(recs, metadata.Record{Offset: off, Body: &metadata.PartitionRecord{
				PartitionID: p, TopicUUID: uuid, Replicas: reps, ISR: reps, Leader: lead, PartitionEpoch: int64(p % 5),
			}})
		}
		if err := d.ReplayBatch(recs); err != nil {
			panic(err)
		}
	}
	return d.Apply(off)
})

// nextImage is img with one more broker change at the next offset: a
// different full answer, as every write makes.
func nextImage(img *metadata.Image) *metadata.Image {
	d := metadata.NewDelta(img)
	b, _ := img.Broker(0)
	err := d.Replay(metadata.Record{Offset: img.Offset() + 1, Body: &metadata.BrokerRegistrationChangeBrokerRecord{
		BrokerID: 0, BrokerHost: b.BrokerHost, BrokerPort: b.BrokerPort, SecurityProtocol: b.SecurityProtocol,
		BrokerStatus: b.BrokerStatus, Epoch: b.Epoch + 1,
	}})
	if err != nil {
		panic(err)
	}
	return d.Apply(img.Offset() + 1)
}

type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// fetchOnce reads one full answer as a client would: the gzip bytes, or
// the JSON they decompress to. It returns the bytes read.
func fetchOnce(c *Controller, img *metadata.Image, plain bool) (int64, error) {
	r := c.OpenFull(FetchResponse{Mode: "snapshot", HighWatermark: img.Offset(), img: img})
	defer r.Close()
	src := r.Reader(context.Background())
	if plain {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return 0, err
		}
		src = zr
	}
	var w countWriter
	_, err := io.Copy(&w, src)
	return w.n.Load(), err
}

// BenchmarkFullFetch is one full BrokerMgmt answer of the scale image,
// from a fresh encoding each time: as gzip (what a client that sends
// Accept-Encoding: gzip receives) and plain.
func BenchmarkFullFetch(b *testing.B) {
	img := scaleImage()
	for _, mode := range []string{"gzip", "plain"} {
		b.Run(mode, func(b *testing.B) {
			c := &Controller{}
			var n int64
			cpu0 := cpuTime()
			for b.Loop() {
				var err error
				if n, err = fetchOnce(c, img, mode == "plain"); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time, unlike wall time, does not depend on what else
			// the machine runs.
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(n)/1e6, "MB/answer")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveHeap is the heap the last GC found reachable.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkFullFetchConcurrentHeap runs 4 concurrent full fetches of 4
// different images (no sharing: the worst case) and reports the growth
// of the live heap over the idle images, per fetch. The GC runs often
// (GOGC 5) so that the live heap it reports follows the peak closely;
// garbage, which the GC's pacing alone decides, is left out.
func BenchmarkFullFetchConcurrentHeap(b *testing.B) {
	const fetches = 4
	imgs := []*metadata.Image{scaleImage()}
	for len(imgs) < fetches {
		imgs = append(imgs, nextImage(imgs[len(imgs)-1]))
	}
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	for _, mode := range []string{"gzip", "plain"} {
		b.Run(mode, func(b *testing.B) {
			c := &Controller{}
			var peak uint64
			for b.Loop() {
				runtime.GC()
				base := liveHeap()
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					var top uint64
					t := time.NewTicker(10 * time.Millisecond)
					defer t.Stop()
					for {
						top = max(top, liveHeap())
						select {
						case <-stop:
							sampled <- top
							return
						case <-t.C:
						}
					}
				}()
				var wg sync.WaitGroup
				errs := make(chan error, fetches)
				for _, img := range imgs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := fetchOnce(c, img, mode == "plain"); err != nil {
							errs <- err
						}
					}()
				}
				wg.Wait()
				close(stop)
				top := <-sampled
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				if top > base {
					peak = max(peak, (top-base)/fetches)
				}
			}
			b.ReportMetric(float64(peak)/1e6, "liveMB/fetch")
		})
	}
}
