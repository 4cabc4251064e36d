package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

func dirOf(id uint64) [16]byte {
	var d [16]byte
	binary.BigEndian.PutUint64(d[:], id)
	d[15] = 0xd1
	return d
}

// admitCall is one Config.Admit call.
type admitCall struct {
	from uint64
	dir  [16]byte
	addr string
}

// members is an Admit that admits node ids at the directory id it was
// told, as raftnode does from its membership, and records each call.
type members struct {
	mu    sync.Mutex
	dirs  map[uint64][16]byte
	calls chan admitCall
}

func newMembers() *members {
	return &members{dirs: make(map[uint64][16]byte), calls: make(chan admitCall, 1024)}
}

func (ms *members) set(id uint64, dir [16]byte) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.dirs[id] = dir
}

func (ms *members) admit(from uint64, dir [16]byte, addr string) error {
	select {
	case ms.calls <- admitCall{from, dir, addr}:
	default:
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	want, ok := ms.dirs[from]
	if !ok {
		return fmt.Errorf("node %d is not a member", from)
	}
	if dir != want {
		return fmt.Errorf("node %d has directory %x, member's is %x", from, dir, want)
	}
	return nil
}

// TestAdmitRefusesWrongDirectory: a node whose directory id is not the
// member's is refused on every stream kind, the dialer's error wraps
// ErrNotAdmitted with the acceptor's reason, both sides warn, and
// nothing it sends is delivered; the member's hello is admitted and
// PeerInfo reports what it sent.
func TestAdmitRefusesWrongDirectory(t *testing.T) {
	checkLeaks(t)
	ms := newMembers()
	ms.set(3, dirOf(3))
	ms.set(4, dirOf(4))
	ms.set(1, dirOf(99)) // node 1's disk was wiped: it comes back with another id
	var recsA, recsB records
	nodes := startCluster(t, 3, func(id uint64, c *Config) {
		c.DirectoryID = dirOf(id)
		c.PeerAddr = fmt.Sprintf("peer%d.test:7000", id)
		switch id {
		case 1:
			c.Logger = testLogger(t, "n1", recsA.hook(slog.LevelWarn))
			c.KeepaliveInterval = 20 * time.Millisecond
		case 2:
			c.Logger = testLogger(t, "n2", recsB.hook(slog.LevelWarn))
			c.Admit = ms.admit
			c.SnapshotSource = func(context.Context, uint64, uint64) (SnapshotFile, uint64, error) {
				return SnapshotFile{}, 0, errors.New("none")
			}
		}
	})
	a, b, c := nodes[0], nodes[1], nodes[2]

	_, _, err := a.tr.peerMap()[2].dial(context.Background(), streamMessage)
	if !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "member's is") {
		t.Fatalf("dial with a wrong directory id = %v, want ErrNotAdmitted with the reason", err)
	}
	waitUntil(t, "both sides to warn", func() bool {
		ra, okA := recsA.find("peer refused to admit us")
		rb, okB := recsB.find("rejected peer connection: not admitted")
		return okA && okB && strings.Contains(recordAttrs(ra)["reason"], "member's is") &&
			recordAttrs(rb)["directory_id"] == fmtDirID(dirOf(1))
	})

	// Snapshot, request and fetch streams are refused too.
	a.tr.Send([]raftpb.Message{{Type: raftpb.MsgSnap, From: 1, To: 2, Snapshot: &raftpb.Snapshot{Data: []byte("x"),
		Metadata: raftpb.SnapshotMetadata{Index: 5, Term: 1}}}})
	if st := recv(t, a.snapStatus, "snapshot status"); st.peer != 2 || !st.failed {
		t.Fatalf("snapshot to a peer that refuses us: %+v, want failed", st)
	}
	waitUntil(t, "node 1 to hear from node 2", func() bool { return !a.tr.LastHeard(2).IsZero() })
	if _, err := a.tr.Request(context.Background(), 2, &Request{Method: "POST", URI: "/x"}); !errors.Is(err, ErrNotAdmitted) || !errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("request from a refused node = %v, want ErrNotAdmitted and ErrRequestNotRun", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	fc := FetchConfig{NodeID: 1, ClusterID: testCluster, Peer: 2, Addr: b.ln.Addr().String(), DirectoryID: dirOf(1)}
	if _, err := FetchSnapshot(ctx, fc, 1, func(raftpb.SnapshotMetadata, io.Reader) error { return nil }); !errors.Is(err, ErrNotAdmitted) {
		t.Fatalf("fetch from a refused node = %v, want ErrNotAdmitted", err)
	}
	// Node 4 is a member that is not running: a process of its own id would
	// hold a stream, and a fetch (incarnation 0) would be refused as a
	// duplicate.
	fc.NodeID, fc.DirectoryID, fc.PeerAddr = 4, dirOf(4), "fetcher.test:1"
	var un *SnapshotUnavailableError
	if _, err := FetchSnapshot(ctx, fc, 1, func(raftpb.SnapshotMetadata, io.Reader) error { return nil }); !errors.As(err, &un) {
		t.Fatalf("fetch from a member = %v, want an unavailable answer (admitted)", err)
	}

	// The member gets through, and B learns what it sent.
	sendUntilReceived(t, c, b, "node 2 from the member")
	dir, peerAddr, http, ok := b.tr.PeerInfo(3)
	if !ok || dir != dirOf(3) || peerAddr != "peer3.test:7000" || http != httpAddr(3) {
		t.Fatalf("PeerInfo(3) = %x, %q, %q, %v", dir, peerAddr, http, ok)
	}
	if _, _, _, ok := b.tr.PeerInfo(1); ok {
		t.Fatal("PeerInfo(1) reports a node that was never admitted")
	}
	for {
		select {
		case m := <-b.got:
			if m.From == 1 {
				t.Fatalf("delivered a message from a refused node: %+v", m)
			}
			continue
		default:
		}
		break
	}
	expectNone(t, b.snaps, "snapshot from a refused node")
}

// TestRevokeReadmits: Revoke closes a peer's admitted streams; it
// redials and is admitted again, or refused once Admit says no.
func TestRevokeReadmits(t *testing.T) {
	checkLeaks(t)
	ms := newMembers()
	ms.set(1, dirOf(1))
	var recsA records
	nodes := startCluster(t, 2, func(id uint64, c *Config) {
		c.DirectoryID = dirOf(id)
		if id == 1 {
			c.Logger = testLogger(t, "n1", recsA.hook(slog.LevelWarn))
		} else {
			c.Admit = ms.admit
		}
	})
	a, b := nodes[0], nodes[1]
	sendUntilReceived(t, a, b, "node 2")
	accepted := b.tr.Stats().AcceptedStreams
	for len(ms.calls) > 0 {
		<-ms.calls
	}

	b.tr.Revoke(1)
	if call := recv(t, ms.calls, "Admit after Revoke"); call.from != 1 || call.dir != dirOf(1) {
		t.Fatalf("Admit after Revoke: %+v", call)
	}
	waitUntil(t, "a new message stream from node 1", func() bool { return b.tr.Stats().AcceptedStreams > accepted })
	sendUntilReceived(t, a, b, "node 2 after a Revoke")

	ms.set(1, dirOf(42)) // node 1 was replaced
	b.tr.Revoke(1)
	waitUntil(t, "node 1 to be refused", func() bool {
		r, ok := recsA.find("peer refused to admit us")
		return ok && strings.Contains(recordAttrs(r)["reason"], "member's is")
	})
	for len(b.got) > 0 {
		<-b.got
	}
	// Once refused, node 1's stream is gone: a message is not delivered
	// while a message from B's own side shows the transport works.
	a.tr.Send([]raftpb.Message{app(1, 2, 1000)})
	sendUntilReceived(t, b, a, "node 1 from node 2")
	for len(b.got) > 0 {
		if m := <-b.got; m.Index == 1000 {
			t.Fatal("a revoked and refused node's message was delivered")
		}
	}
}

// peerGoroutine matches a goroutine running a peer's sender or request
// stream code.
var peerGoroutine = regexp.MustCompile(`\(\*peer\)\.|\(\*reqConn\)\.`)

var goLockedWrapper = regexp.MustCompile(`(?m)^(.*\(\*peer\)\.goLocked\.func1\(.*|created by .*)$`)

func peerGoroutines() []string {
	var out []string
	for _, g := range ownGoroutines() {
		// goLocked's wrapper frame alone is a goroutine whose work
		// returned and whose Done calls ran (RemovePeer's Wait saw them):
		// it is only exiting. One still at work has the work's frame too.
		if peerGoroutine.MatchString(goLockedWrapper.ReplaceAllString(g, "")) {
			out = append(out, g)
		}
	}
	return out
}

// TestRuntimePeers: SetPeer adds a peer and messages flow; SetPeer with
// another address moves the traffic there; RemovePeer stops the peer's
// goroutines before it returns, Send to it drops and Request to it is
// not run.
func TestRuntimePeers(t *testing.T) {
	checkLeaks(t)
	var recsA records
	a := startNode(t, 1, listen(t), nil, func(c *Config) {
		c.Logger = testLogger(t, "n1", recsA.hook(slog.LevelWarn))
		c.KeepaliveInterval = 20 * time.Millisecond
	})
	b1 := startNode(t, 2, listen(t), map[uint64]string{1: a.ln.Addr().String()}, func(c *Config) {
		c.KeepaliveInterval = 20 * time.Millisecond
	})
	b2 := startNode(t, 2, listen(t), nil, nil)
	b1.tr.SetRequestHandler(func(context.Context, uint64, *Request) (*Response, error) {
		return &Response{Status: 200}, nil
	})

	a.tr.Send([]raftpb.Message{app(1, 2, 1)})
	waitUntil(t, "the unknown peer warning", func() bool {
		_, ok := recsA.find("dropping messages for unknown peer")
		return ok
	})
	a.tr.SetPeer(2, b1.ln.Addr().String())
	a.tr.SetPeer(2, b1.ln.Addr().String()) // no change
	if got := a.tr.Peers(); len(got) != 1 || got[2] != b1.ln.Addr().String() {
		t.Fatalf("Peers() = %v", got)
	}
	sendUntilReceived(t, a, b1, "a peer added at runtime")

	// Move node 2 to b2's address: b1 (still running) stops getting traffic.
	a.tr.SetPeer(2, b2.ln.Addr().String())
	sendUntilReceived(t, a, b2, "the peer's new address")
	a.tr.Send([]raftpb.Message{app(1, 2, 5000)})
	for m := recv(t, b2.got, "message at the new address"); m.Index != 5000; m = recv(t, b2.got, "message at the new address") {
	}
	for len(b1.got) > 0 {
		if m := <-b1.got; m.Index >= 5000 {
			t.Fatalf("the old address got %+v after the move", m)
		}
	}

	// Back to b1, with a request stream open, then remove the peer.
	a.tr.SetPeer(2, b1.ln.Addr().String())
	sendUntilReceived(t, a, b1, "the peer moved back")
	waitUntil(t, "node 1 to hear from node 2", func() bool { return time.Since(a.tr.LastHeard(2)) < 100*time.Millisecond })
	if resp, err := a.tr.Request(context.Background(), 2, &Request{Method: "GET", URI: "/"}); err != nil || resp.Status != 200 {
		t.Fatalf("request before removal: %v, %v", resp, err)
	}
	// Only node 1's peer goroutines may run for the check below: b1 and b2
	// stop theirs (b2 has no peers).
	if err := b1.tr.Close(); err != nil {
		t.Fatal(err)
	}
	if len(peerGoroutines()) == 0 {
		t.Fatal("no peer goroutines before RemovePeer: the check below would prove nothing")
	}
	a.tr.RemovePeer(2)
	if g := peerGoroutines(); len(g) != 0 {
		t.Fatalf("%d peer goroutines outlive RemovePeer:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	a.tr.RemovePeer(2) // no-op
	if got := a.tr.Peers(); len(got) != 0 {
		t.Fatalf("Peers() after RemovePeer = %v", got)
	}
	if _, err := a.tr.Request(context.Background(), 2, &Request{Method: "GET", URI: "/"}); !errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("request to a removed peer = %v, want ErrRequestNotRun", err)
	}
	// Send drops messages for it as for an unknown peer, logging that again
	// (once), since it was known in between.
	a.tr.Send([]raftpb.Message{app(1, 2, 9000), app(1, 2, 9001)})
	if n := recsA.count("dropping messages for unknown peer"); n != 2 {
		t.Fatalf("unknown peer logged %d times, want twice (before SetPeer, after RemovePeer)", n)
	}
	if g := peerGoroutines(); len(g) != 0 {
		t.Fatalf("Send to a removed peer started %d goroutines", len(g))
	}
	if got := a.tr.PeerStats(); len(got) != 0 {
		t.Fatalf("PeerStats after RemovePeer = %v", got)
	}
}

// TestRuntimePeersRace runs SetPeer, RemovePeer and Peers against Send
// and Close (for the race detector), and checks they do nothing after
// Close.
func TestRuntimePeersRace(t *testing.T) {
	checkLeaks(t)
	b := startNode(t, 2, listen(t), nil, nil)
	a := startNode(t, 1, listen(t), nil, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			a.tr.Send([]raftpb.Message{app(1, 2, 1), app(1, 3, 1)})
			_ = a.tr.Peers()
		}
	}()
	for i := range 20 {
		a.tr.SetPeer(2, b.ln.Addr().String())
		a.tr.SetPeer(3, fmt.Sprintf("127.0.0.1:%d", 1+i))
		a.tr.RemovePeer(2)
	}
	a.tr.SetPeer(2, b.ln.Addr().String())
	var closing sync.WaitGroup
	closing.Add(1)
	go func() {
		defer closing.Done()
		a.tr.Close()
	}()
	a.tr.SetPeer(4, "127.0.0.1:1")
	a.tr.RemovePeer(3)
	closing.Wait()
	close(stop)
	wg.Wait()
	a.tr.SetPeer(5, "127.0.0.1:1")
	a.tr.RemovePeer(2)
	a.tr.Revoke(2)
	if _, ok := a.tr.Peers()[5]; ok {
		t.Fatal("SetPeer after Close added a peer")
	}
	if g := peerGoroutines(); len(g) != 0 {
		t.Fatalf("%d peer goroutines outlive Close", len(g))
	}
}

// v4Hello is a version 4 hello as the previous release writes it, byte
// by byte.
func v4Hello(kind streamKind, from, to, incarnation uint64, cluster, http string) []byte {
	b := []byte("YAKT")
	b = append(b, 4, byte(kind))
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.BigEndian.AppendUint64(b, to)
	b = binary.BigEndian.AppendUint64(b, incarnation)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cluster)))
	b = append(b, cluster...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(http)))
	return append(b, http...)
}

// TestVersion4DialerAdmitted: a node of the previous release (a version 4
// hello) is accepted, Admit sees an unknown directory id and no peer
// address, and its messages are delivered.
func TestVersion4DialerAdmitted(t *testing.T) {
	checkLeaks(t)
	calls := make(chan admitCall, 16)
	b := startNode(t, 2, listen(t), nil, func(c *Config) {
		c.Admit = func(from uint64, dir [16]byte, addr string) error {
			calls <- admitCall{from, dir, addr}
			return nil
		}
	})
	conn, err := net.Dial("tcp", b.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var frame bufferWriter
	fw := frameWriter{w: &frame}
	m := app(7, 2, 3)
	if err := fw.write(&m); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(append(v4Hello(streamMessage, 7, 2, 11, testCluster, "old.test:80"), frame...)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	var ackb [1]byte
	if _, err := io.ReadFull(conn, ackb[:]); err != nil || ack(ackb[0]) != ackOK {
		t.Fatalf("ack for a version 4 hello: %v, %v", ackb, err)
	}
	if got := recv(t, b.got, "message over a version 4 stream"); got.From != 7 || got.Index != 3 {
		t.Fatalf("got %+v", got)
	}
	if call := recv(t, calls, "Admit"); call != (admitCall{from: 7}) {
		t.Fatalf("Admit for a version 4 hello: %+v", call)
	}
	dir, peerAddr, http, ok := b.tr.PeerInfo(7)
	if !ok || dir != ([16]byte{}) || peerAddr != "" || http != "old.test:80" {
		t.Fatalf("PeerInfo(7) = %x, %q, %q, %v", dir, peerAddr, http, ok)
	}
}

type bufferWriter []byte

func (b *bufferWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// prevAcceptor stands in for a node of the previous release: it refuses
// any hello but previousProtocolVersion with ackBadVersion, as that release does, and
// records the versions it was offered. Accepted message streams' frames
// go to msgs.
type prevAcceptor struct {
	ln       net.Listener
	versions chan byte
	msgs     chan raftpb.Message
}

func startPrevAcceptor(t *testing.T) *prevAcceptor {
	v := &prevAcceptor{ln: listen(t), versions: make(chan byte, 64), msgs: make(chan raftpb.Message, 64)}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the listener (and the connections) close
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		v.ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := v.ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				v.serve(conn)
			}()
		}
	}()
	return v
}

func (v *prevAcceptor) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	var pre [5]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return
	}
	v.versions <- pre[4]
	if pre[4] != previousProtocolVersion {
		conn.Write([]byte{byte(ackBadVersion)})
		io.Copy(io.Discard, br) // until the dialer hangs up, so no reset eats the ack
		return
	}
	var fixed [helloFixedBytes]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return
	}
	cl := make([]byte, binary.BigEndian.Uint16(fixed[25:]))
	var hl [2]byte
	if _, err := io.ReadFull(br, cl); err != nil {
		return
	}
	if _, err := io.ReadFull(br, hl[:]); err != nil {
		return
	}
	if _, err := io.ReadFull(br, make([]byte, binary.BigEndian.Uint16(hl[:]))); err != nil {
		return
	}
	var tail [16 + 2]byte // version 5: directory id, peer address
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return
	}
	if _, err := io.ReadFull(br, make([]byte, binary.BigEndian.Uint16(tail[16:]))); err != nil {
		return
	}
	conn.Write([]byte{byte(ackOK)})
	switch streamKind(fixed[0]) {
	case streamMessage:
	case streamFetch:
		return // as a peer without a snapshot source: the asker sees it close
	default:
		io.Copy(io.Discard, br)
		return
	}
	fr := frameReader{r: br, maxFrame: maxFrameBytes}
	for {
		m, keepalive, err := fr.next()
		if err != nil {
			return
		}
		if !keepalive {
			v.msgs <- m
		}
	}
}

// TestDialerFallsBackToThePreviousVersion: a peer of the previous release
// refuses the current version; the dialer redials it at once in that
// release's version (previousProtocolVersion), messages flow, and later dials
// speak it to that peer from the start.
func TestDialerFallsBackToThePreviousVersion(t *testing.T) {
	checkLeaks(t)
	old := startPrevAcceptor(t)
	a := startNode(t, 1, listen(t), map[uint64]string{2: old.ln.Addr().String()}, func(c *Config) {
		c.DirectoryID = dirOf(1)
	})
	a.tr.Send([]raftpb.Message{app(1, 2, 1)})
	if m := recv(t, old.msgs, "message to a peer of the previous release"); m.Index != 1 {
		t.Fatalf("got %+v", m)
	}
	if v1, v2 := recv(t, old.versions, "first hello"), recv(t, old.versions, "second hello"); v1 != protocolVersion || v2 != previousProtocolVersion {
		t.Fatalf("hellos in versions %d, %d; want %d, then %d", v1, v2, protocolVersion, previousProtocolVersion)
	}
	// Snapshot and fetch streams: the next dials go straight to the previous version.
	_, release, err := a.tr.peerMap()[2].dial(context.Background(), streamSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if v := recv(t, old.versions, "snapshot hello"); v != previousProtocolVersion {
		t.Fatalf("snapshot hello in version %d, want %d", v, previousProtocolVersion)
	}
	// Once versionRetryAfter has passed, the current version is tried again first.
	p := a.tr.peerMap()[2]
	p.oldVersionSince.Store(time.Now().Add(-versionRetryAfter - time.Second).UnixNano())
	if _, release, err = p.dial(context.Background(), streamSnapshot); err != nil {
		t.Fatal(err)
	}
	release()
	if v1, v2 := recv(t, old.versions, "hello after the retry period"), recv(t, old.versions, "its fallback"); v1 != protocolVersion || v2 != previousProtocolVersion {
		t.Fatalf("hellos after the retry period in versions %d, %d; want %d, then %d", v1, v2, protocolVersion, previousProtocolVersion)
	}

	fc := FetchConfig{NodeID: 1, ClusterID: testCluster, Peer: 2, Addr: old.ln.Addr().String(), DialTimeout: waitTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// The stand-in closes a fetch stream after its ack, as a peer without a
	// snapshot source would: what matters is the handshake got through.
	_, err = FetchSnapshot(ctx, fc, 1, func(raftpb.SnapshotMetadata, io.Reader) error { return nil })
	if err == nil || errors.Is(err, errUnsupportedVersion) {
		t.Fatalf("fetch from a peer of the previous release = %v, want the handshake to succeed", err)
	}
	if v1, v2 := recv(t, old.versions, "fetch hello"), recv(t, old.versions, "fetch retry"); v1 != protocolVersion || v2 != previousProtocolVersion {
		t.Fatalf("fetch hellos in versions %d, %d; want %d, then %d", v1, v2, protocolVersion, previousProtocolVersion)
	}
}

// count is how many records' messages contain sub.
func (rs *records) count(sub string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for _, r := range rs.recs {
		if strings.Contains(r.Message, sub) {
			n++
		}
	}
	return n
}
