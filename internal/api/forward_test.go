package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/defaults"
)

// These tests forward through real TCP to real listeners that play the
// leader's part: one that refuses, one that never answers, one that drops
// a request it has read, one that closes kept-alive connections.

type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testForwarder(t *testing.T, leader func() (uint64, string, bool)) *forwarder {
	f := &forwarder{self: 1, leader: leader, log: slog.New(slog.NewTextHandler(tLogWriter{t}, nil)),
		pooled: newForwardClient(defaults.ForwardDialTimeout, true, nil), fresh: newForwardClient(defaults.ForwardDialTimeout, false, nil)}
	t.Cleanup(f.pooled.CloseIdleConnections)
	return f
}

// forwardOnce runs one request through f with the given deadline and
// returns the answer this node would send.
func forwardOnce(t *testing.T, f *forwarder, deadline time.Duration, key string) (*httptest.ResponseRecorder, time.Duration) {
	t.Helper()
	body := []byte(`{"name":"orders"}`)
	r := httptest.NewRequest(http.MethodPost, "/v1/topics", strings.NewReader(string(body)))
	if key != "" {
		r.Header.Set(HeaderIdempotencyKey, key)
	}
	w := httptest.NewRecorder()
	w.Header().Set(HeaderNode, "1") // as common sets it on the follower
	// Timed from before the deadline is set, so a request that ends at
	// its deadline is never measured as ending before it.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	f.serve(ctx, w, r, body, key != "", func() { t.Error("ran locally on a follower") })
	return w, time.Since(start)
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var eb contract.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
		t.Fatalf("answer %d %q: %v", w.Code, w.Body, err)
	}
	return string(eb.Error.Code)
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// rawLeader serves HTTP/1.1 by hand so a test decides, per connection and
// request, whether to answer, drop the connection, or close it idle.
type rawLeader struct {
	l    net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	keys []string // Idempotency-Key of every request read, in order
	// handle decides what to do with request n (from 0) read on
	// connection c (from 0): answer, or close the connection.
	handle func(c, n int) (answer bool, closeAfter bool)
}

func startRawLeader(t *testing.T, handle func(c, n int) (bool, bool)) *rawLeader {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawLeader{l: l, handle: handle}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for c := 0; ; c++ {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serveConn(c, conn) }()
		}
	}()
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *rawLeader) serveConn(c int, conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		s.keys = append(s.keys, req.Header.Get(HeaderIdempotencyKey))
		s.mu.Unlock()
		answer, closeAfter := s.handle(c, n)
		if answer {
			_, _ = io.WriteString(conn, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"+
				"X-Yakt-Node: 9\r\nX-Yakt-Offset: 42\r\nX-Yakt-Replayed: true\r\nContent-Length: 2\r\n\r\n{}")
		}
		if closeAfter {
			return
		}
	}
}

func (s *rawLeader) seenKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// blackHole accepts connections and never reads from them.
type blackHole struct {
	net.Listener
	accepted chan struct{} // closed at the first connection
}

func startBlackHole(t *testing.T) *blackHole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{Listener: l, accepted: make(chan struct{})}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if conns = append(conns, c); len(conns) == 1 {
				close(b.accepted)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return b
}

func TestForwardRetriesRefusedDialUntilDeadline(t *testing.T) {
	addr := refusedAddr(t)
	var resolved atomic.Int32
	f := testForwarder(t, func() (uint64, string, bool) { resolved.Add(1); return 2, addr, true })
	const deadline = 500 * time.Millisecond
	w, took := forwardOnce(t, f, deadline, "")
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "NO_LEADER" {
		t.Fatalf("answer %d %s, want 503 NO_LEADER", w.Code, w.Body)
	}
	if n := resolved.Load(); n < 3 {
		t.Errorf("leader resolved %d times, want a retry after each refused dial", n)
	}
	if took < deadline || took > deadline+2*time.Second {
		t.Errorf("answered after %v, want at the %v deadline", took, deadline)
	}
}

func TestForwardReresolvesLeaderEachAttempt(t *testing.T) {
	dead := refusedAddr(t)
	live := startRawLeader(t, func(int, int) (bool, bool) { return true, false })
	var resolved atomic.Int32
	f := testForwarder(t, func() (uint64, string, bool) {
		if resolved.Add(1) <= 2 {
			return 2, dead, true // the old leader, gone
		}
		return 3, live.l.Addr().String(), true
	})
	w, _ := forwardOnce(t, f, 10*time.Second, "")
	if w.Code != http.StatusCreated {
		t.Fatalf("answer %d %s, want the new leader's 201", w.Code, w.Body)
	}
	h := w.Header()
	if h.Get(HeaderNode) != "1" || h.Get(HeaderOffset) != "42" || h.Get("X-Yakt-Replayed") != "true" {
		t.Errorf("headers %v: want this node's X-Yakt-Node and the leader's X-Yakt-Offset and X-Yakt-Replayed", h)
	}
}

func TestForwardToLeaderThatNeverAnswersEndsAtDeadline(t *testing.T) {
	// A leader whose process is paused: the kernel accepts the connection
	// and the request, nothing reads or answers it.
	l := startBlackHole(t)
	f := testForwarder(t, func() (uint64, string, bool) { return 2, l.Addr().String(), true })
	const deadline = 500 * time.Millisecond
	for _, key := range []string{"", "k1"} {
		timesOutByDeadline(t, f, deadline, key)
	}
}

// timesOutByDeadline forwards one request under deadline and expects
// 504 TIMEOUT no later than shortly after it.
func timesOutByDeadline(t *testing.T, f *forwarder, deadline time.Duration, key string) {
	t.Helper()
	w, took := forwardOnce(t, f, deadline, key)
	if w.Code != http.StatusGatewayTimeout || errorCode(t, w) != "TIMEOUT" {
		t.Fatalf("key %q: answer %d %s, want 504 TIMEOUT", key, w.Code, w.Body)
	}
	if took > deadline+2*time.Second {
		t.Errorf("key %q: answered after %v, want by the %v deadline", key, took, deadline)
	}
}

func TestForwardResendsOnlyKeyedRequestsAfterTheyWereSent(t *testing.T) {
	// On its first two connections the leader reads the request and drops
	// the connection unanswered: the request may have been applied.
	leader := startRawLeader(t, func(c, n int) (bool, bool) { return c > 1, c <= 1 })
	f := testForwarder(t, func() (uint64, string, bool) { return 2, leader.l.Addr().String(), true })

	w, _ := forwardOnce(t, f, 10*time.Second, "")
	if w.Code != http.StatusGatewayTimeout || errorCode(t, w) != "TIMEOUT" {
		t.Fatalf("without a key: answer %d %s, want 504 TIMEOUT (outcome unknown)", w.Code, w.Body)
	}
	if got := len(leader.seenKeys()); got != 1 {
		t.Fatalf("without a key the leader got %d copies, want 1", got)
	}

	w, _ = forwardOnce(t, f, 10*time.Second, "key-1")
	if w.Code != http.StatusCreated {
		t.Fatalf("with a key: answer %d %s, want 201 from the resend", w.Code, w.Body)
	}
	keys := leader.seenKeys()[1:]
	if len(keys) != 2 || keys[0] != "key-1" || keys[1] != "key-1" {
		t.Fatalf("keys the leader saw: %q, want key-1 twice", keys)
	}
}

func TestForwardKeyedRequestMovesToNewLeader(t *testing.T) {
	stuck := startBlackHole(t)
	next := startRawLeader(t, func(int, int) (bool, bool) { return true, false })
	var moved atomic.Bool
	f := testForwarder(t, func() (uint64, string, bool) {
		if moved.Load() {
			return 3, next.l.Addr().String(), true
		}
		return 2, stuck.Addr().String(), true
	})
	go func() {
		// Once the request is stuck on the old leader, another node wins
		// the election.
		<-stuck.accepted
		moved.Store(true)
	}()
	w, took := forwardOnce(t, f, 20*time.Second, "key-2")
	if w.Code != http.StatusCreated {
		t.Fatalf("answer %d %s after %v, want 201 from the new leader", w.Code, w.Body, took)
	}
	if keys := next.seenKeys(); len(keys) != 1 || keys[0] != "key-2" {
		t.Fatalf("new leader saw keys %q", keys)
	}
}

// The broker fetch is served by the node asked; only its heartbeat is a
// forwarded route, so a long poll never holds a forward open.
func TestFetchIsServedLocallyAndItsHeartbeatForwarded(t *testing.T) {
	kinds := map[string]bool{}
	for _, rt := range routes {
		kinds[rt.pattern] = rt.write
	}
	if w, ok := kinds["POST /v1/metadata/fetch"]; !ok || w {
		t.Errorf("POST /v1/metadata/fetch: listed %v, forwarded %v; want a route served locally", ok, w)
	}
	for _, p := range []string{heartbeatPattern, heartbeatBatchPattern} {
		if w, ok := kinds[p]; !ok || !w {
			t.Errorf("%s: listed %v, forwarded %v; want a forwarded route", p, ok, w)
		}
	}
}

// Only keyed writes and the fetch's heartbeat may be resent once they may have
// reached the leader.
func TestForwardResendable(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{heartbeatPattern, "", true},
		{heartbeatBatchPattern, "", true},
		{"POST /v1/metadata/fetch", "", false}, // never forwarded at all
		{"POST /v1/topics", "k1", true},
		{"POST /v1/topics", "", false},
		{"POST /v1/producer-ids", "", false},
		{"POST /v1/quorum/leader", "k2", false},
		{"DELETE /v1/quorum/members/{nodeId}", "k3", false},
		{"POST /v1/quorum/observers", "k4", false},
		{"POST /v1/quorum/voters", "k5", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Pattern = tc.pattern
		if tc.key != "" {
			r.Header.Set(HeaderIdempotencyKey, tc.key)
		}
		if got := resendable(r); got != tc.want {
			t.Errorf("%s key %q: resendable %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}
