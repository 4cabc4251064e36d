package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// heartbeatBatchPattern is the leader's part of many BrokerMgmt fetches
// at once: a follower coalesces the heartbeats it receives for
// Config.HeartbeatBatchInterval and sends them as one request, so at
// thousands of brokers the leader handles one small request per follower
// per interval instead of one per heartbeat. Like heartbeatPattern it is
// safe to repeat.
const heartbeatBatchPattern = "POST /v1/internal/broker-heartbeats"

// maxHeartbeatBatch bounds one batch request, far under MaxBodyBytes
// (about 40 bytes a heartbeat).
const maxHeartbeatBatch = 4096

// serveBrokerHeartbeats is the leader's part of a batch: each heartbeat
// is handled as BrokerHeartbeat handles one. They run concurrently, so a
// heartbeat that unfences (a raft round) does not hold up the rest.
func (s *Server) serveBrokerHeartbeats(w http.ResponseWriter, r *http.Request) {
	var req contract.HeartbeatBatchRequest
	if err := decodeHeartbeatBatch(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Heartbeats) > maxHeartbeatBatch {
		s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "at most %d heartbeats per batch", maxHeartbeatBatch))
		return
	}
	for i, hb := range req.Heartbeats {
		if hb.BrokerID == nil {
			s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "field \"heartbeats[%d].brokerId\" is required", i))
			return
		}
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	ans := contract.HeartbeatBatchAnswer{Results: make([]contract.HeartbeatResult, len(req.Heartbeats))}
	var wg sync.WaitGroup
	for i, hb := range req.Heartbeats {
		run := func() {
			wait, err := s.ctrl.BrokerHeartbeat(ctx, *hb.BrokerID, hb.Offset)
			ans.Results[i] = contract.HeartbeatResult{WaitForOffset: wait, Error: resultError(err)}
		}
		if s.ctrl.BrokerKnownAlive(*hb.BrokerID) {
			// The common case: in memory, no raft round; a goroutine
			// would cost more than the call.
			run()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
	s.replyRead(w, r, ans, nil)
}

// decodeHeartbeatBatch reads a batch. Batches come from other nodes'
// heartbeatBatchers, not from clients, so they skip decodeBody's strict
// pre-pass (duplicate and differently-cased keys), which cost several
// times the decoding itself, for every broker's heartbeat the leader
// takes. Unknown fields, wrong types and trailing data are still refused.
func decodeHeartbeatBatch(w http.ResponseWriter, r *http.Request, req *contract.HeartbeatBatchRequest) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil || len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		// encoding/json's messages name Go types; a node sends what
		// contract.HeartbeatBatchRequest encodes, so the shape is the message.
		return contract.Errorf(contract.CodeInvalidRequest,
			`a heartbeat batch must be one JSON object {"heartbeats":[{"brokerId":<integer>,"offset":<integer or null>},...]}`)
	}
	return nil
}

// resultError is err as a batch result's error: coded errors keep their
// code, anything else is an internal error without internals.
func resultError(err error) *contract.ErrorDetail {
	if err == nil {
		return nil
	}
	if ce, ok := controller.APIError(err); ok {
		return &contract.ErrorDetail{Code: ce.Code, Message: ce.Message}
	}
	return &contract.ErrorDetail{Code: contract.CodeInternal, Message: "the leader failed to handle the heartbeat"}
}

// heartbeatBatcher coalesces the heartbeats a follower receives into
// batch requests to the leader.
type heartbeatBatcher struct {
	s        *Server
	interval time.Duration

	mu      sync.Mutex
	pending []pendingHeartbeat
	armed   bool // a flush is scheduled for pending
}

type pendingHeartbeat struct {
	hb   contract.HeartbeatRequest
	done chan heartbeatOutcome // buffered (1): the flush never blocks on a caller that left
}

type heartbeatOutcome struct {
	wait int64
	err  error
}

// send queues one heartbeat for the next batch and waits for its answer
// or ctx.
func (b *heartbeatBatcher) send(ctx context.Context, id int32, offset *int64) (int64, error) {
	p := pendingHeartbeat{hb: contract.HeartbeatRequest{BrokerID: &id, Offset: offset}, done: make(chan heartbeatOutcome, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	if !b.armed {
		b.armed = true
		// The flush's goroutine lives at most interval plus the request
		// timeout; every caller in the batch waits for it or leaves.
		time.AfterFunc(b.interval, b.flush)
	}
	b.mu.Unlock()
	select {
	case out := <-p.done:
		return out.wait, out.err
	case <-ctx.Done():
		// As a forwarded write that found no leader to take it: nothing
		// was applied on the caller's behalf, so a retry is safe.
		return 0, contract.Errorf(contract.CodeNoLeader, "no leader answered the heartbeat in time; retry")
	}
}

// flush sends everything pending, in requests of at most
// maxHeartbeatBatch heartbeats.
func (b *heartbeatBatcher) flush() {
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.armed = false
	b.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), maxHeartbeatBatch)
		b.sendBatch(batch[:n])
		batch = batch[n:]
	}
}

func (b *heartbeatBatcher) sendBatch(batch []pendingHeartbeat) {
	ctx, cancel := context.WithTimeout(context.Background(), b.s.cfg.RequestTimeout)
	defer cancel()
	results, err := b.s.forwardHeartbeats(ctx, batch)
	for i, p := range batch {
		switch {
		case err != nil:
			p.done <- heartbeatOutcome{err: err}
		case results[i].Error != nil:
			p.done <- heartbeatOutcome{err: contract.Errorf(results[i].Error.Code, "%s", results[i].Error.Message)}
		default:
			p.done <- heartbeatOutcome{wait: results[i].WaitForOffset}
		}
	}
}

// forwardHeartbeats sends a batch to the leader through the forwarder
// (or handles it here when this node leads by then) and returns one
// result per heartbeat.
func (s *Server) forwardHeartbeats(ctx context.Context, batch []pendingHeartbeat) ([]contract.HeartbeatResult, error) {
	req := contract.HeartbeatBatchRequest{Heartbeats: make([]contract.HeartbeatRequest, len(batch))}
	for i, p := range batch {
		req.Heartbeats[i] = p.hb
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	rid := "hb-" + strconv.FormatUint(s.ctrl.NodeID(), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx = context.WithValue(ctx, requestIDKey, rid)
	method, path := "POST", "/v1/internal/broker-heartbeats"
	hr, err := http.NewRequestWithContext(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	hr.Pattern = heartbeatBatchPattern
	hr.Header.Set("Content-Type", "application/json")
	hr.ContentLength = int64(len(body))
	rec := &captureWriter{header: http.Header{}}
	s.fwd.serve(ctx, rec, hr, body, true, func() {
		// This node leads: the batch is handled here.
		hr.Body = io.NopCloser(bytes.NewReader(body))
		s.serveBrokerHeartbeats(rec, hr)
	})
	if rec.status == http.StatusOK {
		var ans contract.HeartbeatBatchAnswer
		if err := json.Unmarshal(rec.body.Bytes(), &ans); err != nil || len(ans.Results) != len(batch) {
			return nil, errors.New("api: leader's heartbeat batch answer is malformed")
		}
		return ans.Results, nil
	}
	if rec.status == 0 {
		return nil, contract.Errorf(contract.CodeNoLeader, "the heartbeat did not reach a leader")
	}
	var eb contract.ErrorBody
	if json.Unmarshal(rec.body.Bytes(), &eb) != nil || eb.Error.Code == "" {
		return nil, errors.New("api: leader answered the heartbeat batch with " + strconv.Itoa(rec.status))
	}
	return nil, contract.Errorf(eb.Error.Code, "%s", eb.Error.Message)
}
