package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

// Event stream limits.
const (
	// maxEventRecords is how many records one event carries at most:
	// the newest of what committed since the last event, with the count
	// of all of them. A page shows the latest few dozen; a create of
	// 10,000 partitions must not send them all to every open page.
	maxEventRecords = 100
	// backlogOffsets: a new stream starts this many offsets back, so the
	// page opens with the latest records already shown.
	backlogOffsets = 50
	// writeTimeout bounds each write to a stream: a client that stops
	// reading is dropped rather than holding its slot forever.
	writeTimeout = 10 * time.Second
	// streamRetryAfter is the Retry-After (seconds) of a refused stream.
	streamRetryAfter = "5"
)

// serveEvents streams what this node applies as server-sent events:
//
//	event: records  data: {"highWatermark":H,"count":N,"records":[...]}
//	event: reset    data: {"highWatermark":H}   (records were compacted away)
//
// each with id H, so a reconnecting EventSource resumes after H
// (Last-Event-ID, or ?from=H). Idle streams get a comment every
// KeepAlive.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r, "from") {
		return
	}
	from, ok := queryInt(w, r, "from", -1, 0, math.MaxInt64)
	if !ok {
		return
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" && from < 0 {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			from = n
		}
	}
	if h.base.Err() != nil {
		writeError(w, contract.CodeNotReady, "this node is shutting down")
		return
	}
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		w.Header().Set("Retry-After", streamRetryAfter)
		writeError(w, contract.CodeOverloaded,
			fmt.Sprintf("this node already serves %d dashboard event streams; retry later or open the dashboard on another node", cap(h.streams)))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.base, cancel)
	defer stop()

	img, err := h.cfg.Controller.Image(ctx, true)
	if err != nil {
		writeError(w, contract.CodeNotReady, "this node's state is not available: "+err.Error())
		return
	}
	off := from
	if off < 0 || off > img.Offset() {
		off = max(0, img.Offset()-backlogOffsets)
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, rc: rc}
	// retry: how long EventSource waits before reconnecting.
	if err := s.send([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	for ctx.Err() == nil {
		resp, err := h.cfg.Controller.Fetch(ctx, controller.FetchRequest{Offset: &off, MaxWait: h.cfg.KeepAlive, Stale: true})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The client reconnects from the last id it was sent.
			h.log.Warn("dashboard event stream", "err", err)
			return
		}
		if resp.Full() {
			off = resp.HighWatermark
			err = s.event("reset", off, fmt.Appendf(nil, `{"highWatermark":%d}`, off))
		} else if recs := resp.Records(); len(recs) == 0 {
			err = s.send([]byte(": keepalive\n\n"))
		} else {
			off = resp.HighWatermark
			var data []byte
			data, err = recordsEvent(off, recs)
			if err == nil {
				err = s.event("records", off, data)
			}
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.log.Debug("dashboard event stream ended", "err", err)
			}
			return
		}
	}
}

// recordsEvent is a records event's data: the newest maxEventRecords of
// a diff's records, oldest first, and how many there were in all.
func recordsEvent(hw int64, recs []metadata.Record) ([]byte, error) {
	b := fmt.Appendf(nil, `{"highWatermark":%d,"count":%d,"records":[`, hw, len(recs))
	recs = recs[max(0, len(recs)-maxEventRecords):]
	for i, rec := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = rec.AppendJSON(b); err != nil {
			return nil, fmt.Errorf("encode record at offset %d: %w", rec.Offset, err)
		}
	}
	return append(b, "]}"...), nil
}

// stream writes server-sent events, each flushed at once and bounded by
// writeTimeout.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// event sends one event. data must be one line (compact JSON is).
func (s *stream) event(name string, id int64, data []byte) error {
	b := make([]byte, 0, len(data)+64)
	b = fmt.Appendf(b, "event: %s\nid: %d\ndata: ", name, id)
	b = append(b, data...)
	return s.send(append(b, "\n\n"...))
}

func (s *stream) send(b []byte) error {
	// Not every writer supports deadlines (a test recorder); the
	// connection's own then applies.
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}
