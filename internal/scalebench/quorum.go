package scalebench

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// QuorumReport is what a quorum watch saw.
type QuorumReport struct {
	Polls, Failed     int
	StartLeader       uint64
	StartTerm         uint64
	EndLeader         uint64
	EndTerm           uint64
	LeaderChanges     int // observations whose leader or term differed from the one before
	NoLeaderSeen      int // answers naming no leader (an election was running)
	MaxPollLatency    time.Duration
	FirstChangeReason string
}

// QuorumWatch polls GET /v1/quorum and counts leader and term changes.
type QuorumWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	rep    QuorumReport
}

// WatchQuorum polls every interval until Stop, asking urls in turn (a
// node that fails is skipped until the next poll).
func WatchQuorum(ctx context.Context, c *http.Client, urls []string, every time.Duration) *QuorumWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &QuorumWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		var have bool
		var lead, term uint64
		for i := 0; ; i++ {
			for k := range urls {
				qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
				start := time.Now()
				q, err := GetQuorum(qctx, c, urls[(i+k)%len(urls)])
				lat := time.Since(start)
				qcancel()
				if ctx.Err() != nil {
					return
				}
				w.mu.Lock()
				w.rep.Polls++
				w.rep.MaxPollLatency = max(w.rep.MaxPollLatency, lat)
				if err != nil {
					w.rep.Failed++
					w.mu.Unlock()
					continue
				}
				if q.Stale || q.LeaderID <= 0 {
					w.rep.NoLeaderSeen++
					w.mu.Unlock()
					continue
				}
				l, tm := uint64(q.LeaderID), q.LeaderEpoch
				if !have {
					have = true
					w.rep.StartLeader, w.rep.StartTerm = l, tm
				} else if l != lead || tm != term {
					w.rep.LeaderChanges++
					if w.rep.FirstChangeReason == "" {
						w.rep.FirstChangeReason = time.Now().UTC().Format(time.RFC3339Nano) + ": leader/term " +
							fmtLT(lead, term) + " -> " + fmtLT(l, tm)
					}
				}
				lead, term = l, tm
				w.rep.EndLeader, w.rep.EndTerm = l, tm
				w.mu.Unlock()
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Stop ends the watch and returns what it saw.
func (w *QuorumWatch) Stop() QuorumReport {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rep
}

func fmtLT(l, t uint64) string {
	return "node " + strconv.FormatUint(l, 10) + " term " + strconv.FormatUint(t, 10)
}
