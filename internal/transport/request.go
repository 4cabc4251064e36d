package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A request stream carries requests a node forwards to a peer (a
// follower's client writes, to the leader) and their answers, so a write
// that reached a follower costs the leader one frame on a connection
// that is already open instead of a second HTTP request. It is a stream
// of its own, not the message stream: an answer being written never
// delays a heartbeat, and a burst of heartbeats never delays an answer.
// Layout and rules in doc.go.

// ErrRequestNotRun wraps every Request error that proves the peer did not
// run the request: it was never written to the peer (no connection, the
// peer silent or unknown, the caller's context ended first), or the peer
// read it and refused it unrun (no RequestHandler). Such a request is
// safe to send again. Any other Request error means the request may have
// run: its outcome is unknown.
var ErrRequestNotRun = errors.New("transport: request not run by peer")

// Request is a request forwarded to a peer: an HTTP request reduced to
// what the peer's handler needs.
type Request struct {
	Method string
	URI    string      // path and query (http.Request.RequestURI)
	Header http.Header // at most 255 fields, each value at most 64 KiB
	Body   []byte
}

// ErrNotServed, returned (wrapped) by a RequestHandler, refuses a
// request unrun, as a node without a handler does: for a handler that
// serves several kinds of request and has none for this one right now.
var ErrNotServed = errors.New("transport: request kind not served here")

// Response is a peer's answer to a Request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// RequestHandler runs a request a peer forwarded. ctx ends when the
// forwarding node gives up (its deadline, sent along, or a cancel frame),
// the stream breaks, or the transport closes; the handler must then
// return promptly. An error is relayed as "failed after running": the
// forwarding node cannot know whether it took effect.
type RequestHandler func(ctx context.Context, from uint64, req *Request) (*Response, error)

const (
	// maxRequestFrameBytes bounds a request frame: the API's bodies are at
	// most 1 MiB, the rest is method, path and a few header fields.
	maxRequestFrameBytes = 2 << 20
	// maxAnswerFrameBytes bounds an answer frame. A write's answer is far
	// smaller (a topic of the most partitions one request may create is
	// about 1 MiB); a bigger one is answered "failed" instead.
	maxAnswerFrameBytes = 64 << 20
	// maxRequestsInFlight bounds the unanswered requests on one stream.
	// The forwarding side waits for a slot; the serving side treats more
	// as a protocol error, so a peer cannot make it run unbounded
	// goroutines.
	maxRequestsInFlight = 1024
	// maxNotRunReason bounds the text of a "not run" or "failed" answer.
	maxNotRunReason = 1024
)

// Frame kinds on a request stream.
const (
	reqFrameRequest byte = 1 // dialer -> acceptor: a request
	reqFrameCancel  byte = 2 // dialer -> acceptor: stop running request id
	reqFrameAnswer  byte = 3 // acceptor -> dialer: the handler's answer
	reqFrameNotRun  byte = 4 // acceptor -> dialer: refused without running it
	reqFrameFailed  byte = 5 // acceptor -> dialer: the handler failed; outcome unknown
)

// reqHeaderBytes is kind + id after the length.
const reqHeaderBytes = 1 + 8

// SetRequestHandler sets the handler for requests peers forward to this
// node; nil (the default) answers them "not run". It may be called at any
// time: the API server is built after the transport it serves on.
func (t *Transport) SetRequestHandler(h RequestHandler) {
	if h == nil {
		t.reqHandler.Store(nil)
		return
	}
	t.reqHandler.Store(&h)
}

// notRun wraps err as proof that the request did not run.
func notRun(to uint64, err error) error {
	return fmt.Errorf("%w: peer %d: %w", ErrRequestNotRun, to, err)
}

// Request sends req to peer to on its request stream (dialed on first
// use, kept open) and waits for the answer or ctx. ctx's deadline travels
// with the request, so the peer stops working on it when the caller
// stops waiting; when ctx ends after the request was written, a cancel
// frame tells the peer so too.
//
// Errors wrapping ErrRequestNotRun prove the request did not run; every
// other error means it may have (the connection broke or ctx ended after
// it was written, or the peer's handler failed). A request is not
// written to a peer that has been silent (not even a keepalive) for
// max(5 × KeepaliveInterval, 500ms), or whose connection is already
// closed by the peer: both are refused "not run" at once, which is what a
// caller that waits for another leader needs.
func (t *Transport) Request(ctx context.Context, to uint64, req *Request) (*Response, error) {
	p := t.peerMap()[to]
	if p == nil {
		return nil, notRun(to, errors.New("not a peer"))
	}
	if p.ctx.Err() != nil {
		return nil, notRun(to, errors.New("peer removed or transport closed"))
	}
	var budget time.Duration
	if d, ok := ctx.Deadline(); ok {
		if budget = time.Until(d); budget <= 0 {
			return nil, notRun(to, context.DeadlineExceeded)
		}
	}
	frame, err := encodeRequest(req, budget)
	if err != nil {
		return nil, notRun(to, err)
	}
	if heard := t.LastHeard(to); heard.IsZero() || time.Since(heard) > t.talkingWithin() {
		return nil, notRun(to, fmt.Errorf("peer silent since %v", heard.Format(time.RFC3339Nano)))
	}
	// One retry: a stream found closed by the peer (a restart) before
	// anything was written is replaced at once.
	for attempt := 0; ; attempt++ {
		c, err := p.requestConn(ctx)
		if err != nil {
			return nil, notRun(to, fmt.Errorf("connect request stream: %w", err))
		}
		resp, err, retry := c.do(ctx, frame)
		if retry && attempt == 0 {
			continue
		}
		return resp, err
	}
}

// requestConn returns the open request stream to p, dialing one if there
// is none. Concurrent callers share one dial.
func (p *peer) requestConn(ctx context.Context) (*reqConn, error) {
	if c := p.req.Load(); c != nil && !c.isDead() {
		return c, nil
	}
	select {
	case p.reqDial <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.reqDial }()
	if c := p.req.Load(); c != nil && !c.isDead() {
		return c, nil
	}
	t := p.t
	dctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	conn, release, err := p.dial(dctx, streamRequest)
	if err != nil {
		return nil, err
	}
	c := &reqConn{p: p, conn: conn, release: release,
		outq:    make(chan reqOut, 2*maxRequestsInFlight),
		slots:   make(chan struct{}, maxRequestsInFlight),
		dead:    make(chan struct{}),
		pending: make(map[uint64]*pendingReq)}
	if !p.goRun(c.readLoop) {
		release()
		return nil, errors.New("peer removed or transport closed")
	}
	if !p.goRun(c.writeLoop) {
		c.fail(errors.New("peer removed or transport closed"))
		return nil, errors.New("peer removed or transport closed")
	}
	p.req.Store(c)
	p.log.Debug("opened request stream")
	return c, nil
}

// reqConn is the dialer's side of one request stream.
type reqConn struct {
	p       *peer
	conn    net.Conn
	release func()
	outq    chan reqOut   // to writeLoop; room for every request and one cancel each, so a send never blocks
	slots   chan struct{} // a token per unanswered request written or queued
	dead    chan struct{} // closed by fail
	nextID  atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]*pendingReq // guarded by mu; nil once failed
	err     error                  // guarded by mu; why the stream failed
}

// Request states: a queued request is taken by exactly one of the writer
// (written: it may run) and its caller or fail (abandoned: it never will).
const (
	reqQueued int32 = iota
	reqWritten
	reqAbandoned
)

type pendingReq struct {
	id    uint64
	frame []byte
	state atomic.Int32
	done  chan reqResult // buffered (1): delivery never blocks on a caller that left
}

type reqResult struct {
	resp *Response
	err  error
}

// reqOut is one item for the writer: a request, or a cancel for an id.
type reqOut struct {
	pr     *pendingReq
	cancel uint64
}

func (c *reqConn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// do sends one request on c and waits for its answer. retry reports that
// c turned out dead before the request was written, so another stream may
// take it.
func (c *reqConn) do(ctx context.Context, frame []byte) (resp *Response, err error, retry bool) {
	to := c.p.id
	select {
	case c.slots <- struct{}{}:
	case <-c.dead:
		return nil, notRun(to, c.failure()), true
	case <-ctx.Done():
		return nil, notRun(to, fmt.Errorf("waiting for a request slot: %w", ctx.Err())), false
	}
	// The peer may have closed the stream (it restarted or stopped) without
	// the reader having noticed yet; a request written now would be lost
	// with an unknown outcome, though the peer never saw it.
	if peerClosed(c.conn) {
		c.fail(errPeerClosed)
		return nil, notRun(to, errPeerClosed), true
	}
	pr := &pendingReq{id: c.nextID.Add(1), frame: frame, done: make(chan reqResult, 1)}
	binary.BigEndian.PutUint64(frame[5:], pr.id)
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return nil, notRun(to, c.failure()), true
	}
	c.pending[pr.id] = pr
	c.mu.Unlock()
	c.outq <- reqOut{pr: pr}
	select {
	case res := <-pr.done:
		return res.resp, res.err, false
	case <-ctx.Done():
	}
	select {
	case res := <-pr.done: // answered as ctx ended: the answer wins
		return res.resp, res.err, false
	default:
	}
	if pr.state.CompareAndSwap(reqQueued, reqAbandoned) {
		c.mu.Lock()
		if c.pending != nil && c.pending[pr.id] == pr {
			delete(c.pending, pr.id)
			<-c.slots
		}
		c.mu.Unlock()
		return nil, notRun(to, fmt.Errorf("not written before: %w", ctx.Err())), false
	}
	// Written: the peer may be running it. Ask it to stop; its answer
	// (which frees the slot) is discarded.
	c.outq <- reqOut{cancel: pr.id}
	return nil, fmt.Errorf("transport: peer %d did not answer request %d in time: %w", to, pr.id, ctx.Err()), false
}

func (c *reqConn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return errors.New("request stream closed")
	}
	return c.err
}

// fail closes the stream once and settles every pending request: "not
// run" for those never written, outcome unknown for the rest.
func (c *reqConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pend := c.pending
	c.pending = nil
	c.mu.Unlock()
	close(c.dead)
	c.release()
	c.p.req.CompareAndSwap(c, nil)
	if c.p.ctx.Err() == nil {
		c.p.log.Info("request stream closed", "err", err, "pending", len(pend))
	}
	for _, pr := range pend {
		if pr.state.CompareAndSwap(reqQueued, reqAbandoned) {
			pr.done <- reqResult{err: notRun(c.p.id, fmt.Errorf("stream failed before the request was written: %w", err))}
			continue
		}
		pr.done <- reqResult{err: fmt.Errorf("transport: request stream to peer %d lost after request %d was sent: %w", c.p.id, pr.id, err)}
	}
}

// writeLoop writes queued requests and cancels, batching whatever is
// queued into one flush, until the stream fails.
func (c *reqConn) writeLoop() {
	bw := bufio.NewWriterSize(c.conn, 64<<10)
	var cancelFrame [4 + reqHeaderBytes]byte
	binary.BigEndian.PutUint32(cancelFrame[:], reqHeaderBytes)
	cancelFrame[4] = reqFrameCancel
	for {
		var it reqOut
		select {
		case <-c.dead:
			return
		case <-c.p.ctx.Done():
			c.fail(c.p.ctx.Err())
			return
		case it = <-c.outq:
		}
		if err := c.conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			c.fail(err)
			return
		}
		for n, more := 1, true; more; n++ {
			switch {
			case it.pr == nil:
				binary.BigEndian.PutUint64(cancelFrame[5:], it.cancel)
				_, _ = bw.Write(cancelFrame[:]) // a bufio error is sticky and surfaces in Flush
			case it.pr.state.CompareAndSwap(reqQueued, reqWritten):
				_, _ = bw.Write(it.pr.frame)
				it.pr.frame = nil
			}
			yieldBeforeFlush(n)
			select {
			case it = <-c.outq:
			default:
				more = false
			}
		}
		if err := bw.Flush(); err != nil {
			c.fail(fmt.Errorf("write request stream: %w", err))
			return
		}
	}
}

// readLoop delivers answers to their requests until the stream fails.
func (c *reqConn) readLoop() {
	br := bufio.NewReaderSize(c.conn, 64<<10)
	for {
		kind, id, payload, err := readReqFrame(br, maxAnswerFrameBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errPeerClosed
			}
			c.fail(err)
			return
		}
		var res reqResult
		switch kind {
		case reqFrameAnswer:
			if res.resp, err = decodeAnswer(payload); err != nil {
				c.fail(err)
				return
			}
		case reqFrameNotRun:
			res.err = notRun(c.p.id, fmt.Errorf("refused: %s", payload))
		case reqFrameFailed:
			res.err = fmt.Errorf("transport: peer %d failed request %d: %s", c.p.id, id, payload)
		default:
			c.fail(fmt.Errorf("%w: request stream frame kind %d from the serving side", errProtocol, kind))
			return
		}
		c.mu.Lock()
		pr := c.pending[id]
		if pr != nil {
			delete(c.pending, id)
			<-c.slots
		}
		c.mu.Unlock()
		if pr == nil {
			c.fail(fmt.Errorf("%w: answer for request %d, which is not pending", errProtocol, id))
			return
		}
		pr.done <- res
	}
}

// serveRequests is the acceptor's side of a request stream: it runs each
// request on a goroutine of its own (at most maxRequestsInFlight at once)
// and writes the answers, batched, as they come. It returns when the
// stream fails, after every handler it started has returned.
func (t *Transport) serveRequests(conn net.Conn, br *bufio.Reader, h *hello) error {
	ctx, cancel := context.WithCancel(t.ctx)
	var wg sync.WaitGroup
	defer func() {
		// NB: cancel first: it is what ends the writer and tells the
		// handlers that nobody waits for their answers any more.
		cancel()
		wg.Wait()
	}()
	out := make(chan []byte, maxRequestsInFlight)
	wg.Add(1)
	go func() {
		defer wg.Done()
		bw := bufio.NewWriterSize(conn, 64<<10)
		for {
			var b []byte
			select {
			case <-ctx.Done():
				return
			case b = <-out:
			}
			if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
				conn.Close()
				return
			}
			for n, more := 1, true; more; n++ {
				_, _ = bw.Write(b)
				yieldBeforeFlush(n)
				select {
				case b = <-out:
				default:
					more = false
				}
			}
			if err := bw.Flush(); err != nil {
				// The reader sees the closed connection and ends the rest.
				conn.Close()
				return
			}
		}
	}()
	var mu sync.Mutex
	running := make(map[uint64]context.CancelFunc) // guarded by mu
	jobs := make(chan func())                      // to idle workers
	for {
		kind, id, payload, err := readReqFrame(br, maxRequestFrameBytes)
		if err != nil {
			return err
		}
		switch kind {
		case reqFrameCancel:
			mu.Lock()
			if stop := running[id]; stop != nil {
				stop()
			}
			mu.Unlock()
			continue
		case reqFrameRequest:
		default:
			return fmt.Errorf("%w: request stream frame kind %d from the forwarding side", errProtocol, kind)
		}
		req, budget, err := decodeRequest(payload)
		if err != nil {
			return err
		}
		var hctx context.Context
		var hcancel context.CancelFunc
		if budget > 0 {
			hctx, hcancel = context.WithTimeout(ctx, budget)
		} else {
			hctx, hcancel = context.WithCancel(ctx)
		}
		mu.Lock()
		if _, dup := running[id]; dup || len(running) >= maxRequestsInFlight {
			mu.Unlock()
			hcancel()
			return fmt.Errorf("%w: request %d is a repeated id or beyond %d in flight", errProtocol, id, maxRequestsInFlight)
		}
		running[id] = hcancel
		mu.Unlock()
		job := func() {
			ans := t.runRequest(hctx, h.from, id, req)
			hcancel()
			mu.Lock()
			delete(running, id)
			mu.Unlock()
			select {
			case out <- ans:
			case <-ctx.Done():
			}
		}
		select {
		case jobs <- job: // an idle worker takes it
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				requestWorker(ctx, job, jobs)
			}()
		}
	}
}

// yieldBeforeFlush lets the goroutines that are ready to run go first
// after a stream writer's first frame. Requests and answers come in
// bursts (the handlers one commit round wakes finish together), and a
// writer that flushed each at once paid a write system call per frame;
// one yield lets the rest of the burst join the same write.
func yieldBeforeFlush(framesWritten int) {
	if framesWritten == 1 {
		runtime.Gosched()
	}
}

// workerIdle is how long a request worker waits for another request
// before it ends.
const workerIdle = 10 * time.Second

// requestWorker runs job, then the jobs that come while it is idle.
// Workers outlive their request because a forwarded write runs deep
// (handlers, controller, map replay): a new goroutine per request grew
// its stack from the smallest size on every request, which cost the
// leader several percent of its CPU in stack copies.
func requestWorker(ctx context.Context, job func(), jobs <-chan func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-jobs:
		case <-idle.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// runRequest runs one request through the RequestHandler and encodes
// its answer frame.
func (t *Transport) runRequest(ctx context.Context, from, id uint64, req *Request) []byte {
	hp := t.reqHandler.Load()
	if hp == nil {
		return encodeReason(reqFrameNotRun, id, "node does not serve forwarded requests")
	}
	resp, err := (*hp)(ctx, from, req)
	if errors.Is(err, ErrNotServed) {
		return encodeReason(reqFrameNotRun, id, err.Error())
	}
	if err != nil {
		return encodeReason(reqFrameFailed, id, err.Error())
	}
	b, err := encodeAnswer(id, resp)
	if err != nil {
		t.log.Warn("cannot relay the answer to a forwarded request", "peer", from, "uri", req.URI, "err", err)
		return encodeReason(reqFrameFailed, id, err.Error())
	}
	return b
}

// readReqFrame reads one frame of a request stream. payload is freshly
// allocated: decoded bodies alias it.
func readReqFrame(r io.Reader, maxFrame uint32) (kind byte, id uint64, payload []byte, err error) {
	var hdr [4 + reqHeaderBytes]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < reqHeaderBytes || n > maxFrame {
		return 0, 0, nil, fmt.Errorf("%w: request stream frame of %d bytes (want %d to %d)", errProtocol, n, reqHeaderBytes, maxFrame)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return 0, 0, nil, unexpected(err)
	}
	payload = make([]byte, n-reqHeaderBytes)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, unexpected(err)
	}
	return hdr[4], binary.BigEndian.Uint64(hdr[5:]), payload, nil
}

// appendFrameStart appends a frame's length (patched by finishFrame),
// kind and id.
func appendFrameStart(b []byte, kind byte, id uint64) []byte {
	b = append(b, 0, 0, 0, 0, kind)
	return binary.BigEndian.AppendUint64(b, id)
}

func finishFrame(b []byte, maxFrame int) ([]byte, error) {
	if len(b)-4 > maxFrame {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errFrameTooLarge, len(b)-4, maxFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// headerBytes is what appendHeader writes for h.
func headerBytes(h http.Header) int {
	n := 1
	for k, vs := range h {
		n += len(vs) * (1 + len(k) + 2)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// appendHeader writes the count of fields, then each as name (1-byte
// length) and value (2-byte length); a name with several values is
// repeated.
func appendHeader(b []byte, h http.Header) ([]byte, error) {
	count := 0
	for _, vs := range h {
		count += len(vs)
	}
	if count > 255 {
		return nil, fmt.Errorf("%w: %d header fields, at most 255", errFrameTooLarge, count)
	}
	b = append(b, byte(count))
	for k, vs := range h {
		if len(k) > 255 {
			return nil, fmt.Errorf("%w: header name of %d bytes", errFrameTooLarge, len(k))
		}
		for _, v := range vs {
			if len(v) > 0xffff {
				return nil, fmt.Errorf("%w: header %s value of %d bytes", errFrameTooLarge, k, len(v))
			}
			b = append(b, byte(len(k)))
			b = append(b, k...)
			b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
			b = append(b, v...)
		}
	}
	return b, nil
}

// encodeRequest builds a request frame (id 0, set when it is sent):
// budget in milliseconds (4 bytes, 0 none), method (1-byte length), URI
// (2-byte length), header, body (the rest).
func encodeRequest(req *Request, budget time.Duration) ([]byte, error) {
	if len(req.Method) > 255 || len(req.URI) > 0xffff {
		return nil, fmt.Errorf("%w: method or URI too long", errFrameTooLarge)
	}
	size := 4 + reqHeaderBytes + 4 + 1 + len(req.Method) + 2 + len(req.URI) + headerBytes(req.Header) + len(req.Body)
	if size-4 > maxRequestFrameBytes {
		return nil, fmt.Errorf("%w: request of %d bytes, at most %d", errFrameTooLarge, size-4, maxRequestFrameBytes)
	}
	b := appendFrameStart(make([]byte, 0, size), reqFrameRequest, 0)
	ms := uint32(0)
	if budget > 0 {
		ms = uint32(min(max(budget.Milliseconds(), 1), 1<<31))
	}
	b = binary.BigEndian.AppendUint32(b, ms)
	b = append(b, byte(len(req.Method)))
	b = append(b, req.Method...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(req.URI)))
	b = append(b, req.URI...)
	b, err := appendHeader(b, req.Header)
	if err != nil {
		return nil, err
	}
	b = append(b, req.Body...)
	return finishFrame(b, maxRequestFrameBytes)
}

// encodeAnswer builds an answer frame: status (2 bytes), header, body.
func encodeAnswer(id uint64, resp *Response) ([]byte, error) {
	if resp == nil || resp.Status < 100 || resp.Status > 999 {
		return nil, errors.New("transport: handler returned no valid status")
	}
	size := 4 + reqHeaderBytes + 2 + headerBytes(resp.Header) + len(resp.Body)
	if size-4 > maxAnswerFrameBytes {
		return nil, fmt.Errorf("%w: answer of %d bytes, at most %d", errFrameTooLarge, size-4, maxAnswerFrameBytes)
	}
	b := appendFrameStart(make([]byte, 0, size), reqFrameAnswer, id)
	b = binary.BigEndian.AppendUint16(b, uint16(resp.Status))
	b, err := appendHeader(b, resp.Header)
	if err != nil {
		return nil, err
	}
	b = append(b, resp.Body...)
	return finishFrame(b, maxAnswerFrameBytes)
}

func encodeReason(kind byte, id uint64, reason string) []byte {
	if len(reason) > maxNotRunReason {
		reason = reason[:maxNotRunReason]
	}
	b := appendFrameStart(make([]byte, 0, 4+reqHeaderBytes+len(reason)), kind, id)
	b = append(b, reason...)
	b, _ = finishFrame(b, maxAnswerFrameBytes) // far below the bound
	return b
}

// frameCursor decodes fields from a frame's payload; the first short read
// sets err and every later read returns zero values.
type frameCursor struct {
	b   []byte
	err error
}

func (c *frameCursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n > len(c.b) {
		c.err = fmt.Errorf("%w: request stream frame ends inside a field", errProtocol)
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

func (c *frameCursor) u8() int {
	b := c.take(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (c *frameCursor) u16() int {
	b := c.take(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (c *frameCursor) header() http.Header {
	n := c.u8()
	if n == 0 || c.err != nil {
		return nil
	}
	h := make(http.Header, n)
	for range n {
		k := string(c.take(c.u8()))
		v := string(c.take(c.u16()))
		if c.err != nil {
			return nil
		}
		h[k] = append(h[k], v)
	}
	return h
}

func decodeRequest(p []byte) (*Request, time.Duration, error) {
	c := frameCursor{b: p}
	ms := c.take(4)
	req := &Request{}
	req.Method = string(c.take(c.u8()))
	req.URI = string(c.take(c.u16()))
	req.Header = c.header()
	if c.err != nil {
		return nil, 0, c.err
	}
	req.Body = c.b
	return req, time.Duration(binary.BigEndian.Uint32(ms)) * time.Millisecond, nil
}

func decodeAnswer(p []byte) (*Response, error) {
	c := frameCursor{b: p}
	resp := &Response{Status: c.u16()}
	resp.Header = c.header()
	if c.err != nil {
		return nil, c.err
	}
	if resp.Status < 100 || resp.Status > 999 {
		return nil, fmt.Errorf("%w: answer status %d", errProtocol, resp.Status)
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	resp.Body = c.b
	return resp, nil
}
