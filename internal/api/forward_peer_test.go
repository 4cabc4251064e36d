package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/transport"
)

// These tests run the forwarder's peer hop over real transports on real
// TCP, with leaders whose request handler answers, never answers, or
// stops its whole transport after reading the request.

// peerHop adapts a Transport to the forwarder.
type peerHop struct{ *transport.Transport }

func (p peerHop) ForwardRequest(ctx context.Context, to uint64, req *transport.Request) (*transport.Response, error) {
	return p.Request(ctx, to, req)
}

// peerNet holds bound peer addresses for node ids 1..n.
type peerNet struct {
	lns   map[uint64]net.Listener
	addrs map[uint64]string
}

func newPeerNet(t *testing.T, n int) *peerNet {
	pn := &peerNet{lns: map[uint64]net.Listener{}, addrs: map[uint64]string{}}
	for id := uint64(1); id <= uint64(n); id++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		pn.lns[id], pn.addrs[id] = l, l.Addr().String()
	}
	return pn
}

// start runs node id's transport (on its bound listener, or a new one on
// its address after a stop) serving requests with h.
func (pn *peerNet) start(t *testing.T, id uint64, h transport.RequestHandler) *transport.Transport {
	t.Helper()
	l := pn.lns[id]
	// The previous transport's listener may hold the port for a moment
	// after its Close returned; retry binding briefly.
	for deadline := time.Now().Add(5 * time.Second); l == nil; {
		var err error
		if l, err = net.Listen("tcp", pn.addrs[id]); err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
				t.Errorf("rebind node %d: %v", id, err)
				return nil
			}
			time.Sleep(10 * time.Millisecond) // waiting on the kernel, not on our code
		}
	}
	pn.lns[id] = nil // the transport owns it now
	tr, err := transport.New(transport.Config{NodeID: id, ClusterID: "fwd", Listener: l, Peers: pn.addrs,
		Handler: func(raftpb.Message) {}, KeepaliveInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(tLogWriter{t}, nil)).With("node", id)})
	if err != nil {
		t.Fatal(err)
	}
	tr.SetRequestHandler(h)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// waitHeard waits until tr has heard from peer, so its requests are not
// refused as to a silent peer.
func waitHeard(t *testing.T, tr *transport.Transport, peer uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tr.LastHeard(peer).IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("never heard from node %d", peer)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded above
	}
}

func testPeerForwarder(t *testing.T, tr *transport.Transport, leader func() uint64) *forwarder {
	f := testForwarder(t, func() (uint64, string, bool) { return leader(), "", true })
	f.peers = peerHop{tr}
	return f
}

// answering is a leader's handler that records each request's key and
// answers 201 with the headers a leader sets.
type answering struct {
	mu   sync.Mutex
	keys []string
}

func (a *answering) handle(ctx context.Context, from uint64, req *transport.Request) (*transport.Response, error) {
	a.mu.Lock()
	a.keys = append(a.keys, req.Header.Get(HeaderIdempotencyKey))
	a.mu.Unlock()
	return &transport.Response{Status: http.StatusCreated, Body: []byte("{}"), Header: http.Header{
		"Content-Type": {"application/json"}, HeaderNode: {"9"}, HeaderOffset: {"42"}, HeaderReplayed: {"true"}}}, nil
}

func (a *answering) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.keys...)
}

func TestPeerForwardReresolvesLeaderEachAttempt(t *testing.T) {
	pn := newPeerNet(t, 3)
	live := &answering{}
	pn.lns[2].Close() // node 2, the old leader, is gone
	pn.start(t, 3, live.handle)
	tr := pn.start(t, 1, nil)
	waitHeard(t, tr, 3)
	var resolved atomic.Int32
	f := testPeerForwarder(t, tr, func() uint64 {
		if resolved.Add(1) <= 2 {
			return 2
		}
		return 3
	})
	w, _ := forwardOnce(t, f, 10*time.Second, "")
	if w.Code != http.StatusCreated {
		t.Fatalf("answer %d %s, want the new leader's 201", w.Code, w.Body)
	}
	h := w.Header()
	if h.Get(HeaderNode) != "1" || h.Get(HeaderOffset) != "42" || h.Get(HeaderReplayed) != "true" {
		t.Errorf("headers %v: want this node's X-Yakt-Node and the leader's X-Yakt-Offset and X-Yakt-Replayed", h)
	}
}

func TestPeerForwardToLeaderThatNeverAnswersEndsAtDeadline(t *testing.T) {
	// A leader that reads the request and never gets to answering it.
	pn := newPeerNet(t, 2)
	cancelled := make(chan struct{}, 4)
	pn.start(t, 2, func(ctx context.Context, from uint64, req *transport.Request) (*transport.Response, error) {
		<-ctx.Done()
		cancelled <- struct{}{}
		return nil, ctx.Err()
	})
	tr := pn.start(t, 1, nil)
	waitHeard(t, tr, 2)
	f := testPeerForwarder(t, tr, func() uint64 { return 2 })
	const deadline = 500 * time.Millisecond
	for _, key := range []string{"", "k1"} {
		timesOutByDeadline(t, f, deadline, key)
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatalf("key %q: the leader's handler was never told the follower gave up", key)
		}
	}
}

func TestPeerForwardResendsOnlyKeyedRequestsAfterTheyWereSent(t *testing.T) {
	pn := newPeerNet(t, 2)
	// dying is a leader process that reads the request and dies before it
	// answers: the request may have been applied.
	var dyingKeys []string
	var mu sync.Mutex
	var restart atomic.Bool // the dying process is followed by an answering one
	restarted := make(chan *answering, 1)
	dying := func(t *testing.T) {
		var self atomic.Pointer[transport.Transport]
		self.Store(pn.start(t, 2, func(ctx context.Context, from uint64, req *transport.Request) (*transport.Response, error) {
			mu.Lock()
			dyingKeys = append(dyingKeys, req.Header.Get(HeaderIdempotencyKey))
			mu.Unlock()
			again := restart.Load() // read now: the test moves on once this process is gone
			go func() {
				self.Load().Close() // waits for this handler, which ctx releases
				if again {
					a := &answering{}
					pn.start(t, 2, a.handle)
					restarted <- a
				}
			}()
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	}
	dying(t)
	tr := pn.start(t, 1, nil)
	waitHeard(t, tr, 2)
	f := testPeerForwarder(t, tr, func() uint64 { return 2 })

	w, _ := forwardOnce(t, f, 10*time.Second, "")
	if w.Code != http.StatusGatewayTimeout || errorCode(t, w) != "TIMEOUT" {
		t.Fatalf("without a key: answer %d %s, want 504 TIMEOUT (outcome unknown)", w.Code, w.Body)
	}
	mu.Lock()
	if len(dyingKeys) != 1 {
		t.Fatalf("without a key the leader got %d copies, want 1", len(dyingKeys))
	}
	mu.Unlock()

	// The same node comes back: it dies again on the keyed request, and
	// its next process answers the resend.
	restart.Store(true)
	dying(t)
	w, _ = forwardOnce(t, f, 10*time.Second, "key-1")
	if w.Code != http.StatusCreated {
		t.Fatalf("with a key: answer %d %s, want 201 from the resend", w.Code, w.Body)
	}
	next := <-restarted
	mu.Lock()
	defer mu.Unlock()
	if got := next.seen(); len(dyingKeys) != 2 || dyingKeys[1] != "key-1" || len(got) != 1 || got[0] != "key-1" {
		t.Fatalf("keys the leaders saw: %q then %q, want key-1 once each", dyingKeys[1:], got)
	}
}

func TestPeerForwardKeyedRequestMovesToNewLeader(t *testing.T) {
	pn := newPeerNet(t, 3)
	started := make(chan struct{}, 1)
	pn.start(t, 2, func(ctx context.Context, from uint64, req *transport.Request) (*transport.Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	next := &answering{}
	pn.start(t, 3, next.handle)
	tr := pn.start(t, 1, nil)
	waitHeard(t, tr, 2)
	waitHeard(t, tr, 3)
	var moved atomic.Bool
	f := testPeerForwarder(t, tr, func() uint64 {
		if moved.Load() {
			return 3
		}
		return 2
	})
	go func() {
		// Once the request is stuck on the old leader, another node wins
		// the election.
		<-started
		moved.Store(true)
	}()
	w, took := forwardOnce(t, f, 20*time.Second, "key-2")
	if w.Code != http.StatusCreated {
		t.Fatalf("answer %d %s after %v, want 201 from the new leader", w.Code, w.Body, took)
	}
	if keys := next.seen(); len(keys) != 1 || keys[0] != "key-2" {
		t.Fatalf("new leader saw keys %q", keys)
	}
}
