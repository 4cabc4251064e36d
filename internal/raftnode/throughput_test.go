package raftnode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCommitThroughput64 measures proposals committed and applied per
// second on a three-node cluster over real TCP (through the test proxies)
// with real WAL files and fsync, with 64 proposers on the leader at once:
// the shape of a busy controller's write load. b.N is the total number of
// proposals.
func BenchmarkCommitThroughput64(b *testing.B) {
	const proposers = 64
	c := newTestCluster(b, 3, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // b.Log would print every line
	})
	for id := uint64(1); id <= 3; id++ {
		c.start(id)
	}
	lead := c.leader()
	c.propose("warm-up") // the leader's first entry of its term is applied
	payload := make([]byte, 200)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, proposers)
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < proposers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := lead.Propose(ctx, payload)
				cancel()
				if err != nil {
					errc <- fmt.Errorf("propose: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
}
