package testcluster

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/certs"
)

// TLSPrincipals are the principals of a TLS cluster's access file, with
// their roles: each has a client certificate (subject CN = the name) and
// a bearer token. The cluster's own clients are admin.
var TLSPrincipals = []struct{ Name, Roles string }{
	{"admin", "admin"},
	{"reader", "reader"},
	{"broker-1", "broker:1"},
	{"broker-2", "broker:2"},
}

// tlsHosts are the names every node certificate carries besides the
// node's own: the addresses the tests reach nodes at.
var tlsHosts = []string{"127.0.0.1", "localhost"}

// security is a TLS cluster's PKI and access file, all in files under
// dir as an operator's would be: the CA bundle, one certificate and key
// per node, the access file. Clients get their material in memory.
type security struct {
	t         testing.TB
	dir       string
	clusterID string

	mu sync.Mutex
	// ca issues the certificates; next is the CA a CA rotation moves to,
	// made up front so the clients' trust (roots) holds it from the start,
	// as an operator distributes a new CA to clients before using it.
	ca, next *certs.Authority
	bundle   [][]byte // the CA file's certificates (PEM)
	roots    *x509.CertPool
	clients  map[string]*tls.Certificate // principal -> current client certificate
	tokens   map[string]string
	access   []string // the access file's lines
	nodes    map[uint64]bool
}

// validity is a test certificate's lifetime: from an hour ago (clock
// skew between issuing and checking is then no concern) for a day.
func validity() certs.Validity {
	now := time.Now()
	return certs.Validity{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
}

func newSecurity(t testing.TB, dir, clusterID string) *security {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("TLS directory: %v", err)
	}
	s := &security{t: t, dir: dir, clusterID: clusterID, clients: map[string]*tls.Certificate{},
		tokens: map[string]string{}, nodes: map[uint64]bool{}}
	var err error
	if s.ca, err = certs.NewAuthority("yakt test CA", time.Now().Add(48*time.Hour)); err != nil {
		t.Fatalf("test CA: %v", err)
	}
	if s.next, err = certs.NewAuthority("yakt test CA 2", time.Now().Add(48*time.Hour)); err != nil {
		t.Fatalf("second test CA: %v", err)
	}
	s.roots = x509.NewCertPool()
	s.roots.AddCert(s.ca.Cert)
	s.roots.AddCert(s.next.Cert)
	s.bundle = [][]byte{s.ca.CertPEM}
	s.writeFile("ca.pem", bytes.Join(s.bundle, nil))
	for _, p := range TLSPrincipals {
		tok, err := auth.NewToken()
		if err != nil {
			t.Fatalf("token for %s: %v", p.Name, err)
		}
		s.tokens[p.Name] = tok
		s.access = append(s.access, s.accessLine(p.Name, p.Roles))
		s.issueClient(p.Name)
	}
	s.writeFile("access", []byte(strings.Join(s.access, "\n")+"\n"))
	return s
}

func (s *security) accessLine(name, roles string) string {
	line := name + " " + roles
	if tok, ok := s.tokens[name]; ok {
		line += " " + auth.HashToken(tok)
	}
	return line
}

// writeFile replaces dir/name atomically (a temporary file renamed over
// it), so a node reloading at any moment reads the old or the new
// content, never half of one.
func (s *security) writeFile(name string, data []byte) {
	s.t.Helper()
	tmp, err := os.CreateTemp(s.dir, "."+name+".tmp*")
	if err == nil {
		_, err = tmp.Write(data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(s.dir, name))
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		s.t.Fatalf("write %s: %v", name, err)
	}
}

func (s *security) path(name string) string { return filepath.Join(s.dir, name) }

func nodeFiles(id uint64) (cert, key string) {
	return fmt.Sprintf("node-%d.crt", id), fmt.Sprintf("node-%d.key", id)
}

// issueNode writes node id's certificate and key, issued by the current
// CA. The key is renamed into place before the certificate: a reload
// between the two sees a pair that does not match, which certs refuses
// (keeping the old pair), and the next reload sees the new pair.
func (s *security) issueNode(id uint64) {
	s.t.Helper()
	certPEM, keyPEM, err := s.ca.IssueNode(s.clusterID, id, tlsHosts, validity())
	if err != nil {
		s.t.Fatalf("certificate of node %d: %v", id, err)
	}
	cert, key := nodeFiles(id)
	s.writeFile(key, keyPEM)
	s.writeFile(cert, certPEM)
	s.nodes[id] = true
}

// installNode writes certPEM and keyPEM as node id's certificate and key.
func (s *security) installNode(id uint64, certPEM, keyPEM []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cert, key := nodeFiles(id)
	s.writeFile(key, keyPEM)
	s.writeFile(cert, certPEM)
	s.nodes[id] = true
}

// node returns node id's certificate and key files, issuing them first
// if the node has none yet.
func (s *security) node(id uint64) (cert, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.nodes[id] {
		s.issueNode(id)
	}
	c, k := nodeFiles(id)
	return s.path(c), s.path(k)
}

func (s *security) issueClient(name string) {
	s.t.Helper()
	certPEM, keyPEM, err := s.ca.IssueClient(name, validity())
	if err != nil {
		s.t.Fatalf("client certificate of %s: %v", name, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		s.t.Fatalf("client certificate of %s: %v", name, err)
	}
	s.clients[name] = &pair
}

// clientTLS verifies the nodes against every CA of the test and, unless
// principal is "", presents principal's current client certificate (read
// at each handshake, so a rotation reaches clients already made).
func (s *security) clientTLS(principal string) *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
	if principal == "" {
		return cfg
	}
	if s.clients[principal] == nil {
		s.t.Fatalf("no client certificate for %q (one of TLSPrincipals)", principal)
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.clients[principal], nil
	}
	return cfg
}

// rotateNodes issues every node a fresh certificate and key.
func (s *security) rotateNodes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.nodes {
		s.issueNode(id)
	}
}

// setBundle writes the CA file: the given CAs' certificates.
func (s *security) setBundle(cas ...*certs.Authority) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundle = nil
	for _, ca := range cas {
		s.bundle = append(s.bundle, ca.CertPEM)
	}
	s.writeFile("ca.pem", bytes.Join(s.bundle, nil))
}

// switchIssuer makes next the issuing CA and reissues every node and
// client certificate with it.
func (s *security) switchIssuer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ca = s.next
	for id := range s.nodes {
		s.issueNode(id)
	}
	for name := range s.clients {
		s.issueClient(name)
	}
}

func (s *security) setAccess(lines []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = append([]string(nil), lines...)
	s.writeFile("access", []byte(strings.Join(s.access, "\n")+"\n"))
}

// httpClient is an HTTP client with timeout: plain without TLS (as every
// client of a plain cluster always was: on the default transport), HTTPS
// with cfg otherwise (on a transport of its own, whose idle connections
// its owner closes).
func httpClient(timeout time.Duration, cfg *tls.Config) *http.Client {
	if cfg == nil {
		return &http.Client{Timeout: timeout}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// scheme is the URL scheme of a cluster's HTTP ports.
func scheme(tlsOn bool) string {
	if tlsOn {
		return "https://"
	}
	return "http://"
}

// The TLS material of a cluster started with Options.TLS. On a plain
// cluster every method fails the test but ClusterID, HTTPClient and
// ClientTLS, which is nil there (so callers can hand it to a client
// either way).

func (c *Cluster) mustTLS() *security {
	c.t.Helper()
	if c.sec == nil {
		c.t.Fatal("the cluster runs without TLS (Options.TLS)")
	}
	return c.sec
}

// ClusterID is the cluster id the nodes bootstrap with (node
// certificates name it: certs.NodeName).
func (c *Cluster) ClusterID() string { return clusterID }

// CAFile is the path of the CA bundle every node verifies peers and
// clients against.
func (c *Cluster) CAFile() string { return c.mustTLS().path("ca.pem") }

// AccessFilePath is the path of the access file every node reads.
func (c *Cluster) AccessFilePath() string { return c.mustTLS().path("access") }

// Authority is the CA that currently issues the cluster's certificates,
// for tests that need one of their own (an expired one, another node's).
func (c *Cluster) Authority() *certs.Authority {
	s := c.mustTLS()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ca
}

// RootCAs are the CAs clients trust the nodes by.
func (c *Cluster) RootCAs() *x509.CertPool { return c.mustTLS().roots }

// ClientTLS is the TLS configuration of a client authenticating as
// principal (one of TLSPrincipals) by its client certificate; "" gives
// none (a client that sends a token, or nothing). nil on a plain cluster.
func (c *Cluster) ClientTLS(principal string) *tls.Config {
	if c.sec == nil {
		return nil
	}
	return c.sec.clientTLS(principal)
}

// HTTPClient is an HTTP client of the cluster's nodes: HTTPS
// authenticating as principal's client certificate on a TLS cluster
// ("": none), plain otherwise. Idle connections close when the test ends.
func (c *Cluster) HTTPClient(principal string) *http.Client {
	hc := httpClient(15*time.Second, c.ClientTLS(principal))
	if c.sec != nil {
		c.t.Cleanup(hc.CloseIdleConnections)
	}
	return hc
}

// Token is principal's bearer token (one of TLSPrincipals).
func (c *Cluster) Token(principal string) string {
	s := c.mustTLS()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[principal]
	if !ok {
		c.t.Fatalf("no token for %q", principal)
	}
	return tok
}

// AddToken gives principal a fresh token (kept for AccessLine) and
// returns it; the access file is unchanged until SetAccess.
func (c *Cluster) AddToken(principal string) string {
	s := c.mustTLS()
	tok, err := auth.NewToken()
	if err != nil {
		c.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[principal] = tok
	return tok
}

// AccessLine is principal's access file line with roles (comma
// separated) and its token's hash if it has a token.
func (c *Cluster) AccessLine(principal, roles string) string {
	s := c.mustTLS()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accessLine(principal, roles)
}

// DefaultAccess is the access file the cluster started with: a line for
// every one of TLSPrincipals.
func (c *Cluster) DefaultAccess() []string {
	var lines []string
	for _, p := range TLSPrincipals {
		lines = append(lines, c.AccessLine(p.Name, p.Roles))
	}
	return lines
}

// WriteAccess replaces the access file with lines (atomically) without
// telling the nodes: their watchers notice within defaults.ReloadInterval.
func (c *Cluster) WriteAccess(lines []string) { c.mustTLS().setAccess(lines) }

// SetAccess replaces the access file with lines and reloads every
// running node, so the next request anywhere is judged by it.
func (c *Cluster) SetAccess(lines []string) {
	c.t.Helper()
	c.WriteAccess(lines)
	c.ReloadAll()
}

// SetNodeCert replaces node id's certificate and key files with the
// given ones (PEM), e.g. another node's, without telling the node: the
// next start or reload reads them. RotateNodeCerts replaces them with
// fresh ones of the node's own.
func (c *Cluster) SetNodeCert(id uint64, certPEM, keyPEM []byte) {
	c.mustTLS().installNode(id, certPEM, keyPEM)
}

// RotateNodeCerts issues every node a fresh certificate and key, writes
// them over the old files (atomically) and reloads every running node.
func (c *Cluster) RotateNodeCerts() {
	c.t.Helper()
	c.mustTLS().rotateNodes()
	c.ReloadAll()
}

// A CA rotation moves the cluster to a new CA without a restart, in the
// three steps an operator takes: TrustNewCA, IssueFromNewCA, DropOldCA.
// Clients trust both CAs from the start. Between two steps a test lets
// the handshakes in flight finish (e.g. waits for some more requests):
// a handshake that began before TrustNewCA and presents a client
// certificate of the new CA after IssueFromNewCA is refused, as the
// server took its CA bundle at the handshake's start.

// TrustNewCA makes the CA file a bundle of the current and the new CA
// and reloads every node.
func (c *Cluster) TrustNewCA() {
	c.t.Helper()
	s := c.mustTLS()
	s.mu.Lock()
	cur, next := s.ca, s.next
	s.mu.Unlock()
	if cur == next {
		c.t.Fatal("the CA was rotated already")
	}
	s.setBundle(cur, next)
	c.ReloadAll()
}

// IssueFromNewCA reissues every node and client certificate with the
// new CA and reloads every node.
func (c *Cluster) IssueFromNewCA() {
	c.t.Helper()
	c.mustTLS().switchIssuer()
	c.ReloadAll()
}

// DropOldCA leaves only the new CA in the CA file and reloads every
// node: the old CA's certificates are refused from then on.
func (c *Cluster) DropOldCA() {
	c.t.Helper()
	s := c.mustTLS()
	s.setBundle(s.next)
	c.ReloadAll()
}

// ReloadAll makes every running node read its certificate, key, CA and
// access files again now (as SIGHUP does to yakt server), failing the
// test if one refuses them.
func (c *Cluster) ReloadAll() {
	c.t.Helper()
	for _, id := range c.IDs() {
		s := c.Server(id)
		if s == nil {
			continue
		}
		if err := s.Reload(); err != nil {
			c.t.Fatalf("reload node %d: %v", id, err)
		}
	}
}

// servedCertificate is the certificate addr presents in a new TLS
// handshake, verified by cfg.
func servedCertificate(addr string, cfg *tls.Config) (*x509.Certificate, error) {
	cfg = cfg.Clone()
	cfg.ServerName = "127.0.0.1"
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}
