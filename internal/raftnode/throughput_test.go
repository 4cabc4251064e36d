package raftnode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/vfs"
)

// BenchmarkCommitThroughput64 measures proposals committed and applied per
// second on a three-node cluster over real TCP (through the test proxies)
// with real WAL files and fsync, with 64 proposers on the leader at once:
// the shape of a busy controller's write load. b.N is the total number of
// proposals.
func BenchmarkCommitThroughput64(b *testing.B) {
	benchCommitThroughput(b, 0)
}

// BenchmarkCommitThroughput64SlowDisk is the same on disks whose every
// fsync takes 2ms more (a network block device, a busy disk), where the
// leader's write overlapping the followers' shows.
func BenchmarkCommitThroughput64SlowDisk(b *testing.B) {
	benchCommitThroughput(b, 2*time.Millisecond)
}

func benchCommitThroughput(b *testing.B, syncDelay time.Duration) {
	const proposers = 64
	c := newTestCluster(b, 3, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // b.Log would print every line
		if syncDelay > 0 {
			cfg.FS = slowSyncFS{FS: vfs.OS, delay: syncDelay}
		}
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

// slowSyncFS adds delay to every fsync, the latency of a slower disk.
type slowSyncFS struct {
	vfs.FS
	delay time.Duration
}

func (f slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return slowSyncFile{File: file, delay: f.delay}, nil
}

type slowSyncFile struct {
	vfs.File
	delay time.Duration
}

func (f slowSyncFile) Sync() error     { time.Sleep(f.delay); return f.File.Sync() }
func (f slowSyncFile) Datasync() error { time.Sleep(f.delay); return f.File.Datasync() }
