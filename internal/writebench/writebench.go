// Package writebench measures what a user of a YAKt cluster gets through
// the HTTP API: closed-loop clients creating topics (writes) and reading
// them back (linearizable reads) against three real `yakt server`
// processes, with the servers' CPU per operation. `yakt bench write` runs
// it; the cluster launcher is scalebench's, so both benchmarks start
// servers the same way (fsync on, free 127.0.0.1 ports, a temporary
// directory). Config.TLS runs the same load against a cluster with TLS
// and an access file, the clients authenticating with a client
// certificate; BenchmarkTLSCost compares the two.
package writebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/yakt/yakt/internal/scalebench"
)

// Config is one run: one fresh cluster, a write row per client count,
// then a read row.
type Config struct {
	Bin         string        // the yakt binary to run as `yakt server`
	Clients     []int         // a write row for each, in this order
	ReadClients int           // clients of the read row; 0: no read row
	Warmup      time.Duration // load before each row's window, not recorded
	Duration    time.Duration // each row's measured window
	Run         int           // this run's number, part of every topic name
	ServerArgs  []string      // extra `yakt server` flags for every node
	Log         *slog.Logger  // progress; nil: none
	// TLS runs the cluster as docs/security.md sets one up: HTTPS and
	// peer mutual TLS with a throwaway CA, an access file, and the load
	// authenticating with a client certificate (Principal, an admin).
	TLS bool
}

// Row is one workload at one client count, over the measured window.
// Latencies are in milliseconds; CPU per operation too.
type Row struct {
	Workload string  `json:"workload"` // "write" or "read"
	Clients  int     `json:"clients"`
	Ops      int64   `json:"ops"` // answered with success within the window
	OpsPerS  float64 `json:"opsPerSecond"`
	P50      float64 `json:"p50Ms"`
	P90      float64 `json:"p90Ms"`
	P99      float64 `json:"p99Ms"`
	Max      float64 `json:"maxMs"`
	Errors   int64   `json:"errors"`
	// NotFound counts reads answered 404 (they are in Errors too): each
	// read names a topic whose create was answered 201 before.
	NotFound  int64   `json:"notFound,omitempty"`
	FirstErr  string  `json:"firstError,omitempty"`
	ServerCPU float64 `json:"serverCpuMsPerOp"` // utime+stime of the three servers over the window / Ops
	// ServerCores and LoadCores are CPU seconds per second of window: 1.0
	// is one core busy.
	ServerCores float64 `json:"serverCores"`
	LoadCores   float64 `json:"loadGeneratorCores"`
}

// Result is one run's rows, writes first.
type Result struct {
	Rows []Row `json:"rows"`
}

// Run starts a 3-node cluster in a temporary directory, measures every
// row and removes the directory. It stops at the first row that cannot
// run, and when ctx ends; the rows measured so far come back with the
// error.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(cfg.Clients) == 0 || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.ReadClients < 0 {
		return res, errors.New("writebench: want client counts, a positive duration and a warmup and read clients of at least 0")
	}
	for _, n := range cfg.Clients {
		if n < 1 {
			return res, fmt.Errorf("writebench: client count %d: must be at least 1", n)
		}
	}
	cl, stop, err := start(ctx, cfg, log)
	defer func() { stop(err != nil) }()
	if err != nil {
		return res, err
	}
	var pids []int
	for _, id := range cl.IDs() {
		pids = append(pids, cl.PID(id))
		// Where to point a profiler (servers started with --debug-pprof).
		log.Info("node ready", "node", id, "url", cl.URL(id), "pid", cl.PID(id))
	}
	lg := newLoad(cl.URLs(), cfg.Run, cl.TLS)
	for _, n := range cfg.Clients {
		log.Info("write row", "run", cfg.Run, "clients", n, "warmup", cfg.Warmup, "duration", cfg.Duration)
		row, err := lg.measure(ctx, "write", n, cfg.Warmup, cfg.Duration, pids)
		if err != nil {
			return res, fmt.Errorf("write row, %d clients: %w", n, err)
		}
		log.Info("measured", "workload", row.Workload, "clients", row.Clients, "opsPerSecond", row.OpsPerS, "p99Ms", row.P99, "errors", row.Errors)
		res.Rows = append(res.Rows, row)
	}
	if cfg.ReadClients > 0 {
		log.Info("read row", "run", cfg.Run, "clients", cfg.ReadClients, "topics", lg.written())
		row, err := lg.measure(ctx, "read", cfg.ReadClients, cfg.Warmup, cfg.Duration, pids)
		if err != nil {
			return res, fmt.Errorf("read row, %d clients: %w", cfg.ReadClients, err)
		}
		log.Info("measured", "workload", row.Workload, "clients", row.Clients, "opsPerSecond", row.OpsPerS, "p99Ms", row.P99, "errors", row.Errors)
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// start starts a 3-node cluster (scalebench.StartTempWith), with TLS when
// cfg asks for it: certificates and an access file in the cluster's
// directory, HTTPS with an admin's client certificate.
func start(ctx context.Context, cfg Config, log *slog.Logger) (cl *scalebench.Cluster, stop func(failed bool), err error) {
	client := scalebench.NewClient(4)
	var setup scalebench.Setup
	if cfg.TLS {
		setup = func(dir string) ([]string, func(*scalebench.Cluster), error) {
			sec, err := secure(filepath.Join(dir, "tls"), scalebench.ClusterID, []uint64{1, 2, 3})
			if err != nil {
				return nil, nil, err
			}
			client.Transport.(*http.Transport).TLSClientConfig = sec.client
			return sec.args, func(cl *scalebench.Cluster) { cl.TLS, cl.NodeArgs = sec.client, sec.nodeArgs }, nil
		}
	}
	return scalebench.StartTempWith(ctx, cfg.Bin, "yakt-bench-write-", cfg.ServerArgs, client, log, setup)
}

// cpuTicks is the utime+stime of pids together, in USER_HZ ticks.
func cpuTicks(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		st, err := scalebench.ReadProc(pid)
		if err != nil {
			return 0, err
		}
		sum += st.CPUTicks
	}
	return sum, nil
}
