package raftnode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValue reads a counter's current value.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// gaugeValue reads a gauge's current value.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}

// counterSM is a StateMachine that counts applied payloads. With slow
// set, writing and decoding a snapshot each take that long, as encoding
// a very large state does; decoding signals on decoding when it starts.
type counterSM struct {
	mu       sync.Mutex
	n        uint64
	slow     time.Duration
	decoding chan uint64 // nil: no signal; else buffered
	// refuse makes PrepareRestore fail, as for data that does not decode.
	refuse atomic.Bool

	// last is the highest index applied or swapped in; disorder records
	// the first call that went back (Apply, SwapIn and CaptureSnapshot
	// must see the log in order).
	last     uint64
	disorder string
	// node, once set, is the node applying: CaptureSnapshot checks that
	// its applied index is exactly the index captured.
	node     atomic.Pointer[Node]
	captures int
	// failApply makes Apply fail, as for a record that does not decode.
	failApply atomic.Bool
	// gate, when set, makes Apply signal entered and wait for it to close.
	gate    atomic.Pointer[chan struct{}]
	entered chan struct{} // buffered(1)
}

func (s *counterSM) Apply(batch []Committed) ([]any, error) {
	if g := s.gate.Load(); g != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-*g
	}
	if s.failApply.Load() {
		return nil, errors.New("record does not decode")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(batch))
	for i, c := range batch {
		if c.Index < s.last || (i == 0 && c.Index == s.last) {
			s.noteDisorder(fmt.Sprintf("applied index %d after %d", c.Index, s.last))
		}
		s.last = c.Index
		s.n++
		out[i] = s.n
	}
	return out, nil
}

// noteDisorder keeps the first ordering violation; s.mu is held.
func (s *counterSM) noteDisorder(what string) {
	if s.disorder == "" {
		s.disorder = what
	}
}

// orderViolation is the first ordering violation seen, "" if none.
func (s *counterSM) orderViolation() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disorder
}

// value is the count applied so far.
func (s *counterSM) value() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *counterSM) CaptureSnapshot(index uint64) (func(io.Writer) error, error) {
	s.mu.Lock()
	n := s.n
	s.captures++
	if s.last > index {
		s.noteDisorder(fmt.Sprintf("captured at %d with index %d applied", index, s.last))
	}
	if node := s.node.Load(); node != nil && node.AppliedIndex() != index {
		s.noteDisorder(fmt.Sprintf("captured at %d with the node's applied index at %d", index, node.AppliedIndex()))
	}
	s.mu.Unlock()
	return func(w io.Writer) error {
		time.Sleep(s.slow) // the work a big state's encoding does
		_, err := w.Write(binary.BigEndian.AppendUint64(nil, n))
		return err
	}, nil
}

func (s *counterSM) PrepareRestore(index uint64, r io.Reader) (any, error) {
	if s.decoding != nil {
		select {
		case s.decoding <- index:
		default:
		}
	}
	time.Sleep(s.slow) // the work a big state's decoding does
	if s.refuse.Load() {
		return nil, errors.New("snapshot does not decode")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) != 8 {
		return nil, fmt.Errorf("snapshot of %d bytes", len(data))
	}
	return binary.BigEndian.Uint64(data), nil
}

func (s *counterSM) SwapIn(index uint64, prepared any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index < s.last {
		s.noteDisorder(fmt.Sprintf("swapped in a snapshot at %d after applying %d", index, s.last))
	}
	s.last = index
	s.n = prepared.(uint64)
	return nil
}

// peerProxy is the address peers use to reach one test node. It stays
// bound for the whole test, so a node can restart on a fresh port without
// the cluster's addresses changing, and it can hold snapshot streams to
// make a snapshot send fail when the test says so.
type peerProxy struct {
	t      testing.TB
	ln     net.Listener
	target atomic.Pointer[string] // the node's current peer listener; nil while down
	held   chan net.Conn          // snapshot streams held while holdSnaps

	mu        sync.Mutex
	holdSnaps bool
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// streamSnapshot is the hello's stream byte of a snapshot stream (see the
// transport's wire format).
const streamSnapshot = 2

func newPeerProxy(t testing.TB) *peerProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peerProxy{t: t, ln: ln, held: make(chan net.Conn, 16), conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *peerProxy) addr() string { return p.ln.Addr().String() }

func (p *peerProxy) setHoldSnapshots(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdSnaps = on
}

func (p *peerProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *peerProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
	for {
		select {
		case c := <-p.held:
			c.Close()
		default:
			return
		}
	}
}

func (p *peerProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve reads the start of the transport's hello (magic, version, stream)
// and either holds a snapshot stream, answering the handshake itself, or
// relays the connection to the node.
func (p *peerProxy) serve(c net.Conn) {
	defer p.wg.Done()
	var hello [6]byte
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	p.mu.Lock()
	hold := p.holdSnaps && hello[5] == streamSnapshot
	p.mu.Unlock()
	if hold {
		c.Write([]byte{0}) // handshake ok: the sender writes the snapshot and waits for its ack
		p.held <- c
		return
	}
	target := p.target.Load()
	if target == nil {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", *target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(up) {
		c.Close()
		return
	}
	if _, err := up.Write(hello[:]); err != nil {
		c.Close()
		up.Close()
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		io.Copy(up, c)
		up.Close()
		c.Close()
	}()
	io.Copy(c, up)
	c.Close()
	up.Close()
}

// testCluster runs real nodes on 127.0.0.1, each behind a peerProxy, with
// data directories that survive restarts.
type testCluster struct {
	t       testing.TB
	proxies map[uint64]*peerProxy
	dirs    map[uint64]string
	nodes   map[uint64]*Node
	metrics map[uint64]*Metrics
	sms     map[uint64]*counterSM
	tune    func(*Config)
	// slow, when set for a node, makes its state machine's snapshot
	// encoding and decoding take that long from its next start on.
	slow map[uint64]time.Duration
	// decoding, when set for a node, receives the index of each snapshot
	// its state machine starts decoding.
	decoding map[uint64]chan uint64
	// refuse, when set for a node, makes its state machine refuse
	// snapshots from its next start on (counterSM.refuse).
	refuse map[uint64]bool
}

func newTestCluster(t testing.TB, size int, tune func(*Config)) *testCluster {
	c := &testCluster{t: t, proxies: map[uint64]*peerProxy{}, dirs: map[uint64]string{}, nodes: map[uint64]*Node{},
		metrics: map[uint64]*Metrics{}, sms: map[uint64]*counterSM{}, tune: tune,
		slow: map[uint64]time.Duration{}, decoding: map[uint64]chan uint64{}, refuse: map[uint64]bool{}}
	for id := uint64(1); id <= uint64(size); id++ {
		c.proxies[id] = newPeerProxy(t)
		c.dirs[id] = t.TempDir()
	}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
	})
	return c
}

// start starts node id on a fresh listener (its state from its data
// directory) and returns it.
func (c *testCluster) start(id uint64) *Node {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	peers := map[uint64]string{}
	for pid, p := range c.proxies {
		peers[pid] = p.addr()
	}
	c.metrics[id] = NewMetrics(nil)
	c.sms[id] = &counterSM{slow: c.slow[id], decoding: c.decoding[id], entered: make(chan struct{}, 1)}
	c.sms[id].refuse.Store(c.refuse[id])
	cfg := Config{
		NodeID:         id,
		ClusterID:      "raftnode-test",
		Peers:          peers,
		PeerListener:   ln,
		DataDir:        c.dirs[id],
		StateMachine:   c.sms[id],
		TickInterval:   10 * time.Millisecond,
		ElectionTicks:  100, // 1s: a busy machine must not elect new leaders mid-test
		HeartbeatTicks: 2,
		Metrics:        c.metrics[id],
		Logger:         slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	n, err := Start(cfg)
	if err != nil {
		ln.Close()
		c.t.Fatalf("start node %d: %v", id, err)
	}
	c.sms[id].node.Store(n)
	addr := ln.Addr().String()
	c.proxies[id].target.Store(&addr)
	c.nodes[id] = n
	return n
}

func (c *testCluster) stop(id uint64) {
	if n := c.nodes[id]; n != nil {
		c.proxies[id].target.Store(nil)
		n.Stop()
		delete(c.nodes, id)
		if v := c.sms[id].orderViolation(); v != "" {
			c.t.Errorf("node %d's state machine saw the log out of order: %s", id, v)
		}
	}
}

// propose proposes payload on whichever running node leads, until it
// commits or the deadline passes.
func (c *testCluster) propose(payload string) Result {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c.nodes {
			if !n.IsLeader() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := n.Propose(ctx, []byte(payload))
			cancel()
			if err == nil {
				return res
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoLeader) && !errors.Is(err, ErrProposalDropped) &&
				!errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatalf("propose on node %d: %v", n.ID(), err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("no leader committed %q within 30s", payload)
	return Result{}
}

// leader waits for a running node that leads and returns it.
func (c *testCluster) leader() *Node {
	c.t.Helper()
	var lead *Node
	waitFor(c.t, 30*time.Second, "a leader", func() bool {
		for _, n := range c.nodes {
			if n.IsLeader() {
				lead = n
				return true
			}
		}
		return false
	})
	return lead
}

// waitApplied waits until node id has applied index.
func (c *testCluster) waitApplied(id, index uint64, within time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := c.nodes[id].WaitApplied(ctx, index); err != nil {
		c.t.Fatalf("node %d applied %d, want %d: %v", id, c.nodes[id].AppliedIndex(), index, err)
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testWriter sends log lines to t.Log, so they show only when a test fails.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
