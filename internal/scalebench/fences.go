package scalebench

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// FenceWatch polls GET /v1/brokers?status=FENCED and remembers every
// broker it saw fenced. With every broker heartbeating, each one is a
// spurious fence.
type FenceWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	seen   map[int]time.Time
	polls  int
	failed int
}

// WatchFences polls every interval, asking urls in turn (stale reads:
// the watch must not add read barriers to the load it watches).
func WatchFences(ctx context.Context, c *http.Client, urls []string, every time.Duration) *FenceWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &FenceWatch{cancel: cancel, done: make(chan struct{}), seen: map[int]time.Time{}}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; ; i++ {
			var list struct {
				Brokers []struct {
					BrokerID int `json:"brokerId"`
				} `json:"brokers"`
			}
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := Do(qctx, c, http.MethodGet, urls[i%len(urls)]+"/v1/brokers?status=FENCED&stale=true", nil, &list)
			qcancel()
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			w.polls++
			if err != nil {
				w.failed++
			}
			for _, b := range list.Brokers {
				if _, ok := w.seen[b.BrokerID]; !ok {
					w.seen[b.BrokerID] = time.Now()
				}
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// FenceReport is what a fence watch saw.
type FenceReport struct {
	Fenced        int   // distinct brokers seen FENCED
	Polls, Failed int   // list requests sent, and failed
	Examples      []int // up to 5 of the fenced broker ids
}

// Stop ends the watch and returns what it saw.
func (w *FenceWatch) Stop() FenceReport {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	r := FenceReport{Fenced: len(w.seen), Polls: w.polls, Failed: w.failed}
	for id := range w.seen {
		if len(r.Examples) == 5 {
			break
		}
		r.Examples = append(r.Examples, id)
	}
	return r
}
