package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/metadata"
)

// migrationHooks stand in for each node's migration driver: Check
// answers for any ZooKeeper but "down:2181", and records which node asked;
// Status reports as a driver does, only on the node that leads, with the
// problems the test sets.
type migrationHooks struct {
	mu           sync.Mutex
	checked      []uint64
	problems     []contract.MigrationProblem
	disconnected bool // the driver reports no ZooKeeper connection
	silent       bool // no driver reports (a new leader's, starting)
}

func (h *migrationHooks) set(f func(h *migrationHooks)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *migrationHooks) forNode(cluster func() *authCluster) func(id uint64) api.MigrationHooks {
	return func(id uint64) api.MigrationHooks {
		return api.MigrationHooks{
			Check: func(ctx context.Context, zk string) (string, error) {
				h.mu.Lock()
				h.checked = append(h.checked, id)
				h.mu.Unlock()
				if zk == "down:2181" {
					return "", errors.New("dial tcp down:2181: connection refused")
				}
				return "kafka-cluster-1", nil
			},
			Status: func() *contract.MigrationDriverStatus {
				if !cluster().nodes[id].node.IsLeader() {
					return nil
				}
				h.mu.Lock()
				defer h.mu.Unlock()
				if h.silent {
					return nil
				}
				return &contract.MigrationDriverStatus{NodeID: id, ZkConnected: !h.disconnected, Activity: "following", Problems: h.problems}
			},
		}
	}
}

// migrationAnswer decodes a MigrationStatus answer and checks it against
// the OpenAPI document's schema for the operation.
func migrationAnswer(t *testing.T, doc *openapi3.T, method, template string, a answer) contract.MigrationStatus {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("%s %s: %v: %s", method, template, err, a.body)
	}
	schema := doc.Paths.Find(template).Operations()[method].Responses.Status(a.status).Value.Content.Get("application/json").Schema.Value
	if err := schema.VisitJSON(v); err != nil {
		t.Errorf("%s %s answered %s, which does not match the document: %v", method, template, a.body, err)
	}
	var st contract.MigrationStatus
	if err := json.Unmarshal([]byte(a.body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMigrationAPI: the migration's routes on a real 3-node cluster with
// an access file: roles, bad bodies, ZooKeeper down, a start forwarded
// to the leader (which checks ZooKeeper), the status answered by the
// leader with its driver's report, phase errors, the guard refusing
// metadata writes until the migration is stopped.
func TestMigrationAPI(t *testing.T) {
	hooks := &migrationHooks{}
	var c *authCluster // the hooks run only once it is set
	c = newAuthCluster(t, accessFile(""), authClusterOptions{migration: hooks.forNode(func() *authCluster { return c })})
	doc := loadOpenAPI(t, api.OpenAPI())
	lead, f := c.leader(), c.follower()
	const admin, reader = "admin-token", "reader-token"

	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.logs.String())
		}
	})
	st := migrationAnswer(t, doc, "GET", "/v1/migration", c.must(f, reader, "GET", "/v1/migration", nil, 200, ""))
	if st.Phase != contract.MigrationPhaseNone || st.Driver == nil || st.Driver.NodeID != lead {
		t.Fatalf("GET /v1/migration on a follower: %+v; want NONE with the leader's (%d) report", st, lead)
	}
	c.must(f, reader, "POST", "/v1/migration", map[string]any{"zkConnect": "zk:2181"}, 403, "FORBIDDEN")
	c.must(f, reader, "POST", "/v1/migration/cutover", nil, 403, "FORBIDDEN")
	c.must(lead, "", "GET", "/v1/migration", nil, 401, "UNAUTHENTICATED")
	for _, body := range []any{[]int{1}, map[string]any{}, map[string]any{"zkConnect": "zk"}, map[string]any{"zkConnect": "zk:2181", "extra": 1},
		map[string]any{"zkConnect": 2181}, map[string]any{"zkConnect": "zk:2181/a//b"}} {
		c.must(f, admin, "POST", "/v1/migration", body, 400, "INVALID_REQUEST")
	}
	c.must(lead, reader, "GET", "/v1/migration?stale=maybe", nil, 400, "INVALID_REQUEST")
	c.must(lead, reader, "GET", "/v1/migration?offset=1", nil, 400, "INVALID_REQUEST")
	c.must(f, admin, "POST", "/v1/migration", map[string]any{"zkConnect": "down:2181"}, 503, "ZOOKEEPER_UNAVAILABLE")
	if st := migrationAnswer(t, doc, "GET", "/v1/migration", c.must(lead, reader, "GET", "/v1/migration", nil, 200, "")); st.Phase != contract.MigrationPhaseNone {
		t.Fatalf("after ZooKeeper was down: %+v, want NONE", st)
	}

	// Started on a follower: the leader checks ZooKeeper and answers.
	a := c.must(f, admin, "POST", "/v1/migration", map[string]any{"zkConnect": "zk1:2181,zk2:2181/kafka"}, 200, "")
	st = migrationAnswer(t, doc, "POST", "/v1/migration", a)
	if st.Phase != "IMPORTING" || st.ZkConnect != "zk1:2181,zk2:2181/kafka" || st.ZkClusterID != "kafka-cluster-1" || st.Driver == nil ||
		st.Driver.NodeID != lead || st.Driver.Problems == nil || a.header.Get(api.HeaderOffset) == "" {
		t.Fatalf("start: %s (offset %q)", a.body, a.header.Get(api.HeaderOffset))
	}
	hooks.mu.Lock()
	for _, id := range hooks.checked {
		if id != lead {
			t.Errorf("node %d checked ZooKeeper; only the leader %d should", id, lead)
		}
	}
	hooks.mu.Unlock()
	c.must(lead, admin, "POST", "/v1/migration", map[string]any{"zkConnect": "zk:2181"}, 409, "MIGRATION_PHASE")
	c.must(f, admin, "POST", "/v1/migration/finalize", nil, 409, "MIGRATION_PHASE")
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 409, "MIGRATION_PHASE")

	// ZooKeeper is the authority: metadata writes are refused on any node.
	topics := c.topics(lead)
	a = c.must(f, admin, "POST", "/v1/topics", map[string]any{"name": "during"}, 409, "MIGRATION_IN_PROGRESS")
	if !strings.Contains(a.body, "cutover") {
		t.Errorf("the refusal does not say what to do: %s", a.body)
	}
	c.must(lead, "b1-token", "POST", "/v1/brokers", brokerBody(1), 409, "MIGRATION_IN_PROGRESS")
	c.must(lead, admin, "POST", "/v1/snapshots", nil, 201, "") // not metadata: allowed
	if got := c.topics(lead); got != topics {
		t.Fatalf("refused writes changed the topics: %s, was %s", got, topics)
	}

	// Stopped before cutover: writes are allowed again.
	st = migrationAnswer(t, doc, "POST", "/v1/migration/rollback", c.must(f, admin, "POST", "/v1/migration/rollback", nil, 200, ""))
	if st.Phase != "ABORTED" || st.ZkConnect != "zk1:2181,zk2:2181/kafka" {
		t.Fatalf("rollback while IMPORTING: %+v", st)
	}
	c.must(f, admin, "POST", "/v1/topics", map[string]any{"name": "after"}, 201, "")
	c.must(lead, admin, "POST", "/v1/migration/rollback", nil, 409, "MIGRATION_PHASE")

	// A follower's own view: no live report, and it catches up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st = migrationAnswer(t, doc, "GET", "/v1/migration", c.must(f, reader, "GET", "/v1/migration?stale=true", nil, 200, ""))
		if st.Driver != nil {
			t.Fatalf("a follower's stale view has a driver report: %+v", st)
		}
		if st.Phase == "ABORTED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower's own view is still %+v", st)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded above
	}
}

// TestMigrationAPILifecycle takes a migration through cutover, rollback
// and finalize over HTTP; the driver's part (the import's end: phase
// FOLLOWING) is committed through MigrationWrite on the leader, as the
// driver does.
func TestMigrationAPILifecycle(t *testing.T) {
	hooks := &migrationHooks{}
	var c *authCluster // the hooks run only once it is set
	c = newAuthCluster(t, accessFile(""), authClusterOptions{migration: hooks.forNode(func() *authCluster { return c })})
	doc := loadOpenAPI(t, api.OpenAPI())
	lead, f := c.leader(), c.follower()
	const admin = "admin-token"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c.must(f, admin, "POST", "/v1/migration", map[string]any{"zkConnect": "zk:2181"}, 200, "")
	_, err := c.nodes[lead].ctrl.MigrationWrite(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		cur, _ := img.Migration()
		cur.Phase, cur.Zxid, cur.TopicsImported, cur.TopicsTotal = metadata.MigrationFollowing, 4242, 3, 3
		return []metadata.Record{{Body: &cur}}, nil
	})
	if err != nil {
		t.Fatalf("the driver's commit of FOLLOWING: %v", err)
	}
	c.must(f, admin, "POST", "/v1/topics", map[string]any{"name": "t1"}, 409, "MIGRATION_IN_PROGRESS")
	c.must(f, admin, "POST", "/v1/migration/finalize", nil, 409, "MIGRATION_PHASE")

	// Cutover waits for a driver that follows ZooKeeper without problems.
	hooks.set(func(h *migrationHooks) { h.silent = true })
	c.must(lead, admin, "POST", "/v1/migration/cutover", nil, 503, "NOT_READY")
	hooks.set(func(h *migrationHooks) { h.silent, h.disconnected = false, true })
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 503, "ZOOKEEPER_UNAVAILABLE")
	hooks.set(func(h *migrationHooks) {
		h.disconnected = false
		h.problems = []contract.MigrationProblem{
			{Path: "/brokers/topics/orders", Message: "malformed JSON; topic not applied", AtMs: 1},
			{Path: "/brokers/ids/7", Message: "unknown version 9; broker not applied", AtMs: 2},
		}
	})
	a := c.must(f, admin, "POST", "/v1/migration/cutover", nil, 409, "MIGRATION_PHASE")
	if !strings.Contains(a.body, "2 znode") || !strings.Contains(a.body, "/brokers/topics/orders") {
		t.Errorf("cutover refused for problems says %s; want their count and the first path", a.body)
	}
	st := migrationAnswer(t, doc, "GET", "/v1/migration", c.must(f, "reader-token", "GET", "/v1/migration", nil, 200, ""))
	if st.Phase != "FOLLOWING" || st.Driver == nil || len(st.Driver.Problems) != 2 {
		t.Fatalf("status with problems: %+v", st)
	}
	hooks.set(func(h *migrationHooks) { h.problems = nil })

	st = migrationAnswer(t, doc, "POST", "/v1/migration/cutover", c.must(f, admin, "POST", "/v1/migration/cutover", nil, 200, ""))
	if st.Phase != "DUAL_WRITE" || st.Zxid != 4242 || st.TopicsImported != 3 {
		t.Fatalf("cutover: %+v", st)
	}
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 409, "MIGRATION_PHASE")
	c.must(f, admin, "POST", "/v1/topics", map[string]any{"name": "t1"}, 201, "")

	st = migrationAnswer(t, doc, "POST", "/v1/migration/rollback", c.must(lead, admin, "POST", "/v1/migration/rollback", nil, 200, ""))
	if st.Phase != "FOLLOWING" || st.Zxid != 4242 {
		t.Fatalf("rollback from DUAL_WRITE: %+v", st)
	}
	c.must(f, admin, "DELETE", "/v1/topics/t1", nil, 409, "MIGRATION_IN_PROGRESS")
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 200, "")
	st = migrationAnswer(t, doc, "POST", "/v1/migration/finalize", c.must(f, admin, "POST", "/v1/migration/finalize", nil, 200, ""))
	if st.Phase != "FINALIZED" {
		t.Fatalf("finalize: %+v", st)
	}
	for _, op := range []string{"cutover", "finalize", "rollback"} {
		c.must(f, admin, "POST", "/v1/migration/"+op, nil, 409, "MIGRATION_PHASE")
	}
	c.must(f, admin, "POST", "/v1/migration", map[string]any{"zkConnect": "zk:2181"}, 409, "MIGRATION_PHASE")
	c.must(f, admin, "DELETE", "/v1/topics/t1", nil, 200, "")
	if st := migrationAnswer(t, doc, "GET", "/v1/migration", c.must(f, "reader-token", "GET", "/v1/migration", nil, 200, "")); st.Phase != "FINALIZED" {
		t.Fatalf("status after finalize: %+v", st)
	}
}
