package client_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// dropProxy is a real HTTP/1.1 proxy in front of one node. It reads every
// request, records its Idempotency-Key, and drops the connection — after
// reading the whole request, without forwarding it — the first time it
// sees a key; everything else it forwards and answers.
type dropProxy struct {
	l       net.Listener
	backend string
	wg      sync.WaitGroup
	mu      sync.Mutex
	seen    []string // keys of the writes read, in order, one per attempt
	dropped map[string]bool
}

func startDropProxy(t *testing.T, backend string) *dropProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{l: l, backend: backend, dropped: map[string]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(conn) }()
		}
	}()
	t.Cleanup(func() { l.Close(); p.wg.Wait() })
	return p
}

func (p *dropProxy) URL() string { return "http://" + p.l.Addr().String() }

func (p *dropProxy) keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func (p *dropProxy) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	var be net.Conn
	var bbr *bufio.Reader
	defer func() {
		if be != nil {
			be.Close()
		}
	}()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		if key := req.Header.Get("Idempotency-Key"); key != "" {
			p.mu.Lock()
			p.seen = append(p.seen, key)
			drop := !p.dropped[key]
			p.dropped[key] = true
			p.mu.Unlock()
			if drop {
				return // the request was read; its sender never learns what became of it
			}
		}
		if be == nil {
			if be, err = net.Dial("tcp", p.backend); err != nil {
				return
			}
			bbr = bufio.NewReader(be)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if err := req.Write(be); err != nil {
			return
		}
		resp, err := http.ReadResponse(bbr, req)
		if err != nil {
			return
		}
		err = resp.Write(conn)
		resp.Body.Close()
		if err != nil {
			return
		}
	}
}

var randomKey = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestWriteWhoseConnectionBrokeIsRetriedWithTheSameKey(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	p := startDropProxy(t, c.Server(lead).HTTPAddr())
	cl, err := client.New(client.Config{Endpoints: []string{p.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "dropped-once"}); err != nil {
		t.Fatalf("CreateTopic through a proxy that drops its first attempt: %v", err)
	}
	keys := p.keys()
	if len(keys) < 2 || !randomKey.MatchString(keys[0]) {
		t.Fatalf("keys sent: %q, want two or more attempts with a 128-bit hex key", keys)
	}
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("keys sent: %q, want the same key on every attempt", keys)
		}
	}

	// A key the caller chose is the one sent, on every attempt.
	kctx := client.WithIdempotencyKey(ctx, "orders-create-7")
	if _, _, err := cl.CreateTopic(kctx, client.CreateTopicRequest{Name: "own-key"}); err != nil {
		t.Fatal(err)
	}
	if got := p.keys()[len(keys):]; len(got) < 2 || slices.ContainsFunc(got, func(k string) bool { return k != "orders-create-7" }) {
		t.Fatalf("keys sent with WithIdempotencyKey: %q", got)
	}
	if _, _, err := cl.CreateTopic(client.WithIdempotencyKey(ctx, "bad\tkey"), client.CreateTopicRequest{Name: "x"}); err == nil {
		t.Fatal("a key with a tab was accepted")
	}
}

// Writes go through the followers only while the leader is killed: every
// call ends with an answer, none with an unknown outcome, and every
// success is in the final state.
func TestWritesThroughFollowersWhileLeaderIsKilled(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	var eps []string
	for _, id := range c.IDs() {
		if id != lead {
			eps = append(eps, c.URL(id))
		}
	}
	cl, err := client.New(client.Config{Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var (
		mu        sync.Mutex
		created   []string // answered success
		successes atomic.Int64
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", g, i)
				ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
				_, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: name})
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					created = append(created, name)
					successes.Add(1)
				default:
					// Not even TOPIC_ALREADY_EXISTS: a resend of a write an
					// earlier attempt applied is answered with its replay.
					t.Errorf("CreateTopic %s: %v (want success: every name is new)", name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wait := func(n int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := testcluster.WaitFor(ctx, func() bool { return successes.Load() >= n }); err != nil {
			t.Errorf("%d writes succeeded, want %d: %v", successes.Load(), n, err)
		}
	}
	wait(8)
	c.Kill(lead)
	wait(successes.Load() + 12)
	close(stop)
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := cl.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]int{}
	for _, tp := range topics {
		have[tp.Name]++
	}
	for _, name := range created {
		if have[name] != 1 {
			t.Errorf("topic %s answered created but is in the final state %d times", name, have[name])
		}
	}
}

// A long poll longer than the client's per-attempt timeout succeeds: its
// attempt deadline grows by its wait.
func TestLongPollOutlivesRequestTimeout(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	c.MustLeader()
	const timeout = 300 * time.Millisecond
	cl, err := client.New(client.Config{Endpoints: c.URLs(), RequestTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := cl.ClientFetch(ctx, client.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hw := snap.HighWatermark
	start := time.Now()
	res, err := cl.ClientFetch(ctx, client.FetchOptions{Offset: &hw, MaxWait: 5 * timeout})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("long poll of %v with a %v request timeout: %v", 5*timeout, timeout, err)
	}
	if res.Mode != "diff" || len(res.Records) != 0 || took < 4*timeout {
		t.Fatalf("long poll answered %+v after %v, want an empty diff after about %v", res, took, 5*timeout)
	}
}

func TestNewKeepsCallersEndpoints(t *testing.T) {
	eps := []string{"127.0.0.1:8001/", "http://127.0.0.1:8002"}
	want := slices.Clone(eps)
	if _, err := client.New(client.Config{Endpoints: eps}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eps, want) {
		t.Fatalf("New changed the caller's endpoints to %q, want %q", eps, want)
	}
}

// What a write ends with when its context ends: an unknown outcome after
// 504s, a definite "not applied" after 503s.
func TestWriteUntilContextEnds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		code    contract.Code
		unknown bool
	}{
		{"timeout", http.StatusGatewayTimeout, "TIMEOUT", true},
		{"no leader", http.StatusServiceUnavailable, "NO_LEADER", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				keys []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"error":{"code":%q,"message":"m"}}`, tc.code)
			}))
			defer srv.Close()
			// The context ends right after the client has read the second
			// answer, so it ends between attempts, never while one is in
			// flight (an attempt cut off is an unknown outcome of its own).
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			answered := 0
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := tr.RoundTrip(r)
				if err == nil {
					resp.Body = closeHook{resp.Body, func() {
						if answered++; answered == 2 {
							cancel()
						}
					}}
				}
				return resp, err
			})}
			cl, err := client.New(client.Config{Endpoints: []string{srv.URL}, HTTPClient: hc, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			_, _, err = cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "t"})
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.Code != tc.code || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want the context's end and the last %s", err, tc.code)
			}
			if got := errors.Is(err, client.ErrUnknownOutcome); got != tc.unknown {
				t.Fatalf("errors.Is(%v, ErrUnknownOutcome) = %v, want %v", err, got, tc.unknown)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(keys) != 2 || keys[0] == "" || slices.ContainsFunc(keys, func(k string) bool { return k != keys[0] }) {
				t.Fatalf("keys sent: %q, want several attempts with one key", keys)
			}
		})
	}
	if !errors.Is(&client.Error{Status: 504, Code: "TIMEOUT"}, client.ErrUnknownOutcome) {
		t.Error("a server's 504 TIMEOUT does not match ErrUnknownOutcome")
	}
	if errors.Is(&client.Error{Status: 503, Code: "NO_LEADER"}, client.ErrUnknownOutcome) {
		t.Error("503 NO_LEADER matches ErrUnknownOutcome")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeHook runs onClose when the client is done with an answer's body.
type closeHook struct {
	io.ReadCloser
	onClose func()
}

func (h closeHook) Close() error {
	err := h.ReadCloser.Close()
	h.onClose()
	return err
}
