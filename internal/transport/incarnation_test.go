package transport

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// records collects log records of at least a level, for assertions.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (rs *records) hook(min slog.Level) func(slog.Record) {
	return func(r slog.Record) {
		if r.Level >= min {
			rs.mu.Lock()
			rs.recs = append(rs.recs, r.Clone())
			rs.mu.Unlock()
		}
	}
}

// find returns the first record whose message contains sub.
func (rs *records) find(sub string) (slog.Record, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.recs {
		if strings.Contains(r.Message, sub) {
			return r, true
		}
	}
	return slog.Record{}, false
}

// waitUntil polls cond until it holds or waitTimeout passes.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDuplicateNodeRefused: a second transport claiming node 2's id (a
// copy of node 2 on another port) is refused by node 1 while the real
// node 2 is connected, both sides log it with both incarnations, the real
// node's stream is never replaced (no flapping), and once the real node
// is gone the other process is accepted, as a restart would be.
func TestDuplicateNodeRefused(t *testing.T) {
	checkLeaks(t)
	var acceptorLog, impostorLog records
	nodes := startCluster(t, 2, func(id uint64, c *Config) {
		c.KeepaliveInterval = 20 * time.Millisecond
		if id == 1 {
			c.Logger = testLogger(t, "n1", acceptorLog.hook(slog.LevelError))
		}
	})
	a, real2 := nodes[0], nodes[1]
	// Node 2 is connected once it delivered a message to node 1.
	real2.tr.Send([]raftpb.Message{app(2, 1, 1)})
	recv(t, a.got, "message from the real node 2")
	accepted := a.tr.Stats().AcceptedStreams

	impLn := listen(t)
	imp := startNode(t, 2, impLn, map[uint64]string{1: a.ln.Addr().String(), 2: impLn.Addr().String()}, func(c *Config) {
		c.KeepaliveInterval = 20 * time.Millisecond
		c.Logger = testLogger(t, "impostor", impostorLog.hook(slog.LevelError))
	})
	if imp.tr.Incarnation() == real2.tr.Incarnation() {
		t.Fatalf("two transports drew incarnation %x", imp.tr.Incarnation())
	}
	waitUntil(t, "node 1 to refuse the second node 2 three times", func() bool { return a.tr.Stats().RefusedDuplicates >= 3 })

	r, ok := acceptorLog.find("another process is already connected as this node id")
	if !ok {
		t.Fatal("node 1 logged no error naming the duplicate")
	}
	attrs := recordAttrs(r)
	if attrs["incarnation"] != fmtIncarnation(imp.tr.Incarnation()) || attrs["connected_incarnation"] != fmtIncarnation(real2.tr.Incarnation()) || attrs["connected_addr"] == "" {
		t.Fatalf("refusal log attrs %v; want incarnation %s, connected_incarnation %s and connected_addr",
			attrs, fmtIncarnation(imp.tr.Incarnation()), fmtIncarnation(real2.tr.Incarnation()))
	}
	// The refused process warns at once (a restart race looks the same at
	// first) and logs an error once refusals outlast any restart.
	deadline := time.Now().Add(minSilentAfter + backoffMax + waitTimeout)
	for {
		if _, ok := impostorLog.find("another process is connected to it as this node id"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refused process logged no error")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The real node's stream was never replaced, and it still delivers;
	// nothing of the impostor's got through.
	imp.tr.Send([]raftpb.Message{app(2, 1, 666)})
	real2.tr.Send([]raftpb.Message{app(2, 1, 2)})
	if m := recv(t, a.got, "message from the real node 2"); m.Index != 2 {
		t.Fatalf("node 1 got %+v, want the real node's message 2", m)
	}
	if got := a.tr.Stats().AcceptedStreams; got != accepted {
		t.Fatalf("node 1 accepted %d message streams since the real node connected, want 0", got-accepted)
	}

	// The real node goes away (its connection closes): the other process
	// now gets in, as a restarted node 2 would.
	if err := real2.tr.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node 1 to accept the new node 2", func() bool { return a.tr.Stats().AcceptedStreams > accepted })
	for seq := uint64(100); ; seq++ {
		imp.tr.Send([]raftpb.Message{app(2, 1, seq)})
		if m := recv(t, a.got, "message from the new node 2"); m.Index >= 100 {
			break
		}
	}
}

// TestSilentStreamYieldsToNewIncarnation: a message stream that went
// silent (its process vanished without closing it) does not lock a
// restarted node out: after silentAfter another incarnation is accepted.
// A live stream of another incarnation is refused before that.
func TestSilentStreamYieldsToNewIncarnation(t *testing.T) {
	checkLeaks(t)
	b := startNode(t, 2, listen(t), nil, func(c *Config) { c.KeepaliveInterval = 10 * time.Millisecond })
	addr := b.ln.Addr().String()
	dial := func(inc uint64) (net.Conn, ack) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		h := hello{kind: streamMessage, from: 7, to: 2, incarnation: inc, clusterID: testCluster}
		if _, err := conn.Write(h.marshal()); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(waitTimeout))
		var a [1]byte
		if _, err := io.ReadFull(conn, a[:]); err != nil {
			t.Fatal(err)
		}
		return conn, ack(a[0])
	}
	start := time.Now()
	old, a := dial(1)
	if a != ackOK {
		t.Fatalf("first incarnation: ack %d", a)
	}
	// The old process stays connected but silent from here on.
	if _, a := dial(2); a != ackDuplicateNode {
		t.Fatalf("second incarnation while the first is fresh: ack %d, want %d", a, ackDuplicateNode)
	}
	var newConn net.Conn
	waitUntil(t, "the silent stream to be given up", func() bool {
		c, a := dial(2)
		if a != ackOK {
			c.Close()
			return false
		}
		newConn = c
		return true
	})
	if waited := time.Since(start); waited < b.tr.silentAfter() {
		t.Fatalf("accepted the new incarnation after %v, before the old stream was silent for %v", waited, b.tr.silentAfter())
	}
	// The old stream was closed in favour of the new one.
	old.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := old.Read(make([]byte, 1)); err == nil {
		t.Fatal("old stream still open")
	}
	var buf bytes.Buffer
	fw := frameWriter{w: &buf}
	m := app(7, 2, 5)
	if err := fw.write(&m); err != nil {
		t.Fatal(err)
	}
	if _, err := newConn.Write(append(keepaliveFrame, buf.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, b.got, "message on the new stream"); got.Index != 5 {
		t.Fatalf("got %+v", got)
	}
}

// TestKeepaliveMovesLastHeard: an idle message stream carries keepalives,
// so LastHeard advances while LastContact (raft messages) stays unset.
func TestKeepaliveMovesLastHeard(t *testing.T) {
	checkLeaks(t)
	nodes := startCluster(t, 2, func(id uint64, c *Config) { c.KeepaliveInterval = 10 * time.Millisecond })
	a := nodes[0]
	waitUntil(t, "a keepalive from node 2", func() bool { return !a.tr.LastHeard(2).IsZero() })
	first := a.tr.LastHeard(2)
	waitUntil(t, "another keepalive from node 2", func() bool { return a.tr.LastHeard(2).After(first) })
	if lc := a.tr.LastContact(2); !lc.IsZero() {
		t.Fatalf("LastContact(2) = %v; node 2 sent no message", lc)
	}
	expectNone(t, a.got, "message")
}
