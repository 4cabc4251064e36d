package api

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

func (s *Server) serveBrokerFetch(w http.ResponseWriter, r *http.Request) {
	var body contract.BrokerFetchRequest
	if err := decodeBody(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.BrokerID == nil {
		s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "field \"brokerId\" is required"))
		return
	}
	// A BrokerMgmt fetch is the broker's heartbeat: its own write.
	if !s.actForBroker(w, r, *body.BrokerID) {
		return
	}
	req := controller.FetchRequest{BrokerID: body.BrokerID, Offset: body.Offset, MaxWait: time.Duration(body.MaxWaitMs) * time.Millisecond,
		Stale: isStale(r), Heartbeat: s.heartbeat(r)}
	if body.Timestamp != nil {
		ts, err := parseTimestamp(*body.Timestamp)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.Timestamp = &ts
	}
	s.fetch(w, r, req)
}

func (s *Server) serveClientFetch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := controller.FetchRequest{Client: true, Stale: isStale(r)}
	if v := q.Get("offset"); v != "" {
		off, err := queryInt("offset", v, 0, math.MaxInt64)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.Offset = &off
	}
	if v := q.Get("timestamp"); v != "" {
		ts, err := parseTimestamp(v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.Timestamp = &ts
	}
	if v := q.Get("maxWaitMs"); v != "" {
		ms, err := queryInt("maxWaitMs", v, 0, controller.MaxFetchWait.Milliseconds())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.MaxWait = time.Duration(ms) * time.Millisecond
	}
	s.fetch(w, r, req)
}

func (s *Server) fetch(w http.ResponseWriter, r *http.Request, req controller.FetchRequest) {
	// A long poll may outlast the request timeout by its own wait.
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if req.MaxWait > 0 {
		release, ok := s.holdLongPoll(w, r)
		if !ok {
			return
		}
		defer release()
		ctx, cancel = contextWithExtra(r, s.cfg.RequestTimeout+req.MaxWait)
		defer cancel()
	}
	out, err := s.ctrl.Fetch(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if out.Full() {
		s.serveFull(w, r, out)
		return
	}
	buf := diffBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledDiff {
			diffBufs.Put(buf)
		}
	}()
	body, err := out.AppendDiffJSON((*buf)[:0])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body = append(body, '\n')
	*buf = body[:0]
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the caller may have left; nothing to tell it
}

// diffBufs recycles the buffers diff answers are built in. A heartbeat's
// diff is tens of KB; growing a fresh buffer to that size for each of
// thousands of fetches a second made most of their garbage. A
// ResponseWriter keeps nothing of what it is given once Write returns.
var diffBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledDiff is the largest buffer diffBufs keeps: the odd large diff
// (a broker far behind) is not held on to.
const maxPooledDiff = 1 << 20

func parseTimestamp(v string) (time.Time, error) {
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, contract.Errorf(contract.CodeInvalidRequest, "timestamp must be RFC 3339 like 2026-11-21T16:04:05.123Z; got %q", truncate(v))
	}
	return ts, nil
}

// queryInt reads the integer query parameter name: decimal digits only
// (no sign, no spaces), from lo to hi.
func queryInt(name, v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || v[0] == '+' || n < lo || n > hi {
		return 0, contract.Errorf(contract.CodeInvalidRequest, "query parameter %q must be an integer from %d to %d; got %q", name, lo, hi, truncate(v))
	}
	return n, nil
}

func (s *Server) serveLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, limit := int64(1), contract.DefaultLogLimit
	if v := q.Get("fromOffset"); v != "" {
		n, err := queryInt("fromOffset", v, 0, math.MaxInt64)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		from = max(n, 1)
	}
	if v := q.Get("limit"); v != "" {
		n, err := queryInt("limit", v, 1, contract.MaxLogLimit)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		limit = int(n)
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	page, err := s.ctrl.Log(ctx, from, limit, isStale(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) serveListSnapshots(w http.ResponseWriter, r *http.Request) {
	out, err := s.ctrl.Snapshots()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// snapshotTimeout bounds POST /v1/snapshots. Writing a snapshot of
// millions of partitions takes seconds and does not hold up raft, so the
// request may wait for it well past the usual request deadline (and for
// an automatic snapshot already under way, which comes first).
const snapshotTimeout = 2 * time.Minute

func (s *Server) serveTakeSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithExtra(r, snapshotTimeout)
	defer cancel()
	out, err := s.ctrl.TakeSnapshot(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// serveLatestSnapshot streams the newest snapshot file as stored: its own
// header carries a CRC32C of the body, and X-Yakt-Snapshot-Checksum the
// file's checksum as listed.
func (s *Server) serveLatestSnapshot(w http.ResponseWriter, r *http.Request) {
	f, err := s.ctrl.OpenLatestSnapshot()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	in := f.Info
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(in.SizeBytes, 10))
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("yakt-%016x-%016x.snap", in.Term, in.Offset)))
	h.Set(contract.HeaderSnapshotOffset, strconv.FormatUint(in.Offset, 10))
	h.Set(contract.HeaderSnapshotChecksum, in.Checksum)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		s.log.Warn("send snapshot", "err", err, "offset", in.Offset)
	}
}
