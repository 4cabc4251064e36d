package kafka

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// writeTimeout bounds writing one response: a client that stops reading
// does not hold the connection's goroutines for longer.
const writeTimeout = 30 * time.Second

// conn is one client connection: a reader goroutine (serve) that reads
// and parses requests and starts a handler for each, and a writer
// goroutine that writes their responses strictly in request order, as
// Kafka clients pipeline requests and match responses by order as well as
// by correlation id.
type conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger

	ctx    context.Context // ends when the connection closes, or at Server.Close
	cancel context.CancelFunc
	// pending holds a slot per request read and not yet answered, in
	// order; its capacity is Config.MaxInFlight, so the reader waits for
	// the writer when a client pipelines more.
	pending chan *slot
}

// slot is one request's answer: the response frame, or the error that
// closes the connection instead. done is closed once either is set.
type slot struct {
	done  chan struct{}
	frame []byte
	err   error
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()), pending: make(chan *slot, s.cfg.MaxInFlight)}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// serve is the reader; it returns once the connection is closed and
// every goroutine it started has returned.
func (c *conn) serve() {
	var handlers sync.WaitGroup
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write()
	}()
	defer func() {
		close(c.pending) // the writer answers what was read, then closes
		<-writerDone
		c.cancel()
		handlers.Wait()
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout)); err != nil {
			return
		}
		frame, err := readFrame(br, c.s.cfg.MaxFrameBytes)
		if err != nil {
			c.readFailed(err)
			return
		}
		req, err := parseRequest(frame)
		if err != nil {
			c.log.Warn("closing Kafka connection: malformed request", "api_key", req.APIKey, "api_version", req.APIVersion, "err", err)
			c.cancel()
			return
		}
		sl := &slot{done: make(chan struct{})}
		select {
		case c.pending <- sl:
		case <-c.ctx.Done():
			return
		}
		handlers.Add(1)
		go func() {
			defer handlers.Done()
			defer close(sl.done)
			sl.frame, sl.err = c.s.handle(c.ctx, req, frame)
		}()
	}
}

// readFailed logs why reading stopped; every reason but a client that
// closed or idled out is worth a warning.
func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.ctx.Err() != nil:
		// The client closed between requests, or we closed the connection.
	case errors.As(err, &ne) && ne.Timeout():
		c.log.Debug("closing idle Kafka connection", "idle", c.s.cfg.IdleTimeout)
	case errors.Is(err, errProtocol):
		c.log.Warn("closing Kafka connection: bad frame", "err", err)
	default:
		c.log.Debug("Kafka connection read failed", "err", err)
	}
	if !errors.Is(err, io.EOF) {
		// A closed or broken connection answers nothing more; a client
		// that only half-closed still gets what it asked for.
		c.cancel()
	}
}

// write is the writer: it writes each slot's response in order, and
// closes the connection when a slot holds an error, a write fails, or
// there is nothing left to answer.
func (c *conn) write() {
	defer c.nc.Close()
	defer c.cancel()
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	for sl := range c.pending {
		select {
		case <-sl.done:
		default:
			// Answers already written go out before waiting on this one;
			// answers ready together go out in one write.
			if err := bw.Flush(); err != nil {
				c.log.Debug("Kafka connection write failed", "err", err)
				return
			}
			select {
			case <-sl.done:
			case <-c.ctx.Done():
				return
			}
		}
		if sl.err != nil {
			c.log.Warn("closing Kafka connection", "err", sl.err)
			return
		}
		if err := c.nc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return
		}
		if _, err := bw.Write(sl.frame); err != nil {
			c.log.Debug("Kafka connection write failed", "err", err)
			return
		}
		if len(c.pending) == 0 {
			if err := bw.Flush(); err != nil {
				c.log.Debug("Kafka connection write failed", "err", err)
				return
			}
		}
	}
	_ = bw.Flush()
}

// handle runs one parsed request and returns its response frame, or the
// error that closes the connection. frame is the request frame, which a
// follower forwards as is.
func (s *Server) handle(ctx context.Context, req request, frame []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("Kafka request handler panicked", "api_key", req.APIKey, "api_version", req.APIVersion, "panic", p, "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("handler of %s v%d failed", kmsg.NameForKey(req.APIKey), req.APIVersion)
		}
	}()
	if !req.supported {
		if req.APIKey == kmsg.ApiVersions.Int16() {
			// KIP-511: answer in v0 with the versions served, so the
			// client retries in one of them.
			return appendResponse(nil, req.CorrelationID, unsupportedAPIVersions()), nil
		}
		// Kafka closes a connection that sends a version it does not
		// serve: a client must pick one from ApiVersions first.
		return nil, fmt.Errorf("%w: %s v%d is not served (v%d to v%d are)", errProtocol,
			kmsg.NameForKey(req.APIKey), req.APIVersion, req.api.minVersion, req.api.maxVersion)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if req.api.controller && !s.ctrl.IsLeader() {
		return s.forward(ctx, req, frame)
	}
	resp, err := s.run(ctx, req)
	if err != nil {
		return nil, err
	}
	return appendResponse(nil, req.CorrelationID, resp), nil
}

// run serves a decoded request on this node.
func (s *Server) run(ctx context.Context, req request) (kmsg.Response, error) {
	resp, err := req.api.serve(ctx, s, req.Header, req.req)
	if err != nil {
		return nil, fmt.Errorf("%s v%d: %w", kmsg.NameForKey(req.APIKey), req.APIVersion, err)
	}
	resp.SetVersion(req.APIVersion)
	return resp, nil
}
