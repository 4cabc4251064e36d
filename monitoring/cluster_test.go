package monitoring

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/certs"
	"github.com/yakt/yakt/internal/server"
)

// testCluster is three real nodes on 127.0.0.1 with their data in
// t.TempDir(), stopped when the test ends. They run as production should:
// TLS on both ports and an access file; the test scrapes and writes as an
// admin with a client certificate (Prometheus would use a reader's).
type testCluster struct {
	t       *testing.T
	servers map[uint64]*server.Server
	client  *http.Client
	cfgs    map[uint64]server.Config // as first started
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	voters := map[uint64]string{}
	peerLs := map[uint64]net.Listener{}
	httpLs := map[uint64]net.Listener{}
	for id := uint64(1); id <= 3; id++ {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peerLs[id], httpLs[id], voters[id] = pl, hl, pl.Addr().String()
	}
	pki := newTestPKI(t)
	c := &testCluster{t: t, servers: map[uint64]*server.Server{}, client: pki.adminClient(),
		cfgs: map[uint64]server.Config{}}
	for id := uint64(1); id <= 3; id++ {
		certFile, keyFile := pki.node(id)
		c.cfgs[id] = server.Config{
			TLSCertFile: certFile, TLSKeyFile: keyFile, TLSCAFile: pki.caFile, AccessFile: pki.accessFile,
			NodeID: id, ClusterID: "monitoring", DataDir: t.TempDir(), Voters: voters,
			PeerListener: peerLs[id], HTTPListener: httpLs[id],
			TickInterval: 50 * time.Millisecond, BrokerSessionTimeout: time.Minute,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		s, err := server.Start(c.cfgs[id])
		if err != nil {
			t.Fatalf("start node %d: %v", id, err)
		}
		c.servers[id] = s
	}
	t.Cleanup(func() {
		for _, s := range c.servers {
			s.Kill()
		}
	})
	return c
}

// waitLeader returns the leader every running node agrees on.
func (c *testCluster) waitLeader() uint64 {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var lead uint64
		agreed := true
		for _, s := range c.servers {
			l := s.Node.Leader()
			if l == 0 || (lead != 0 && l != lead) {
				agreed = false
				break
			}
			lead = l
		}
		if agreed && lead != 0 && c.servers[lead] != nil {
			if _, ready := c.servers[lead].Node.LeaderReady(); ready {
				return lead
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader agreed within 20s")
	return 0
}

// restart kills node id (as a crash would) and starts it again on its
// data directory and addresses.
func (c *testCluster) restart(id uint64) {
	c.t.Helper()
	old := c.servers[id]
	addr := old.HTTPAddr()
	old.Kill()
	delete(c.servers, id)
	cfg := c.cfgs[id]
	cfg.PeerListener, cfg.HTTPListener = nil, nil
	cfg.ListenPeer, cfg.ListenHTTP = cfg.Voters[id], addr
	s, err := server.Start(cfg)
	if err != nil {
		c.t.Fatalf("restart node %d: %v", id, err)
	}
	c.servers[id] = s
}

func (c *testCluster) url(id uint64) string { return "https://" + c.servers[id].HTTPAddr() }

// testPKI is a throwaway CA and the files the nodes and the test's client
// use, in a temporary directory.
type testPKI struct {
	t                       *testing.T
	dir, caFile, accessFile string
	ca                      *certs.Authority
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := certs.NewAuthority("monitoring test CA", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{t: t, dir: t.TempDir(), ca: ca}
	p.caFile = p.write("ca.crt", ca.CertPEM)
	p.accessFile = p.write("access", []byte("admin admin\n"))
	return p
}

func (p *testPKI) write(name string, data []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func (p *testPKI) validity() certs.Validity {
	return certs.Validity{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
}

// node writes node id's certificate and key.
func (p *testPKI) node(id uint64) (certFile, keyFile string) {
	p.t.Helper()
	certPEM, keyPEM, err := p.ca.IssueNode("monitoring", id, []string{"127.0.0.1"}, p.validity())
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(fmt.Sprintf("node%d.crt", id), certPEM), p.write(fmt.Sprintf("node%d.key", id), keyPEM)
}

// adminClient is an HTTPS client with the admin's client certificate.
func (p *testPKI) adminClient() *http.Client {
	p.t.Helper()
	certPEM, keyPEM, err := p.ca.IssueClient("admin", p.validity())
	if err != nil {
		p.t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		p.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.ca.CertPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	p.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// do sends a request and fails the test unless the answer has code want.
func (c *testCluster) do(id uint64, method, path, body string, want int) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url(id)+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s on node %d: %v", method, path, id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s on node %d: %d %s, want %d", method, path, id, resp.StatusCode, b, want)
	}
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape is one node's /metrics: the samples, and the metric families
// declared by # TYPE lines.
type scrape struct {
	samples  []sample
	families map[string]string // name -> type
}

func (c *testCluster) scrape(id uint64) scrape {
	c.t.Helper()
	resp, err := c.client.Get(c.url(id) + "/metrics")
	if err != nil {
		c.t.Fatalf("scrape node %d: %v", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("scrape node %d: %d %v", id, resp.StatusCode, err)
	}
	s, err := parseText(b)
	if err != nil {
		c.t.Fatalf("scrape node %d: %v", id, err)
	}
	return s
}

// parseText parses the Prometheus text exposition format (what
// promhttp serves to a client that asks for nothing else).
func parseText(b []byte) (scrape, error) {
	out := scrape{families: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(f, " ")
			out.families[name] = typ
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			return out, fmt.Errorf("bad line %q", line)
		}
		s.name, line = line[:i], line[i:]
		if line[0] == '{' {
			line = line[1:]
			for line[0] != '}' {
				k, rest, ok := strings.Cut(line, `="`)
				if !ok {
					return out, fmt.Errorf("bad labels in %q", line)
				}
				var v strings.Builder
				j := 0
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' && j+1 < len(rest) {
						j++
						switch rest[j] {
						case 'n':
							v.WriteByte('\n')
						default:
							v.WriteByte(rest[j])
						}
						continue
					}
					v.WriteByte(rest[j])
				}
				if j == len(rest) {
					return out, fmt.Errorf("unterminated label value in %q", line)
				}
				s.labels[strings.TrimPrefix(k, ",")] = v.String()
				line = strings.TrimPrefix(rest[j+1:], ",")
				if line == "" {
					return out, fmt.Errorf("unterminated labels")
				}
			}
			line = line[1:]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			return out, fmt.Errorf("no value for %s", s.name)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return out, fmt.Errorf("value of %s: %w", s.name, err)
		}
		s.value = v
		out.samples = append(out.samples, s)
	}
	return out, sc.Err()
}

// get returns the value of the sample name whose labels include want,
// and whether there is one (exactly one is expected).
func (s scrape) get(name string, want map[string]string) (float64, bool) {
	for _, x := range s.find(name, want) {
		return x.value, true
	}
	return 0, false
}

func (s scrape) find(name string, want map[string]string) []sample {
	var out []sample
next:
	for _, x := range s.samples {
		if x.name != name {
			continue
		}
		for k, v := range want {
			if x.labels[k] != v {
				continue next
			}
		}
		out = append(out, x)
	}
	return out
}

// waitFor polls cond until it returns "" (met) or the deadline, then fails
// with cond's last complaint.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(msg)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
