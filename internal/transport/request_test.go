package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// requestPair starts nodes 1 and 2 with fast keepalives and waits until
// node 1 has heard from node 2, so its requests are not refused as to a
// silent peer.
func requestPair(t *testing.T) (a, b *node) {
	t.Helper()
	nodes := startCluster(t, 2, func(id uint64, c *Config) { c.KeepaliveInterval = 20 * time.Millisecond })
	a, b = nodes[0], nodes[1]
	deadline := time.Now().Add(waitTimeout)
	for a.tr.LastHeard(2).IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("node 1 never heard from node 2")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded above
	}
	return a, b
}

func TestRequestRoundTrip(t *testing.T) {
	a, b := requestPair(t)
	type seen struct {
		from        uint64
		req         *Request
		hasDeadline bool
	}
	got := make(chan seen, 1)
	b.tr.SetRequestHandler(func(ctx context.Context, from uint64, req *Request) (*Response, error) {
		_, ok := ctx.Deadline()
		got <- seen{from, req, ok}
		return &Response{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "X-Yakt-Offset": {"42"}},
			Body: append([]byte(`{"echo":`), append(req.Body, '}')...)}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req := &Request{Method: "POST", URI: "/v1/topics?x=1", Body: []byte(`"orders"`),
		Header: http.Header{"Idempotency-Key": {"k1"}, "Content-Type": {"application/json"}}}
	resp, err := a.tr.Request(ctx, 2, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 201 || string(resp.Body) != `{"echo":"orders"}` || resp.Header.Get("X-Yakt-Offset") != "42" {
		t.Fatalf("answer %d %v %q", resp.Status, resp.Header, resp.Body)
	}
	s := recv(t, got, "the request at node 2")
	if s.from != 1 || s.req.Method != "POST" || s.req.URI != "/v1/topics?x=1" || string(s.req.Body) != `"orders"` ||
		s.req.Header.Get("Idempotency-Key") != "k1" || !s.hasDeadline {
		t.Fatalf("node 2 ran %+v from %d (deadline %v)", s.req, s.from, s.hasDeadline)
	}

	// Many at once share the stream and each gets its own answer.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`%d`, i)
			resp, err := a.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/", Body: []byte(body)})
			if err == nil && string(resp.Body) != `{"echo":`+body+`}` {
				err = fmt.Errorf("request %d got %q", i, resp.Body)
			}
			if err != nil {
				errs <- err
			}
		}()
		go func() { <-got }() // drain what the handler reports
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRequestWithoutHandlerIsNotRun(t *testing.T) {
	a, _ := requestPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := a.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/"})
	if !errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("err = %v, want ErrRequestNotRun", err)
	}
	if _, err := a.tr.Request(ctx, 9, &Request{Method: "POST", URI: "/"}); !errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("unknown peer: err = %v, want ErrRequestNotRun", err)
	}
}

// A caller that stops waiting cancels the request on the peer, and learns
// that its outcome is unknown.
func TestRequestDeadlineCancelsOnPeer(t *testing.T) {
	a, b := requestPair(t)
	started := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	b.tr.SetRequestHandler(func(ctx context.Context, from uint64, req *Request) (*Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		stopped <- ctx.Err()
		return &Response{Status: 504}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rctx, rcancel := context.WithCancel(ctx)
	go func() {
		<-started
		rcancel()
	}()
	_, err := a.tr.Request(rctx, 2, &Request{Method: "POST", URI: "/"})
	if err == nil || errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("err = %v, want an outcome-unknown error", err)
	}
	if err := recv(t, stopped, "the handler to be cancelled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler ctx ended with %v, want canceled by the cancel frame", err)
	}
	// The stream carries on.
	b.tr.SetRequestHandler(func(context.Context, uint64, *Request) (*Response, error) { return &Response{Status: 200}, nil })
	if resp, err := a.tr.Request(ctx, 2, &Request{Method: "GET", URI: "/"}); err != nil || resp.Status != 200 {
		t.Fatalf("after a cancel: %v %+v", err, resp)
	}
}

// A connection lost while the peer runs a request leaves its outcome
// unknown; once the peer is gone, requests are refused "not run".
func TestRequestLostMidwayIsOutcomeUnknown(t *testing.T) {
	a, b := requestPair(t)
	started := make(chan struct{}, 1)
	b.tr.SetRequestHandler(func(ctx context.Context, from uint64, req *Request) (*Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	go func() {
		<-started
		b.tr.Close()
	}()
	_, err := a.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/"})
	if err == nil || errors.Is(err, ErrRequestNotRun) || ctx.Err() != nil {
		t.Fatalf("err = %v, want an outcome-unknown error before the deadline", err)
	}
	_, err = a.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/"})
	if !errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("to a closed peer: err = %v, want ErrRequestNotRun", err)
	}
}

// Nothing is written to a peer that has gone silent.
func TestRequestToSilentPeerIsNotRun(t *testing.T) {
	// Peer 2's address is bound, but no transport behind it ever speaks.
	ln := listen(t)
	n := startNode(t, 3, ln, map[uint64]string{3: ln.Addr().String(), 2: listen(t).Addr().String()}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	start := time.Now()
	_, err := n.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/"})
	if !errors.Is(err, ErrRequestNotRun) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v, want ErrRequestNotRun at once", err, time.Since(start))
	}
}

func TestRequestFrameCodec(t *testing.T) {
	req := &Request{Method: "DELETE", URI: "/v1/topics/a?b=c", Header: http.Header{"A": {"1", "2"}}, Body: []byte("xyz")}
	b, err := encodeRequest(req, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	kind, _, payload, err := readReqFrame(bytes.NewReader(b), maxRequestFrameBytes)
	if err != nil || kind != reqFrameRequest {
		t.Fatal(kind, err)
	}
	got, budget, err := decodeRequest(payload)
	if err != nil || got.Method != "DELETE" || got.URI != req.URI || len(got.Header["A"]) != 2 || string(got.Body) != "xyz" || budget != 1500*time.Millisecond {
		t.Fatalf("%+v %v %v", got, budget, err)
	}
	for i := range len(payload) - 3 { // every truncation inside the fields is refused
		if _, _, err := decodeRequest(payload[:i]); err == nil {
			t.Fatalf("truncated at %d: decoded", i)
		}
	}
	big := &Request{Method: "POST", URI: "/", Body: make([]byte, maxRequestFrameBytes)}
	if _, err := encodeRequest(big, 0); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("oversized request: %v", err)
	}
}

// When the forwarding side goes away, the requests it left running on
// the peer are cancelled there, though the peer itself carries on.
func TestRequestStreamLossCancelsHandlers(t *testing.T) {
	a, b := requestPair(t)
	started := make(chan struct{}, 1)
	stopped := make(chan struct{}, 1)
	b.tr.SetRequestHandler(func(ctx context.Context, from uint64, req *Request) (*Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		stopped <- struct{}{}
		return nil, ctx.Err()
	})
	go func() {
		<-started
		a.tr.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // no deadline the handler could see end first
	defer cancel()
	if _, err := a.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/"}); err == nil || errors.Is(err, ErrRequestNotRun) {
		t.Fatalf("err = %v, want outcome unknown", err)
	}
	recv(t, stopped, "the handler to be cancelled once the forwarding side was gone")
}

// FuzzRequestFrames decodes arbitrary bytes as either side of a request
// stream reads them. It must never panic, and a request or answer it
// accepts must re-encode to the frame it read.
func FuzzRequestFrames(f *testing.F) {
	req, _ := encodeRequest(&Request{Method: "POST", URI: "/v1/topics", Header: http.Header{"Idempotency-Key": {"k"}}, Body: []byte("{}")}, time.Second)
	ans, _ := encodeAnswer(7, &Response{Status: 201, Header: http.Header{"X-Yakt-Offset": {"4"}}, Body: []byte("{}")})
	f.Add(req)
	f.Add(ans)
	f.Add(encodeReason(reqFrameNotRun, 3, "no"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, id, payload, err := readReqFrame(bytes.NewReader(b), maxRequestFrameBytes)
		if err != nil {
			return
		}
		switch kind {
		case reqFrameRequest:
			r, budget, err := decodeRequest(payload)
			if err != nil {
				return
			}
			// Header order may differ on re-encoding; compare sizes and the
			// fields that have one encoding.
			again, err := encodeRequest(r, budget)
			if err == nil && len(again) != 4+reqHeaderBytes+len(payload) {
				t.Fatalf("request re-encodes to %d bytes, read %d", len(again), 4+reqHeaderBytes+len(payload))
			}
		case reqFrameAnswer:
			a, err := decodeAnswer(payload)
			if err != nil {
				return
			}
			again, err := encodeAnswer(id, a)
			if err == nil && len(again) != 4+reqHeaderBytes+len(payload) {
				t.Fatalf("answer re-encodes to %d bytes, read %d", len(again), 4+reqHeaderBytes+len(payload))
			}
		}
	})
}
