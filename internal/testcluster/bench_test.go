package testcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// BenchmarkCommit measures end-to-end writes (HTTP POST /v1/topics to the
// leader → raft → WAL fsync on a quorum → apply → 201) through a 3-node
// in-process cluster with production raft timing, with 1 and 64
// concurrent writers. It reports latency percentiles and writes/s.
func BenchmarkCommit(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			c := testcluster.New(b, testcluster.Options{TickInterval: 100 * time.Millisecond, ElectionTicks: 10, SegmentSizeBytes: 64 << 20})
			lead := c.MustLeader()
			url := c.URL(lead)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: writers}}
			ctx := context.Background()
			var next atomic.Int64
			lat := make([][]time.Duration, writers)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						t0 := time.Now()
						resp, err := testcluster.Do(ctx, client, url, http.MethodPost, "/v1/topics", map[string]any{"name": "bench-" + strconv.FormatInt(i, 10)})
						if err != nil || resp.Status != http.StatusCreated {
							b.Errorf("write %d: %v %v", i, err, resp)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "writes/s")
			}
		})
	}
}

// BenchmarkFailoverKill9Leader measures, with production timing (100 ms
// heartbeat, 1 s election timeout) on real processes, the time from
// SIGKILL of the leader to the next write committed by the survivors.
// Run with -benchtime=10x for the median of 10.
func BenchmarkFailoverKill9Leader(b *testing.B) {
	bin := testcluster.BuildYakt(b)
	p := testcluster.StartProcesses(b, bin, 3, "--heartbeat-interval", "100ms", "--election-timeout", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := p.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		lead := quorumLeader(ctx, b, p)
		b.StartTimer()
		t0 := time.Now()
		p.Kill9(lead)
		for n := 0; ; n++ {
			id := p.IDs()[n%3]
			if id == lead {
				continue
			}
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := testcluster.Do(rctx, p.Client, p.URL(id), http.MethodPost, "/v1/topics", map[string]any{"name": fmt.Sprintf("failover-%d-%d", i, n)})
			rcancel()
			if err == nil && resp.Status == http.StatusCreated {
				break
			}
			if ctx.Err() != nil {
				b.Fatal("no write committed after the leader was killed")
			}
			time.Sleep(5 * time.Millisecond) // retry pacing, as a client would back off
		}
		took = append(took, time.Since(t0))
		b.StopTimer()
		p.Start(lead)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}

func quorumLeader(ctx context.Context, b *testing.B, p *testcluster.Processes) uint64 {
	resp, err := testcluster.Do(ctx, p.Client, p.URL(1), http.MethodGet, "/v1/quorum?stale=true", nil)
	if err != nil {
		b.Fatal(err)
	}
	var q struct {
		LeaderID uint64 `json:"leaderId"`
	}
	if err := json.Unmarshal(resp.Body, &q); err != nil || q.LeaderID == 0 {
		b.Fatalf("quorum: %v %s", err, resp.Body)
	}
	return q.LeaderID
}

// BenchmarkFenceBrokerLeading10000Partitions measures the time from the
// leader's liveness check finding a silent broker that leads 10,000
// partitions to the fencing batch (1 broker record + 10,000 partition
// records) being committed and applied, on a 3-node cluster.
// Run with -benchtime=3x: every iteration builds 30,000 new partitions.
func BenchmarkFenceBrokerLeading10000Partitions(b *testing.B) {
	clock := testcluster.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	c := testcluster.New(b, testcluster.Options{TickInterval: 100 * time.Millisecond, Clock: clock,
		BrokerSessionTimeout: 9 * time.Second, LivenessInterval: time.Hour, SegmentSizeBytes: 64 << 20})
	lead := c.MustLeader()
	ctx := context.Background()
	do := func(method, path string, body any, status int) {
		resp, err := c.Do(ctx, lead, method, path, body)
		if err != nil || resp.Status != status {
			b.Fatalf("%s %s: %v %v", method, path, err, resp)
		}
	}
	for id := 1; id <= 3; id++ {
		do(http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if i > 0 {
			do(http.MethodPatch, "/v1/brokers/1", map[string]any{"brokerStatus": "ALIVE"}, http.StatusOK)
		}
		// Leaders go round brokers 1, 2, 3 from partition 0 of each topic:
		// broker 1 leads 3 x 3,333 + 1 = 10,000 partitions.
		for t, n := range []int{9999, 9999, 9999, 3} {
			do(http.MethodPost, "/v1/topics", map[string]any{"name": fmt.Sprintf("fence-%d-%d", i, t), "partitions": n, "replicationFactor": 3}, http.StatusCreated)
		}
		clock.Advance(10 * time.Second)
		for _, id := range []int{2, 3} {
			do(http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": id, "offset": 0}, http.StatusOK)
		}
		b.StartTimer()
		fenced, err := c.Server(lead).Controller.FenceExpired(ctx)
		b.StopTimer()
		if err != nil || len(fenced) != 1 || fenced[0] != 1 {
			b.Fatalf("fenced %v, %v", fenced, err)
		}
	}
}
