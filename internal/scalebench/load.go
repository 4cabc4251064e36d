package scalebench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is one timed request.
type Sample struct {
	Start time.Time
	Dur   time.Duration
	Err   error
}

// Latencies collects samples from many goroutines.
type Latencies struct {
	mu      sync.Mutex
	samples []Sample
	wait    func() // waits for the goroutines that add samples, if any
}

// Add records one request.
func (l *Latencies) Add(s Sample) {
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

// Stats summarises the samples that started in [from, to) (all of them
// for zero times).
type Stats struct {
	Count, Failed int
	P50, P99, Max time.Duration
	FirstErr      error
}

// Stats summarises the samples started in [from, to); a zero bound is open.
func (l *Latencies) Stats(from, to time.Time) Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var st Stats
	var ok []time.Duration
	for _, s := range l.samples {
		if (!from.IsZero() && s.Start.Before(from)) || (!to.IsZero() && !s.Start.Before(to)) {
			continue
		}
		st.Count++
		if s.Err != nil {
			st.Failed++
			if st.FirstErr == nil {
				st.FirstErr = s.Err
			}
			continue
		}
		ok = append(ok, s.Dur)
	}
	if len(ok) == 0 {
		return st
	}
	slices.Sort(ok)
	st.P50 = Percentile(ok, 0.50)
	st.P99 = Percentile(ok, 0.99)
	st.Max = ok[len(ok)-1]
	return st
}

// Percentile is the nearest-rank percentile p (0..1] of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Broker is the registration the load uses for broker id.
func Broker(id int) map[string]any {
	return map[string]any{"brokerId": id, "brokerHost": "127.0.0.1", "brokerPort": 10000 + id%50000,
		"securityProtocol": "PLAINTEXT", "rackId": fmt.Sprintf("r%d", id%3)}
}

// RegisterBrokers registers brokers 1..n with conc concurrent clients,
// spread over urls, calling registered (if not nil) after each. A broker
// already registered counts as registered, so a rerun on kept data works.
func RegisterBrokers(ctx context.Context, c *http.Client, urls []string, n, conc int, registered func(id int)) error {
	var next atomic.Int64
	return parallel(ctx, conc, func(ctx context.Context, w int) error {
		for {
			id := int(next.Add(1))
			if id > n {
				return nil
			}
			u := urls[id%len(urls)]
			err := retry(ctx, func(ctx context.Context) error {
				_, err := Do(ctx, c, http.MethodPost, u+"/v1/brokers", Broker(id), nil)
				var ae *APIError
				if errors.As(err, &ae) && ae.Code == "BROKER_ALREADY_REGISTERED" {
					return nil
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("register broker %d: %w", id, err)
			}
			if registered != nil {
				registered(id)
			}
		}
	})
}

// FillTopic is the name of the i-th topic of a fill.
func FillTopic(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }

// Fill creates topics prefix-00000.. of perTopic partitions each at
// replication factor rf, with conc concurrent clients spread over urls.
// A topic that already exists counts as created.
// offset (if not nil) is told each create's X-Yakt-Offset.
func Fill(ctx context.Context, c *http.Client, urls []string, prefix string, topics, perTopic, rf, conc int, offset func(int64)) error {
	var next atomic.Int64
	return parallel(ctx, conc, func(ctx context.Context, w int) error {
		for {
			i := int(next.Add(1)) - 1
			if i >= topics {
				return nil
			}
			u := urls[i%len(urls)]
			body := map[string]any{"name": FillTopic(prefix, i), "partitions": perTopic, "replicationFactor": rf}
			err := retry(ctx, func(ctx context.Context) error {
				hdr, err := Do(ctx, c, http.MethodPost, u+"/v1/topics", body, nil)
				if off, perr := strconv.ParseInt(hdr.Get("X-Yakt-Offset"), 10, 64); err == nil && perr == nil && offset != nil {
					offset(off)
				}
				var ae *APIError
				if errors.As(err, &ae) && ae.Code == "TOPIC_ALREADY_EXISTS" {
					return nil
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("create topic %d of %d: %w", i+1, topics, err)
			}
		}
	})
}

// retryFor bounds how long a fill step keeps retrying a write the cluster
// could not take (no leader, a timeout): on a loaded machine an election
// can take seconds, and the fill should measure it, not fail on it.
const retryFor = 2 * time.Minute

// retry runs op until it succeeds, fails with a 4xx (other than 429), or
// retryFor has passed. A retried create may find its own first attempt
// applied; the callers treat "already exists" as success for that reason.
func retry(ctx context.Context, op func(context.Context) error) error {
	deadline := time.Now().Add(retryFor)
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := op(actx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status/100 == 4 && ae.Status != http.StatusTooManyRequests {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, time.Second)):
		}
	}
}

// parallel runs n workers and returns the first error; the first error
// cancels the others.
func parallel(ctx context.Context, n int, work func(ctx context.Context, w int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(ctx, w); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// SmallWrites runs clients writers until ctx ends, each creating a tiny
// topic (one partition) and deleting it again, and records every
// request's latency (no retries: a failed write is a failed sample). It
// sends to target(), normally the leader, so the latency is the leader's.
func SmallWrites(ctx context.Context, c *http.Client, target func() string, prefix string, clients int) *Latencies {
	lat := &Latencies{}
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				ok := timed(ctx, lat, func(rctx context.Context) error {
					_, err := Do(rctx, c, http.MethodPost, target()+"/v1/topics", map[string]any{"name": name, "partitions": 1}, nil)
					return err
				})
				if ok {
					ok = timed(ctx, lat, func(rctx context.Context) error {
						_, err := Do(rctx, c, http.MethodDelete, target()+"/v1/topics/"+name, nil, nil)
						return err
					})
				}
				if !ok {
					// A cluster that fails writes at once (no leader) would
					// otherwise be asked thousands of times a second, and
					// the failures counted as many.
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	lat.wait = wg.Wait
	return lat
}

// Wait waits for the writers of SmallWrites to stop (after their ctx ended).
func (l *Latencies) Wait() {
	if l.wait != nil {
		l.wait()
	}
}

// timed runs one request and records it, unless ctx ended during it (the
// run is over; its outcome says nothing about the cluster).
func timed(ctx context.Context, lat *Latencies, op func(context.Context) error) bool {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	err := op(rctx)
	if ctx.Err() != nil {
		return false
	}
	lat.Add(Sample{Start: start, Dur: time.Since(start), Err: err})
	return err == nil
}

// Overlapping summarises the samples whose request overlapped [from, to].
func (l *Latencies) Overlapping(from, to time.Time) Stats {
	var sub Latencies
	l.mu.Lock()
	for _, s := range l.samples {
		if !s.Start.After(to) && !s.Start.Add(s.Dur).Before(from) {
			sub.samples = append(sub.samples, s)
		}
	}
	l.mu.Unlock()
	return sub.Stats(time.Time{}, time.Time{})
}
