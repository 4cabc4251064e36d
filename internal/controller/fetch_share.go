package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/yakt/yakt/internal/metadata"
)

// fullChunkBytes is the size of the compressed chunks a shared encoding
// publishes: readers wake once per chunk.
const fullChunkBytes = 256 << 10

// errAbandoned stops an encoding every reader has left.
var errAbandoned = errors.New("controller: full fetch abandoned by its readers")

// fullKey names what a full answer depends on: the image (by its offset)
// and the mode (ClientMgmt leaves producer ids out).
type fullKey struct {
	offset int64
	client bool
}

// fullShares holds the full-answer encodings in progress or still read,
// so concurrent full fetches of one image in one mode share one. Guarded
// by mu.
type fullShares struct {
	mu sync.Mutex
	m  map[fullKey]*sharedFull
}

// sharedFull is one full answer, encoded once as gzip into an
// append-only list of chunks that any number of readers follow. The
// compressed answer is small (a tenth of the JSON or less), so it is kept
// whole while anyone reads it, and a reader that joins late still starts
// at the beginning. The encoding goroutine is owned by the readers: it
// stops when the last one leaves, and the chunks go with the last
// reader.
type sharedFull struct {
	key    fullKey
	owner  *fullShares
	cancel context.CancelFunc
	done   chan struct{} // closed when the encoding goroutine returns

	mu      sync.Mutex
	chunks  [][]byte
	size    int64
	readers int
	err     error // set with finished: nil on success
	final   bool
	wake    chan struct{} // closed and replaced whenever chunks grow or final is set
}

// OpenFull returns a reader of resp's full answer as gzip (RFC 1952),
// joining an encoding of the same image and mode already under way or
// starting one. resp must be a full answer (resp.Full()). The reader must
// be closed; the encoding stops when its last reader closes.
func (c *Controller) OpenFull(resp FetchResponse) *FullReader {
	key := fullKey{offset: resp.img.Offset(), client: resp.client}
	sh := &c.full
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = map[fullKey]*sharedFull{}
	}
	s, ok := sh.m[key]
	if ok {
		// An encoding that failed (not one its readers abandoned, which
		// leaves the map with them) is not joined: a new fetch gets a new
		// try rather than the old error at once.
		s.mu.Lock()
		failed := s.final && s.err != nil
		s.mu.Unlock()
		ok = !failed
	}
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		s = &sharedFull{key: key, owner: sh, cancel: cancel, done: make(chan struct{}), wake: make(chan struct{})}
		sh.m[key] = s
		go s.encode(ctx, resp.img, !resp.client)
	}
	s.mu.Lock()
	s.readers++
	s.mu.Unlock()
	return &FullReader{s: s}
}

// encode writes the gzip-compressed answer into s's chunks.
func (s *sharedFull) encode(ctx context.Context, img *metadata.Image, withProducerIDs bool) {
	defer close(s.done)
	cw := &chunkWriter{s: s}
	// The newline ends the answer as json.Encoder ends every other one.
	err := writeGzipSegments(ctx, cw, fullSegments(img, withProducerIDs), []byte("\n"))
	if err == nil {
		cw.publish()
	}
	if err != nil {
		err = fmt.Errorf("encode full fetch at offset %d: %w", s.key.offset, err)
	}
	s.mu.Lock()
	s.final, s.err = true, err
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// chunkWriter gathers compressed bytes into chunks and publishes each
// full one to the readers.
type chunkWriter struct {
	s   *sharedFull
	cur []byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.cur == nil {
			w.cur = make([]byte, 0, fullChunkBytes)
		}
		k := copy(w.cur[len(w.cur):cap(w.cur)], p)
		w.cur = w.cur[:len(w.cur)+k]
		p = p[k:]
		if len(w.cur) == cap(w.cur) {
			w.publish()
		}
	}
	return n, nil
}

// writeOwned publishes p, which the caller gives up, as a chunk of its
// own (after what was gathered before it): a compressed segment is
// already chunk-sized, and is not copied again.
func (w *chunkWriter) writeOwned(p []byte) {
	w.publish()
	w.cur = p
	w.publish()
}

func (w *chunkWriter) publish() {
	if len(w.cur) == 0 {
		return
	}
	s := w.s
	s.mu.Lock()
	s.chunks = append(s.chunks, w.cur)
	s.size += int64(len(w.cur))
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
	w.cur = nil
}

// FullReader reads one shared full answer as gzip. Not safe for
// concurrent use; Close it.
type FullReader struct {
	s      *sharedFull
	next   int    // index of the next chunk to take
	cur    []byte // rest of the chunk being read
	closed bool
}

// ReadContext reads like io.Reader.Read, waiting for the encoder when it
// has not produced more yet; it returns io.EOF after the whole answer, and
// the encoding's error if it failed.
func (r *FullReader) ReadContext(ctx context.Context, p []byte) (int, error) {
	for len(r.cur) == 0 {
		s := r.s
		s.mu.Lock()
		if r.next < len(s.chunks) {
			r.cur = s.chunks[r.next]
			r.next++
			s.mu.Unlock()
			break
		}
		final, err, wake := s.final, s.err, s.wake
		s.mu.Unlock()
		if final {
			if err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Reader adapts r to io.Reader under ctx.
func (r *FullReader) Reader(ctx context.Context) io.Reader {
	return readerFunc(func(p []byte) (int, error) { return r.ReadContext(ctx, p) })
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Close leaves the shared answer; the last reader to leave stops its
// encoding and lets its chunks go.
func (r *FullReader) Close() {
	if r.closed {
		return
	}
	r.closed = true
	s := r.s
	sh := s.owner
	sh.mu.Lock()
	s.mu.Lock()
	s.readers--
	last := s.readers == 0
	s.mu.Unlock()
	if last && sh.m[s.key] == s {
		delete(sh.m, s.key)
	}
	sh.mu.Unlock()
	if last {
		s.cancel()
	}
}

// fullStats is what tests and metrics see of the shared encodings.
type fullStats struct {
	Encodings int // in progress or still read
	Readers   int
}

func (c *Controller) fullStats() fullStats {
	sh := &c.full
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := fullStats{Encodings: len(sh.m)}
	for _, s := range sh.m {
		s.mu.Lock()
		st.Readers += s.readers
		s.mu.Unlock()
	}
	return st
}
