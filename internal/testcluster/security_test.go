package testcluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/certs"
	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/lincheck"
	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/transport"
)

// cred is how a request authenticates: a TLS client configuration (its
// client certificate, if any) and a bearer token ("" for none).
type cred struct {
	tls   *tls.Config
	token string
}

// secDo sends one request to node id as cr, with extra headers. A
// fresh connection each time: a refused handshake must be this
// request's, and no earlier connection may carry it.
func secDo(ctx context.Context, c *testcluster.Cluster, id uint64, cr cred, method, path string, body any, header ...string) (*testcluster.Response, error) {
	req, err := jsonRequest(ctx, method, c.URL(id)+path, body)
	if err != nil {
		return nil, err
	}
	if cr.token != "" {
		req.Header.Set("Authorization", "Bearer "+cr.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	tr := &http.Transport{TLSClientConfig: cr.tls, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	return send(&http.Client{Transport: tr, Timeout: 15 * time.Second}, req)
}

// expectStatus sends the request to every node (a follower's answer
// covers forwarding) and fails unless each answers status with code. It
// returns the answer for the table of refusals.
func expectStatus(t *testing.T, c *testcluster.Cluster, cr cred, method, path string, body any, status int, code string, header ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got string
	for _, id := range c.IDs() {
		resp, err := secDo(ctx, c, id, cr, method, path, body, header...)
		if err != nil {
			t.Fatalf("%s %s on node %d: %v", method, path, id, err)
		}
		if resp.Status != status || resp.ErrorCode() != code {
			t.Fatalf("%s %s on node %d = %d %s, want %d %s", method, path, id, resp.Status, resp.Body, status, code)
		}
		got = fmt.Sprintf("%d %s", resp.Status, strings.TrimSpace(string(resp.Body)))
	}
	t.Logf("%s %s -> %s", method, path, got)
	return got
}

// expectRefused sends the request to every node and fails unless the
// connection is refused (no HTTP answer); it returns the error text.
func expectRefused(t *testing.T, c *testcluster.Cluster, cr cred, method, path string, body any, want ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got string
	for _, id := range c.IDs() {
		ok := false
		// In TLS 1.3 the server checks the client's certificate after the
		// client's side of the handshake is done, so the client may first
		// see its connection closed under it rather than the server's
		// alert; such a race is asked again, a few times.
		for attempt := 0; !ok && attempt < 5; attempt++ {
			resp, err := secDo(ctx, c, id, cr, method, path, body)
			if err == nil {
				t.Fatalf("%s %s on node %d was answered %d %s; want the connection refused", method, path, id, resp.Status, resp.Body)
			}
			got = err.Error()
			for _, w := range want {
				ok = ok || strings.Contains(got, w)
			}
			if !strings.Contains(got, "use of closed network connection") && !strings.Contains(got, "connection reset") &&
				!strings.Contains(got, "broken pipe") {
				break
			}
		}
		if !ok {
			t.Fatalf("%s %s on node %d: %v; want an error with one of %q", method, path, id, got, want)
		}
	}
	t.Logf("%s %s -> %s", method, path, got)
	return got
}

// clusterState is what a refused request must not change: the leader,
// its term and commit index, and the metadata every node holds (views;
// meta is the same without the log offset).
type clusterState struct {
	leader, term, commit uint64
	views, meta          map[uint64]string
}

func securityState(t *testing.T, c *testcluster.Cluster) clusterState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	lead := c.MustLeader()
	s := c.Server(lead)
	st := clusterState{leader: lead, term: s.Node.Term(), commit: s.Node.CommitIndex(), views: map[uint64]string{}, meta: map[uint64]string{}}
	for _, id := range c.IDs() {
		if n := c.Server(id); n != nil {
			v := n.State.Image().View(true)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			st.views[id] = string(b)
			v.Offset = 0
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
			st.meta[id] = string(b)
		}
	}
	return st
}

// unchanged fails the test if the cluster's state differs from before:
// not one entry was committed. An election in between (a node starved
// on a loaded machine: no request here can cause one) commits the new
// leader's empty entry; then the metadata must be the same but for its
// offset.
func unchanged(t *testing.T, c *testcluster.Cluster, before clusterState) {
	t.Helper()
	after := securityState(t, c)
	views := before.views
	if after.term != before.term {
		t.Logf("an election in between: leader %d term %d, then %d term %d; comparing the metadata only",
			before.leader, before.term, after.leader, after.term)
		views, after.views = before.meta, after.meta
	} else if after.leader != before.leader || after.commit != before.commit {
		t.Fatalf("leader/commit went from %d/%d to %d/%d in term %d", before.leader, before.commit, after.leader, after.commit, after.term)
	}
	for id, v := range views {
		if after.views[id] != v {
			t.Fatalf("node %d's metadata changed:\n%s\n---\n%s", id, v, after.views[id])
		}
	}
}

// unchangedStrict is unchanged without the allowance for an election:
// for refused peers, a new term is what a delivered message would cause.
func unchangedStrict(t *testing.T, c *testcluster.Cluster, before clusterState) {
	t.Helper()
	after := securityState(t, c)
	if after.leader != before.leader || after.term != before.term || after.commit != before.commit {
		t.Fatalf("leader/term/commit went from %d/%d/%d to %d/%d/%d", before.leader, before.term, before.commit,
			after.leader, after.term, after.commit)
	}
	for id, v := range before.views {
		if after.views[id] != v {
			t.Fatalf("node %d's metadata changed:\n%s\n---\n%s", id, v, after.views[id])
		}
	}
}

func brokerBody(id int32) map[string]any {
	return map[string]any{"brokerId": id, "brokerHost": "sec", "brokerPort": "9092", "securityProtocol": "PLAINTEXT", "rackId": "r1"}
}

// refusals collects what each negative case got, logged at the end as
// the table the security notes quote.
type refusals struct{ rows []string }

func (r *refusals) add(name, got string) { r.rows = append(r.rows, fmt.Sprintf("%-40s %s", name, got)) }

// TestTLSRefusals runs every negative case of the security design
// against one TLS cluster with real certificates on real sockets: each
// request is refused (401, 403, or no connection) on every node, and
// nothing changes — not the metadata, not the commit index, not the
// leader or its term.
func TestTLSRefusals(t *testing.T) {
	logs := &testcluster.LogBuffer{}
	c := testcluster.New(t, testcluster.Options{TLS: true, LogWriter: logs})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitDirectoryIDs(ctx); err != nil {
		t.Fatal(err)
	}
	admin := cred{tls: c.ClientTLS("admin")}
	// A topic and broker 1 exist, so deletes and broker writes have a
	// target that a refused request would change.
	expectCreated(t, c, admin, "/v1/topics", map[string]any{"name": "kept"})
	expectCreated(t, c, cred{tls: c.ClientTLS("broker-1")}, "/v1/brokers", brokerBody(1))
	var table refusals
	defer func() { t.Logf("refusals:\n%s", strings.Join(table.rows, "\n")) }()

	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		before := securityState(t, c)
		for _, id := range c.IDs() {
			resp, err := testcluster.Do(ctx, &http.Client{Timeout: 10 * time.Second}, "http://"+c.HTTPAddr(id), http.MethodPost, "/v1/topics", map[string]any{"name": "plain"})
			if err != nil {
				t.Fatalf("node %d: %v", id, err)
			}
			// Go's TLS server answers a plain HTTP request this way and
			// closes the connection; the request never reaches the API.
			if resp.Status != http.StatusBadRequest || !strings.Contains(string(resp.Body), "HTTPS") {
				t.Fatalf("node %d: plain HTTP answered %d %s", id, resp.Status, resp.Body)
			}
			if id == 1 {
				table.add("plain HTTP to the TLS port", fmt.Sprintf("%d %s", resp.Status, strings.TrimSpace(string(resp.Body))))
			}
		}
		unchanged(t, c, before)
	})

	t.Run("no credential", func(t *testing.T) {
		before := securityState(t, c)
		none := cred{tls: c.ClientTLS("")}
		table.add("no credential (write)", expectStatus(t, c, none, http.MethodPost, "/v1/topics", map[string]any{"name": "anon"}, 401, "UNAUTHENTICATED"))
		table.add("no credential (read)", expectStatus(t, c, none, http.MethodGet, "/v1/topics", nil, 401, "UNAUTHENTICATED"))
		// Health checks need none: orchestrators probe without one.
		expectStatus(t, c, none, http.MethodGet, "/healthz", nil, 200, "")
		unchanged(t, c, before)
	})

	t.Run("client certificate from another CA", func(t *testing.T) {
		before := securityState(t, c)
		other, err := certs.NewAuthority("another CA", time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// CN admin: only the CA tells it from the cluster's admin.
		cr := clientCred(t, c, other, "admin", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		table.add("client certificate from another CA", expectRefused(t, c, cr, http.MethodPost, "/v1/topics", map[string]any{"name": "other-ca"},
			"certificate", "tls:"))
		unchanged(t, c, before)
	})

	t.Run("expired client certificate", func(t *testing.T) {
		before := securityState(t, c)
		cr := clientCred(t, c, c.Authority(), "admin", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
		table.add("expired client certificate", expectRefused(t, c, cr, http.MethodPost, "/v1/topics", map[string]any{"name": "expired"},
			"certificate", "tls:"))
		unchanged(t, c, before)
	})

	t.Run("client certificate of a stranger", func(t *testing.T) {
		before := securityState(t, c)
		valid := func(cn string) cred {
			return clientCred(t, c, c.Authority(), cn, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		}
		// The cluster's CA signed it, so it is mallory; but the access
		// file gives mallory no role.
		table.add("CA's client certificate, CN not in the access file", expectStatus(t, c, valid("mallory"), http.MethodPost, "/v1/topics",
			map[string]any{"name": "by-mallory"}, 403, "FORBIDDEN"))
		// Only a node certificate (its DNS name) makes a member.
		table.add("CA's client certificate with CN node:1", expectStatus(t, c, valid("node:1"), http.MethodPost, "/v1/topics",
			map[string]any{"name": "by-fake-node"}, 401, "UNAUTHENTICATED"))
		unchanged(t, c, before)
	})

	t.Run("unknown token", func(t *testing.T) {
		before := securityState(t, c)
		cr := cred{tls: c.ClientTLS(""), token: "not-a-token-of-this-cluster"}
		table.add("unknown token", expectStatus(t, c, cr, http.MethodPost, "/v1/topics", map[string]any{"name": "bad-token"}, 401, "UNAUTHENTICATED"))
		unchanged(t, c, before)
	})

	t.Run("revoked token", func(t *testing.T) {
		tok := c.AddToken("ops")
		c.SetAccess(append(c.DefaultAccess(), c.AccessLine("ops", "admin")))
		cr := cred{tls: c.ClientTLS(""), token: tok}
		expectCreated(t, c, cr, "/v1/topics", map[string]any{"name": "by-ops"})
		// Removed from the file only: each node's watcher must notice.
		before := securityState(t, c)
		c.WriteAccess(c.DefaultAccess())
		wctx, wcancel := context.WithTimeout(ctx, 5*defaults.ReloadInterval)
		defer wcancel()
		for _, id := range c.IDs() {
			err := testcluster.WaitFor(wctx, func() bool {
				resp, err := secDo(wctx, c, id, cr, http.MethodGet, "/v1/topics", nil)
				return err == nil && resp.Status == http.StatusUnauthorized
			})
			if err != nil {
				t.Fatalf("node %d still accepts the removed token after %v: %v", id, 5*defaults.ReloadInterval, err)
			}
		}
		table.add("revoked (removed) token", expectStatus(t, c, cr, http.MethodPost, "/v1/topics", map[string]any{"name": "revoked"}, 401, "UNAUTHENTICATED"))
		unchanged(t, c, before)
	})

	t.Run("broker writing for another broker id", func(t *testing.T) {
		before := securityState(t, c)
		b1 := cred{tls: c.ClientTLS("broker-1")}
		table.add("broker:1 registers broker 2", expectStatus(t, c, b1, http.MethodPost, "/v1/brokers", brokerBody(2), 403, "FORBIDDEN"))
		table.add("broker:1 heartbeats as broker 2", expectStatus(t, c, b1, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 2}, 403, "FORBIDDEN"))
		table.add("broker:1 producer ids for broker 2", expectStatus(t, c, b1, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 2}, 403, "FORBIDDEN"))
		table.add("broker:1 creates a topic", expectStatus(t, c, b1, http.MethodPost, "/v1/topics", map[string]any{"name": "by-broker"}, 403, "FORBIDDEN"))
		b2 := cred{tls: c.ClientTLS(""), token: c.Token("broker-2")}
		table.add("broker:2 (token) shuts down broker 1", expectStatus(t, c, b2, http.MethodPost, "/v1/brokers/1/shutdown", map[string]any{}, 403, "FORBIDDEN"))
		unchanged(t, c, before)
	})

	t.Run("reader writing", func(t *testing.T) {
		before := securityState(t, c)
		r := cred{tls: c.ClientTLS("reader")}
		table.add("reader creates a topic", expectStatus(t, c, r, http.MethodPost, "/v1/topics", map[string]any{"name": "by-reader"}, 403, "FORBIDDEN"))
		table.add("reader deletes a topic", expectStatus(t, c, r, http.MethodDelete, "/v1/topics/kept", nil, 403, "FORBIDDEN"))
		rt := cred{tls: c.ClientTLS(""), token: c.Token("reader")}
		table.add("reader (token) registers a broker", expectStatus(t, c, rt, http.MethodPost, "/v1/brokers", brokerBody(3), 403, "FORBIDDEN"))
		// Only a member node's forwarding is believed about whom it
		// acts for.
		table.add("reader claims X-Yakt-Principal: admin", expectStatus(t, c, r, http.MethodPost, "/v1/topics", map[string]any{"name": "forged"}, 403, "FORBIDDEN",
			"X-Yakt-Principal", "admin"))
		// What a reader may do, it can.
		expectStatus(t, c, r, http.MethodGet, "/v1/topics/kept", nil, 200, "")
		unchanged(t, c, before)
	})

	t.Run("role removed", func(t *testing.T) {
		tok := c.AddToken("ops2")
		c.SetAccess(append(c.DefaultAccess(), c.AccessLine("ops2", "admin")))
		cr := cred{tls: c.ClientTLS(""), token: tok}
		expectCreated(t, c, cr, "/v1/topics", map[string]any{"name": "by-ops2"})
		before := securityState(t, c)
		// One reload, then the very next request is judged by it.
		c.SetAccess(append(c.DefaultAccess(), c.AccessLine("ops2", "reader")))
		table.add("request after its role was removed", expectStatus(t, c, cr, http.MethodDelete, "/v1/topics/by-ops2", nil, 403, "FORBIDDEN"))
		expectStatus(t, c, cr, http.MethodGet, "/v1/topics/by-ops2", nil, 200, "")
		unchanged(t, c, before)
	})

	t.Run("peers", func(t *testing.T) { peerRefusals(t, c, logs, &table) })
}

// expectCreated sends a write that must succeed (201) through the
// leader.
func expectCreated(t *testing.T, c *testcluster.Cluster, cr cred, path string, body any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := secDo(ctx, c, c.MustLeader(), cr, http.MethodPost, path, body)
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("POST %s: %v %+v", path, err, resp)
	}
}

// clientCred is a client certificate named cn issued by ca for the given
// validity; the client trusts the cluster's CAs. It presents the
// certificate whatever CAs the server asks for (Go's client would
// otherwise keep one of a CA the server does not name to itself).
func clientCred(t *testing.T, c *testcluster.Cluster, ca *certs.Authority, cn string, from, until time.Time) cred {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueClient(cn, certs.Validity{NotBefore: from, NotAfter: until})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cred{tls: &tls.Config{RootCAs: c.RootCAs(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &pair, nil
	}}}
}

// peerRefusals dials the peer ports as nodes that must be refused. A
// follower is stopped and an impostor takes its identity — its node id,
// directory id and peer address, so nothing but TLS tells it apart —
// and sends the other nodes a heartbeat of a far higher term: delivered,
// it would depose the leader (raft follows a higher term's leader). It
// is refused at every node, and the term and leader stay.
func peerRefusals(t *testing.T, c *testcluster.Cluster, logs *testcluster.LogBuffer, table *refusals) {
	lead := c.MustLeader()
	victim := c.IDs()[0]
	if victim == lead {
		victim = c.IDs()[1]
	}
	var others []uint64
	for _, id := range c.IDs() {
		if id != victim {
			others = append(others, id)
		}
	}
	var self *peerIdentity
	for _, m := range c.Server(lead).Node.Members() {
		if m.NodeID == victim {
			self = &peerIdentity{dir: [16]byte(m.DirectoryID), peerAddr: m.PeerAddr}
		}
	}
	if self == nil {
		t.Fatalf("node %d is not in the leader's membership", victim)
	}
	c.Kill(victim)
	t.Cleanup(func() {
		if c.Server(victim) == nil {
			c.Start(victim)
		}
	})
	dir := t.TempDir()
	// A valid certificate of this cluster's CA, for another node.
	wrongCert, wrongKey := writeNodeCert(t, c, dir, others[0])
	files, err := certs.Load(wrongCert, wrongKey, c.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tls  transport.PeerTLS
	}{
		{fmt.Sprintf("peer claiming node %d with node %d's certificate", victim, others[0]), files.ForPeers(c.ClusterID())},
		{"peer without a certificate (TLS)", noCertPeerTLS{c: c}},
		{"peer without TLS (plain TCP hello)", nil},
	}
	refused := func(id uint64) uint64 { return c.Server(id).Node.TransportStats().RefusedTLS }
	for _, tc := range cases {
		before := securityState(t, c)
		from := logs.Len()
		counts := map[uint64]uint64{}
		for _, o := range others {
			counts[o] = refused(o)
		}
		got := impostor(t, c, victim, self, others, tc.tls)
		// Every node it dialed counted the refusal as one for its TLS
		// credentials (the others would have refused it for nothing else).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := testcluster.WaitFor(ctx, func() bool {
			for _, o := range others {
				if refused(o) <= counts[o] {
					return false
				}
			}
			return true
		})
		cancel()
		if err != nil {
			t.Fatalf("%s: not every node counted a TLS refusal: %v", tc.name, err)
		}
		// The nodes say why in their logs, once a minute per reason.
		nodeLog := firstLine(strings.Join(lines(logs.Since(from), "refused peer connection"), "\n"))
		if nodeLog == "" {
			nodeLog = "(logged at debug: the warning is rate-limited)"
		}
		table.add(tc.name, got+"; node log: "+nodeLog)
		unchangedStrict(t, c, before)
	}
	// A real node cannot even start with another node's certificate: it
	// would only be refused, and on HTTP it would be that other node.
	certPEM, keyPEM, err := c.Authority().IssueNode(c.ClusterID(), others[0], []string{"127.0.0.1", "localhost"},
		certs.Validity{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	before := securityState(t, c)
	c.SetNodeCert(victim, certPEM, keyPEM)
	err = c.TryStart(victim)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("names node %d", others[0])) {
		t.Fatalf("node %d started with node %d's certificate: %v", victim, others[0], err)
	}
	table.add(fmt.Sprintf("node %d started with node %d's certificate", victim, others[0]), "refuses to start: "+err.Error())
	unchangedStrict(t, c, before)
	// The victim, back with its own certificate, rejoins: the refusals
	// were about the impostors' credentials, nothing else.
	c.RotateNodeCerts()
	c.Start(victim)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}

type peerIdentity struct {
	dir      [16]byte
	peerAddr string
}

// lines are the lines of s that contain sub.
func lines(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// writeNodeCert issues node id's certificate (a second one, valid) into
// dir and returns the files.
func writeNodeCert(t *testing.T, c *testcluster.Cluster, dir string, id uint64) (cert, key string) {
	t.Helper()
	certPEM, keyPEM, err := c.Authority().IssueNode(c.ClusterID(), id, []string{"127.0.0.1"},
		certs.Validity{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, fmt.Sprintf("node-%d.crt", id)), filepath.Join(dir, fmt.Sprintf("node-%d.key", id))
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// noCertPeerTLS is a dialer that checks the node it dials as a member
// does but presents no certificate of its own.
type noCertPeerTLS struct{ c *testcluster.Cluster }

func (n noCertPeerTLS) ServerConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }

func (n noCertPeerTLS) ClientConfig(peer uint64) *tls.Config {
	return &tls.Config{RootCAs: n.c.RootCAs(), ServerName: certs.NodeName(n.c.ClusterID(), peer), MinVersion: tls.VersionTLS12}
}

func (n noCertPeerTLS) NodeID(*tls.ConnectionState) (uint64, error) {
	return 0, errors.New("no certificate")
}

// impostor runs a transport claiming to be node id (which is down) with
// peer TLS tlsCfg, sends every other node heartbeats of a term far
// above the cluster's until each dial to them failed several times, and
// returns what its dials got.
func impostor(t *testing.T, c *testcluster.Cluster, id uint64, self *peerIdentity, others []uint64, tlsCfg transport.PeerTLS) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := map[uint64]string{}
	for _, o := range others {
		peers[o] = c.PeerAddr(o)
	}
	dialLog := &testcluster.LogBuffer{}
	tr, err := transport.New(transport.Config{
		NodeID: id, ClusterID: c.ClusterID(), Listener: l, Peers: peers,
		DirectoryID: self.dir, PeerAddr: self.peerAddr, HTTPAddr: c.HTTPAddr(id),
		Handler: func(m raftpb.Message) { t.Errorf("the impostor got %v from node %d", m.Type, m.From) },
		TLS:     tlsCfg,
		Logger:  slog.New(slog.NewTextHandler(dialLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	term := c.Server(c.MustLeader()).Node.Term() + 100
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = testcluster.WaitFor(ctx, func() bool {
		var msgs []raftpb.Message
		for _, o := range others {
			msgs = append(msgs, raftpb.Message{Type: raftpb.MsgHeartbeat, From: id, To: o, Term: term})
		}
		tr.Send(msgs)
		stats := tr.PeerStats()
		for _, o := range others {
			if stats[o].SendFailures < 3 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("the impostor's dials did not fail: %v; its log:\n%s", err, dialLog.Tail(4096))
	}
	got := firstLine(strings.Join(dialLog.Lines("level=WARN"), "\n"))
	if got == "" {
		got = firstLine(dialLog.Tail(4096))
	}
	t.Logf("impostor's dial: %s", got)
	return got
}

// TestTLSRotationUnderLoad rotates every node's certificate, then the
// CA itself (trust a bundle of the old and the new CA, issue from the
// new one, drop the old one, each step under load), while the
// fault suite's workload writes and reads and a second writer opens a
// new connection (a new handshake) for every write: not one call fails,
// the leader and its term stay, no raft connection is redialed, and the
// history is linearizable. Fresh handshakes on both ports show the new
// certificates in use.
func TestTLSRotationUnderLoad(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{TLS: true})
	lead := c.MustLeader()
	term := c.Server(lead).Node.Term()
	setupFixtures(t, c.Client, c.URL(lead))
	w := &testcluster.Workload{
		Targets: c.URLs, Clients: 4, PIDBroker: pidBroker, EpochTopic: epochsTopic, MoveBroker: moveBroker,
		// Generous: a call that times out on a loaded machine would be
		// an unknown outcome, which this test counts as a failure.
		Timeout: 20 * time.Second, Seed: 1, TLS: c.ClientTLS("admin"),
		History: lincheck.NewRecorder(), Acks: testcluster.NewAcks(),
	}
	mon := c.StartMonitor(epochsTopic)
	t.Cleanup(func() { mon.Stop() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	fresh := &freshWriter{c: c}
	freshDone := make(chan struct{})
	go func() { defer close(freshDone); fresh.run(ctx) }()
	stop := func() {
		cancel()
		<-done
		<-freshDone
	}
	defer stop()

	// progress waits until the load made n more acknowledged writes and
	// the fresh writer n/10 more, so each step ran under load.
	progress := func(step string, n int) {
		t.Helper()
		acked, fw := w.Acks.Acknowledged(), fresh.count()
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		if err := testcluster.WaitFor(wctx, func() bool {
			return w.Acks.Acknowledged() >= acked+n && fresh.count() >= fw+n/10
		}); err != nil {
			t.Fatalf("%s: the load stalled: %d acknowledged writes, %d fresh ones: %v", step, w.Acks.Acknowledged()-acked, fresh.count()-fw, err)
		}
	}
	progress("before", 30)

	// Raft's connections outlive the rotations: no node accepts a new
	// message stream (a peer redialing) until the end.
	streams := map[uint64]uint64{}
	for _, id := range c.IDs() {
		streams[id] = c.Server(id).Node.TransportStats().AcceptedStreams
	}
	old := servedSerials(t, c)
	c.RotateNodeCerts()
	now := servedSerials(t, c)
	for k, s := range now {
		if s == old[k] {
			t.Fatalf("%s still serves certificate %s after the rotation", k, s)
		}
	}
	progress("after the node certificates' rotation", 50)

	oldCA := c.Authority()
	c.TrustNewCA()
	progress("after trusting the new CA", 20)
	c.IssueFromNewCA()
	progress("after issuing from the new CA", 20)
	c.DropOldCA()
	for _, id := range c.IDs() {
		for _, addr := range []string{c.HTTPAddr(id), c.PeerAddr(id)} {
			cert := servedCertificate(t, c, addr)
			if err := cert.CheckSignatureFrom(c.Authority().Cert); err != nil {
				t.Fatalf("%s serves a certificate the new CA did not sign: %v", addr, err)
			}
		}
	}
	progress("after the CA's rotation", 50)
	stop()
	for _, id := range c.IDs() {
		if n := c.Server(id).Node.TransportStats().AcceptedStreams; n != streams[id] {
			t.Errorf("node %d accepted %d new message streams during the rotations: peers redialed", id, n-streams[id])
		}
	}

	// The old CA is gone from the bundle: its certificates are refused.
	cr := clientCred(t, c, oldCA, "admin", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	expectRefused(t, c, cr, http.MethodPost, "/v1/topics", map[string]any{"name": "old-ca"}, "certificate", "tls:")

	st := w.History.Stats()
	t.Logf("rotation under load: %s; %d acknowledged writes; %d fresh-connection writes; %d failed calls",
		st, w.Acks.Acknowledged(), fresh.count(), w.Acks.Failed)
	if w.Acks.Failed > 0 || st.Unknown > 0 || len(w.Acks.Errors) > 0 || fresh.err() != nil {
		t.Errorf("calls failed across the rotation: %d failed, %d unknown, unexpected answers %q, fresh writer: %v",
			w.Acks.Failed, st.Unknown, w.Acks.Errors, fresh.err())
	}
	if violations, _ := mon.Stop(); len(violations) > 0 || mon.Elections() > 0 {
		t.Errorf("monitor: %d elections, violations %q", mon.Elections(), violations)
	}
	if l := c.MustLeader(); l != lead || c.Server(l).Node.Term() != term {
		t.Errorf("leader %d term %d before, %d term %d after", lead, term, l, c.Server(l).Node.Term())
	}
	w.FinalReads(c.URL(lead))
	if res, err := w.History.Check(time.Minute, visualizationPath(t, "tls-rotation", 1)); err != nil {
		t.Errorf("history %s: %v", res, err)
	}
}

// freshWriter creates topics, each over a new connection (so a new TLS
// handshake) with the admin certificate of the moment, until ctx ends;
// it keeps the first error.
type freshWriter struct {
	c     *testcluster.Cluster
	mu    sync.Mutex
	n     int
	first error
}

func (f *freshWriter) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		// Which certificate it presented, and when, says which step of a
		// rotation a refused handshake straddled.
		cfg := f.c.ClientTLS("admin")
		get := cfg.GetClientCertificate
		// Written by the handshake, which may go on in the transport's
		// dial goroutine after the request gave up.
		var (
			presentedMu sync.Mutex
			issuer      string
			at          time.Time
		)
		cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := get(cri)
			if err == nil && c.Leaf != nil {
				presentedMu.Lock()
				issuer, at = c.Leaf.Issuer.CommonName, time.Now()
				presentedMu.Unlock()
			}
			return c, err
		}
		id := f.c.IDs()[i%len(f.c.IDs())]
		start := time.Now()
		resp, err := secDo(ctx, f.c, id, cred{tls: cfg}, http.MethodPost, "/v1/topics", map[string]any{"name": fmt.Sprintf("fresh-%d", i)})
		if err != nil {
			presentedMu.Lock()
			err = fmt.Errorf("started %s, presented a certificate of %q at %s: %w", start.Format("15:04:05.000"), issuer, at.Format("15:04:05.000"), err)
			presentedMu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
		f.mu.Lock()
		if err == nil && resp.Status != http.StatusCreated {
			err = fmt.Errorf("node %d answered %d %s", id, resp.Status, resp.Body)
		}
		if err != nil && f.first == nil {
			f.first = fmt.Errorf("node %d at %s: %w", id, time.Now().Format("15:04:05.000"), err)
		}
		if err == nil {
			f.n++
		}
		f.mu.Unlock()
	}
}

func (f *freshWriter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *freshWriter) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}

// servedSerials are the serial numbers of the certificates every node
// serves now on its HTTP and peer ports, by address.
func servedSerials(t *testing.T, c *testcluster.Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range c.IDs() {
		for _, addr := range []string{c.HTTPAddr(id), c.PeerAddr(id)} {
			out[addr] = servedCertificate(t, c, addr).SerialNumber.String()
		}
	}
	return out
}

// servedCertificate is the certificate addr presents in a new
// handshake. The client presents a node certificate of the current CA
// (the peer port requires one) and checks nothing itself: the caller
// checks what it got.
func servedCertificate(t *testing.T, c *testcluster.Cluster, addr string) *x509.Certificate {
	t.Helper()
	certPEM, keyPEM, err := c.Authority().IssueNode(c.ClusterID(), 99, []string{"127.0.0.1"},
		certs.Validity{NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}
