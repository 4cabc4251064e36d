package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/transport"
)

// authNode is one node of a cluster whose API authenticates with an
// access file: raft, controller and API as yakt server runs them, served
// by a real http.Server on loopback.
type authNode struct {
	id     uint64
	url    string
	node   *raftnode.Node
	ctrl   *controller.Controller
	api    *api.Server
	http   *http.Server
	served chan struct{}
}

// authCluster is a cluster of authNodes sharing one access file (each
// node has its own Store of it, as each process would).
type authCluster struct {
	t      *testing.T
	path   string // the access file
	nodes  map[uint64]*authNode
	stores map[uint64]*auth.Store
	logs   *syncBuffer
}

// syncBuffer collects the nodes' log lines for tests that look for them.
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

type authClusterOptions struct {
	nodes           int
	forwardOverHTTP bool
	maxLongPolls    int
	nodeTLS         map[uint64]*tls.Config // per node, for its own requests to other nodes
	serverTLS       map[uint64]*tls.Config // per node, HTTPS on its HTTP port
	peerTLS         map[uint64]transport.PeerTLS
	migration       func(id uint64) api.MigrationHooks // per node; nil: none
}

func newAuthCluster(t *testing.T, access string, o authClusterOptions) *authCluster {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	dir := t.TempDir()
	c := &authCluster{t: t, path: filepath.Join(dir, "access"), nodes: map[uint64]*authNode{}, stores: map[uint64]*auth.Store{}, logs: &syncBuffer{}}
	c.writeAccess(access)
	peerLs, httpLs := map[uint64]net.Listener{}, map[uint64]net.Listener{}
	voters := map[uint64]string{}
	for id := uint64(1); id <= uint64(o.nodes); id++ {
		for _, m := range []map[uint64]net.Listener{peerLs, httpLs} {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			m[id] = l
		}
		voters[id] = peerLs[id].Addr().String()
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.http.Close()
			<-n.served
			n.api.Close()
			n.node.Stop()
		}
	})
	log := slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for id := uint64(1); id <= uint64(o.nodes); id++ {
		store, err := auth.OpenStore(c.path)
		if err != nil {
			t.Fatal(err)
		}
		c.stores[id] = store
		state := controller.NewStateMachine(0)
		nlog := log.With("node", id)
		node, err := raftnode.StartContext(context.Background(), raftnode.Config{
			NodeID: id, ClusterID: "auth-test", Peers: voters, PeerListener: peerLs[id], HTTPAddr: httpLs[id].Addr().String(),
			DataDir: filepath.Join(dir, fmt.Sprint(id)), StateMachine: state, TickInterval: 50 * time.Millisecond, ElectionTicks: 20,
			Logger: nlog, PeerTLS: o.peerTLS[id],
		})
		if err != nil {
			t.Fatal(err)
		}
		ctrl := controller.New(controller.Config{Node: node, ClusterID: "auth-test", State: state, Logger: nlog, BrokerSessionTimeout: time.Hour})
		var hooks api.MigrationHooks
		if o.migration != nil {
			hooks = o.migration(id)
		}
		srv := api.New(api.Config{Controller: ctrl, Logger: nlog, Access: store, ForwardOverHTTP: o.forwardOverHTTP,
			MaxLongPolls: o.maxLongPolls, NodeTLS: o.nodeTLS[id], Migration: hooks})
		hs := &http.Server{Handler: srv.Handler(), ConnContext: api.ConnContext, ReadHeaderTimeout: 5 * time.Second}
		n := &authNode{id: id, url: "http://" + httpLs[id].Addr().String(), node: node, ctrl: ctrl, api: srv, http: hs, served: make(chan struct{})}
		l := httpLs[id]
		if conf := o.serverTLS[id]; conf != nil {
			l = tls.NewListener(l, conf)
			n.url = "https://" + httpLs[id].Addr().String()
		}
		go func() {
			defer close(n.served)
			_ = hs.Serve(l)
		}()
		c.nodes[id] = n
	}
	return c
}

// writeAccess replaces the access file (written beside and renamed).
func (c *authCluster) writeAccess(data string) {
	c.t.Helper()
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		c.t.Fatal(err)
	}
}

// reload makes every node reload the access file (what SIGHUP does).
func (c *authCluster) reload() {
	c.t.Helper()
	for id, s := range c.stores {
		if _, err := s.Reload(); err != nil {
			c.t.Fatalf("node %d: reload: %v", id, err)
		}
	}
}

// leader waits until the nodes agree on a leader and returns it.
func (c *authCluster) leader() uint64 {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lead := c.nodes[1].node.Leader()
		agreed := lead != 0
		for _, n := range c.nodes {
			agreed = agreed && n.node.Leader() == lead
		}
		if agreed {
			return lead
		}
		if time.Now().After(deadline) {
			c.t.Fatal("no leader within 30s")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded above
	}
}

// follower is a node other than the leader.
func (c *authCluster) follower() uint64 {
	lead := c.leader()
	for id := range c.nodes {
		if id != lead {
			return id
		}
	}
	c.t.Fatal("no follower")
	return 0
}

type answer struct {
	status int
	code   string
	header http.Header
	body   string
}

// do sends a request to node id with token (none when ""), through hc
// (http.DefaultClient when nil).
func (c *authCluster) do(hc *http.Client, id uint64, token, method, path string, body any) answer {
	c.t.Helper()
	a, err := c.try(hc, id, token, method, path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// try is do for any goroutine: it returns what went wrong.
func (c *authCluster) try(hc *http.Client, id uint64, token, method, path string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.nodes[id].url+path, rd)
	if err != nil {
		return answer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s on node %d: %w", method, path, id, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &e)
	return answer{status: resp.StatusCode, code: e.Error.Code, header: resp.Header, body: string(data)}, nil
}

// must sends like do and fails the test unless the answer has status and
// (when not "") code.
func (c *authCluster) must(id uint64, token, method, path string, body any, status int, code string) answer {
	c.t.Helper()
	a := c.do(nil, id, token, method, path, body)
	if a.status != status || code != "" && a.code != code {
		c.t.Fatalf("%s %s on node %d: %d %s, want %d %s", method, path, id, a.status, strings.TrimSpace(a.body), status, code)
	}
	return a
}

// topics is the topic list a node answers (linearizable), as admin.
func (c *authCluster) topics(id uint64) string {
	c.t.Helper()
	return c.must(id, "admin-token", "GET", "/v1/topics", nil, 200, "").body
}

func brokerBody(id int) map[string]any {
	return map[string]any{"brokerId": id, "brokerHost": "10.0.0.1", "brokerPort": 9092 + id}
}

const testAccess = `# principal roles hashes
admin      admin      %s
reader     reader     %s
broker-1   broker:1   %s
broker-2   broker:2   %s
`

func accessFile(extra string) string {
	return fmt.Sprintf(testAccess, auth.HashToken("admin-token"), auth.HashToken("reader-token"),
		auth.HashToken("b1-token"), auth.HashToken("b2-token")) + extra
}

// TestAuthRolesOnRealNodes: with an access file, a missing or bad token
// is 401, a reader writing and a broker acting for another broker are
// 403, and none of them changes anything; the allowed requests work.
func TestAuthRolesOnRealNodes(t *testing.T) {
	c := newAuthCluster(t, accessFile(""), authClusterOptions{})
	lead := c.leader()

	// Open routes need nothing.
	c.must(lead, "", "GET", "/healthz", nil, 200, "")
	c.must(lead, "", "GET", "/readyz", nil, 200, "")

	// No credential, an unknown token, a malformed header: 401, with
	// WWW-Authenticate, and an unknown path does not tell more.
	for _, tok := range []string{"", "no-such-token"} {
		for _, p := range []string{"/v1/topics", "/v1/no-such-path", "/metrics", "/ui/api/topics"} {
			a := c.must(lead, tok, "GET", p, nil, 401, "UNAUTHENTICATED")
			if a.header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("GET %s with token %q: WWW-Authenticate %q", p, tok, a.header.Get("WWW-Authenticate"))
			}
		}
	}
	before := c.topics(lead)
	c.must(lead, "", "POST", "/v1/topics", map[string]any{"name": "t0", "partitions": 1}, 401, "UNAUTHENTICATED")
	c.must(lead, "no-such-token", "POST", "/v1/topics", map[string]any{"name": "t0", "partitions": 1}, 401, "UNAUTHENTICATED")

	// A reader reads everything and writes nothing.
	c.must(lead, "reader-token", "GET", "/v1/topics", nil, 200, "")
	c.must(lead, "reader-token", "GET", "/ui/api/topics", nil, 200, "")
	c.must(lead, "reader-token", "GET", "/v1/metadata", nil, 200, "")
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/topics", map[string]any{"name": "t0", "partitions": 1}},
		{"POST", "/v1/brokers", brokerBody(1)},
		{"POST", "/v1/snapshots", nil},
		{"DELETE", "/v1/brokers/1", nil},
		{"POST", "/v1/internal/broker-heartbeats", map[string]any{"heartbeats": []any{}}},
		{"POST", "/v1/metadata/fetch", map[string]any{"brokerId": 1}},
	} {
		c.must(lead, "reader-token", w.method, w.path, w.body, 403, "FORBIDDEN")
	}
	if after := c.topics(lead); after != before {
		t.Fatalf("refused writes changed the topics:\n%s\n%s", before, after)
	}

	// broker:1 acts for broker 1 only.
	c.must(lead, "b1-token", "POST", "/v1/brokers", brokerBody(2), 403, "FORBIDDEN")
	c.must(lead, "b1-token", "GET", "/v1/brokers", nil, 403, "FORBIDDEN") // no reader role
	c.must(lead, "admin-token", "GET", "/v1/brokers/2", nil, 404, "BROKER_NOT_FOUND")
	c.must(lead, "b1-token", "POST", "/v1/brokers", brokerBody(1), 201, "")
	c.must(lead, "b2-token", "POST", "/v1/brokers", brokerBody(2), 201, "")
	brokers := c.must(lead, "admin-token", "GET", "/v1/brokers", nil, 200, "").body
	c.must(lead, "b1-token", "POST", "/v1/metadata/fetch", map[string]any{"brokerId": 2}, 403, "FORBIDDEN")
	c.must(lead, "b1-token", "POST", "/v1/producer-ids", map[string]any{"brokerId": 2}, 403, "FORBIDDEN")
	c.must(lead, "b1-token", "POST", "/v1/brokers/2/shutdown", nil, 403, "FORBIDDEN")
	c.must(lead, "b1-token", "PATCH", "/v1/brokers/2", map[string]any{"brokerStatus": "FENCED"}, 403, "FORBIDDEN")
	c.must(lead, "b1-token", "POST", "/v1/topics", map[string]any{"name": "t0", "partitions": 1}, 403, "FORBIDDEN")
	if after := c.must(lead, "admin-token", "GET", "/v1/brokers", nil, 200, "").body; after != brokers {
		t.Fatalf("broker 1's refused requests for broker 2 changed the brokers:\n%s\n%s", brokers, after)
	}
	c.must(lead, "b1-token", "POST", "/v1/metadata/fetch", map[string]any{"brokerId": 1}, 200, "")
	c.must(lead, "b1-token", "POST", "/v1/producer-ids", map[string]any{"brokerId": 1}, 201, "")
	c.must(lead, "admin-token", "POST", "/v1/topics", map[string]any{"name": "t1", "partitions": 1, "replicationFactor": 1}, 201, "")
	part := c.must(lead, "admin-token", "POST", "/v1/topics/t1/partitions", map[string]any{"replicas": []int{1, 2}}, 201, "")
	var rec struct {
		Fields struct {
			PartitionID    int32 `json:"partitionId"`
			PartitionEpoch int64 `json:"partitionEpoch"`
			Leader         int32 `json:"leader"`
		} `json:"fields"`
	}
	err := json.Unmarshal([]byte(part.body), &rec)
	pr := rec.Fields
	if err != nil || pr.Leader != 1 {
		t.Fatalf("partition: %s (%v)", part.body, err)
	}
	isr := map[string]any{"brokerId": 1, "partitionEpoch": pr.PartitionEpoch, "ISR": []int{1}}
	isrPath := fmt.Sprintf("/v1/topics/t1/partitions/%d/isr", pr.PartitionID)
	c.must(lead, "b2-token", "POST", isrPath, isr, 403, "FORBIDDEN")
	c.must(lead, "b1-token", "POST", isrPath, isr, 200, "")
	c.must(lead, "b1-token", "POST", "/v1/brokers/1/shutdown", nil, 200, "")

	// Writes are logged with their principal.
	if !strings.Contains(c.logs.String(), `principal=broker-1 method=POST path=/v1/producer-ids`) {
		t.Errorf("no write log line for broker-1's producer ids in (%d bytes):\n%s", len(c.logs.String()), lastLines(c.logs.String(), 20))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestAuthReloadRevokes: a token removed from the access file, or a role
// taken away, is refused at the next reload, forwarded or not; a broken
// file keeps the access that was loaded.
func TestAuthReloadRevokes(t *testing.T) {
	c := newAuthCluster(t, accessFile("alice admin "+auth.HashToken("alice-token")+"\n"), authClusterOptions{})
	lead, fol := c.leader(), c.follower()
	c.must(lead, "admin-token", "POST", "/v1/brokers", brokerBody(9), 201, "") // topics need an ALIVE broker
	c.must(fol, "alice-token", "POST", "/v1/topics", map[string]any{"name": "a1", "partitions": 1}, 201, "")
	c.must(fol, "b1-token", "POST", "/v1/brokers", brokerBody(1), 201, "")
	// A fetch served by the follower: its heartbeat reaches the leader in
	// the follower's batch, sent as the node.
	c.must(fol, "b1-token", "POST", "/v1/metadata/fetch", map[string]any{"brokerId": 1}, 200, "")
	c.must(fol, "b2-token", "POST", "/v1/metadata/fetch", map[string]any{"brokerId": 1}, 403, "FORBIDDEN")

	// alice demoted to reader, broker-1's token revoked.
	c.writeAccess(strings.Replace(accessFile("alice reader "+auth.HashToken("alice-token")+"\n"), auth.HashToken("b1-token"), "", 1))
	c.reload()
	before := c.topics(lead)
	for _, id := range []uint64{lead, fol} {
		c.must(id, "alice-token", "POST", "/v1/topics", map[string]any{"name": "a2", "partitions": 1}, 403, "FORBIDDEN")
		c.must(id, "alice-token", "GET", "/v1/topics", nil, 200, "")
		c.must(id, "b1-token", "POST", "/v1/metadata/fetch", map[string]any{"brokerId": 1}, 401, "UNAUTHENTICATED")
	}
	if after := c.topics(lead); after != before {
		t.Fatalf("refused writes changed the topics:\n%s\n%s", before, after)
	}

	// Only the leader reloaded: the follower lets alice's write through
	// (its file still says admin), and the leader refuses it with its own
	// roles for her.
	c.writeAccess(accessFile("alice admin " + auth.HashToken("alice-token") + "\n"))
	if _, err := c.stores[fol].Reload(); err != nil {
		t.Fatal(err)
	}
	c.must(fol, "alice-token", "POST", "/v1/topics", map[string]any{"name": "a3", "partitions": 1}, 403, "FORBIDDEN")
	if _, err := c.stores[lead].Reload(); err != nil {
		t.Fatal(err)
	}
	c.must(fol, "alice-token", "POST", "/v1/topics", map[string]any{"name": "a3", "partitions": 1}, 201, "")
	if !regexp.MustCompile(fmt.Sprintf(`msg=write node=%d principal=alice method=POST path=/v1/topics .* status=201 forwarded_by=node:%d`, lead, fol)).MatchString(c.logs.String()) {
		t.Errorf("no log of alice's forwarded write in:\n%s", lastLines(c.logs.String(), 20))
	}

	// A broken file is refused; the access stays.
	c.writeAccess("alice admin,nonsense\n")
	for _, s := range c.stores {
		if _, err := s.Reload(); err == nil {
			t.Fatal("a broken access file reloaded")
		}
	}
	c.must(fol, "alice-token", "POST", "/v1/topics", map[string]any{"name": "a4", "partitions": 1}, 201, "")
}

// TestAuthForwardedOverHTTP: the HTTP hop without node certificates
// carries the caller's own token, which the leader checks; a principal
// header from a client that is not a member node is ignored.
func TestAuthForwardedOverHTTP(t *testing.T) {
	c := newAuthCluster(t, accessFile(""), authClusterOptions{forwardOverHTTP: true})
	lead, fol := c.leader(), c.follower()
	c.must(lead, "admin-token", "POST", "/v1/brokers", brokerBody(9), 201, "") // topics need an ALIVE broker
	c.must(fol, "admin-token", "POST", "/v1/topics", map[string]any{"name": "h1", "partitions": 1}, 201, "")
	c.must(fol, "reader-token", "POST", "/v1/topics", map[string]any{"name": "h2", "partitions": 1}, 403, "FORBIDDEN")
	c.must(fol, "b1-token", "POST", "/v1/brokers", brokerBody(1), 201, "")
	c.must(fol, "b1-token", "POST", "/v1/brokers", brokerBody(2), 403, "FORBIDDEN")

	// A reader claiming to be admin, to the leader and to a follower.
	for _, id := range []uint64{lead, fol} {
		req, err := http.NewRequest("POST", c.nodes[id].url+"/v1/topics", strings.NewReader(`{"name":"h3","partitions":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer reader-token")
		req.Header.Set(api.HeaderPrincipal, "admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("node %d: a reader's request naming admin as its principal: %d, want 403", id, resp.StatusCode)
		}
	}
	c.must(lead, "admin-token", "GET", "/v1/topics/h3", nil, 404, "TOPIC_NOT_FOUND")
}

// TestLongPollLimit: beyond MaxLongPolls waiting fetches one more is 429
// TOO_MANY_LONG_POLLS with Retry-After; a fetch that does not wait is
// served, and a freed slot takes the next long poll.
func TestLongPollLimit(t *testing.T) {
	c := newAuthCluster(t, accessFile(""), authClusterOptions{nodes: 1, maxLongPolls: 1})
	c.leader()
	c.must(1, "admin-token", "POST", "/v1/brokers", brokerBody(9), 201, "") // topics need an ALIVE broker
	var off struct {
		HighWatermark int64 `json:"highWatermark"`
	}
	if err := json.Unmarshal([]byte(c.must(1, "reader-token", "GET", "/v1/metadata", nil, 200, "").body), &off); err != nil {
		t.Fatal(err)
	}
	held := make(chan answer, 1)
	go func() {
		// Until it gets the slot, which the probes below take for 100 ms
		// at a time.
		for {
			a, err := c.try(nil, 1, "reader-token", "GET", fmt.Sprintf("/v1/metadata?offset=%d&maxWaitMs=20000", off.HighWatermark), nil)
			if err != nil {
				a.body = err.Error()
			}
			if a.status != 429 {
				held <- a
				return
			}
		}
	}()
	// Wait until the first long poll holds the slot: the second is refused.
	deadline := time.Now().Add(20 * time.Second)
	for {
		a := c.do(nil, 1, "reader-token", "GET", fmt.Sprintf("/v1/metadata?offset=%d&maxWaitMs=100", off.HighWatermark), nil)
		if a.status == 429 {
			if a.code != "TOO_MANY_LONG_POLLS" || a.header.Get("Retry-After") == "" {
				t.Fatalf("refused long poll: %s, Retry-After %q", a.body, a.header.Get("Retry-After"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second long poll was never refused: %d %s", a.status, a.body)
		}
	}
	c.must(1, "reader-token", "GET", fmt.Sprintf("/v1/metadata?offset=%d", off.HighWatermark), nil, 200, "")
	c.must(1, "reader-token", "GET", "/ui/events", nil, 429, "TOO_MANY_LONG_POLLS") // a dashboard stream waits too
	c.must(1, "admin-token", "POST", "/v1/topics", map[string]any{"name": "wake", "partitions": 1}, 201, "")
	if a := <-held; a.status != 200 || !strings.Contains(a.body, "wake") {
		t.Fatalf("the held long poll: %d %s", a.status, a.body)
	}
	c.must(1, "reader-token", "GET", fmt.Sprintf("/v1/metadata?offset=%d&maxWaitMs=10", off.HighWatermark), nil, 200, "")
}
