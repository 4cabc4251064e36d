package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
)

// selfSigned writes a self-signed client certificate named cn and its
// key as PEM files in dir.
func selfSigned(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// seen is what a TLS test server saw of one request.
type seen struct {
	path, authz, clientCN string
	tls                   bool
}

// tlsNode is an HTTPS server acting as node id of a cluster led by node
// leader, which asks for a client certificate and answers every path
// with answer.
type tlsNode struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
}

func startTLSNode(t *testing.T, id, leader int, answer func(w http.ResponseWriter, r *http.Request)) *tlsNode {
	n := &tlsNode{}
	n.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{path: r.URL.Path, authz: r.Header.Get("Authorization"), tls: r.TLS != nil}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			s.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		n.mu.Lock()
		n.requests = append(n.requests, s)
		n.mu.Unlock()
		w.Header().Set("X-Yakt-Node", fmt.Sprint(id))
		w.Header().Set("X-Yakt-Leader", fmt.Sprint(leader))
		answer(w, r)
	}))
	// The client's certificate is self-signed: the server asks for one,
	// takes any and reports it, which is what the test checks.
	n.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	n.StartTLS()
	t.Cleanup(n.Close)
	return n
}

func (n *tlsNode) seen() []seen {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]seen(nil), n.requests...)
}

// caFile writes the servers' certificate (httptest's, the same for
// every server) as the CA file a client verifies them with.
// trustingClient is a client of n alone that trusts n's certificate and
// presents none, with short backoffs; closed when the test ends.
func trustingClient(t *testing.T, dir string, n *tlsNode) *client.Client {
	t.Helper()
	tlsCfg, err := client.TLSFromFiles(caFile(t, dir, n.Server), "", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Endpoints: []string{n.URL}, TLS: tlsCfg, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func caFile(t *testing.T, dir string, s *httptest.Server) string {
	path := filepath.Join(dir, "ca.crt")
	writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
	return path
}

// TestTLSClientSendsCertificateAndTokenAndKeepsHTTPS: a client of
// https:// endpoints built with TLSFromFiles verifies the servers with
// the CA file, presents its certificate, sends its bearer token with
// every request, and reaches the leader it learned of over https too.
func TestTLSClientSendsCertificateAndTokenAndKeepsHTTPS(t *testing.T) {
	dir := t.TempDir()
	writes := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"topics":[]}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"NO_LEADER","message":"ask the leader"}}`)
	}
	follower := startTLSNode(t, 1, 2, writes)
	leader := startTLSNode(t, 2, 2, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `{"topics":[]}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"name":"orders","topicId":"AAAAAAAAAAAAAAAAAAAAAA","partitions":[]}`)
	})
	certFile, keyFile := selfSigned(t, dir, "alice")
	tlsCfg, err := client.TLSFromFiles(caFile(t, dir, follower.Server), certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2 at least", tlsCfg.MinVersion)
	}
	// The follower first, given as host:port: with TLS set it is https.
	c, err := client.New(client.Config{Endpoints: []string{strings.TrimPrefix(follower.URL, "https://"), leader.URL},
		TLS: tlsCfg, Token: "s3cret", MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, ep := range c.Endpoints() {
		if !strings.HasPrefix(ep, "https://") {
			t.Errorf("endpoint %q is not https", ep)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A read at the follower teaches the client that node 2 leads; the
	// write then goes to node 2.
	if _, err := c.Topics(ctx); err != nil {
		t.Fatalf("list topics: %v", err)
	}
	if _, _, err := c.CreateTopic(ctx, client.CreateTopicRequest{Name: "orders"}); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	all := append(follower.seen(), leader.seen()...)
	if len(leader.seen()) == 0 {
		t.Fatalf("the leader got no request; the follower got %+v", follower.seen())
	}
	for _, s := range all {
		if !s.tls || s.authz != "Bearer s3cret" || s.clientCN != "alice" {
			t.Errorf("request %s arrived with TLS %v, Authorization %q, client certificate %q; want TLS, the token and alice's certificate", s.path, s.tls, s.authz, s.clientCN)
		}
	}
}

// TestAuthErrorsAreFinalAndLimitsAreRetried: a 401 or a 403 is the
// answer to the credential, the same at every node: the client gives up
// at once with ErrUnauthenticated / ErrForbidden. A 429
// TOO_MANY_LONG_POLLS is retried after its Retry-After.
func TestAuthErrorsAreFinalAndLimitsAreRetried(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{http.StatusUnauthorized, "UNAUTHENTICATED", client.ErrUnauthenticated},
		{http.StatusForbidden, "FORBIDDEN", client.ErrForbidden},
	} {
		t.Run(tc.code, func(t *testing.T) {
			n := startTLSNode(t, 1, 1, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"error":{"code":%q,"message":"no"}}`, tc.code)
			})
			c := trustingClient(t, dir, n)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, _, err := c.CreateTopic(ctx, client.CreateTopicRequest{Name: "orders"}); !errors.Is(err, tc.want) {
				t.Fatalf("write answered %d: %v, want %v", tc.status, err, tc.want)
			}
			if _, err := c.Topics(ctx); !errors.Is(err, tc.want) {
				t.Fatalf("read answered %d: %v, want %v", tc.status, err, tc.want)
			}
			if got := len(n.seen()); got != 2 {
				t.Fatalf("%d requests for one write and one read answered %d: want 2, no retries", got, tc.status)
			}
		})
	}
	t.Run("TOO_MANY_LONG_POLLS", func(t *testing.T) {
		var calls atomic.Int32
		n := startTLSNode(t, 1, 1, func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":{"code":"TOO_MANY_LONG_POLLS","message":"later"}}`)
				return
			}
			fmt.Fprint(w, `{"topics":[]}`)
		})
		c := trustingClient(t, dir, n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := c.Topics(ctx); err != nil {
			t.Fatalf("read after a 429: %v", err)
		}
		if took := time.Since(start); took < time.Second {
			t.Fatalf("retried after %v, before the answer's Retry-After of 1 s", took)
		}
	})
}

// TestTLSFromFilesRefusesHalfACertificate: a certificate without its
// key (or the reverse), or a CA file without a certificate, is an error.
func TestTLSFromFilesRefusesHalfACertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "alice")
	if _, err := client.TLSFromFiles("", certFile, ""); err == nil {
		t.Error("a certificate without a key: no error")
	}
	if _, err := client.TLSFromFiles("", "", keyFile); err == nil {
		t.Error("a key without a certificate: no error")
	}
	if _, err := client.TLSFromFiles(keyFile, "", ""); err == nil {
		t.Error("a CA file holding a key only: no error")
	}
	cfg, err := client.TLSFromFiles("", certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs != nil || len(cfg.Certificates) != 1 {
		t.Errorf("no CA file: RootCAs %v (want nil: the system's), %d certificates (want 1)", cfg.RootCAs, len(cfg.Certificates))
	}
}

// TestUntrustedServerIsNotRetried: a server whose certificate the
// client does not trust gets the same verdict at every attempt: the
// call ends at the first with the verification error.
func TestUntrustedServerIsNotRetried(t *testing.T) {
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached the untrusted server: %s", r.URL)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.StartTLS()
	defer s.Close()
	// The system's roots: httptest's certificate is not among them.
	tlsCfg, err := client.TLSFromFiles("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Endpoints: []string{s.URL}, TLS: tlsCfg, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Topics(ctx)
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok {
		t.Fatalf("list topics at an untrusted server: %v, want a certificate verification error", err)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections to the untrusted server, want 1 (no retry)", n)
	}
}
