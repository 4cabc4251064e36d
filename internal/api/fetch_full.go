package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// fullFetchRetryAfter is the Retry-After of a full fetch refused for the
// limit, in seconds.
const fullFetchRetryAfter = "1"

// fullWriteTimeout bounds each write of a full answer to the client: a
// client that stops reading gives its slot back after this long instead
// of holding it for as long as its connection lives.
const fullWriteTimeout = 30 * time.Second

// serveFull streams a full answer: the shared gzip encoding as it is
// (Content-Encoding: gzip) to a client that accepts gzip, decompressed
// on the way to any other. Beyond MaxFullFetches answers at once it
// refuses with 503 TOO_MANY_FULL_FETCHES and Retry-After.
func (s *Server) serveFull(w http.ResponseWriter, r *http.Request, out controller.FetchResponse) {
	select {
	case s.fullSlots <- struct{}{}:
		defer func() { <-s.fullSlots }()
	default:
		w.Header().Set("Retry-After", fullFetchRetryAfter)
		s.writeError(w, r, contract.Errorf(contract.CodeTooManyFullFetches,
			"this node is already sending %d full metadata answers; retry in a moment or ask another node", cap(s.fullSlots)))
		return
	}
	rd := s.ctrl.OpenFull(out)
	defer rd.Close()
	src := rd.Reader(r.Context())
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding")
	gz := acceptsGzip(r)
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(http.StatusOK)
	var err error
	if !gz {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(src); err == nil {
			src = zr
		}
	}
	if err == nil {
		_, err = io.Copy(deadlineWriter{w: w, rc: http.NewResponseController(w)}, src)
	}
	if err != nil {
		// The status is sent: cut the answer off so the client sees a
		// broken transfer, never a short body that looks complete.
		if r.Context().Err() == nil {
			s.log.Warn("full fetch cut off", "err", err, "request", requestID(r), "offset", out.HighWatermark)
		}
		panic(http.ErrAbortHandler)
	}
}

// deadlineWriter sets a write deadline of fullWriteTimeout before each
// write (where the connection supports one).
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(fullWriteTimeout)) // unsupported by test recorders: no deadline then
	return d.w.Write(p)
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (RFC 9110, 12.5.3): listed as gzip or x-gzip with a q-value above 0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, item := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "x-gzip" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

// serveBrokerHeartbeat is the leader's part of a BrokerMgmt fetch.
func (s *Server) serveBrokerHeartbeat(w http.ResponseWriter, r *http.Request) {
	var req contract.HeartbeatRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.BrokerID == nil {
		s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "field \"brokerId\" is required"))
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	wait, err := s.ctrl.BrokerHeartbeat(ctx, *req.BrokerID, req.Offset)
	s.replyRead(w, r, contract.HeartbeatAnswer{WaitForOffset: wait}, err)
}

// heartbeat returns how a BrokerMgmt fetch received as r delivers its
// heartbeat: on this node when it leads, else as a small forwarded
// request to the leader (batched with the other heartbeats this node
// receives, heartbeat_batch.go), with forwarding's rules: no
// leader, or none reachable by the request timeout, fails the fetch with
// forwarding's 503 NO_LEADER (or 504 TIMEOUT). When the leader unfenced
// the broker, the fetch waits until this node has applied that, so its
// answer shows it.
func (s *Server) heartbeat(r *http.Request) func(context.Context, int32, *int64) error {
	return func(ctx context.Context, id int32, offset *int64) error {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
		var wait int64
		if s.ctrl.IsLeader() {
			var err error
			if wait, err = s.ctrl.BrokerHeartbeat(ctx, id, offset); err != nil {
				return err
			}
		} else {
			var err error
			if wait, err = s.hbBatch.send(ctx, id, offset); err != nil {
				return err
			}
		}
		if wait > 0 {
			if err := s.ctrl.WaitApplied(ctx, wait); err != nil {
				return contract.Errorf(contract.CodeTimeout, "the broker was unfenced at offset %d, not applied here in time", wait)
			}
		}
		return nil
	}
}

// captureWriter keeps an answer in memory: a forwarded heartbeat batch's.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
