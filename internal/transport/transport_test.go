package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// TestThreeNodesExchangeInOrder: every node sends thousands of messages
// to every other node in one Send each; all arrive, in order per sender.
func TestThreeNodesExchangeInOrder(t *testing.T) {
	checkLeaks(t)
	const perPeer = 3000
	nodes := startCluster(t, 3, nil)
	for _, from := range nodes {
		var msgs []raftpb.Message
		for _, to := range nodes {
			if to == from {
				continue
			}
			for seq := uint64(1); seq <= perPeer; seq++ {
				msgs = append(msgs, app(from.id, to.id, seq))
			}
		}
		from.tr.Send(msgs)
	}
	for _, to := range nodes {
		next := map[uint64]uint64{}
		for i := 0; i < perPeer*(len(nodes)-1); i++ {
			m := recv(t, to.got, "message")
			if m.To != to.id {
				t.Fatalf("node %d got a message for %d", to.id, m.To)
			}
			next[m.From]++
			if m.Index != next[m.From] {
				t.Fatalf("node %d: from %d got seq %d, want %d", to.id, m.From, m.Index, next[m.From])
			}
			if len(m.Entries) != 1 || !bytes.Equal(m.Entries[0].Data, app(0, 0, 0).Entries[0].Data) {
				t.Fatalf("node %d: from %d seq %d: entries mangled: %+v", to.id, m.From, m.Index, m.Entries)
			}
		}
	}
	for _, n := range nodes {
		if got := n.unreachN.Load(); got != 0 {
			t.Errorf("node %d reported %d unreachable peers", n.id, got)
		}
	}
}

// TestSendBatchesQueuedMessages: messages queued while the stream is not
// yet up leave in a few flushes, not one per message.
func TestSendBatchesQueuedMessages(t *testing.T) {
	checkLeaks(t)
	const count = 3000
	lnA, lnB := listen(t), listen(t)
	peers := map[uint64]string{1: lnA.Addr().String(), 2: lnB.Addr().String()}
	// B's listener is bound but not served yet: A's handshake waits for
	// B's ack, so everything sent meanwhile piles up in A's queue.
	a := startNode(t, 1, lnA, peers, nil)
	var msgs []raftpb.Message
	for seq := uint64(1); seq <= count; seq++ {
		msgs = append(msgs, app(1, 2, seq))
	}
	a.tr.Send(msgs)
	b := startNode(t, 2, lnB, peers, nil)
	for seq := uint64(1); seq <= count; seq++ {
		if m := recv(t, b.got, "message"); m.Index != seq {
			t.Fatalf("got seq %d, want %d", m.Index, seq)
		}
	}
	flushes := a.tr.peerMap()[2].flushes.Load()
	t.Logf("%d messages in %d flushes", count, flushes)
	if want := uint64((count + maxBatch - 1) / maxBatch); flushes > want {
		t.Errorf("%d messages took %d flushes, want at most %d", count, flushes, want)
	}
}

// TestSnapshotDoesNotBlockHeartbeats streams a 32 MiB snapshot to a
// receiver that stops reading it part way, and shows a heartbeat sent
// afterwards still arrives; then the snapshot completes intact.
func TestSnapshotDoesNotBlockHeartbeats(t *testing.T) {
	checkLeaks(t)
	var gate *gateListener
	nodes := startCluster(t, 2, func(id uint64, c *Config) {
		if id == 2 {
			// Only a snapshot stream ever reads 1 MiB.
			gate = newGateListener(c.Listener, 1<<20)
			c.Listener = gate
		}
	})
	a, b := nodes[0], nodes[1]
	defer func() {
		select {
		case <-gate.open:
		default:
			close(gate.open)
		}
	}()

	data := make([]byte, 32<<20)
	rand.NewChaCha8([32]byte{1}).Read(data)
	snap := raftpb.Message{Type: raftpb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &raftpb.Snapshot{
		Data: data,
		Metadata: raftpb.SnapshotMetadata{Index: 1234, Term: 3,
			ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}},
	}}
	a.tr.Send([]raftpb.Message{snap})
	recv(t, gate.hit, "the snapshot stream to stall at the gate")

	a.tr.Send([]raftpb.Message{{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 3}})
	if m := recv(t, b.got, "heartbeat"); m.Type != raftpb.MsgHeartbeat {
		t.Fatalf("got %s, want heartbeat", m.Type)
	}
	expectNone(t, b.snaps, "snapshot before the gate opened")
	expectNone(t, a.snapStatus, "snapshot status before the gate opened")

	close(gate.open)
	got := recv(t, b.snaps, "snapshot")
	if got.Snapshot == nil || got.Snapshot.Metadata.Index != 1234 || got.Snapshot.Metadata.Term != 3 {
		t.Fatalf("snapshot metadata: got %+v", got.Snapshot)
	}
	if !bytes.Equal(got.Snapshot.Data, data) {
		t.Fatalf("snapshot data differs (got %d bytes, want %d)", len(got.Snapshot.Data), len(data))
	}
	if st := recv(t, a.snapStatus, "snapshot status"); st != (snapStatus{peer: 2, failed: false}) {
		t.Fatalf("snapshot status: got %+v, want success for peer 2", st)
	}
}

// TestSnapshotToDownPeerFails: a snapshot that cannot be delivered is
// reported as failed.
func TestSnapshotToDownPeerFails(t *testing.T) {
	checkLeaks(t)
	lnA, lnB := listen(t), listen(t)
	peers := map[uint64]string{1: lnA.Addr().String(), 2: lnB.Addr().String()}
	lnB.Close() // nothing listens at B's address any more
	a := startNode(t, 1, lnA, peers, nil)
	a.tr.Send([]raftpb.Message{{Type: raftpb.MsgSnap, From: 1, To: 2, Snapshot: &raftpb.Snapshot{
		Data: []byte("state"), Metadata: raftpb.SnapshotMetadata{Index: 5, Term: 1}}}})
	if st := recv(t, a.snapStatus, "snapshot status"); st != (snapStatus{peer: 2, failed: true}) {
		t.Fatalf("snapshot status: got %+v, want failure for peer 2", st)
	}
}

// TestReconnectAfterPeerRestart: a peer goes away (OnUnreachable fires)
// and comes back on the same address; messages flow again both ways.
func TestReconnectAfterPeerRestart(t *testing.T) {
	checkLeaks(t)
	a, addrB, peers := connectThenStopB(t, nil)
	for len(a.unreachable) > 0 {
		<-a.unreachable
	}
	if peer := recv(t, a.unreachable, "OnUnreachable while the peer is down"); peer != 2 {
		t.Fatalf("unreachable peer %d, want 2", peer)
	}

	b2 := restartAt(t, 2, addrB, peers)
	// A drops what it queues while its redial backs off; keep sending
	// until one message makes it through.
	if m := sendUntilReceived(t, a, b2, "the restarted peer"); m.From != 1 || m.Index < 2 {
		t.Fatalf("after restart got %+v", m)
	}
	// The restarted peer's own stream to A may still be dialing (and
	// drops what it queues meanwhile), so it resends too.
	if m := sendUntilReceived(t, b2, a, "A from the restarted peer"); m.From != 2 {
		t.Fatalf("got message from %d, want 2", m.From)
	}
}

// connectThenStopB starts nodes A (1) and B (2), checks that a message
// from A reaches B, and stops B. It returns A, B's address and the peers
// map to restart B with.
func connectThenStopB(t *testing.T, tweak func(id uint64, cfg *Config)) (a *node, addrB string, peers map[uint64]string) {
	t.Helper()
	nodes := startCluster(t, 2, tweak)
	a, b := nodes[0], nodes[1]
	addrB = b.ln.Addr().String()
	peers = map[uint64]string{1: a.ln.Addr().String(), 2: addrB}
	a.tr.Send([]raftpb.Message{app(1, 2, 1)})
	recv(t, b.got, "message before restart")
	if err := b.tr.Close(); err != nil {
		t.Fatal(err)
	}
	return a, addrB, peers
}

// restartAt starts node id again on its old address.
func restartAt(t *testing.T, id uint64, addr string, peers map[uint64]string) *node {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("rebind %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return startNode(t, id, ln, peers, nil)
}

// sendUntilReceived sends from src to dst, a new message every 20 ms
// (what a sender queues while it redials is dropped), until dst receives
// one, and returns it.
func sendUntilReceived(t *testing.T, src, dst *node, what string) raftpb.Message {
	t.Helper()
	retry := time.NewTicker(20 * time.Millisecond)
	defer retry.Stop()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for seq := uint64(2); ; seq++ {
		src.tr.Send([]raftpb.Message{app(src.id, dst.id, seq)})
		select {
		case m := <-dst.got:
			return m
		case <-retry.C:
		case <-deadline.C:
			t.Fatalf("no message reached %s within %v", what, waitTimeout)
		}
	}
}

// TestClusterMismatch: a node of another cluster is refused at the
// handshake; nothing it sends is delivered, and it learns why.
func TestClusterMismatch(t *testing.T) {
	checkLeaks(t)
	refused := make(chan map[string]string, 4)
	nodes := startCluster(t, 3, func(id uint64, c *Config) {
		switch id {
		case 1:
			c.ClusterID = "another-cluster"
		case 2:
			c.Logger = testLogger(t, "n2", func(r slog.Record) {
				if strings.Contains(r.Message, "cluster id mismatch") {
					select {
					case refused <- recordAttrs(r):
					default:
					}
				}
			})
		}
	})
	a, b, c := nodes[0], nodes[1], nodes[2]

	a.tr.Send([]raftpb.Message{app(1, 2, 1), app(1, 2, 2)})
	attrs := recv(t, refused, "the refusal warning")
	if attrs["cluster"] != testCluster || attrs["peer_cluster"] != "another-cluster" {
		t.Errorf("refusal warning should name both cluster ids, has %v", attrs)
	}
	if peer := recv(t, a.unreachable, "OnUnreachable on the refused node"); peer != 2 && peer != 3 {
		t.Fatalf("unreachable peer %d", peer)
	}
	_, _, err := a.tr.peerMap()[2].dial(context.Background(), streamMessage)
	if !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("dial across clusters: got %v, want ErrClusterMismatch", err)
	}

	// A message from a node of B's own cluster gets through, so anything
	// A managed to slip in before it would be visible by now.
	c.tr.Send([]raftpb.Message{app(3, 2, 7)})
	for {
		m := recv(t, b.got, "message from the same cluster")
		if m.From == 1 {
			t.Fatalf("delivered a message from another cluster: %+v", m)
		}
		if m.From == 3 && m.Index == 7 {
			break
		}
	}
	if addr, ok := b.tr.PeerHTTPAddr(1); ok {
		t.Errorf("learned HTTP address %q from a refused peer", addr)
	}
	if lc := b.tr.LastContact(1); !lc.IsZero() {
		t.Errorf("LastContact from a refused peer: %v", lc)
	}
}

// TestPeerHTTPAddrAndLastContact: the handshake teaches the HTTP address,
// every message moves LastContact.
func TestPeerHTTPAddrAndLastContact(t *testing.T) {
	checkLeaks(t)
	nodes := startCluster(t, 2, nil)
	a, b := nodes[0], nodes[1]
	if lc := b.tr.LastContact(1); !lc.IsZero() {
		t.Fatalf("LastContact before any message: %v", lc)
	}
	if _, ok := b.tr.PeerHTTPAddr(42); ok {
		t.Fatal("HTTP address of an unknown peer")
	}

	before := time.Now()
	a.tr.Send([]raftpb.Message{app(1, 2, 1)})
	recv(t, b.got, "first message")
	first := b.tr.LastContact(1)
	if first.Before(before.Truncate(0)) || first.After(time.Now()) {
		t.Fatalf("LastContact %v not within [%v, now]", first, before)
	}
	if addr, ok := b.tr.PeerHTTPAddr(1); !ok || addr != httpAddr(1) {
		t.Fatalf("PeerHTTPAddr(1) = %q, %v; want %q", addr, ok, httpAddr(1))
	}
	if addr, ok := b.tr.PeerKafkaAddr(1); !ok || addr != kafkaAddr(1) {
		t.Fatalf("PeerKafkaAddr(1) = %q, %v; want %q", addr, ok, kafkaAddr(1))
	}
	b.tr.Send([]raftpb.Message{app(2, 1, 1)})
	recv(t, a.got, "message to node 1")
	if addr, ok := a.tr.PeerKafkaAddr(2); ok {
		t.Fatalf("PeerKafkaAddr(2) = %q of a node without a Kafka address", addr)
	}

	a.tr.Send([]raftpb.Message{app(1, 2, 2)})
	recv(t, b.got, "second message")
	if second := b.tr.LastContact(1); second.Before(first) {
		t.Fatalf("LastContact went back: %v then %v", first, second)
	}
}

// TestQueueOverflowReportsUnreachable: Send never blocks; what does not
// fit in the queue is dropped and reported at once.
func TestQueueOverflowReportsUnreachable(t *testing.T) {
	checkLeaks(t)
	lnA, lnB := listen(t), listen(t) // B bound, never served: A's handshake hangs
	peers := map[uint64]string{1: lnA.Addr().String(), 2: lnB.Addr().String()}
	a := startNode(t, 1, lnA, peers, func(c *Config) { c.QueueSize = 4 })
	var msgs []raftpb.Message
	for seq := uint64(1); seq <= 10; seq++ {
		msgs = append(msgs, app(1, 2, seq))
	}
	a.tr.Send(msgs)
	if got := a.unreachN.Load(); got != 6 {
		t.Fatalf("OnUnreachable called %d times, want 6 (10 sent, queue of 4)", got)
	}
	// Cleanup closes A while its handshake is pending; checkLeaks verifies
	// that Close does not wait it out.
}

// TestBadBytesCloseConnection feeds the peer port garbage and protocol
// violations: each connection is closed (with a refusal byte where the
// protocol has one), nothing is delivered, and the transport keeps
// serving well-behaved peers.
func TestBadBytesCloseConnection(t *testing.T) {
	checkLeaks(t)
	b := startNode(t, 2, listen(t), nil, nil)
	addr := b.ln.Addr().String()

	garbage := make([]byte, 512)
	rand.NewChaCha8([32]byte{7}).Read(garbage)
	helloFrom := func(kind streamKind, from, to uint64, cluster string) []byte {
		h := hello{kind: kind, from: from, to: to, clusterID: cluster, httpAddr: "x:1"}
		return h.marshal()
	}
	good := helloFrom(streamMessage, 7, 2, testCluster)
	goodSnap := helloFrom(streamSnapshot, 7, 2, testCluster)
	frame := func(m raftpb.Message) []byte {
		var buf bytes.Buffer
		fw := frameWriter{w: &buf}
		if err := fw.write(&m); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	snapHdr := frame(raftpb.Message{Type: raftpb.MsgSnap, From: 7, To: 2,
		Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1}}})
	badKind := helloFrom(streamMessage, 7, 2, testCluster)
	badKind[5] = 9
	hugeString := cat([]byte(magic), []byte{protocolVersion, byte(streamMessage)}, u64(7), u64(2), u64(1), u32(0xffff0000)[:2])

	none, ok := -1, int(ackOK)
	tests := []struct {
		name      string
		send      []byte
		closeSend bool // half-close after sending, as a peer that died would
		wantAck   int  // first byte the server answers, or none
	}{
		{name: "random garbage", send: garbage, wantAck: none},
		{name: "truncated hello", send: good[:10], closeSend: true, wantAck: none},
		{name: "unsupported version", send: []byte("YAKT\x09"), wantAck: int(ackBadVersion)},
		{name: "version 3", send: []byte("YAKT\x03"), wantAck: int(ackBadVersion)},
		{name: "oversized peer address", send: cat(good[:len(good)-2], u32(0xffff0000)[:2]), wantAck: none},
		{name: "truncated directory id", send: good[:len(good)-10], closeSend: true, wantAck: none},
		{name: "unknown stream kind", send: badKind, wantAck: none},
		{name: "oversized cluster id", send: hugeString, wantAck: none},
		{name: "other cluster", send: helloFrom(streamMessage, 7, 2, "nope"), wantAck: int(ackClusterMismatch)},
		{name: "addressed to another node", send: helloFrom(streamMessage, 7, 99, testCluster), wantAck: int(ackBadNodeID)},
		{name: "from our own id", send: helloFrom(streamMessage, 2, 2, testCluster), wantAck: int(ackBadNodeID)},
		{name: "oversized frame", send: cat(good, u32(0xffffffff)), wantAck: ok},
		{name: "frame just over the limit", send: cat(good, u32(maxFrameBytes+1)), wantAck: ok},
		{name: "undecodable frame", send: cat(good, u32(8), bytes.Repeat([]byte{0xff}, 8)), wantAck: ok},
		{name: "truncated frame", send: cat(good, u32(100), []byte("short")), closeSend: true, wantAck: ok},
		{name: "forged sender", send: cat(good, frame(app(8, 2, 1))), wantAck: ok},
		{name: "wrong recipient", send: cat(good, frame(app(7, 3, 1))), wantAck: ok},
		{name: "non-snapshot on snapshot stream", send: cat(goodSnap, frame(app(7, 2, 1))), wantAck: ok},
		{name: "oversized snapshot", send: cat(goodSnap, snapHdr, u64(1<<40)), wantAck: ok},
		{name: "truncated snapshot", send: cat(goodSnap, snapHdr, u64(100), []byte("short")), closeSend: true, wantAck: ok},
		{name: "snapshot without checksum", send: cat(goodSnap, snapHdr, u64(4), []byte("data")), closeSend: true, wantAck: ok},
		{name: "snapshot with a bad checksum", send: cat(goodSnap, snapHdr, u64(4), []byte("data"), u32(0xdeadbeef)), wantAck: ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.closeSend {
				conn.(*net.TCPConn).CloseWrite()
			}
			conn.SetReadDeadline(time.Now().Add(waitTimeout))
			got, err := io.ReadAll(conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server did not close the connection")
			}
			// A reset (unread bytes at close) may eat the answer; what
			// arrived must still be right.
			switch {
			case tt.wantAck == none && len(got) != 0:
				t.Fatalf("server answered %v, want nothing", got)
			case tt.wantAck != none && err == nil && (len(got) != 1 || int(got[0]) != tt.wantAck):
				t.Fatalf("server answered %v, want [%d]", got, tt.wantAck)
			}
			expectNone(t, b.got, "message")
			expectNone(t, b.snaps, "snapshot")
		})
	}

	// The port still serves a well-behaved peer, one not in Peers at that.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(cat(good, frame(app(7, 2, 99)))); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, b.got, "message from a well-behaved peer"); m.From != 7 || m.Index != 99 {
		t.Fatalf("got %+v", m)
	}
	if addr, ok := b.tr.PeerHTTPAddr(7); !ok || addr != "x:1" {
		t.Fatalf("PeerHTTPAddr(7) = %q, %v", addr, ok)
	}
}

// TestCloseIsIdempotent: Close twice, Send and queries after Close.
func TestCloseIsIdempotent(t *testing.T) {
	checkLeaks(t)
	nodes := startCluster(t, 2, nil)
	a := nodes[0]
	a.tr.Send([]raftpb.Message{app(1, 2, 1)})
	recv(t, nodes[1].got, "message")
	for i := 0; i < 2; i++ {
		if err := a.tr.Close(); err != nil {
			t.Fatalf("close #%d: %v", i+1, err)
		}
	}
	a.tr.Send([]raftpb.Message{app(1, 2, 2), {Type: raftpb.MsgSnap, To: 2, Snapshot: &raftpb.Snapshot{}}})
	if lc := a.tr.LastContact(2); !lc.IsZero() {
		t.Errorf("LastContact(2) = %v; node 2 never sent", lc)
	}
	expectNone(t, a.snapStatus, "snapshot status after Close")
}

func TestConfigValidate(t *testing.T) {
	ln := listen(t)
	handler := func(raftpb.Message) {}
	valid := func() Config {
		return Config{NodeID: 1, ClusterID: "c", Listener: ln, Handler: handler,
			Peers: map[uint64]string{1: "a:1", 2: "b:1"}}
	}
	tests := []struct {
		name   string
		edit   func(*Config)
		errHas string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "no node id", edit: func(c *Config) { c.NodeID = 0 }, errHas: "node id"},
		{name: "no cluster id", edit: func(c *Config) { c.ClusterID = "" }, errHas: "cluster id"},
		{name: "long cluster id", edit: func(c *Config) { c.ClusterID = strings.Repeat("c", maxStringBytes+1) }, errHas: "cluster id"},
		{name: "long http addr", edit: func(c *Config) { c.HTTPAddr = strings.Repeat("h", maxStringBytes+1) }, errHas: "http"},
		{name: "long peer addr", edit: func(c *Config) { c.PeerAddr = strings.Repeat("p", maxStringBytes+1) }, errHas: "peer address"},
		{name: "no listener", edit: func(c *Config) { c.Listener = nil }, errHas: "listener"},
		{name: "no handler", edit: func(c *Config) { c.Handler = nil }, errHas: "handler"},
		{name: "peer without address", edit: func(c *Config) { c.Peers[3] = "" }, errHas: "peer 3"},
		{name: "peer id zero", edit: func(c *Config) { c.Peers[0] = "z:1" }, errHas: "peer 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.DialTimeout != time.Second || c.QueueSize != 4096 || c.Logger == nil {
					t.Fatalf("defaults not filled: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("got error %v, want one mentioning %q", err, tt.errHas)
			}
		})
	}
}

// TestRestartedPeerEndsRedialBackoff: a peer that comes back and dials us
// is redialed at once, not when our backoff runs out. Here the backoff is a
// minute long, so only the peer's own connection can have cut it short.
func TestRestartedPeerEndsRedialBackoff(t *testing.T) {
	checkLeaks(t)
	a, addrB, peers := connectThenStopB(t, func(id uint64, cfg *Config) {
		if id == 1 {
			cfg.redialMin, cfg.redialMax = 2*time.Minute, 2*time.Minute
		}
	})
	// A notices the loss and backs off for at least a minute.
	lost := time.Now().Add(waitTimeout)
	for a.unreachN.Load() == 0 {
		if time.Now().After(lost) {
			t.Fatal("A did not notice the peer stop")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// B2 dials A on its own (its message stream is always open); that
	// wakes A's sender, whose backoff would otherwise last a minute.
	b2 := restartAt(t, 2, addrB, peers)
	sendUntilReceived(t, a, b2, "the restarted peer (A waited out its backoff?)")
}
