package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
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

	"github.com/yakt/yakt/internal/certs"
)

// pki is a throwaway CA with files for one node, in a temporary directory.
type pki struct {
	dir string
	ca  *certs.Authority
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := certs.NewAuthority("server test CA", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), ca: ca}
	p.write(t, "ca.crt", ca.CertPEM)
	return p
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func validity() certs.Validity {
	return certs.Validity{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
}

// node issues node id's certificate of cluster and sets cfg's TLS and
// access files to it.
func (p *pki) node(t *testing.T, cfg *Config, cluster string, id uint64) {
	t.Helper()
	certPEM, keyPEM, err := p.ca.IssueNode(cluster, id, []string{"127.0.0.1", "localhost"}, validity())
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSCertFile = p.write(t, "node.crt", certPEM)
	cfg.TLSKeyFile = p.write(t, "node.key", keyPEM)
	cfg.TLSCAFile = filepath.Join(p.dir, "ca.crt")
	cfg.AccessFile = p.write(t, "access", []byte("admin admin\n"))
}

// client is an HTTPS client presenting a client certificate named cn.
func (p *pki) client(t *testing.T, cn string) *http.Client {
	t.Helper()
	certPEM, keyPEM, err := p.ca.IssueClient(cn, validity())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.ca.CertPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// singleNode is the configuration of a one-node cluster on loopback.
func singleNode(t *testing.T, cluster string) Config {
	peer := freeAddr(t)
	return Config{NodeID: 1, ClusterID: cluster, DataDir: filepath.Join(t.TempDir(), "data"), Voters: map[uint64]string{1: peer},
		ListenPeer: peer, ListenHTTP: "127.0.0.1:0", TickInterval: 20 * time.Millisecond}
}

// notFormatted fails when a refused start wrote to the data directory.
func notFormatted(t *testing.T, cfg Config) {
	t.Helper()
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("a refused start left its data directory %s behind (%v)", cfg.DataDir, err)
	}
}

// TestCertificateOfAnotherNodeIsRefused: a node whose certificate names
// another node id (or a node of another cluster) does not start: its
// peers would refuse it, and on their HTTP ports it would act as the
// other node.
func TestCertificateOfAnotherNodeIsRefused(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name, cluster string
		id            uint64
		want          string
	}{
		{"another node", "refuse", 2, "names node 2"},
		{"another cluster", "elsewhere", 1, "does not name a node of cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := singleNode(t, "refuse")
			p.node(t, &cfg, tc.cluster, tc.id)
			_, err := Start(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "node-1.refuse") {
				t.Fatalf("start with the certificate of node %d of %q: %v, want a refusal saying %q and naming node-1.refuse", tc.id, tc.cluster, err, tc.want)
			}
			notFormatted(t, cfg)
		})
	}
}

// TestUnsafeConfigurationsAreRefused: half a TLS configuration, TLS
// without an access file, and plain TCP on a non-loopback address
// without --insecure are each refused with a message saying what to do.
func TestUnsafeConfigurationsAreRefused(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name   string
		change func(cfg *Config)
		want   string
	}{
		{"no key", func(cfg *Config) { p.node(t, cfg, "unsafe", 1); cfg.TLSKeyFile = "" }, "all three of --tls-cert, --tls-key and --tls-ca"},
		{"no access file", func(cfg *Config) { p.node(t, cfg, "unsafe", 1); cfg.AccessFile = "" }, "docs/security.md"},
		{"tokens without TLS and forwarding over HTTP", func(cfg *Config) {
			cfg.AccessFile = p.write(t, "access-plain", []byte("admin admin\n"))
			cfg.ForwardOverHTTP = true
		}, "peer hop"},
		{"plain HTTP on every interface", func(cfg *Config) { cfg.ListenHTTP = "0.0.0.0:0"; cfg.AdvertiseHTTP = "127.0.0.1:1" }, "--insecure"},
		{"plain peers on every interface", func(cfg *Config) {
			cfg.ListenPeer = "0.0.0.0:0"
			cfg.AdvertisePeer = cfg.Voters[1]
		}, "peer port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := singleNode(t, "unsafe")
			tc.change(&cfg)
			_, err := Start(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want a refusal saying %q", err, tc.want)
			}
			notFormatted(t, cfg)
		})
	}
}

// syncLog is a log destination tests read while the node writes.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestInsecureStartsAndWarns: with Insecure, plain TCP on every
// interface starts, and the log says so.
func TestInsecureStartsAndWarns(t *testing.T) {
	cfg := singleNode(t, "insecure")
	cfg.ListenHTTP, cfg.AdvertiseHTTP, cfg.Insecure = "0.0.0.0:0", "127.0.0.1:1", true
	var logs syncLog
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start with Insecure: %v", err)
	}
	s.Kill()
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"INSECURE`) {
		t.Fatalf("no INSECURE warning in the log:\n%s", logs.String())
	}
}

// TestTLSNodeServesHTTPSAndReloads: a TLS node answers HTTPS to a
// client certificate of its CA (and no plain HTTP), and Reload picks up
// the files again without an error.
func TestTLSNodeServesHTTPSAndReloads(t *testing.T) {
	p := newPKI(t)
	cfg := singleNode(t, "tls")
	p.node(t, &cfg, "tls", 1)
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start with TLS: %v", err)
	}
	defer s.Kill()
	admin := p.client(t, "admin")
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := admin.Get("https://" + s.HTTPAddr() + "/v1/quorum")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"leaderId":1`)) {
				break
			}
			err = &statusError{resp.Status, string(body)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/quorum over HTTPS with the admin's certificate: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Plain HTTP to the TLS port gets no answer of the API.
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + s.HTTPAddr() + "/v1/quorum"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP to the TLS port answered 200: %s", body)
		}
	}
	// A certificate rewritten on disk (renewed) is taken by Reload.
	certPEM, keyPEM, err := p.ca.IssueNode("tls", 1, []string{"127.0.0.1"}, validity())
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "node.crt", certPEM)
	p.write(t, "node.key", keyPEM)
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got, want := s.sec.files.Leaf().SerialNumber, mustLeaf(t, certPEM).SerialNumber; got.Cmp(want) != 0 {
		t.Fatalf("after Reload the node's certificate has serial %v, want the new one's %v", got, want)
	}
	// The expiry metric follows the certificate loaded now.
	fams, err := s.cfg.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var expiry float64
	for _, f := range fams {
		if f.GetName() == "yakt_tls_certificate_expiry_timestamp_seconds" {
			expiry = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if want := float64(mustLeaf(t, certPEM).NotAfter.Unix()); expiry != want {
		t.Fatalf("yakt_tls_certificate_expiry_timestamp_seconds is %v, want the new certificate's %v", expiry, want)
	}
	// A broken file is refused and the node keeps the certificate it had.
	p.write(t, "node.crt", []byte("not a certificate"))
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of a broken certificate file: no error")
	}
	resp, err := admin.Get("https://" + s.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatalf("HTTPS after a failed reload: %v", err)
	}
	resp.Body.Close()
}

type statusError struct{ status, body string }

func (e *statusError) Error() string { return e.status + ": " + e.body }

func mustLeaf(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM block in the issued certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestJoinOverTLS: a node with TLS joins a running TLS cluster through
// its HTTPS address given as host:port: it learns the cluster id there
// and is added as an observer, both with its node certificate as its
// credential (the access file names no one but admin).
func TestJoinOverTLS(t *testing.T) {
	p := newPKI(t)
	first := singleNode(t, "join")
	p.node(t, &first, "join", 1)
	s1, err := Start(first)
	if err != nil {
		t.Fatalf("start node 1: %v", err)
	}
	defer s1.Kill()
	second := Config{NodeID: 2, DataDir: filepath.Join(t.TempDir(), "data"), Join: []string{s1.HTTPAddr()},
		ListenPeer: "127.0.0.1:0", ListenHTTP: "127.0.0.1:0", TickInterval: 20 * time.Millisecond}
	// Its own files: node 2's certificate, the same CA and access file.
	certPEM, keyPEM, err := p.ca.IssueNode("join", 2, []string{"127.0.0.1"}, validity())
	if err != nil {
		t.Fatal(err)
	}
	second.TLSCertFile, second.TLSKeyFile = p.write(t, "node-2.crt", certPEM), p.write(t, "node-2.key", keyPEM)
	second.TLSCAFile, second.AccessFile = first.TLSCAFile, first.AccessFile
	// Node 1 may still be electing itself: the join's discovery asks
	// until node 1 names its peer address (TestDiscoverWaitsForPeerAddresses).
	s2, err := Start(second)
	if err != nil {
		t.Fatalf("start node 2 with --join over TLS: %v", err)
	}
	defer s2.Kill()
	if s2.cfg.ClusterID != "join" {
		t.Fatalf("node 2 learned cluster id %q, want join", s2.cfg.ClusterID)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !s2.isMember() {
		if time.Now().After(deadline) {
			t.Fatalf("node 2 is not a member after 30 s; node 1's members: %+v", s1.Node.Members())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDiscoverWaitsForPeerAddresses: a member that answers before its
// cluster has recorded the voters' peer addresses is asked again; a
// joining node that started without them could not answer the leader.
func TestDiscoverWaitsForPeerAddresses(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch asked.Add(1) {
		case 1:
			io.WriteString(w, `{"clusterId":"starting","voters":[],"observers":[]}`)
		case 2:
			io.WriteString(w, `{"clusterId":"starting","voters":[{"nodeId":1}],"observers":[]}`)
		default:
			io.WriteString(w, `{"clusterId":"starting","voters":[{"nodeId":1,"peerAddress":"127.0.0.1:7001"}],"observers":[]}`)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := discover(ctx, &security{}, []string{strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	if info.clusterID != "starting" || info.peers[1] != "127.0.0.1:7001" || asked.Load() != 3 {
		t.Fatalf("discover learned %+v after %d answers, want cluster starting with node 1 at 127.0.0.1:7001 after 3", info, asked.Load())
	}
}

// TestProfilerNeedsAdmin: with authentication on, --debug-pprof's
// handlers answer like the API's admin routes: 401 without a credential,
// 403 to a principal that is not an admin, the profile to an admin.
func TestProfilerNeedsAdmin(t *testing.T) {
	p := newPKI(t)
	cfg := singleNode(t, "pprof")
	p.node(t, &cfg, "pprof", 1)
	cfg.DebugPprof = true
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start with TLS and the profiler: %v", err)
	}
	defer s.Kill()
	url := "https://" + s.HTTPAddr() + "/debug/pprof/cmdline"
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.ca.CertPEM)
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	for _, c := range []struct {
		who    string
		client *http.Client
		want   int
	}{
		{"no credential", anon, http.StatusUnauthorized},
		{"a principal without roles", p.client(t, "stranger"), http.StatusForbidden},
		{"the admin", p.client(t, "admin"), http.StatusOK},
	} {
		resp, err := c.client.Get(url)
		if err != nil {
			t.Fatalf("%s: GET %s: %v", c.who, url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: GET /debug/pprof/cmdline answered %s (%s), want %d", c.who, resp.Status, body, c.want)
		}
		if c.want == http.StatusOK && !bytes.Contains(body, []byte("server.test")) {
			t.Errorf("the admin's profile answer is not the command line: %q", body)
		}
	}
}

// TestSlowAndOversizedHeadersAreCutOff: a connection that sends its
// header too slowly is closed after ReadHeaderTimeout, and an oversized
// header is answered 431, while the node goes on serving.
func TestSlowAndOversizedHeadersAreCutOff(t *testing.T) {
	cfg := singleNode(t, "limits")
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.MaxHeaderBytes = 4 << 10
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()

	slow, err := net.Dial("tcp", s.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// The header never ends: the server must close the connection on its
	// own; the deadline is only there so a broken server fails the test.
	_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(slow)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a connection sending its header slowly was held for 30 s (ReadHeaderTimeout 300 ms)")
	}
	if bytes.Contains(b, []byte("200 OK")) {
		t.Fatalf("an unfinished header was answered: %q", b)
	}

	req, err := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("a", 8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("oversized header: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("an 8 KiB header with MaxHeaderBytes 4 KiB answered %s, want 431", resp.Status)
	}
	resp, err = http.Get("http://" + s.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatalf("the node stopped serving: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz after the cut-offs: %s", resp.Status)
	}
}
