package controller

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

// maxGzipWorkers bounds the goroutines one full answer is encoded and
// compressed on.
const maxGzipWorkers = 4

// gzip framing (RFC 1952): a header without name, time or extra fields,
// and, closing the DEFLATE stream, an empty final stored block.
var (
	gzipHeader     = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	deflateLastBlk = []byte{0x01, 0x00, 0x00, 0xff, 0xff}
)

// ownedWriter takes a slice it may keep instead of copying it.
type ownedWriter interface{ writeOwned(p []byte) }

// writeGzipSegments writes the segments' JSON, then tail, to w as one
// gzip member, encoding and compressing several segments at once. Each
// segment is compressed on its own and ended with a sync flush, which
// leaves the DEFLATE stream byte-aligned with no back-reference into the
// next segment, so the compressed segments concatenate into one valid
// stream (as parallel gzip implementations do); the CRC-32 and length
// are taken over the JSON in order. Memory is bounded by the segments
// in flight (two per worker).
func writeGzipSegments(ctx context.Context, w io.Writer, segs []segment, tail []byte) error {
	if _, err := w.Write(gzipHeader); err != nil {
		return fmt.Errorf("write gzip header: %w", err)
	}
	segs = append(segs, func(buf []byte) ([]byte, error) { return append(buf, tail...), nil })
	workers := min(runtime.GOMAXPROCS(0), maxGzipWorkers, len(segs))
	type result struct {
		json, comp []byte
		err        error
	}
	results := make([]chan result, len(segs))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	window := make(chan struct{}, 2*workers) // segments encoded but not yet written
	// JSON buffers go round from the workers to the writer and back, so
	// the bytes are not allocated (and grown) afresh for every segment.
	free := make(chan []byte, 3*workers)
	jobs := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // feeds the workers, at most window ahead of the writer
		defer wg.Done()
		defer close(jobs)
		for i := range segs {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			fw, _ := flate.NewWriter(&out, flate.BestSpeed) // BestSpeed is a valid level
			for i := range jobs {
				if ctx.Err() != nil {
					results[i] <- result{err: ctx.Err()}
					continue
				}
				var buf []byte
				select {
				case buf = <-free:
				default:
					buf = make([]byte, 0, 2<<20)
				}
				js, err := segs[i](buf[:0])
				if err == nil {
					out.Reset()
					fw.Reset(&out)
					_, _ = fw.Write(js) // writes to a bytes.Buffer do not fail
					err = fw.Flush()
				}
				results[i] <- result{json: js, comp: bytes.Clone(out.Bytes()), err: err}
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }() // on an early return, stop the workers first

	var (
		crc  uint32
		size uint32 // the length mod 2^32, as gzip keeps it
	)
	for i := range segs {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res.err != nil {
			return res.err
		}
		crc = crc32.Update(crc, crc32.IEEETable, res.json)
		size += uint32(len(res.json))
		if ow, ok := w.(ownedWriter); ok {
			ow.writeOwned(res.comp)
		} else if _, err := w.Write(res.comp); err != nil {
			return fmt.Errorf("write full fetch: %w", err)
		}
		select {
		case free <- res.json:
		default:
		}
		<-window
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc)
	binary.LittleEndian.PutUint32(trailer[4:], size)
	end := make([]byte, 0, len(deflateLastBlk)+len(trailer))
	if _, err := w.Write(append(append(end, deflateLastBlk...), trailer[:]...)); err != nil {
		return fmt.Errorf("write full fetch: %w", err)
	}
	return nil
}
