package api

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/certs"
)

// rawGet sends one GET on conn and reads the answer.
func rawGet(t *testing.T, conn net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /v1/topics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestConnectionLimit runs a real http.Server on LimitListener and
// ConnContext: up to the limit connections are served; the first request
// on a connection beyond it is answered 503 CONNECTION_LIMIT with
// Retry-After and Connection: close (and the connection closed); beyond
// twice the limit a connection is closed unread; closed connections free
// their places.
func TestConnectionLimit(t *testing.T) {
	const max = 2
	s := &Server{log: slog.New(slog.NewTextHandler(tLogWriter{t}, nil))}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{
		Handler: s.limitConnections(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
		})),
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
	}
	ll := LimitListener(l, max).(*limitListener)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ll)
	}()
	defer func() { hs.Close(); <-done }()

	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	// Two kept-alive connections, served and left open.
	var kept []net.Conn
	for range max {
		c, br := dial()
		if resp := rawGet(t, c, br); resp.StatusCode != http.StatusOK {
			t.Fatalf("connection within the limit: %d", resp.StatusCode)
		}
		kept = append(kept, c)
	}
	// The next two are answered 503 and closed.
	var over []net.Conn
	for range max {
		c, br := dial()
		over = append(over, c)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		resp := rawGet(t, c, br)
		body, _ := io.ReadAll(resp.Body)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "CONNECTION_LIMIT" ||
			resp.Header.Get("Retry-After") == "" || !resp.Close {
			t.Fatalf("connection beyond the limit: %d %s, Retry-After %q, close %v", resp.StatusCode, body, resp.Header.Get("Retry-After"), resp.Close)
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("the refused connection stays open: %v", err)
		}
	}
	// Hold two more open beyond the limit so that the next is the fifth:
	// closed without an answer.
	for _, c := range over {
		c.Close()
	}
	var held []net.Conn
	for range max {
		c, _ := dial()
		held = append(held, c)
	}
	// A dial completes in the kernel before the server accepts it.
	for deadline := time.Now().Add(10 * time.Second); ll.open.Load() < 2*max; {
		if time.Now().After(deadline) {
			t.Fatalf("the server accepted %d connections, want %d", ll.open.Load(), 2*max)
		}
		time.Sleep(time.Millisecond) // polling a condition, bounded above
	}
	c, br := dial()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET /v1/topics HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := br.ReadString('\n'); err == nil {
		t.Fatalf("a connection beyond twice the limit was answered: %q", line)
	}
	// Freed places are taken again.
	for _, c := range append(kept, held...) {
		c.Close()
	}
	c.Close()
	// The server notices the closes when its reads end.
	for deadline := time.Now().Add(10 * time.Second); ll.open.Load() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("closed connections never freed their places: %d open", ll.open.Load())
		}
		time.Sleep(time.Millisecond) // polling a condition, bounded above
	}
	c, br = dial()
	if resp := rawGet(t, c, br); resp.StatusCode != http.StatusOK {
		t.Fatalf("a connection after the others closed: %d", resp.StatusCode)
	}
}

func TestLimitListenerNoBound(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if LimitListener(l, 0) != l {
		t.Fatal("a limit of 0 wraps the listener")
	}
	if !strings.HasPrefix(l.Addr().String(), "127.0.0.1:") {
		t.Fatal(l.Addr())
	}
}

// TestConnectionLimitOverTLS: behind TLS (tls.NewListener over
// LimitListener, as the server wires them) a connection beyond the limit
// is still answered 503 CONNECTION_LIMIT, after its handshake.
func TestConnectionLimitOverTLS(t *testing.T) {
	ca, err := certs.NewAuthority("limits CA", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueNode("limits", 1, []string{"127.0.0.1"}, certs.Validity{NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{log: slog.New(slog.NewTextHandler(tLogWriter{t}, nil))}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{
		Handler:     s.limitConnections(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })),
		ConnContext: ConnContext, ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(tls.NewListener(LimitListener(l, 1), &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}))
	}()
	defer func() { hs.Close(); <-done }()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	get := func() *http.Response {
		t.Helper()
		// A transport per call: a connection of its own.
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + l.Addr().String() + "/v1/topics")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("first connection: %d", resp.StatusCode)
	}
	resp := get()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Fatalf("second connection over TLS: %d, Retry-After %q, close %v", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
}
