package controller

import (
	"context"
	"sync"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
)

// speculation is the leader's forecast of the state its writes produce:
// the applied image plus every batch this leader proposed in its current
// term whose outcome is not known yet, as KRaft's controller keeps one.
// Writes are validated against it, one at a time, and proposed in the
// order they were validated, so a write needs no read barrier before it:
// one consensus round per write, and a write sees the writes queued before
// it although none of them has committed.
//
// The forecast is never the authority. Apply validates every batch again
// against the committed state, and its verdict is the answer. A write the
// forecast refuses is answered from the committed state, after a read
// barrier (as a read would be), so a refusal never rests on a batch that
// did not commit. When an outcome differs from the forecast (a proposal
// dropped, refused by apply, or of unknown fate), the writes made on the
// forecast are let settle, and the next write starts from the applied
// image again. A new term starts a new forecast once the leader has
// applied its first entry of the term: only then does the applied image
// hold everything earlier leaders committed.
type speculation struct {
	mu sync.Mutex
	// cur is the forecast of the term this node last wrote in. Guarded
	// by mu.
	cur *forecast
}

// forecast is one term's speculative state. Guarded by speculation.mu.
type forecast struct {
	term uint64
	// delta holds the state after every proposal made on it, replayed in
	// place (metadata.Delta.View); nil when no proposal is outstanding,
	// the applied image is the forecast then. off is the offset of its
	// newest batch: the applied image's offset, plus one per batch (the
	// real offsets are not known before commit).
	delta    *metadata.Delta
	off      int64
	writes   int // batches replayed on delta
	inflight int
	// broken: an outcome differed from delta, or delta has grown old; new
	// writes wait on settled until inflight is 0, then start from the
	// applied image.
	broken  bool
	settled chan struct{}
	// last is closed once the newest proposal made on delta has an
	// outcome, nil when none has been made.
	last chan struct{}
}

// speculative is one write's pass through the forecast: either a
// proposal on its way (p, with the records it carries), or a refusal or
// known answer the forecast gave (p nil), to be confirmed from committed
// state once the proposals it saw (last) have outcomes.
type speculative struct {
	f      *forecast
	p      *raftnode.Proposal
	answer []byte // build's answer, stored with the idempotency key
	done   chan struct{}
	last   chan struct{}
	// refusedByForecast: replay refused the batch on the forecast, which
	// expects apply to refuse it too.
	refusedByForecast bool
}

// errContended ends a write whose forecast and committed state kept
// disagreeing: nothing of it was applied.
var errContended = contract.Errorf(contract.CodeNotReady,
	"the write was not applied: concurrent writes kept changing what it depends on; retry")

// readyTerm waits until this node leads and has applied its first entry of
// the term (a new leader) and returns the term; NO_LEADER when this node
// does not lead.
func (c *Controller) readyTerm(ctx context.Context) (uint64, error) {
	for {
		if term, ready := c.node.LeaderReady(); ready {
			return term, nil
		}
		if !c.node.IsLeader() {
			c.spec.mu.Lock()
			c.spec.cur = nil // the forecast dies with the leadership
			c.spec.mu.Unlock()
			return 0, contract.Errorf(contract.CodeNoLeader, "this node is not the leader")
		}
		// A new leader: raft answers a read barrier once an entry of the
		// term has committed, and it returns once that entry is applied.
		if err := c.node.ReadBarrier(ctx); err != nil {
			return 0, nodeError(err)
		}
	}
}

// speculate validates the request with build against the forecast and,
// when build returns records, proposes them and adds them to the
// forecast, in one step under the forecast's lock.
func (c *Controller) speculate(ctx context.Context, build func(img *metadata.Image) ([]metadata.Record, []byte, error)) (speculative, error) {
	term, err := c.readyTerm(ctx)
	if err != nil {
		return speculative{}, err
	}
	s := &c.spec
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.cur == nil || s.cur.term != term {
			s.cur = &forecast{term: term, settled: make(chan struct{})}
		}
		if !s.cur.broken {
			break
		}
		settled := s.cur.settled
		s.mu.Unlock()
		select {
		case <-settled:
		case <-ctx.Done():
			s.mu.Lock()
			return speculative{}, nodeError(ctx.Err())
		}
		s.mu.Lock()
	}
	f := s.cur
	if f.delta == nil {
		base := c.state.Image()
		f.delta, f.off, f.writes = metadata.NewDelta(base), base.Offset(), 0
	}
	img := f.delta.View(f.off)
	refused := speculative{f: f, last: f.last}
	if idem := idempotencyFrom(ctx); idem != nil {
		if _, known := img.Idempotency(idem.Key); known {
			return refused, nil
		}
	}
	recs, answer, err := build(img)
	if err != nil {
		return refused, nil
	}
	batch := metadata.Batch{Records: recs, Idempotency: stamp(ctx, answer)}
	stampTime(c.clock, recs)
	payload := metadata.EncodeBatch(batch)

	p, err := c.node.Enqueue(ctx, payload)
	if err != nil {
		return speculative{}, nodeError(err)
	}
	done := make(chan struct{})
	f.last = done
	f.inflight++
	// The forecast replays a copy: replay sets the records' offsets. A
	// refused batch leaves the delta as it was.
	f.off++
	_, replayErr := f.delta.ReplayEntry(f.off, metadata.Batch{Records: append([]metadata.Record(nil), recs...), Idempotency: batch.Idempotency})
	if f.writes++; f.writes >= maxForecastWrites {
		// Start again from the applied image once these settle: the
		// delta's own nodes would otherwise grow into a second copy of
		// the state under a write load that never pauses.
		f.broken = true
	}
	if replayErr != nil {
		// build let through what replay refuses. Proposed all the same,
		// so that apply gives the answer, as it would for any batch;
		// the forecast expects it to change nothing.
		return speculative{f: f, p: p, answer: answer, done: done, refusedByForecast: true}, nil
	}
	return speculative{f: f, p: p, answer: answer, done: done}, nil
}

// maxForecastWrites bounds the batches one forecast delta takes before it
// is rebuilt from the applied image (a pause of one commit round).
const maxForecastWrites = 8192

// settleProposal records a proposal's outcome in its forecast: applied
// is whether its batch applied (not refused, replayed, dropped or of
// unknown fate).
func (c *Controller) settleProposal(sp speculative, applied bool) {
	s := &c.spec
	s.mu.Lock()
	defer s.mu.Unlock()
	f := sp.f
	f.inflight--
	if applied == sp.refusedByForecast {
		f.broken = true
	}
	if f.inflight == 0 {
		// Every proposal made on the delta has an outcome: the applied image
		// is the state now (or, after a surprise, the state to start
		// again from).
		f.delta, f.last = nil, nil
		if f.broken {
			f.broken = false
			close(f.settled)
			f.settled = make(chan struct{})
		}
	}
	close(sp.done)
}

// confirmRefusal answers a write the forecast refused (or knew the key
// of) from committed state: once the proposals the forecast held have
// outcomes, and after a read barrier. ok is false when the committed
// state accepts the write after all (a proposal the refusal rested on did
// not apply): the caller tries it again.
func (c *Controller) confirmRefusal(ctx context.Context, last <-chan struct{}, build func(img *metadata.Image) ([]metadata.Record, []byte, error)) (applied []metadata.Record, answer []byte, ok bool, err error) {
	if last != nil {
		select {
		case <-last:
		case <-ctx.Done():
			return nil, nil, true, nodeError(ctx.Err())
		}
	}
	img, err := c.linearizableImage(ctx)
	if err != nil {
		return nil, nil, true, err
	}
	if applied, answer, ok, err := knownAnswer(ctx, img); ok || err != nil {
		return applied, answer, true, err
	}
	if _, _, err := build(img); err != nil {
		return nil, nil, true, err
	}
	return nil, nil, false, nil
}

// stampTime sets the server's time on records about to be proposed.
func stampTime(clock Clock, recs []metadata.Record) {
	now := clock.Now().UTC().Truncate(time.Millisecond)
	for i := range recs {
		recs[i].Timestamp = now
	}
}
