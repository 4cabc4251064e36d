// Package testcluster starts real YAKt clusters for tests: in-process
// nodes on 127.0.0.1 with real files and real TCP, or real `yakt server`
// processes. It owns teardown: everything it starts stops when the test
// ends.
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/netfault"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/vfs"
)

// Options tune a cluster; zero values give fast test defaults.
type Options struct {
	Nodes            int           // default 3
	TickInterval     time.Duration // default 50ms
	ElectionTicks    int           // default 20: a 1 s election timeout, see defaults
	SnapshotEntries  uint64        // default 10000
	CompactionMargin uint64        // default 5000
	SegmentSizeBytes int64         // default 1 MiB
	RequestTimeout   time.Duration // default 5s
	FullFetchAfter   time.Duration
	Clock            controller.Clock // nil: system clock
	// BrokerSessionTimeout and LivenessInterval: see server.Config.
	BrokerSessionTimeout time.Duration
	LivenessInterval     time.Duration
	// AutoLeaderRebalance, LeaderImbalancePercent and
	// LeaderImbalanceCheckInterval: see server.Config. Off by default:
	// tests create partitions with the leaders they choose and expect
	// them to stay.
	AutoLeaderRebalance          bool
	LeaderImbalancePercent       int
	LeaderImbalanceCheckInterval time.Duration
	// CrashableDisks runs every node's storage on a vfs.Crashable, so
	// tests can cut its power (Cluster.PowerCut) or fail its fsyncs
	// (Cluster.Disk(id).FailSyncs).
	CrashableDisks bool
	// Network puts a netfault proxy on every directed peer link (see
	// Cluster.Net), so tests can partition, delay and lose raft traffic.
	Network bool
	// NetworkSeed seeds the network's random delay and loss.
	NetworkSeed int64
	// Spares are nodes Nodes+1..Nodes+Spares, prepared (addresses, data
	// directory, the fault network's links) but not started and not
	// among the bootstrapping voters: StartJoining adds one while the
	// cluster runs, its links already behind the fault network.
	Spares int
	// UnsafeReadsWithoutBarrier: the deliberate stale-read bug (see
	// server.Config), for the test proving the checker catches it.
	UnsafeReadsWithoutBarrier bool
	// LogWriter, if set, also receives every node's log lines (text, at
	// the YAKT_TEST_LOG level, default warn), for tests that assert on
	// what a node logged. It must be safe for concurrent use.
	LogWriter io.Writer
	// TLS runs the cluster with TLS and authentication on, as a secure
	// production cluster: a test CA, a certificate per node (spares and
	// added nodes too), client certificates and tokens for TLSPrincipals
	// in an access file, all in files the nodes read (and reload). The
	// cluster's clients (Client, API, NodeAPI, StartMonitor) speak HTTPS
	// as admin; see ClientTLS, Token, SetAccess, RotateNodeCerts.
	TLS bool
	// Kafka gives every node a Kafka listener (--listen-kafka) on a
	// port of its own; KafkaAddr names it. Not with TLS, which a node
	// refuses together with a Kafka listener.
	Kafka bool
}

// clusterID is the cluster id of the in-process clusters.
const clusterID = "testcluster"

func (o *Options) defaults() {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	// Production's election timeout (1 s, randomised up to 2 s): on a
	// loaded machine a node starved for a few hundred milliseconds (CPU,
	// fsync) would otherwise cost its cluster an election, which tests of
	// other things do not expect. Fault schedules, which want elections,
	// ask for shorter ones.
	if o.TickInterval == 0 {
		o.TickInterval = 50 * time.Millisecond
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = 20
	}
	if o.SegmentSizeBytes == 0 {
		o.SegmentSizeBytes = 1 << 20
	}
	if o.BrokerSessionTimeout == 0 {
		// Tests register brokers without heartbeating them; only tests of
		// liveness ask for fencing.
		o.BrokerSessionTimeout = time.Hour
	}
}

// Cluster is a set of in-process nodes.
type Cluster struct {
	t      testing.TB
	opts   Options
	voters map[uint64]string // every node's peer address, spares and added ones too
	boot   map[uint64]string // the voters that bootstrap the cluster
	http   map[uint64]string
	kafka  map[uint64]string // Kafka listener addresses, with Options.Kafka
	dirs   map[uint64]string
	// joining names the nodes that start with --join (through the
	// other nodes' HTTP addresses) rather than bootstrapping.
	joining map[uint64]bool
	mu      sync.Mutex
	servers map[uint64]*server.Server // nil while a node is down
	disks   map[uint64]*vfs.Crashable // with Options.CrashableDisks: each node's current one
	Client  *http.Client
	clients clients // API, NodeAPI
	// Net is the fault-injecting network between the nodes when
	// Options.Network is set, nil otherwise.
	Net *netfault.Network
	sec *security // with Options.TLS
}

// New starts an in-process cluster and stops it when the test ends.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts.defaults()
	c := &Cluster{
		t: t, opts: opts,
		voters: map[uint64]string{}, boot: map[uint64]string{}, http: map[uint64]string{}, kafka: map[uint64]string{}, dirs: map[uint64]string{}, joining: map[uint64]bool{},
		servers: map[uint64]*server.Server{}, disks: map[uint64]*vfs.Crashable{},
	}
	base := t.TempDir()
	if opts.TLS {
		c.sec = newSecurity(t, filepath.Join(base, "tls"), clusterID)
	}
	c.Client = httpClient(15*time.Second, c.ClientTLS("admin"))
	if opts.TLS {
		t.Cleanup(c.Client.CloseIdleConnections)
	}
	for i := 1; i <= opts.Nodes+opts.Spares; i++ {
		id := uint64(i)
		c.voters[id] = ReserveAddr(t)
		c.http[id] = ReserveAddr(t)
		if opts.Kafka {
			c.kafka[id] = ReserveAddr(t)
		}
		c.dirs[id] = filepath.Join(base, fmt.Sprintf("node-%d", i))
		if i <= opts.Nodes {
			c.boot[id] = c.voters[id]
		}
	}
	t.Cleanup(c.StopAll)
	if opts.Network {
		n, err := netfault.NewNetwork(c.voters, opts.NetworkSeed)
		if err != nil {
			t.Fatalf("fault network: %v", err)
		}
		c.Net = n
		t.Cleanup(n.Close) // runs before StopAll: cleanups run last-in first-out
	}
	for id := range c.boot {
		c.Start(id)
	}
	return c
}

// ElectionTimeout is the nodes' shortest election timeout (raft draws
// each from [this, twice this)).
func (c *Cluster) ElectionTimeout() time.Duration {
	return c.opts.TickInterval * time.Duration(c.opts.ElectionTicks)
}

// IDs are the node ids, 1..N.
func (c *Cluster) IDs() []uint64 { return nodeIDs(len(c.voters)) }

func nodeIDs(n int) []uint64 {
	ids := make([]uint64, 0, n)
	for i := 1; i <= n; i++ {
		ids = append(ids, uint64(i))
	}
	return ids
}

func urls(ids []uint64, url func(uint64) string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, url(id))
	}
	return out
}

// URL is node id's HTTP base URL.
func (c *Cluster) URL(id uint64) string { return scheme(c.sec != nil) + c.http[id] }

// URLs are every node's HTTP base URL, down nodes included.
func (c *Cluster) URLs() []string { return urls(c.IDs(), c.URL) }

// DataDir is node id's data directory.
func (c *Cluster) DataDir(id uint64) string { return c.dirs[id] }

// Server is node id's running server, nil when it is down.
func (c *Cluster) Server(id uint64) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[id]
}

// Start starts (or restarts) node id on its addresses and data directory.
func (c *Cluster) Start(id uint64) {
	c.t.Helper()
	if c.Server(id) != nil {
		c.t.Fatalf("node %d already running", id)
	}
	if err := c.TryStart(id); err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
}

// TryStart is Start for a start that may be refused: it returns why node
// id did not start (it stays down) rather than failing the test.
func (c *Cluster) TryStart(id uint64) error {
	if c.Server(id) != nil {
		return fmt.Errorf("node %d already running", id)
	}
	var s *server.Server
	// The port may still be held for a moment by the previous incarnation's
	// sockets; retry binding briefly.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		// A node whose snapshot is lost waits in Start for a peer to serve
		// one; bound that wait so a broken recovery fails the test.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cfg := server.Config{
			NodeID: id, DataDir: c.dirs[id], Voters: c.votersFor(id), PeerDialAddrs: c.addressBook(id), ClusterID: clusterID, Join: c.joinVia(id),
			UnsafeReadsWithoutBarrier: c.opts.UnsafeReadsWithoutBarrier,
			ListenPeer:                c.voters[id], ListenHTTP: c.http[id], ListenKafka: c.kafka[id],
			TickInterval: c.opts.TickInterval, ElectionTicks: c.opts.ElectionTicks,
			SnapshotEntries: c.opts.SnapshotEntries, CompactionMargin: c.opts.CompactionMargin,
			SegmentSizeBytes: c.opts.SegmentSizeBytes, RequestTimeout: c.opts.RequestTimeout, FS: c.fsFor(id),
			FullFetchAfter: c.opts.FullFetchAfter, Clock: c.opts.Clock,
			BrokerSessionTimeout: c.opts.BrokerSessionTimeout, LivenessInterval: c.opts.LivenessInterval,
			AutoLeaderRebalance: c.opts.AutoLeaderRebalance, LeaderImbalancePercent: c.opts.LeaderImbalancePercent,
			LeaderImbalanceCheckInterval: c.opts.LeaderImbalanceCheckInterval,
			Logger:                       testLogger(c.t, id, c.opts.LogWriter),
		}
		if c.sec != nil {
			cfg.TLSCertFile, cfg.TLSKeyFile = c.sec.node(id)
			cfg.TLSCAFile, cfg.AccessFile = c.CAFile(), c.AccessFilePath()
		}
		s, err = server.StartContext(ctx, cfg)
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // waiting on the kernel, not on our code
	}
	c.mu.Lock()
	c.servers[id] = s
	c.mu.Unlock()
	return nil
}

// AddNode prepares node id (not one of the cluster's yet): addresses and
// an empty data directory. StartJoining then starts it.
func (c *Cluster) AddNode(id uint64) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.dirs[id]; ok {
		c.t.Fatalf("node %d already exists", id)
	}
	c.voters[id] = ReserveAddr(c.t)
	c.http[id] = ReserveAddr(c.t)
	if c.opts.Kafka {
		c.kafka[id] = ReserveAddr(c.t)
	}
	c.dirs[id] = filepath.Join(c.t.TempDir(), fmt.Sprintf("node-%d", id))
}

// StartJoining starts node id as a node joining the running cluster
// (--join, through the other nodes' HTTP addresses): with an empty data
// directory it asks to be added as an observer, as an operator's new or
// replaced node does. Later starts of it join the same way.
func (c *Cluster) StartJoining(id uint64) {
	c.t.Helper()
	c.mu.Lock()
	c.joining[id] = true
	c.mu.Unlock()
	c.Start(id)
}

// WipeDataDir deletes node id's data directory (the node must be down),
// as a lost disk does.
func (c *Cluster) WipeDataDir(id uint64) {
	c.t.Helper()
	if c.Server(id) != nil {
		c.t.Fatalf("node %d is running", id)
	}
	if err := os.RemoveAll(c.dirs[id]); err != nil {
		c.t.Fatal(err)
	}
}

// votersFor is node id's --voters: the bootstrapping voters, or for a
// joining node every node's address (its first contacts).
func (c *Cluster) votersFor(id uint64) map[uint64]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joining[id] {
		return maps.Clone(c.voters)
	}
	return c.boot
}

func (c *Cluster) joinVia(id uint64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.joining[id] {
		return nil
	}
	addrs := othersHTTP(c.http, id)
	if c.sec != nil {
		for i, a := range addrs {
			addrs[i] = scheme(true) + a
		}
	}
	return addrs
}

// othersHTTP is every node's HTTP address but id's, sorted: where a
// joining node asks to be added.
func othersHTTP(http map[uint64]string, id uint64) []string {
	var out []string
	for other, addr := range http {
		if other != id {
			out = append(out, addr)
		}
	}
	sort.Strings(out)
	return out
}

// addressBook is where node id dials its peers: through the fault
// network's proxies when there is one.
func (c *Cluster) addressBook(id uint64) map[uint64]string {
	if c.Net != nil {
		return c.Net.AddressBook(id)
	}
	// A copy: the node reads its book while AddNode writes new entries.
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.voters)
}

// fsFor is the file system node id's storage runs on, called on every
// start: with Options.CrashableDisks a fresh Crashable over what the
// previous one left on disk (as after a reboot), else the real one.
func (c *Cluster) fsFor(id uint64) vfs.FS {
	if !c.opts.CrashableDisks {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fs := vfs.NewCrashable(vfs.OS)
	if prev := c.disks[id]; prev != nil {
		fs = prev.Restart()
	}
	c.disks[id] = fs
	return fs
}

// Disk is node id's current disk (Options.CrashableDisks), nil without.
func (c *Cluster) Disk(id uint64) *vfs.Crashable {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.disks[id]
}

// PowerCut crashes node id's disk — every write not yet fsynced is lost,
// with torn the last one keeps a random prefix (drawn from rng) — and stops
// the node. Start brings it back on what the disk kept. It needs
// Options.CrashableDisks.
func (c *Cluster) PowerCut(id uint64, torn bool, rng *rand.Rand) {
	c.t.Helper()
	d := c.Disk(id)
	if d == nil {
		c.t.Fatalf("power cut of node %d: no crashable disk (Options.CrashableDisks)", id)
	}
	if err := d.Crash(torn, rng); err != nil {
		c.t.Fatalf("power cut of node %d: %v", id, err)
	}
	c.Kill(id)
}

// Kill stops node id at once, like a crash after its last fsync (no
// leadership hand-over).
func (c *Cluster) Kill(id uint64) {
	c.mu.Lock()
	s := c.servers[id]
	c.servers[id] = nil
	c.mu.Unlock()
	if s != nil {
		s.Kill()
	}
}

// StopAll stops every running node.
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, id := range c.IDs() {
		wg.Add(1)
		go func() { defer wg.Done(); c.Kill(id) }()
	}
	wg.Wait()
}

// Leader waits until the running nodes agree on one running leader and
// returns it.
func (c *Cluster) Leader(ctx context.Context) (uint64, error) {
	for {
		var lead uint64
		agree, running := true, 0
		for _, id := range c.IDs() {
			s := c.Server(id)
			if s == nil {
				continue
			}
			running++
			l := s.Node.Leader()
			if l == 0 || (lead != 0 && l != lead) {
				agree = false
				break
			}
			lead = l
		}
		if agree && lead != 0 && c.Server(lead) != nil && c.Server(lead).Node.IsLeader() {
			return lead, nil
		}
		if err := waitTick(ctx); err != nil {
			return 0, fmt.Errorf("no agreed leader among %d running nodes: %w", running, err)
		}
	}
}

// MustLeader is Leader with a 10 s deadline that fails the test.
func (c *Cluster) MustLeader() uint64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := c.Leader(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// WaitApplied waits until every running node has applied index.
func (c *Cluster) WaitApplied(ctx context.Context, index uint64) error {
	for _, id := range c.IDs() {
		if s := c.Server(id); s != nil {
			if err := s.Node.WaitApplied(ctx, index); err != nil {
				return fmt.Errorf("node %d applied %d, want %d: %w", id, s.Node.AppliedIndex(), index, err)
			}
		}
	}
	return nil
}

// waitTick is the poll step of condition waits: short, bounded by ctx.
func waitTick(ctx context.Context) error { return Pace(ctx, 10*time.Millisecond) }

// Pace waits d, or returns ctx's error if ctx ends first.
// Fault schedules and monitors use it for their pace: they wait on time by
// design, not on a condition.
func Pace(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PaceBetween is Pace for a random time in [lo, hi) drawn from rng.
func PaceBetween(ctx context.Context, rng *rand.Rand, lo, hi time.Duration) bool {
	return Pace(ctx, lo+time.Duration(rng.Int64N(int64(hi-lo)))) == nil
}

// testLogger sends node logs to t.Log at YAKT_TEST_LOG level (default
// warn), so they show only for failing tests.
func testLogger(t testing.TB, id uint64, also io.Writer) *slog.Logger {
	lvl := slog.LevelWarn
	if v := os.Getenv("YAKT_TEST_LOG"); v != "" {
		_ = lvl.UnmarshalText([]byte(v))
	}
	var w io.Writer = tWriter{t}
	if also != nil {
		w = io.MultiWriter(w, also)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})).With("test_node", id)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = tWriter{}

// WaitFor waits until cond holds, checking it every few milliseconds,
// or returns ctx's error. Tests use it to wait on a condition rather than
// sleeping for a guessed time.
func WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		if err := waitTick(ctx); err != nil {
			return err
		}
	}
	return nil
}
