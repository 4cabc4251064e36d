package api_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/certs"
	"github.com/yakt/yakt/internal/transport"
)

// tlsMaterial is a throwaway CA with the files of nodes and clients.
type tlsMaterial struct {
	t   *testing.T
	dir string
	ca  *certs.Authority
}

func newTLSMaterial(t *testing.T) *tlsMaterial {
	ca, err := certs.NewAuthority("auth-test CA", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := &tlsMaterial{t: t, dir: t.TempDir(), ca: ca}
	m.write("ca.pem", ca.CertPEM)
	return m
}

func (m *tlsMaterial) write(name string, data []byte) string {
	m.t.Helper()
	p := filepath.Join(m.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		m.t.Fatal(err)
	}
	return p
}

var validity = certs.Validity{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}

// node loads node id's files (certificate for 127.0.0.1).
func (m *tlsMaterial) node(clusterID string, id uint64) *certs.Files {
	m.t.Helper()
	cert, key, err := m.ca.IssueNode(clusterID, id, []string{"127.0.0.1"}, validity)
	if err != nil {
		m.t.Fatal(err)
	}
	f, err := certs.Load(m.write(fmt.Sprintf("node%d.pem", id), cert), m.write(fmt.Sprintf("node%d.key", id), key), filepath.Join(m.dir, "ca.pem"))
	if err != nil {
		m.t.Fatal(err)
	}
	return f
}

// client is an HTTPS client presenting a client certificate for name
// (none when ""), trusting the CA.
func (m *tlsMaterial) client(name string) *http.Client {
	m.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(m.ca.Cert)
	conf := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if name != "" {
		cert, key, err := m.ca.IssueClient(name, validity)
		if err != nil {
			m.t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			m.t.Fatal(err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: conf}
	m.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// nodeClient is an HTTPS client presenting node id's certificate, as the
// node's own requests do.
func nodeClient(t *testing.T, f *certs.Files) *http.Client {
	tr := &http.Transport{TLSClientConfig: f.HTTPClientConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// TestAuthWithClientCertificates: over HTTPS with the nodes' own
// certificates for their requests to each other, a client certificate's
// CN is the principal and gets its access file roles; a CN without a line
// may do nothing; a CN claiming a member is refused; a member's node
// certificate may call the internal routes; writes sent to a follower
// are forwarded over HTTPS with the node's certificate and run on the
// leader as the original principal.
func TestAuthWithClientCertificates(t *testing.T) {
	m := newTLSMaterial(t)
	o := authClusterOptions{forwardOverHTTP: true, serverTLS: map[uint64]*tls.Config{}, nodeTLS: map[uint64]*tls.Config{},
		peerTLS: map[uint64]transport.PeerTLS{}}
	files := map[uint64]*certs.Files{}
	for id := uint64(1); id <= 3; id++ {
		f := m.node("auth-test", id)
		files[id] = f
		o.serverTLS[id], o.nodeTLS[id], o.peerTLS[id] = f.HTTPServerConfig(), f.HTTPClientConfig(), f.ForPeers("auth-test")
	}
	c := newAuthCluster(t, accessFile("ops admin\ncarol reader\n"), o)
	lead, fol := c.leader(), c.follower()
	ops, carol, stranger, fake, none := m.client("ops"), m.client("carol"), m.client("stranger"), m.client("node:1"), m.client("")

	want := func(hc *http.Client, id uint64, token, method, path string, body any, status int, code string) answer {
		t.Helper()
		a := c.do(hc, id, token, method, path, body)
		if a.status != status || code != "" && a.code != code {
			t.Fatalf("%s %s on node %d: %d %s, want %d %s", method, path, id, a.status, a.body, status, code)
		}
		return a
	}
	want(none, lead, "", "GET", "/v1/topics", nil, 401, "UNAUTHENTICATED")
	want(none, lead, "reader-token", "GET", "/v1/topics", nil, 200, "") // a token over HTTPS
	want(fake, lead, "", "GET", "/v1/topics", nil, 401, "UNAUTHENTICATED")
	want(fake, lead, "admin-token", "GET", "/v1/topics", nil, 401, "UNAUTHENTICATED") // the certificate speaks, not the token
	want(stranger, lead, "", "GET", "/v1/topics", nil, 403, "FORBIDDEN")
	want(carol, fol, "", "GET", "/v1/topics", nil, 200, "")
	want(carol, fol, "", "GET", "/v1/quorum", nil, 200, "") // relayed from the leader over HTTPS
	if strings.Contains(c.logs.String(), "answering the local view") {
		t.Errorf("the follower could not relay the leader's quorum view over HTTPS:\n%s", lastLines(c.logs.String(), 20))
	}
	want(carol, fol, "", "POST", "/v1/brokers", brokerBody(9), 403, "FORBIDDEN")
	want(ops, fol, "", "POST", "/v1/brokers", brokerBody(9), 201, "")
	want(ops, fol, "", "POST", "/v1/topics", map[string]any{"name": "tls1", "partitions": 1}, 201, "")
	want(carol, lead, "", "GET", "/v1/topics/tls1", nil, 200, "")
	if !regexp.MustCompile(fmt.Sprintf(`msg=write node=%d principal=ops method=POST path=/v1/topics .* forwarded_by=node:%d`, lead, fol)).MatchString(c.logs.String()) {
		t.Errorf("no log of ops' write forwarded by node %d in:\n%s", fol, lastLines(c.logs.String(), 20))
	}

	// A member's certificate: the node principal, which may send the
	// internal heartbeats; a principal it names is believed.
	member := nodeClient(t, files[fol])
	want(member, lead, "", "POST", "/v1/internal/broker-heartbeats", map[string]any{"heartbeats": []any{}}, 200, "")
	want(ops, lead, "", "POST", "/v1/internal/broker-heartbeats", map[string]any{"heartbeats": []any{}}, 403, "FORBIDDEN")
	req, err := http.NewRequest("POST", c.nodes[lead].url+"/v1/topics", strings.NewReader(`{"name":"tls2","partitions":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(api.HeaderPrincipal, "carol")
	resp, err := member.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("a member forwarding for carol (reader) created a topic: %d", resp.StatusCode)
	}
	req.Header.Set(api.HeaderPrincipal, "no-such-principal")
	req.Body = io.NopCloser(strings.NewReader(`{"name":"tls2","partitions":1}`))
	if resp, err = member.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("a member forwarding for an unknown principal: %d", resp.StatusCode)
	}
	want(carol, lead, "", "GET", "/v1/topics/tls2", nil, 404, "TOPIC_NOT_FOUND")

	// The role taken away, then reloaded: refused at once.
	c.writeAccess(accessFile("ops reader\ncarol reader\n"))
	c.reload()
	want(ops, fol, "", "POST", "/v1/topics", map[string]any{"name": "tls3", "partitions": 1}, 403, "FORBIDDEN")
}
