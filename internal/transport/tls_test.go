package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/certs"
	"go.etcd.io/raft/v3/raftpb"
)

// peerFiles is one node's certificate, key and CA bundle on disk, loaded.
type peerFiles struct {
	certFile, keyFile, caFile string
	files                     *certs.Files
}

func newAuthority(t testing.TB, name string) *certs.Authority {
	t.Helper()
	a, err := certs.NewAuthority(name, time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newPeerFiles writes node id's certificate issued by ca (valid for v),
// with a CA bundle of bundle, into a fresh directory and loads them.
func newPeerFiles(t testing.TB, ca *certs.Authority, id uint64, v certs.Validity, bundle ...*certs.Authority) *peerFiles {
	t.Helper()
	dir := t.TempDir()
	p := &peerFiles{certFile: filepath.Join(dir, "node.pem"), keyFile: filepath.Join(dir, "node-key.pem"), caFile: filepath.Join(dir, "ca.pem")}
	p.write(t, ca, id, v, bundle...)
	f, err := certs.Load(p.certFile, p.keyFile, p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	p.files = f
	return p
}

// write replaces the files: a new certificate of ca for id, and the
// bundle when one is given. It does not reload.
func (p *peerFiles) write(t testing.TB, ca *certs.Authority, id uint64, v certs.Validity, bundle ...*certs.Authority) {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueNode(testCluster, id, []string{"127.0.0.1"}, v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p.certFile, certPEM)
	writeFile(t, p.keyFile, keyPEM)
	if len(bundle) > 0 {
		p.writeBundle(t, bundle...)
	}
}

func (p *peerFiles) writeBundle(t testing.TB, bundle ...*certs.Authority) {
	t.Helper()
	var b []byte
	for _, a := range bundle {
		b = append(b, a.CertPEM...)
	}
	writeFile(t, p.caFile, b)
}

func (p *peerFiles) reload(t *testing.T) {
	t.Helper()
	changed, err := p.files.Reload()
	if err != nil || !changed {
		t.Fatalf("Reload = %v, %v; want a change", changed, err)
	}
}

func (p *peerFiles) peerTLS() PeerTLS { return p.files.ForPeers(testCluster) }

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// logRecords keeps the records a node logs, for tests that check what was
// logged about a refusal.
type logRecords struct {
	mu    sync.Mutex
	recs  []slog.Record
	lines []string // as the text handler writes them, with the logger's context
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

// linesWith returns the logged lines that contain every one of parts.
func (l *logRecords) linesWith(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

func (l *logRecords) add(r slog.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
}

// matching returns the records whose message contains msg.
func (l *logRecords) matching(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if strings.Contains(r.Message, msg) {
			out = append(out, r)
		}
	}
	return out
}

// tlsNode starts node id on ln with TLS from p (nil: plain TCP), its log
// records kept in recs (nil: not kept).
func tlsNode(t *testing.T, id uint64, ln net.Listener, peers map[uint64]string, p *peerFiles, recs *logRecords, tweak func(*Config)) *node {
	t.Helper()
	return startNode(t, id, ln, peers, func(c *Config) {
		if p != nil {
			c.TLS = p.peerTLS()
		}
		if recs != nil {
			h := slog.NewTextHandler(io.MultiWriter(tbWriter{t}, recs), &slog.HandlerOptions{Level: slog.LevelDebug})
			c.Logger = slog.New(hookHandler{h, recs.add}).With("t", fmt.Sprintf("n%d", id))
		}
		if tweak != nil {
			tweak(c)
		}
	})
}

// exchange sends count messages each way between a and b, starting at
// sequence number from, and waits for all of them in order.
func exchange(t *testing.T, a, b *node, from, count uint64) {
	t.Helper()
	for _, pair := range [][2]*node{{a, b}, {b, a}} {
		src, dst := pair[0], pair[1]
		var msgs []raftpb.Message
		for seq := from; seq < from+count; seq++ {
			msgs = append(msgs, app(src.id, dst.id, seq))
		}
		src.tr.Send(msgs)
	}
	for _, pair := range [][2]*node{{a, b}, {b, a}} {
		src, dst := pair[0], pair[1]
		for seq := from; seq < from+count; seq++ {
			m := recv(t, dst.got, fmt.Sprintf("message %d from node %d at node %d", seq, src.id, dst.id))
			if m.From != src.id || m.Index != seq {
				t.Fatalf("node %d got seq %d from %d, want seq %d from %d", dst.id, m.Index, m.From, seq, src.id)
			}
		}
	}
}

// TestTLSStreamsFlow runs every stream kind over mutual TLS: messages
// both ways, a snapshot, a forwarded request and a snapshot fetch.
func TestTLSStreamsFlow(t *testing.T) {
	checkLeaks(t)
	ca := newAuthority(t, "cluster ca")
	files := map[uint64]*peerFiles{1: newPeerFiles(t, ca, 1, certs.Validity{}, ca), 2: newPeerFiles(t, ca, 2, certs.Validity{}, ca)}
	snapData := []byte("snapshot over TLS")
	snapMD := raftpb.SnapshotMetadata{Index: 9, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2}}}
	nodes := startCluster(t, 2, func(id uint64, c *Config) {
		c.TLS = files[id].peerTLS()
		c.SnapshotSource = func(context.Context, uint64, uint64) (SnapshotFile, uint64, error) {
			return SnapshotFile{Metadata: snapMD, Size: int64(len(snapData)), Data: io.NopCloser(bytes.NewReader(snapData))}, 0, nil
		}
	})
	a, b := nodes[0], nodes[1]
	exchange(t, a, b, 1, 500)

	a.tr.Send([]raftpb.Message{{Type: raftpb.MsgSnap, From: 1, To: 2, Term: 2,
		Snapshot: &raftpb.Snapshot{Data: snapData, Metadata: snapMD}}})
	if m := recv(t, b.snaps, "the snapshot"); !bytes.Equal(m.Snapshot.Data, snapData) {
		t.Fatalf("snapshot data %q, want %q", m.Snapshot.Data, snapData)
	}
	if s := recv(t, a.snapStatus, "the snapshot's status"); s.failed {
		t.Fatal("snapshot over TLS reported failed")
	}

	b.tr.SetRequestHandler(func(_ context.Context, from uint64, req *Request) (*Response, error) {
		return &Response{Status: 200, Body: append([]byte(fmt.Sprintf("from %d: ", from)), req.Body...)}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := a.tr.Request(ctx, 2, &Request{Method: "POST", URI: "/v1/x", Body: []byte("hi")})
	if err != nil || string(resp.Body) != "from 1: hi" {
		t.Fatalf("request over TLS = %v, %v", resp, err)
	}

	// A node that is not running yet (as one recovering its snapshot).
	f3 := newPeerFiles(t, ca, 3, certs.Validity{}, ca)
	fc := FetchConfig{NodeID: 3, ClusterID: testCluster, Peer: 2, Addr: b.ln.Addr().String(), DialTimeout: 5 * time.Second, TLS: f3.peerTLS()}
	var got bytes.Buffer
	md, err := FetchSnapshot(ctx, fc, 1, func(_ raftpb.SnapshotMetadata, r io.Reader) error {
		_, err := io.Copy(&got, r)
		return err
	})
	if err != nil || md.Index != snapMD.Index || !bytes.Equal(got.Bytes(), snapData) {
		t.Fatalf("fetch over TLS = %+v, %q, %v", md, got.Bytes(), err)
	}
	// The fetch accepts only the node it asks.
	fc.Peer = 1
	if _, err := FetchSnapshot(ctx, fc, 1, func(raftpb.SnapshotMetadata, io.Reader) error { return nil }); err == nil || !strings.Contains(err.Error(), "names node 2") {
		t.Fatalf("fetch from node 3 answered by node 2 = %v, want a refusal naming node 2", err)
	}
	// Without TLS the fetch is refused, in words.
	fc.Peer, fc.TLS = 2, nil
	if _, err := FetchSnapshot(ctx, fc, 1, func(raftpb.SnapshotMetadata, io.Reader) error { return nil }); !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "requires TLS") {
		t.Fatalf("plain fetch from a TLS port = %v, want not admitted: requires TLS", err)
	}

	for _, n := range nodes {
		if got := n.unreachN.Load(); got != 0 {
			t.Errorf("node %d reported %d unreachable peers", n.id, got)
		}
		if st := n.tr.Stats(); st.AcceptedStreams != 1 {
			t.Errorf("node %d accepted %d message streams, want 1", n.id, st.AcceptedStreams)
		}
	}
}

// refusedAt starts node 2 with acceptorTLS and node dialerID with
// dialerTLS, which sends to node 2 until node 2 has refused it at least
// three times. It returns both nodes and what node 2 logged. Nothing may
// reach node 2's Handler.
func refusedAt(t *testing.T, dialerID uint64, acceptorTLS *peerFiles, dialerTLS PeerTLS) (acceptor, dialer *node, logged *logRecords) {
	t.Helper()
	ln2, lnD := listen(t), listen(t)
	var recs logRecords
	b := tlsNode(t, 2, ln2, map[uint64]string{2: ln2.Addr().String()}, acceptorTLS, &recs, nil)
	d := tlsNode(t, dialerID, lnD, map[uint64]string{2: ln2.Addr().String(), dialerID: lnD.Addr().String()}, nil, nil, func(c *Config) {
		c.TLS = dialerTLS
		c.redialMin, c.redialMax = 5*time.Millisecond, 20*time.Millisecond
	})
	var seq uint64
	waitUntil(t, "node 2 to refuse the dialer three times", func() bool {
		seq++
		d.tr.Send([]raftpb.Message{app(dialerID, 2, seq)})
		return b.tr.Stats().RefusedTLS >= 3
	})
	expectNone(t, b.got, "message delivered from a refused peer")
	if n := b.tr.Stats().AcceptedStreams; n != 0 {
		t.Fatalf("node 2 accepted %d streams from a refused peer", n)
	}
	return b, d, &recs
}

// warnings returns the warnings among recs.
func warnings(recs []slog.Record) []slog.Record {
	var out []slog.Record
	for _, r := range recs {
		if r.Level == slog.LevelWarn {
			out = append(out, r)
		}
	}
	return out
}

// TestTLSRefusesAnotherNodesCertificate: a node with a valid certificate
// for node 1 that claims to be node 3 is refused, warned about once (with
// both ids and its address), and nothing it sends is delivered.
func TestTLSRefusesAnotherNodesCertificate(t *testing.T) {
	checkLeaks(t)
	ca := newAuthority(t, "cluster ca")
	_, d, recs := refusedAt(t, 3, newPeerFiles(t, ca, 2, certs.Validity{}, ca), newPeerFiles(t, ca, 1, certs.Validity{}, ca).peerTLS())
	refusals := recs.matching("its certificate names another node")
	warns := warnings(refusals)
	if len(refusals) < 3 || len(warns) != 1 {
		t.Fatalf("%d refusals logged, %d as warnings; want >= 3, one warning (rate-limited)", len(refusals), len(warns))
	}
	attrs := recordAttrs(warns[0])
	if attrs["reason"] != "certificate names node 1, hello claims node 3" || attrs["certificate_node"] != "1" || attrs["hello_node"] != "3" {
		t.Fatalf("refusal logged with %v", attrs)
	}
	// The remote address comes with the logger's context, not the record.
	if lines := recs.linesWith("level=WARN", "its certificate names another node", "addr=127.0.0.1:"); len(lines) != 1 {
		t.Fatalf("%d warnings name the remote address, want 1", len(lines))
	}
	if d.unreachN.Load() == 0 {
		t.Error("the refused dialer never reported node 2 unreachable")
	}
}

// TestTLSRefusesBadCredentials: a peer without a certificate, with one of
// another CA, or with an expired one fails the handshake; the refusal is
// counted, warned about once, and nothing is delivered.
func TestTLSRefusesBadCredentials(t *testing.T) {
	checkLeaks(t)
	ca := newAuthority(t, "cluster ca")
	other := newAuthority(t, "other ca")
	expired := certs.Validity{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	for name, tc := range map[string]struct {
		dialer func() PeerTLS
		why    string // in the acceptor's logged error
	}{
		"no certificate": {func() PeerTLS { return noClientCert{newPeerFiles(t, ca, 1, certs.Validity{}, ca).peerTLS()} }, "certificate"},
		"another CA":     {func() PeerTLS { return newPeerFiles(t, other, 1, certs.Validity{}, other, ca).peerTLS() }, "unknown authority"},
		"expired":        {func() PeerTLS { return newPeerFiles(t, ca, 1, expired, ca).peerTLS() }, "expired"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, recs := refusedAt(t, 1, newPeerFiles(t, ca, 2, certs.Validity{}, ca), tc.dialer())
			refusals := recs.matching("TLS handshake failed")
			warns := warnings(refusals)
			if len(refusals) < 3 || len(warns) != 1 {
				t.Fatalf("%d handshake refusals logged, %d as warnings; want >= 3, one warning", len(refusals), len(warns))
			}
			if err := recordAttrs(warns[0])["err"]; !strings.Contains(err, tc.why) {
				t.Fatalf("refusal logged with err %q, want it to say %q", err, tc.why)
			}
		})
	}
}

// noClientCert dials without presenting a certificate.
type noClientCert struct{ PeerTLS }

func (n noClientCert) ClientConfig(peer uint64) *tls.Config {
	c := n.PeerTLS.ClientConfig(peer).Clone()
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	return c
}

// TestTLSAndPlainDoNotMix: a plain dialer to a TLS port is refused (and
// told why), a TLS dialer to a plain port fails its handshake; nothing is
// delivered either way.
func TestTLSAndPlainDoNotMix(t *testing.T) {
	checkLeaks(t)
	ca := newAuthority(t, "cluster ca")

	t.Run("plain to TLS", func(t *testing.T) {
		ln2, ln1 := listen(t), listen(t)
		var dialerRecs logRecords
		b := tlsNode(t, 2, ln2, map[uint64]string{2: ln2.Addr().String()}, newPeerFiles(t, ca, 2, certs.Validity{}, ca), nil, nil)
		d := tlsNode(t, 1, ln1, map[uint64]string{1: ln1.Addr().String(), 2: ln2.Addr().String()}, nil, &dialerRecs, func(c *Config) {
			c.redialMin, c.redialMax = 5*time.Millisecond, 20*time.Millisecond
		})
		var seq uint64
		waitUntil(t, "the plain dialer to be told the port needs TLS", func() bool {
			seq++
			d.tr.Send([]raftpb.Message{app(1, 2, seq)})
			for _, r := range dialerRecs.matching("peer refused to admit us") {
				if strings.Contains(recordAttrs(r)["reason"], "requires TLS") {
					return true
				}
			}
			return false
		})
		expectNone(t, b.got, "message delivered over plain TCP to a TLS port")
		if st := b.tr.Stats(); st.RefusedTLS == 0 || st.AcceptedStreams != 0 {
			t.Fatalf("TLS node stats %+v: want refusals and no stream", st)
		}
	})

	t.Run("probe", func(t *testing.T) {
		// A TCP connect and close (a port probe) is no refusal.
		ln2 := listen(t)
		var recs logRecords
		b := tlsNode(t, 2, ln2, map[uint64]string{2: ln2.Addr().String()}, newPeerFiles(t, ca, 2, certs.Validity{}, ca), &recs, nil)
		c, err := net.Dial("tcp", ln2.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		waitUntil(t, "the probe's connection to be seen closed", func() bool {
			return len(recs.matching("closed before the TLS handshake")) > 0
		})
		if n := b.tr.Stats().RefusedTLS; n != 0 {
			t.Fatalf("a port probe counted as %d refusals", n)
		}
	})

	t.Run("TLS to plain", func(t *testing.T) {
		ln2, ln1 := listen(t), listen(t)
		var dialerRecs logRecords
		b := tlsNode(t, 2, ln2, map[uint64]string{2: ln2.Addr().String()}, nil, nil, nil)
		d := tlsNode(t, 1, ln1, map[uint64]string{1: ln1.Addr().String(), 2: ln2.Addr().String()}, newPeerFiles(t, ca, 1, certs.Validity{}, ca), &dialerRecs, func(c *Config) {
			c.redialMin, c.redialMax = 5*time.Millisecond, 20*time.Millisecond
		})
		var seq uint64
		waitUntil(t, "the TLS dialer's handshake to fail", func() bool {
			seq++
			d.tr.Send([]raftpb.Message{app(1, 2, seq)})
			for _, r := range dialerRecs.matching("cannot connect to peer") {
				if strings.Contains(recordAttrs(r)["err"], "TLS handshake") {
					return true
				}
			}
			return false
		})
		expectNone(t, b.got, "message delivered from a TLS dialer to a plain port")
		if n := b.tr.Stats().AcceptedStreams; n != 0 {
			t.Fatalf("plain node accepted %d streams", n)
		}
	})
}

// serverCert dials addr with cfg and returns the certificate the server
// presented: what a new connection sees.
func serverCert(t *testing.T, addr string, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: waitTimeout}, Config: cfg}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0]
}

// TestTLSCertificateRotation rotates node 1's certificate (same CA), then
// the CA (bundle of old and new, certificate of the new CA) while
// messages flow: established streams carry on without a reconnect, new
// connections get the new certificate.
func TestTLSCertificateRotation(t *testing.T) {
	checkLeaks(t)
	oldCA, newCA := newAuthority(t, "old ca"), newAuthority(t, "new ca")
	files := map[uint64]*peerFiles{1: newPeerFiles(t, oldCA, 1, certs.Validity{}, oldCA), 2: newPeerFiles(t, oldCA, 2, certs.Validity{}, oldCA)}
	nodes := startCluster(t, 2, func(id uint64, c *Config) { c.TLS = files[id].peerTLS() })
	a, b := nodes[0], nodes[1]
	addr1 := a.ln.Addr().String()
	seq := uint64(1)
	exchange(t, a, b, seq, 100)
	seq += 100
	streams := func() [2]uint64 { return [2]uint64{a.tr.Stats().AcceptedStreams, b.tr.Stats().AcceptedStreams} }
	before := streams()
	if before != [2]uint64{1, 1} {
		t.Fatalf("accepted streams %v, want one each", before)
	}
	dialer2 := files[2].files.ForPeers(testCluster).ClientConfig(1)

	// A new certificate of the same CA.
	first := files[1].files.Leaf()
	files[1].write(t, oldCA, 1, certs.Validity{})
	files[1].reload(t)
	if files[1].files.Leaf().Equal(first) {
		t.Fatal("reload kept the old certificate")
	}
	exchange(t, a, b, seq, 100)
	seq += 100
	if got := serverCert(t, addr1, dialer2); !got.Equal(files[1].files.Leaf()) {
		t.Fatal("a new connection got the old certificate")
	}

	// The CA: both bundles take the new CA, then node 1 a certificate of it.
	for _, id := range []uint64{1, 2} {
		files[id].writeBundle(t, oldCA, newCA)
		files[id].reload(t)
	}
	files[1].write(t, newCA, 1, certs.Validity{})
	files[1].reload(t)
	exchange(t, a, b, seq, 100)
	seq += 100
	got := serverCert(t, addr1, dialer2)
	if !got.Equal(files[1].files.Leaf()) || got.Issuer.CommonName != "new ca" {
		t.Fatalf("a new connection got a certificate of %q, want node 1's new one of the new CA", got.Issuer.CommonName)
	}
	// A new node with a certificate of the new CA connects to node 1 both
	// ways: node 1 verifies it, it verifies node 1's new certificate.
	f3 := newPeerFiles(t, newCA, 3, certs.Validity{}, oldCA, newCA)
	ln3 := listen(t)
	c := tlsNode(t, 3, ln3, map[uint64]string{1: addr1, 3: ln3.Addr().String()}, f3, nil, nil)
	a.tr.SetPeer(3, ln3.Addr().String())
	exchange(t, a, c, 1, 10)

	if after := streams(); after[0] != before[0]+1 || after[1] != before[1] {
		t.Fatalf("accepted streams went from %v to %v: want only node 3's new one (no reconnect between 1 and 2)", before, after)
	}
	for _, n := range nodes {
		if got := n.unreachN.Load(); got != 0 {
			t.Errorf("node %d reported %d unreachable peers during the rotation", n.id, got)
		}
	}
}
