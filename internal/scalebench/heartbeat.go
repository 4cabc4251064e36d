package scalebench

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Heartbeats plays brokers heartbeating with POST /v1/metadata/fetch
// every period, each broker on one node (id mod nodes; the next node if
// that one fails), from a bounded pool of workers over kept-alive
// connections.
//
// A broker follows the metadata from the highWatermark of its last
// answer, as a real broker does, when FollowOwn is set. Otherwise it
// heartbeats without following: a stale fetch (?stale=true) at an offset
// beyond the log, which docs/api.md answers with an empty diff. During a
// fill a following broker would fetch every new topic, 10,000 copies of
// each 10,000-partition topic at 10,000 brokers: a load of brokers
// catching up, not of heartbeats, and one that swamps the leader with
// encoding before the fill time measures anything else.
type Heartbeats struct {
	FollowOwn atomic.Bool
	Recording atomic.Bool // latency, failures and gaps are counted only while set

	c      *http.Client
	urls   []string
	period time.Duration
	inbox  []chan int
	latest atomic.Int64
	lastHW []atomic.Int64 // per broker id
	lastOK []atomic.Int64 // per broker id, unix nanoseconds of its last answered heartbeat

	hist     histogram
	sent     atomic.Int64
	failed   atomic.Int64
	full     atomic.Int64 // answers that were whole snapshots instead of diffs
	maxGap   atomic.Int64 // nanoseconds, the longest time a broker went unanswered while recording
	errMu    sync.Mutex
	firstErr error

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartHeartbeats starts workers for brokers 1..n; each broker starts
// heartbeating when Add names it.
func StartHeartbeats(ctx context.Context, c *http.Client, urls []string, n, workers int, period time.Duration) *Heartbeats {
	ctx, cancel := context.WithCancel(ctx)
	workers = max(1, min(workers, n))
	h := &Heartbeats{c: c, urls: urls, period: period, cancel: cancel,
		inbox: make([]chan int, workers), lastHW: make([]atomic.Int64, n+1), lastOK: make([]atomic.Int64, n+1)}
	for w := range workers {
		h.inbox[w] = make(chan int, n/workers+1)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.work(ctx, h.inbox[w])
		}()
	}
	return h
}

// Add starts broker id's heartbeats (within one period, at a random
// phase so the brokers spread evenly).
func (h *Heartbeats) Add(id int) {
	h.lastOK[id].Store(time.Now().UnixNano())
	h.inbox[id%len(h.inbox)] <- id
}

// FollowFrom makes every broker follow the log from hw on (or from where
// it is, if later), as brokers that have just caught up do.
func (h *Heartbeats) FollowFrom(hw int64) {
	for i := range h.lastHW {
		atomicMax(&h.lastHW[i], hw)
	}
	atomicMax(&h.latest, hw)
	h.FollowOwn.Store(true)
}

// Seen records a high watermark learnt elsewhere (a write's offset).
func (h *Heartbeats) Seen(hw int64) { atomicMax(&h.latest, hw) }

// Stop stops every worker and waits for them.
func (h *Heartbeats) Stop() {
	h.cancel()
	h.wg.Wait()
}

// HeartbeatStats is what the recorded heartbeats saw.
type HeartbeatStats struct {
	Sent, Failed, FullAnswers int64
	P50, P99, Max             time.Duration
	MaxGap                    time.Duration // longest a broker went without an answered heartbeat
	FirstErr                  error
}

// Stats returns the recorded figures so far; MaxGap includes brokers
// overdue right now.
func (h *Heartbeats) Stats() HeartbeatStats {
	now := time.Now().UnixNano()
	gap := h.maxGap.Load()
	for i := 1; i < len(h.lastOK); i++ {
		if t := h.lastOK[i].Load(); t != 0 {
			gap = max(gap, now-t)
		}
	}
	h.errMu.Lock()
	first := h.firstErr
	h.errMu.Unlock()
	return HeartbeatStats{Sent: h.sent.Load(), Failed: h.failed.Load(), FullAnswers: h.full.Load(),
		P50: h.hist.quantile(0.5), P99: h.hist.quantile(0.99), Max: h.hist.max(),
		MaxGap: time.Duration(gap), FirstErr: first}
}

// ResetStats clears the recorded figures and restarts every broker's gap
// clock, so a window's figures are its own.
func (h *Heartbeats) ResetStats() {
	h.hist.reset()
	h.sent.Store(0)
	h.failed.Store(0)
	h.full.Store(0)
	h.maxGap.Store(0)
	now := time.Now().UnixNano()
	for i := 1; i < len(h.lastOK); i++ {
		if h.lastOK[i].Load() != 0 {
			h.lastOK[i].Store(now)
		}
	}
	h.errMu.Lock()
	h.firstErr = nil
	h.errMu.Unlock()
}

type due struct {
	at time.Time
	id int
}

type dueHeap []due

func (d dueHeap) Len() int           { return len(d) }
func (d dueHeap) Less(i, j int) bool { return d[i].at.Before(d[j].at) }
func (d dueHeap) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *dueHeap) Push(x any)        { *d = append(*d, x.(due)) }
func (d *dueHeap) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

// work heartbeats its brokers one at a time, each when it is due.
func (h *Heartbeats) work(ctx context.Context, inbox chan int) {
	var q dueHeap
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if len(q) > 0 {
			wait = time.Until(q[0].at)
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case id := <-inbox:
				heap.Push(&q, due{at: time.Now().Add(rand.N(h.period)), id: id})
				continue
			case <-timer.C:
				continue
			}
		}
		d := heap.Pop(&q).(due)
		h.beat(ctx, d.id)
		if ctx.Err() != nil {
			return
		}
		next := d.at.Add(h.period)
		if now := time.Now(); next.Before(now) {
			// Behind schedule: heartbeat at once, but never in a burst to
			// make up for the missed ones.
			next = now
		}
		heap.Push(&q, due{at: next, id: d.id})
	}
}

// beat sends broker id's heartbeat, to its node and then, if that fails,
// to the next one.
func (h *Heartbeats) beat(ctx context.Context, id int) {
	start := time.Now()
	var err error
	for k := 0; k < 2 && ctx.Err() == nil; k++ {
		u := h.urls[(id+k)%len(h.urls)]
		var hw int64
		hw, err = h.fetch(ctx, u, id)
		if err == nil {
			h.lastHW[id].Store(hw)
			atomicMax(&h.latest, hw)
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	rec := h.Recording.Load()
	if err != nil {
		if rec {
			h.failed.Add(1)
			h.errMu.Lock()
			if h.firstErr == nil {
				h.firstErr = fmt.Errorf("broker %d: %w", id, err)
			}
			h.errMu.Unlock()
		}
		return
	}
	prev := h.lastOK[id].Swap(now.UnixNano())
	if rec {
		h.sent.Add(1)
		h.hist.add(now.Sub(start))
		atomicMax(&h.maxGap, now.UnixNano()-prev)
	}
}

// fetch sends one heartbeat and returns the answer's high watermark. It
// reads only the head of the answer, where mode and highWatermark are; a
// diff's records are read to the end (keeping the connection), a whole
// snapshot is counted and its connection dropped.
func (h *Heartbeats) fetch(ctx context.Context, base string, id int) (int64, error) {
	off, path := int64(noFollowOffset), "/v1/metadata/fetch?stale=true"
	if h.FollowOwn.Load() {
		off, path = h.lastHW[id].Load(), "/v1/metadata/fetch"
		if off <= 0 {
			off = h.latest.Load()
		}
	}
	body := `{"brokerId":` + strconv.Itoa(id) + `,"offset":` + strconv.FormatInt(off, 10) + `}`
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct {
			HighWatermark *int64 `json:"highWatermark"`
			Error         struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error.Code == "OFFSET_OUT_OF_RANGE" && e.HighWatermark != nil {
			// Our offset came from a newer high watermark than this
			// leader has committed yet (a new leader catching up): start
			// from its own.
			h.lastHW[id].Store(*e.HighWatermark)
		}
		return 0, &APIError{Method: http.MethodPost, URL: req.URL.String(), Status: resp.StatusCode, Code: e.Error.Code, Body: string(data)}
	}
	mode, hw, err := readHead(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("heartbeat answer: %w", err)
	}
	if mode == "snapshot" {
		h.full.Add(1)
		return hw, nil // closing the unread body drops the connection; a new one is dialed
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("heartbeat answer: %w", err)
	}
	return hw, nil
}

// noFollowOffset is beyond any log this benchmark makes (and exact as a
// JSON number).
const noFollowOffset = 1 << 52

// readHead reads a fetch answer's top-level fields until it has mode and
// highWatermark, skipping others whole.
func readHead(r io.Reader) (mode string, hw int64, err error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", 0, fmt.Errorf("not a JSON object (%v)", err)
	}
	haveHW := false
	for dec.More() && (mode == "" || !haveHW) {
		t, err := dec.Token()
		if err != nil {
			return "", 0, err
		}
		key, _ := t.(string)
		switch key {
		case "mode":
			if err := dec.Decode(&mode); err != nil {
				return "", 0, fmt.Errorf("mode: %w", err)
			}
		case "highWatermark":
			if err := dec.Decode(&hw); err != nil {
				return "", 0, fmt.Errorf("highWatermark: %w", err)
			}
			haveHW = true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", 0, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if mode == "" || !haveHW {
		return "", 0, errors.New("answer without mode or highWatermark")
	}
	return mode, hw, nil
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// histogram is a lock-free log-scale latency histogram: 2% wide buckets
// from 50 µs up, so millions of heartbeats cost a few kilobytes.
type histogram struct {
	buckets [800]atomic.Int64
	top     atomic.Int64
}

const (
	histBase   = 50 * time.Microsecond
	histGrowth = 1.02
)

func (hg *histogram) add(d time.Duration) {
	i := 0
	if d > histBase {
		i = int(math.Log(float64(d)/float64(histBase))/math.Log(histGrowth)) + 1
	}
	hg.buckets[min(i, len(hg.buckets)-1)].Add(1)
	atomicMax(&hg.top, int64(d))
}

func (hg *histogram) reset() {
	for i := range hg.buckets {
		hg.buckets[i].Store(0)
	}
	hg.top.Store(0)
}

func (hg *histogram) max() time.Duration { return time.Duration(hg.top.Load()) }

// quantile is the upper bound of the bucket holding quantile q.
func (hg *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range hg.buckets {
		total += hg.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range hg.buckets {
		seen += hg.buckets[i].Load()
		if seen >= rank {
			return min(time.Duration(float64(histBase)*math.Pow(histGrowth, float64(i))), hg.max())
		}
	}
	return hg.max()
}
