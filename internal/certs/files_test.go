package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeFiles writes material into dir as cert.pem, key.pem and ca.pem.
type nodeFiles struct {
	dir                       string
	certFile, keyFile, caFile string
}

func newNodeFiles(t *testing.T) nodeFiles {
	dir := t.TempDir()
	return nodeFiles{dir: dir, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), caFile: filepath.Join(dir, "ca.pem")}
}

// write replaces the files; a nil part is left as it is.
func (n nodeFiles) write(t *testing.T, certPEM, keyPEM, caPEM []byte) {
	t.Helper()
	for _, w := range []struct {
		path string
		data []byte
	}{{n.certFile, certPEM}, {n.keyFile, keyPEM}, {n.caFile, caPEM}} {
		if w.data == nil {
			continue
		}
		// Replaced atomically, as a careful operator does: Watch may read
		// at any moment, and a half-written file is another test's case.
		tmp := w.path + ".tmp"
		if err := os.WriteFile(tmp, w.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, w.path); err != nil {
			t.Fatal(err)
		}
	}
}

func issueNode(t *testing.T, a *Authority, cluster string, id uint64, v Validity) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := a.IssueNode(cluster, id, []string{"127.0.0.1", "localhost"}, v)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// loadNode writes node id's certificate of a (with CA bundle cas) and loads it.
func loadNode(t *testing.T, a *Authority, id uint64, cas ...*Authority) (*Files, nodeFiles) {
	t.Helper()
	n := newNodeFiles(t)
	c, k := issueNode(t, a, "c", id, Validity{})
	n.write(t, c, k, bundle(cas...))
	f, err := Load(n.certFile, n.keyFile, n.caFile)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f, n
}

func bundle(cas ...*Authority) []byte {
	var b []byte
	for _, a := range cas {
		b = append(b, a.CertPEM...)
	}
	return b
}

func TestLoad(t *testing.T) {
	a := newTestAuthority(t, "ca")
	f, _ := loadNode(t, a, 1, a)
	if id, ok := NodeIDOf(f.Leaf(), "c"); !ok || id != 1 {
		t.Fatalf("Leaf names node %d, %v; want 1", id, ok)
	}

	n := newNodeFiles(t)
	c1, _ := issueNode(t, a, "c", 1, Validity{})
	_, k2 := issueNode(t, a, "c", 2, Validity{})
	for name, files := range map[string][3][]byte{
		"key of another certificate": {c1, k2, a.CertPEM},
		"CA bundle empty":            {c1, nil, []byte{}},
		"CA bundle not PEM":          {c1, nil, []byte("garbage")},
		"CA bundle holds a key":      {c1, nil, a.KeyPEM},
		"CA bundle truncated":        {c1, nil, append(append([]byte{}, a.CertPEM...), a.CertPEM[:len(a.CertPEM)/2]...)},
	} {
		c, k, ca := files[0], files[1], files[2]
		if k == nil {
			// The matching key: only the CA bundle is wrong.
			c, k = issueNode(t, a, "c", 1, Validity{})
		}
		n.write(t, c, k, ca)
		if _, err := Load(n.certFile, n.keyFile, n.caFile); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
	if _, err := Load(filepath.Join(n.dir, "missing.pem"), n.keyFile, n.caFile); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("Load of a missing file: %v, want an error naming the file", err)
	}
}

func TestReload(t *testing.T) {
	a := newTestAuthority(t, "ca")
	f, n := loadNode(t, a, 1, a)
	first := f.Leaf()

	if changed, err := f.Reload(); err != nil || changed {
		t.Fatalf("Reload of unchanged files = %v, %v; want false, nil", changed, err)
	}

	c, k := issueNode(t, a, "c", 1, Validity{})
	n.write(t, c, k, nil)
	if changed, err := f.Reload(); err != nil || !changed {
		t.Fatalf("Reload after a rewrite = %v, %v; want true, nil", changed, err)
	}
	second := f.Leaf()
	if second.Equal(first) || !second.Equal(parsePEMCert(t, c)) {
		t.Fatal("Reload did not install the new certificate")
	}

	// Each bad rewrite fails and keeps what was loaded.
	c3, k3 := issueNode(t, a, "c", 1, Validity{})
	for name, files := range map[string][3][]byte{
		"half-written certificate":    {c3[:len(c3)/2], nil, nil},
		"certificate without its key": {c3, nil, nil},
		"key without its certificate": {c, k3, nil},
		"broken CA bundle":            {c, k, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
	} {
		n.write(t, files[0], files[1], files[2])
		changed, err := f.Reload()
		if err == nil || changed {
			t.Errorf("%s: Reload = %v, %v; want an error", name, changed, err)
		}
		if !f.Leaf().Equal(second) {
			t.Fatalf("%s: a failed reload replaced the certificate", name)
		}
		n.write(t, c, k, a.CertPEM)
	}
	if err := os.Remove(n.keyFile); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Reload(); err == nil {
		t.Error("Reload with the key file gone succeeded")
	}
	if !f.Leaf().Equal(second) {
		t.Fatal("a failed reload replaced the certificate")
	}
}

// syncBuffer is a log destination the Watch goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatch(t *testing.T) {
	a := newTestAuthority(t, "ca")
	f, n := loadNode(t, a, 1, a)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Watch(ctx, 10*time.Millisecond, log)
	}()
	defer func() {
		cancel()
		<-done
	}()

	c, k := issueNode(t, a, "c", 1, Validity{})
	want := parsePEMCert(t, c)
	n.write(t, c, k, nil)
	waitFor(t, "Watch to load the rewritten certificate", func() bool { return f.Leaf().Equal(want) })
	waitFor(t, "the reload to be logged", func() bool { return strings.Contains(logs.String(), "certificates reloaded") })

	// A broken file is logged once and changes nothing; fixing it is seen.
	n.write(t, []byte("not a certificate"), nil, nil)
	waitFor(t, "the failed reload to be logged", func() bool { return strings.Contains(logs.String(), "certificate reload failed") })
	if !f.Leaf().Equal(want) {
		t.Fatal("a broken certificate file replaced the certificate")
	}
	c2, k2 := issueNode(t, a, "c", 1, Validity{})
	want2 := parsePEMCert(t, c2)
	n.write(t, c2, k2, nil)
	waitFor(t, "Watch to load the fixed certificate", func() bool { return f.Leaf().Equal(want2) })
	if got := strings.Count(logs.String(), "PEM data in certificate input"); got != 1 {
		t.Errorf("the same broken file was logged %d times, want once:\n%s", got, logs.String())
	}

	cancel()
	<-done
}

// handshake runs a TLS handshake over real TCP and returns both sides'
// outcome: the server's connection state and each side's error.
func handshake(t *testing.T, server, client *tls.Config) (serverState tls.ConnectionState, serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		state tls.ConnectionState
		err   error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, server)
		err = tc.Handshake()
		if err == nil {
			// TLS 1.3 servers finish before the client's certificate is
			// checked by the client side; a read makes the outcome final.
			_, err = tc.Read(make([]byte, 1))
		}
		res <- result{tc.ConnectionState(), err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, client)
	clientErr = tc.Handshake()
	if clientErr == nil {
		// The server's verdict on the client's certificate arrives after
		// the client's handshake ends (TLS 1.3): a byte either gets
		// through or the read sees the alert.
		if _, err := tc.Write([]byte{1}); err != nil {
			clientErr = err
		}
	}
	r := <-res
	if clientErr == nil && r.err != nil {
		clientErr = r.err
	}
	return r.state, r.err, clientErr
}

func TestPeerTLS(t *testing.T) {
	a := newTestAuthority(t, "ca")
	other := newTestAuthority(t, "other ca")
	server, _ := loadNode(t, a, 2, a)
	client, _ := loadNode(t, a, 1, a)
	sp, cp := server.ForPeers("c"), client.ForPeers("c")

	state, serr, cerr := handshake(t, sp.ServerConfig(), cp.ClientConfig(2))
	if serr != nil || cerr != nil {
		t.Fatalf("mutual TLS between nodes 1 and 2 failed: server %v, client %v", serr, cerr)
	}
	if id, err := sp.NodeID(&state); err != nil || id != 1 {
		t.Fatalf("NodeID on the acceptor = %d, %v; want 1", id, err)
	}
	if _, serr, cerr = handshake(t, sp.ServerConfig(), cp.ClientConfig(0)); serr != nil || cerr != nil {
		t.Fatalf("dial of any node (peer 0) failed: server %v, client %v", serr, cerr)
	}

	// The dialer accepts only the node it dials.
	if _, _, cerr = handshake(t, sp.ServerConfig(), cp.ClientConfig(3)); cerr == nil || !strings.Contains(cerr.Error(), "names node 2") {
		t.Fatalf("dial of node 3 answered by node 2: %v, want a refusal naming node 2", cerr)
	}
	// A node of another cluster is no node of this one.
	if _, _, cerr = handshake(t, sp.ServerConfig(), client.ForPeers("d").ClientConfig(2)); cerr == nil {
		t.Fatal("dialer of cluster d accepted a node of cluster c")
	}

	refused := map[string]*tls.Config{
		"no certificate": {InsecureSkipVerify: true},
	}
	clientCert := func(certPEM, keyPEM []byte) *tls.Config {
		kp, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		// GetClientCertificate sends the certificate even when the
		// server's acceptable CAs do not list its issuer.
		return &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }}
	}
	refused["another CA"] = clientCert(issueNode(t, other, "c", 1, Validity{}))
	refused["expired"] = clientCert(issueNode(t, a, "c", 1, Validity{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}))
	cc, ck, err := a.IssueClient("alice", Validity{})
	if err != nil {
		t.Fatal(err)
	}
	refused["client certificate naming no node"] = clientCert(cc, ck)
	refused["node of another cluster"] = clientCert(issueNode(t, a, "d", 1, Validity{}))
	for name, cfg := range refused {
		if _, serr, cerr := handshake(t, sp.ServerConfig(), cfg); serr == nil || cerr == nil {
			t.Errorf("%s: acceptor let the peer in (server %v, client %v)", name, serr, cerr)
		}
	}

	// A server of another CA is refused by the dialer.
	otherServer, _ := loadNode(t, other, 2, other, a)
	if _, _, cerr := handshake(t, otherServer.ForPeers("c").ServerConfig(), cp.ClientConfig(2)); cerr == nil {
		t.Fatal("dialer accepted a server certificate of another CA")
	}
	// An expired server certificate is refused.
	n := newNodeFiles(t)
	ec, ek := issueNode(t, a, "c", 2, Validity{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	n.write(t, ec, ek, a.CertPEM)
	expired, err := Load(n.certFile, n.keyFile, n.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, cerr := handshake(t, expired.ForPeers("c").ServerConfig(), cp.ClientConfig(2)); cerr == nil {
		t.Fatal("dialer accepted an expired server certificate")
	}
}

// TestCARotation walks a CA rotation: the bundle gains the new CA, the
// certificates move to it, and each handshake uses the files as they are.
func TestCARotation(t *testing.T) {
	oldCA := newTestAuthority(t, "old ca")
	newCA := newTestAuthority(t, "new ca")
	server, sn := loadNode(t, oldCA, 2, oldCA)
	client, cn := loadNode(t, oldCA, 1, oldCA)
	sp, cp := server.ForPeers("c"), client.ForPeers("c")
	serverCfg, clientCfg := sp.ServerConfig(), cp.ClientConfig(2)

	// The server moves to the new CA first: the client's bundle does not
	// know it yet.
	c, k := issueNode(t, newCA, "c", 2, Validity{})
	sn.write(t, c, k, bundle(oldCA, newCA))
	if _, err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, cerr := handshake(t, serverCfg, clientCfg); cerr == nil {
		t.Fatal("a client whose bundle holds only the old CA accepted a new-CA server")
	}
	// Once the client's bundle holds both, the same configurations work.
	cn.write(t, nil, nil, bundle(oldCA, newCA))
	if _, err := client.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, serr, cerr := handshake(t, serverCfg, clientCfg); serr != nil || cerr != nil {
		t.Fatalf("handshake during the rotation: server %v, client %v", serr, cerr)
	}
	// The client moves to a new-CA certificate, and the old CA leaves
	// both bundles.
	c, k = issueNode(t, newCA, "c", 1, Validity{})
	cn.write(t, c, k, newCA.CertPEM)
	sn.write(t, nil, nil, newCA.CertPEM)
	for _, f := range []*Files{client, server} {
		if _, err := f.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	state, serr, cerr := handshake(t, serverCfg, clientCfg)
	if serr != nil || cerr != nil {
		t.Fatalf("handshake after the rotation: server %v, client %v", serr, cerr)
	}
	if !state.PeerCertificates[0].Equal(client.Leaf()) {
		t.Fatal("the client did not present its new certificate")
	}
	// A node still on the old CA is now refused.
	stale, _ := loadNode(t, oldCA, 3, oldCA, newCA)
	if _, serr, _ := handshake(t, serverCfg, stale.ForPeers("c").ClientConfig(2)); serr == nil {
		t.Fatal("the server accepted an old-CA client after the old CA left its bundle")
	}
}

func TestHTTPConfigs(t *testing.T) {
	a := newTestAuthority(t, "ca")
	other := newTestAuthority(t, "other ca")
	server, serverFiles := loadNode(t, a, 1, a)
	client, _ := loadNode(t, a, 2, a)

	withName := func(c *tls.Config, name string) *tls.Config {
		c = c.Clone()
		c.ServerName = name
		return c
	}
	state, serr, cerr := handshake(t, server.HTTPServerConfig(), withName(client.HTTPClientConfig(), "localhost"))
	if serr != nil || cerr != nil {
		t.Fatalf("HTTPS with a client certificate: server %v, client %v", serr, cerr)
	}
	if len(state.VerifiedChains) == 0 || !state.PeerCertificates[0].Equal(client.Leaf()) {
		t.Fatal("the server did not verify the client's certificate")
	}
	if _, serr, cerr := handshake(t, server.HTTPServerConfig(), withName(client.HTTPClientConfig(), "127.0.0.1")); serr != nil || cerr != nil {
		t.Fatalf("HTTPS to an IP address: server %v, client %v", serr, cerr)
	}

	// No client certificate is fine: a bearer token may follow.
	anon := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}
	anon.RootCAs.AddCert(a.Cert)
	state, serr, cerr = handshake(t, server.HTTPServerConfig(), anon)
	if serr != nil || cerr != nil {
		t.Fatalf("HTTPS without a client certificate: server %v, client %v", serr, cerr)
	}
	if len(state.PeerCertificates) != 0 {
		t.Fatal("a certificate appeared from nowhere")
	}
	if state.Version < tls.VersionTLS12 {
		t.Fatalf("TLS version %x, want 1.2 at least", state.Version)
	}

	// A client certificate of another CA is refused.
	oc, ok, err := other.IssueClient("mallory", Validity{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(oc, ok)
	if err != nil {
		t.Fatal(err)
	}
	bad := anon.Clone()
	// Sent although the server does not list its CA as acceptable.
	bad.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	if _, serr, _ := handshake(t, server.HTTPServerConfig(), bad); serr == nil {
		t.Fatal("the HTTPS server accepted a client certificate of another CA")
	}
	// Once the server's bundle holds that CA too (a CA rotation), the same
	// configuration accepts it: the bundle is read at each handshake.
	serverCfg := server.HTTPServerConfig()
	if _, serr, _ := handshake(t, serverCfg, bad); serr == nil {
		t.Fatal("the HTTPS server accepted a client certificate of another CA")
	}
	serverFiles.write(t, nil, nil, bundle(a, other))
	if _, err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	state, serr, _ = handshake(t, serverCfg, bad)
	if serr != nil || len(state.VerifiedChains) == 0 {
		t.Fatalf("after adding its CA to the bundle, the HTTPS server refused the client certificate: %v", serr)
	}
	serverFiles.write(t, nil, nil, bundle(a))
	if _, err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	// TLS 1.1 is refused.
	old := anon.Clone()
	old.MaxVersion = tls.VersionTLS11
	old.MinVersion = tls.VersionTLS10
	if _, serr, _ := handshake(t, server.HTTPServerConfig(), old); serr == nil {
		t.Fatal("the HTTPS server spoke TLS 1.1")
	}

	// The client checks the host name and the CA.
	if _, _, cerr := handshake(t, server.HTTPServerConfig(), withName(client.HTTPClientConfig(), "elsewhere.example")); cerr == nil {
		t.Fatal("the HTTPS client accepted a certificate for another host")
	}
	otherServer, _ := loadNode(t, other, 1, other)
	if _, _, cerr := handshake(t, otherServer.HTTPServerConfig(), withName(client.HTTPClientConfig(), "localhost")); cerr == nil {
		t.Fatal("the HTTPS client accepted a server of another CA")
	}
}

// TestDialTLSContext: the dialer for http.Transport checks the host name
// and the IP address it dials, against the current bundle.
func TestDialTLSContext(t *testing.T) {
	a := newTestAuthority(t, "ca")
	client, clientFiles := loadNode(t, a, 2, a)
	// Node 1 is reached at 127.0.0.1 and says so; node 3's certificate
	// names only localhost.
	server1, _ := loadNode(t, a, 1, a)
	n3 := newNodeFiles(t)
	c3, k3, err := a.IssueNode("c", 3, []string{"localhost"}, Validity{})
	if err != nil {
		t.Fatal(err)
	}
	n3.write(t, c3, k3, a.CertPEM)
	server3, err := Load(n3.certFile, n3.keyFile, n3.caFile)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(f *Files) (addr string, states <-chan tls.ConnectionState) {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", f.HTTPServerConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ch := make(chan tls.ConnectionState, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if tc.Handshake() == nil {
					ch <- tc.ConnectionState()
				}
				tc.Close()
			}
		}()
		return ln.Addr().String(), ch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	addr1, states1 := serve(server1)
	conn, err := client.DialTLSContext(ctx, "tcp", addr1)
	if err != nil {
		t.Fatalf("dial node 1 by IP: %v", err)
	}
	conn.Close()
	if st := <-states1; len(st.PeerCertificates) == 0 || !st.PeerCertificates[0].Equal(client.Leaf()) {
		t.Fatal("the dialer did not present its certificate")
	}

	addr3, _ := serve(server3)
	if conn, err := client.DialTLSContext(ctx, "tcp", addr3); err == nil {
		conn.Close()
		t.Fatal("DialTLSContext accepted a certificate that does not name the IP address dialed")
	}

	// A server of a CA the bundle gains later is accepted from then on.
	other := newTestAuthority(t, "other ca")
	otherServer, _ := loadNode(t, other, 1, other)
	addrO, _ := serve(otherServer)
	if conn, err := client.DialTLSContext(ctx, "tcp", addrO); err == nil {
		conn.Close()
		t.Fatal("DialTLSContext accepted a server of another CA")
	}
	clientFiles.write(t, nil, nil, bundle(a, other))
	if _, err := client.Reload(); err != nil {
		t.Fatal(err)
	}
	conn, err = client.DialTLSContext(ctx, "tcp", addrO)
	if err != nil {
		t.Fatalf("dial a server of a CA the bundle gained: %v", err)
	}
	conn.Close()
}
