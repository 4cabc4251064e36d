package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

const (
	testCluster = "test-cluster"
	waitTimeout = 10 * time.Second
)

// node is a Transport plus everything its callbacks reported.
type node struct {
	id uint64
	tr *Transport
	ln net.Listener

	got         chan raftpb.Message // Handler, everything but MsgSnap
	snaps       chan raftpb.Message // Handler, MsgSnap
	unreachable chan uint64         // OnUnreachable, lossy
	unreachN    atomic.Int64        // OnUnreachable calls
	snapStatus  chan snapStatus     // OnSnapshotStatus
}

type snapStatus struct {
	peer   uint64
	failed bool
}

// listen binds a peer listener on loopback; the transport that gets it
// closes it, the cleanup covers tests that never hand it over.
func listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// kafkaAddr is the Kafka address node id advertises: odd ids have one,
// even ids none.
func kafkaAddr(id uint64) string {
	if id%2 == 0 {
		return ""
	}
	return fmt.Sprintf("kafka-%d:9092", id)
}

func httpAddr(id uint64) string { return fmt.Sprintf("node%d.test:8080", id) }

// startNode starts a transport for id on ln; Close runs at cleanup.
// tweak, if set, edits the config first.
func startNode(tb testing.TB, id uint64, ln net.Listener, peers map[uint64]string, tweak func(*Config)) *node {
	tb.Helper()
	n := &node{
		id:          id,
		ln:          ln,
		got:         make(chan raftpb.Message, 1<<15),
		snaps:       make(chan raftpb.Message, 4),
		unreachable: make(chan uint64, 1024),
		snapStatus:  make(chan snapStatus, 16),
	}
	cfg := Config{
		NodeID:    id,
		ClusterID: testCluster,
		Listener:  ln,
		Peers:     peers,
		HTTPAddr:  httpAddr(id),
		KafkaAddr: kafkaAddr(id),
		Handler: func(m raftpb.Message) {
			if m.Type == raftpb.MsgSnap {
				n.snaps <- m
				return
			}
			n.got <- m
		},
		OnUnreachable: func(peer uint64) {
			n.unreachN.Add(1)
			select {
			case n.unreachable <- peer:
			default:
			}
		},
		OnSnapshotStatus: func(peer uint64, failed bool) {
			n.snapStatus <- snapStatus{peer, failed}
		},
		Logger:      testLogger(tb, fmt.Sprintf("n%d", id), nil),
		DialTimeout: 5 * time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	n.tr = tr
	tb.Cleanup(func() {
		if err := tr.Close(); err != nil {
			tb.Errorf("close node %d: %v", id, err)
		}
	})
	return n
}

// startCluster binds n listeners first, so every peer address is known
// and connectable before any transport starts, then starts the nodes
// with ids 1..n.
func startCluster(tb testing.TB, n int, tweak func(id uint64, cfg *Config)) []*node {
	tb.Helper()
	lns := make(map[uint64]net.Listener, n)
	peers := make(map[uint64]string, n)
	for id := uint64(1); id <= uint64(n); id++ {
		lns[id] = listen(tb)
		peers[id] = lns[id].Addr().String()
	}
	nodes := make([]*node, 0, n)
	for id := uint64(1); id <= uint64(n); id++ {
		var tw func(*Config)
		if tweak != nil {
			tw = func(c *Config) { tweak(id, c) }
		}
		nodes = append(nodes, startNode(tb, id, lns[id], peers, tw))
	}
	return nodes
}

// app builds a small MsgApp carrying sequence number seq in Index.
func app(from, to, seq uint64) raftpb.Message {
	return raftpb.Message{
		Type: raftpb.MsgApp, From: from, To: to, Term: 1, Index: seq, LogTerm: 1, Commit: seq,
		Entries: []raftpb.Entry{{Term: 1, Index: seq + 1, Data: []byte("a small metadata record payload")}},
	}
}

// recv waits for the next message on ch.
func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		var zero T
		tb.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		return zero
	}
}

// expectNone fails if ch holds anything right now.
func expectNone[T any](tb testing.TB, ch <-chan T, what string) {
	tb.Helper()
	select {
	case v := <-ch:
		tb.Fatalf("unexpected %s: %+v", what, v)
	default:
	}
}

// testLogger sends log lines to tb.Log (shown on failure or with -v) and
// every record to hook, if set.
func testLogger(tb testing.TB, name string, hook func(slog.Record)) *slog.Logger {
	h := slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(hookHandler{h, hook}).With("t", name)
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

type hookHandler struct {
	slog.Handler
	hook func(slog.Record)
}

func (h hookHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.hook != nil {
		h.hook(r)
	}
	return h.Handler.Handle(ctx, r)
}

func (h hookHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return hookHandler{h.Handler.WithAttrs(as), h.hook}
}

func (h hookHandler) WithGroup(name string) slog.Handler {
	return hookHandler{h.Handler.WithGroup(name), h.hook}
}

// recordAttrs flattens a record's own attributes into strings.
func recordAttrs(r slog.Record) map[string]string {
	out := make(map[string]string)
	r.Attrs(func(a slog.Attr) bool {
		out[a.Key] = a.Value.String()
		return true
	})
	return out
}

// checkLeaks, called first in a test, fails it if any goroutine running
// this package's (non-test) code outlives the test's other cleanups.
func checkLeaks(tb testing.TB) {
	tb.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			leaked := ownGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				tb.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			<-tick.C
		}
	})
}

// ownFrame matches a stack frame in a non-test file of this package.
var ownFrame = regexp.MustCompile(`/internal/transport/[a-z]+\.go:`)

func ownGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if ownFrame.MatchString(g) {
			out = append(out, g)
		}
	}
	return out
}

// gateListener wraps a listener so that, once a connection has read
// `after` bytes, its further reads wait until open is closed. It stands in
// for a receiver that is slow to drain one big stream.
type gateListener struct {
	net.Listener
	after   int64
	open    chan struct{} // closed by the test to release every read
	hit     chan struct{} // closed when a read first waits at the gate
	hitOnce sync.Once
}

func newGateListener(ln net.Listener, after int64) *gateListener {
	return &gateListener{Listener: ln, after: after, open: make(chan struct{}), hit: make(chan struct{})}
}

func (l *gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gateConn{Conn: c, l: l, closed: make(chan struct{})}, nil
}

type gateConn struct {
	net.Conn
	l         *gateListener
	n         int64 // bytes read; only the one reading goroutine touches it
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *gateConn) Read(p []byte) (int, error) {
	if c.n >= c.l.after {
		select {
		case <-c.l.open:
		default:
			c.l.hitOnce.Do(func() { close(c.l.hit) })
			select {
			case <-c.l.open:
			case <-c.closed:
				return 0, net.ErrClosed
			}
		}
	}
	n, err := c.Conn.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *gateConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
