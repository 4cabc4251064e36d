package testcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestAPIEndpoints runs every broker, topic, partition and producer-id
// endpoint of docs/api.md, success and each documented error, against one
// 3-node cluster: sent to the leader, sent to a follower (writes are
// forwarded, reads answered there after a read barrier), and both again
// once the leader was killed. Each pass builds its own fixture (its own
// broker ids and topics) so passes do not see each other's effects.
func TestAPIEndpoints(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	pass := int32(0)
	runPass := func(t *testing.T, node uint64) {
		pass++
		f := newAPIFixture(t, c, node, pass)
		for _, tc := range apiCases(c, node, f) {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, c, node) })
		}
	}
	t.Run("leader", func(t *testing.T) { runPass(t, lead) })
	t.Run("follower", func(t *testing.T) { runPass(t, followers(c, lead)[0]) })

	t.Run("concurrent creates of one topic", func(t *testing.T) {
		for round := range 3 {
			name := fmt.Sprintf("race-%d", round)
			statuses := concurrently(t, c, 2, func(i int) (string, string, any) {
				return http.MethodPost, "/v1/topics", map[string]any{"name": name}
			})
			got := []int{statuses[0].Status, statuses[1].Status}
			slices.Sort(got)
			if got[0] != http.StatusCreated || got[1] != http.StatusConflict {
				t.Fatalf("round %d: statuses %v, want one 201 and one 409", round, got)
			}
			for _, r := range statuses {
				if r.Status == http.StatusConflict && r.ErrorCode() != "TOPIC_ALREADY_EXISTS" {
					t.Fatalf("409 with %s", r.Body)
				}
			}
		}
	})

	t.Run("concurrent producer-id allocations get disjoint blocks", func(t *testing.T) {
		mustStatus(t, c, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 900, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated)
		resps := concurrently(t, c, 20, func(int) (string, string, any) {
			return http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 900}
		})
		var firsts []int64
		for _, r := range resps {
			var out contract.ProducerIDsResponse
			if r.Status != http.StatusCreated || r.JSON(&out) != nil || out.Size != metadata.ProducerIDBlockSize {
				t.Fatalf("allocation: %d %s", r.Status, r.Body)
			}
			firsts = append(firsts, out.FirstProducerID)
		}
		slices.Sort(firsts)
		for i := 1; i < len(firsts); i++ {
			if firsts[i] < firsts[i-1]+metadata.ProducerIDBlockSize {
				t.Fatalf("blocks at %d and %d overlap: %v", firsts[i-1], firsts[i], firsts)
			}
		}
	})

	t.Run("concurrent partition creates get distinct ids", func(t *testing.T) {
		mustStatus(t, c, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "many"}, http.StatusCreated)
		resps := concurrently(t, c, 8, func(int) (string, string, any) {
			return http.MethodPost, "/v1/topics/many/partitions", map[string]any{"replicas": []int{900}}
		})
		var got []int32
		for _, r := range resps {
			if r.Status != http.StatusCreated {
				t.Fatalf("create partition: %d %s", r.Status, r.Body)
			}
			got = append(got, recordOf[*metadata.PartitionRecord](t, r).PartitionID)
		}
		slices.Sort(got)
		if want := []int32{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
			t.Fatalf("partition ids %v, want %v", got, want)
		}
	})

	t.Run("concurrent replica changes of one partition all apply", func(t *testing.T) {
		for id := 901; id <= 905; id++ {
			mustStatus(t, c, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated)
		}
		resps := concurrently(t, c, 5, func(i int) (string, string, any) {
			return http.MethodPost, "/v1/topics/many/partitions/0/replicas", map[string]any{"brokerId": 901 + i}
		})
		for _, r := range resps {
			if r.Status != http.StatusOK {
				t.Fatalf("add replica: %d %s", r.Status, r.Body)
			}
		}
		var p metadata.PartitionRecord
		getJSON(t, c, lead, "/v1/topics/many/partitions/0", &p)
		if len(p.Replicas) != 6 || len(p.AddingReplicas) != 5 || p.PartitionEpoch != 5 {
			t.Fatalf("after 5 concurrent adds: %+v", p)
		}
	})

	c.Kill(c.MustLeader()) // the leader now, should an election have moved it
	newLead := c.MustLeader()
	t.Run("after leader kill", func(t *testing.T) {
		t.Run("leader", func(t *testing.T) { runPass(t, newLead) })
		t.Run("follower", func(t *testing.T) { runPass(t, followers(c, newLead)[0]) })
	})
}

// apiCase is one request and what must come back.
type apiCase struct {
	name   string
	method string
	path   string
	body   any // JSON-encoded unless a string (sent as is)
	status int
	code   string                                         // the error code; "" on success
	check  func(t *testing.T, resp *testcluster.Response) // on success; may send more requests
}

func (tc apiCase) run(t *testing.T, c *testcluster.Cluster, node uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, node, tc.method, tc.path, tc.body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != tc.status || resp.ErrorCode() != tc.code {
		t.Fatalf("%s %s = %d %s; want %d %s", tc.method, tc.path, resp.Status, resp.Body, tc.status, tc.code)
	}
	if got := resp.Header.Get("X-Yakt-Node"); got != strconv.FormatUint(node, 10) {
		t.Errorf("X-Yakt-Node = %q, want %d", got, node)
	}
	// Fetch and snapshot POSTs read or act locally: they commit nothing.
	isWrite := tc.method != http.MethodGet && tc.path != "/v1/metadata/fetch" && tc.path != "/v1/snapshots"
	if off := resp.Header.Get("X-Yakt-Offset"); isWrite && tc.code == "" {
		if n, err := strconv.ParseInt(off, 10, 64); err != nil || n <= 0 {
			t.Errorf("X-Yakt-Offset = %q on a write", off)
		}
	} else if off != "" {
		t.Errorf("X-Yakt-Offset = %q on a read or a failed write", off)
	}
	if tc.check != nil && tc.code == "" {
		tc.check(t, resp)
	}
}

// apiFixture is what one pass's cases run against, built through the API
// on the leader. Broker ids are base+1 .. base+99:
//
//	b(1)..b(4)   ALIVE, replicas of the partitions below
//	b(5)         CLOSED at epoch 1 (a case re-registers it)
//	b(6)         FENCED at epoch 1, after the partitions below (it leaves 1's ISR)
//	b(7)         CLOSED at epoch 1 (stays CLOSED)
//	b(8), b(9)   ALIVE, patched by cases
//	b(10)        ALIVE, leads partition 1; unregistered by a case
//	b(11)        ALIVE, leads partition 2 alone in its ISR; unregistered by a case
//	b(12), b(13) registered by cases; b(14) by none (invalid requests)
//	b(99)        never registered
//
// Topic "t-<pass>" has partitions 0 [1 2 3], 1 [10 6 2], 2 [11 1] ISR
// [11], 3 [1 2 3], 4 [1 2], 5 [1] (broker numbers are b(n); the first
// replica leads). "e-<pass>" has none, "d-<pass>" is deleted by a case.
type apiFixture struct {
	base                 int32
	topic, empty, gone   string
	pidBlock             int64 // a block given to b(1)
	freePID              int64 // a block start nothing overlaps
	closedUUID           string
	missingTopic         string
	topicPath, emptyPath string
}

func (f *apiFixture) b(n int32) int32 { return f.base + n }

func newAPIFixture(t *testing.T, c *testcluster.Cluster, node uint64, pass int32) *apiFixture {
	t.Helper()
	lead := node // setup writes go through the node under test too
	f := &apiFixture{
		base: pass * 1000, topic: fmt.Sprintf("t-%d", pass), empty: fmt.Sprintf("e-%d", pass), gone: fmt.Sprintf("d-%d", pass),
		pidBlock: 1_000_000_000 + int64(pass)*1_000_000, freePID: 2_000_000_000 + int64(pass)*1_000_000,
		missingTopic: fmt.Sprintf("missing-%d", pass),
	}
	f.topicPath, f.emptyPath = "/v1/topics/"+f.topic, "/v1/topics/"+f.empty
	for _, n := range []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11} {
		resp := mustStatus(t, c, lead, http.MethodPost, "/v1/brokers",
			map[string]any{"brokerId": f.b(n), "brokerHost": fmt.Sprintf("10.0.%d.%d", pass, n), "brokerPort": "9092"}, http.StatusCreated)
		if n == 5 {
			f.closedUUID = recordOf[*metadata.RegisterBrokerRecord](t, resp).InternalUUID
		}
	}
	for _, n := range []int32{5, 7} {
		mustStatus(t, c, lead, http.MethodDelete, fmt.Sprintf("/v1/brokers/%d", f.b(n)), nil, http.StatusOK)
	}
	for _, name := range []string{f.topic, f.empty, f.gone} {
		mustStatus(t, c, lead, http.MethodPost, "/v1/topics", map[string]any{"name": name}, http.StatusCreated)
	}
	for id, reps := range [][]int32{{1, 2, 3}, {10, 6, 2}, {11, 1}, {1, 2, 3}, {1, 2}, {1}} {
		body := map[string]any{"partitionId": id, "replicas": f.bs(reps...)}
		if id == 2 {
			body["ISR"] = f.bs(11)
		}
		mustStatus(t, c, lead, http.MethodPost, f.topicPath+"/partitions", body, http.StatusCreated)
	}
	// Fenced after the partitions exist, so fencing takes it out of partition
	// 1's ISR as a departure does: a FENCED broker is never left in a
	// shared ISR (the leader's first liveness check of a term would take it
	// out otherwise, at a moment the cases could not predict).
	mustStatus(t, c, lead, http.MethodPatch, fmt.Sprintf("/v1/brokers/%d", f.b(6)), map[string]any{"brokerStatus": "FENCED"}, http.StatusOK)
	mustStatus(t, c, lead, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": f.b(1), "producerId": f.pidBlock}, http.StatusCreated)
	return f
}

// bs maps fixture broker numbers to ids.
func (f *apiFixture) bs(n ...int32) []int32 {
	out := make([]int32, len(n))
	for i, x := range n {
		out[i] = f.b(x)
	}
	return out
}

// apiCases are the rows of TestAPIEndpoints for one pass. They run in
// order; the few that depend on an earlier row say so.
func apiCases(c *testcluster.Cluster, node uint64, f *apiFixture) []apiCase {
	return append(entityCases(c, node, f), coreCases(f)...)
}

// coreCases cover topic create/get, fetch, log, snapshots and quorum.
func coreCases(f *apiFixture) []apiCase {
	bad, notFound, conflict := http.StatusBadRequest, http.StatusNotFound, http.StatusConflict
	post, get := http.MethodPost, http.MethodGet
	newTopic := f.topic + "-new"
	hasMode := func(mode string) func(t *testing.T, resp *testcluster.Response) {
		return func(t *testing.T, resp *testcluster.Response) {
			var a contract.FetchResponse
			if err := resp.JSON(&a); err != nil || a.Mode != mode {
				t.Fatalf("want mode %q, got %s", mode, resp.Body)
			}
		}
	}
	return []apiCase{
		{name: "create topic/with partitions", method: post, path: "/v1/topics", body: map[string]any{"name": newTopic, "partitions": 3, "replicationFactor": 2},
			status: http.StatusCreated, check: func(t *testing.T, resp *testcluster.Response) {
				var d contract.TopicDetail
				if err := resp.JSON(&d); err != nil || len(d.Partitions) != 3 || len(d.Partitions[0].Replicas) != 2 {
					t.Fatalf("created %s", resp.Body)
				}
			}},
		{name: "create topic/exists", method: post, path: "/v1/topics", body: map[string]any{"name": f.topic}, status: conflict, code: "TOPIC_ALREADY_EXISTS"},
		{name: "create topic/invalid name", method: post, path: "/v1/topics", body: map[string]any{"name": "a/b"}, status: bad, code: "INVALID_TOPIC_NAME"},
		{name: "create topic/name ..", method: post, path: "/v1/topics", body: map[string]any{"name": ".."}, status: bad, code: "INVALID_TOPIC_NAME"},
		{name: "create topic/too many replicas", method: post, path: "/v1/topics", body: map[string]any{"name": newTopic + "x", "partitions": 1, "replicationFactor": 10000},
			status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create topic/body over 1 MiB", method: post, path: "/v1/topics", body: `{"name":"` + strings.Repeat("a", 1<<20) + `"}`,
			status: http.StatusRequestEntityTooLarge, code: "PAYLOAD_TOO_LARGE"},
		{name: "get topic", method: get, path: "/v1/topics/" + newTopic, status: http.StatusOK},
		{name: "get topic/stale", method: get, path: "/v1/topics/" + newTopic + "?stale=true", status: http.StatusOK},
		{name: "get topic/unknown", method: get, path: "/v1/topics/" + f.missingTopic, status: notFound, code: "TOPIC_NOT_FOUND"},
		{name: "fetch/broker snapshot", method: post, path: "/v1/metadata/fetch", body: map[string]any{"brokerId": f.b(1)}, status: http.StatusOK, check: hasMode("snapshot")},
		{name: "fetch/broker diff", method: post, path: "/v1/metadata/fetch", body: map[string]any{"brokerId": f.b(1), "offset": 1}, status: http.StatusOK},
		{name: "fetch/unknown broker", method: post, path: "/v1/metadata/fetch", body: map[string]any{"brokerId": f.b(99)}, status: notFound, code: "BROKER_NOT_FOUND"},
		{name: "fetch/unknown field", method: post, path: "/v1/metadata/fetch", body: map[string]any{"brokerId": f.b(1), "since": 1}, status: bad, code: "INVALID_REQUEST"},
		{name: "fetch/client snapshot", method: get, path: "/v1/metadata", status: http.StatusOK, check: hasMode("snapshot")},
		{name: "fetch/client bad offset", method: get, path: "/v1/metadata?offset=x", status: bad, code: "INVALID_REQUEST"},
		{name: "log/page", method: get, path: "/v1/log?limit=5", status: http.StatusOK},
		{name: "log/bad limit", method: get, path: "/v1/log?limit=0", status: bad, code: "INVALID_REQUEST"},
		{name: "snapshots/take", method: post, path: "/v1/snapshots", status: http.StatusCreated},
		{name: "snapshots/list", method: get, path: "/v1/snapshots", status: http.StatusOK},
		{name: "snapshots/latest", method: get, path: "/v1/snapshots/latest", status: http.StatusOK},
		{name: "quorum", method: get, path: "/v1/quorum", status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
			var q contract.Quorum
			if err := resp.JSON(&q); err != nil || q.LeaderID <= 0 || len(q.Voters) != 3 {
				t.Fatalf("quorum %s", resp.Body)
			}
		}},
		{name: "unknown endpoint", method: get, path: "/v1/nope", status: http.StatusNotFound, code: "NOT_FOUND"},
	}
}

func entityCases(c *testcluster.Cluster, node uint64, f *apiFixture) []apiCase {
	const (
		post, get, patch, del   = http.MethodPost, http.MethodGet, http.MethodPatch, http.MethodDelete
		bad, notFound, conflict = http.StatusBadRequest, http.StatusNotFound, http.StatusConflict
	)
	b := f.b
	brokerPath := func(n int32) string { return fmt.Sprintf("/v1/brokers/%d", b(n)) }
	register := func(n int32, port any) map[string]any {
		return map[string]any{"brokerId": b(n), "brokerHost": "10.1.0.1", "brokerPort": port}
	}
	partPath := func(topic string, p int) string { return fmt.Sprintf("/v1/topics/%s/partitions/%d", topic, p) }
	replicasPath := func(p int) string { return partPath(f.topic, p) + "/replicas" }
	getBroker := func(t *testing.T, n int32) metadata.RegisterBrokerRecord {
		var out metadata.RegisterBrokerRecord
		getJSON(t, c, node, brokerPath(n), &out)
		return out
	}
	getPartition := func(t *testing.T, p int) metadata.PartitionRecord {
		var out metadata.PartitionRecord
		getJSON(t, c, node, partPath(f.topic, p), &out)
		return out
	}
	brokerList := func(t *testing.T, resp *testcluster.Response) map[int32]metadata.RegisterBrokerRecord {
		var out contract.BrokerList
		if err := resp.JSON(&out); err != nil {
			t.Fatal(err)
		}
		m := map[int32]metadata.RegisterBrokerRecord{}
		for i, br := range out.Brokers {
			if i > 0 && out.Brokers[i-1].BrokerID >= br.BrokerID {
				t.Fatalf("brokers not sorted by id: %s", resp.Body)
			}
			m[br.BrokerID] = br
		}
		return m
	}
	listHas := func(status string, has, hasNot []int32) func(*testing.T, *testcluster.Response) {
		return func(t *testing.T, resp *testcluster.Response) {
			m := brokerList(t, resp)
			for _, br := range m {
				if status != "" && br.BrokerStatus != status {
					t.Fatalf("broker %d is %s in a list of %s brokers", br.BrokerID, br.BrokerStatus, status)
				}
			}
			for _, n := range has {
				if _, ok := m[b(n)]; !ok {
					t.Errorf("broker %d missing from %s", b(n), resp.Body)
				}
			}
			for _, n := range hasNot {
				if _, ok := m[b(n)]; ok {
					t.Errorf("broker %d listed", b(n))
				}
			}
		}
	}
	wantPartition := func(want metadata.PartitionRecord) func(*testing.T, metadata.PartitionRecord) {
		return func(t *testing.T, got metadata.PartitionRecord) {
			t.Helper()
			want.TopicUUID = got.TopicUUID
			if want.RemovingReplicas == nil {
				want.RemovingReplicas = []int32{}
			}
			if want.AddingReplicas == nil {
				want.AddingReplicas = []int32{}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("partition:\n-want %+v\n+got  %+v", want, got)
			}
		}
	}
	// partitionAnswer checks a PartitionRecord answer and then the same
	// state read back from this node.
	partitionAnswer := func(topic string, want metadata.PartitionRecord) func(*testing.T, *testcluster.Response) {
		return func(t *testing.T, resp *testcluster.Response) {
			got := *recordOf[*metadata.PartitionRecord](t, resp)
			wantPartition(want)(t, got)
			var back metadata.PartitionRecord
			getJSON(t, c, node, partPath(topic, int(got.PartitionID)), &back)
			wantPartition(want)(t, back)
		}
	}
	part := func(id int32, epoch int64, replicas, isr []int32, leader int32) metadata.PartitionRecord {
		return metadata.PartitionRecord{PartitionID: id, Replicas: replicas, ISR: isr, Leader: leader, PartitionEpoch: epoch}
	}
	pids := func(broker int32, epoch int64, first int64) func(*testing.T, *testcluster.Response) {
		return func(t *testing.T, resp *testcluster.Response) {
			var out contract.ProducerIDsResponse
			if err := resp.JSON(&out); err != nil {
				t.Fatal(err)
			}
			rec, ok := out.Record.Body.(*metadata.ProducerIdsRecord)
			if !ok || out.Size != metadata.ProducerIDBlockSize || rec.BrokerID != broker || rec.BrokerEpoch != epoch ||
				rec.ProducerID != out.FirstProducerID || (first >= 0 && out.FirstProducerID != first) || out.FirstProducerID < 0 {
				t.Fatalf("answer %s; want broker %d at epoch %d, first %d", resp.Body, broker, epoch, first)
			}
			if h := resp.Header.Get("X-Yakt-Offset"); h != strconv.FormatInt(out.Record.Offset, 10) {
				t.Fatalf("X-Yakt-Offset %s, record offset %d", h, out.Record.Offset)
			}
		}
	}

	return []apiCase{
		// POST /v1/brokers
		{name: "register/string port", method: post, path: "/v1/brokers",
			body:   map[string]any{"brokerId": b(12), "brokerHost": "10.1.0.12", "brokerPort": "9092", "rackId": "r1"},
			status: http.StatusCreated, check: func(t *testing.T, resp *testcluster.Response) {
				r := recordOf[*metadata.RegisterBrokerRecord](t, resp)
				if r.BrokerID != b(12) || r.BrokerHost != "10.1.0.12" || r.BrokerPort != "9092" || r.SecurityProtocol != "PLAINTEXT" ||
					r.BrokerStatus != "ALIVE" || r.RackID != "r1" || r.Epoch != 0 || r.InternalUUID == "" {
					t.Fatalf("record %+v", r)
				}
				if got := getBroker(t, 12); got != *r {
					t.Fatalf("read back %+v, answered %+v", got, *r)
				}
			}},
		{name: "register/number port and SSL", method: post, path: "/v1/brokers",
			body:   map[string]any{"brokerId": b(13), "brokerHost": "h", "brokerPort": 9093, "securityProtocol": "SSL"},
			status: http.StatusCreated, check: func(t *testing.T, resp *testcluster.Response) {
				if r := recordOf[*metadata.RegisterBrokerRecord](t, resp); r.BrokerPort != "9093" || r.SecurityProtocol != "SSL" || r.RackID != "" {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "register/a CLOSED id again: new UUID, epoch + 1", method: post, path: "/v1/brokers", body: register(5, "9092"),
			status: http.StatusCreated, check: func(t *testing.T, resp *testcluster.Response) {
				if r := recordOf[*metadata.RegisterBrokerRecord](t, resp); r.Epoch != 2 || r.InternalUUID == f.closedUUID || r.BrokerStatus != "ALIVE" {
					t.Fatalf("record %+v (old UUID %s)", r, f.closedUUID)
				}
			}},
		{name: "register/ALIVE id", method: post, path: "/v1/brokers", body: register(1, "9092"), status: conflict, code: "BROKER_ALREADY_REGISTERED"},
		{name: "register/FENCED id", method: post, path: "/v1/brokers", body: register(6, "9092"), status: conflict, code: "BROKER_ALREADY_REGISTERED"},
		{name: "register/port 0", method: post, path: "/v1/brokers", body: register(14, 0), status: bad, code: "INVALID_REQUEST"},
		{name: "register/port 65536", method: post, path: "/v1/brokers", body: register(14, "65536"), status: bad, code: "INVALID_REQUEST"},
		{name: "register/port not a number", method: post, path: "/v1/brokers", body: register(14, "http"), status: bad, code: "INVALID_REQUEST"},
		{name: "register/port a boolean", method: post, path: "/v1/brokers", body: register(14, true), status: bad, code: "INVALID_REQUEST"},
		{name: "register/no port", method: post, path: "/v1/brokers", body: map[string]any{"brokerId": b(14), "brokerHost": "h"}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/no brokerId", method: post, path: "/v1/brokers", body: map[string]any{"brokerHost": "h", "brokerPort": 1}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/negative brokerId", method: post, path: "/v1/brokers", body: map[string]any{"brokerId": -1, "brokerHost": "h", "brokerPort": 1}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/brokerId a string", method: post, path: "/v1/brokers", body: map[string]any{"brokerId": "1", "brokerHost": "h", "brokerPort": 1}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/no host", method: post, path: "/v1/brokers", body: map[string]any{"brokerId": b(14), "brokerPort": 1}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/unknown protocol", method: post, path: "/v1/brokers",
			body: map[string]any{"brokerId": b(14), "brokerHost": "h", "brokerPort": 1, "securityProtocol": "TLS"}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/unknown field", method: post, path: "/v1/brokers",
			body: map[string]any{"brokerId": b(14), "brokerHost": "h", "brokerPort": 1, "zone": "a"}, status: bad, code: "INVALID_REQUEST"},
		{name: "register/malformed JSON", method: post, path: "/v1/brokers", body: `{"brokerId":`, status: bad, code: "INVALID_REQUEST"},
		{name: "register/trailing data", method: post, path: "/v1/brokers", body: fmt.Sprintf(`{"brokerId":%d,"brokerHost":"h","brokerPort":1} {}`, b(14)), status: bad, code: "INVALID_REQUEST"},

		// GET /v1/brokers
		{name: "list/ALIVE by default", method: get, path: "/v1/brokers", status: http.StatusOK, check: listHas("ALIVE", []int32{1, 5, 12}, []int32{6, 7, 14, 99})},
		{name: "list/all", method: get, path: "/v1/brokers?status=all", status: http.StatusOK, check: listHas("", []int32{1, 6, 7}, []int32{14, 99})},
		{name: "list/ALIVE", method: get, path: "/v1/brokers?status=ALIVE", status: http.StatusOK, check: listHas("ALIVE", []int32{1}, []int32{6, 7})},
		{name: "list/FENCED", method: get, path: "/v1/brokers?status=FENCED", status: http.StatusOK, check: listHas("FENCED", []int32{6}, []int32{1, 7})},
		{name: "list/CLOSED", method: get, path: "/v1/brokers?status=CLOSED", status: http.StatusOK, check: listHas("CLOSED", []int32{7}, []int32{1, 6})},
		{name: "list/stale", method: get, path: "/v1/brokers?stale=true", status: http.StatusOK, check: listHas("ALIVE", []int32{1}, nil)},
		{name: "list/unknown status", method: get, path: "/v1/brokers?status=DEAD", status: bad, code: "INVALID_REQUEST"},
		{name: "list/status is case-sensitive", method: get, path: "/v1/brokers?status=alive", status: bad, code: "INVALID_REQUEST"},

		// GET /v1/brokers/{brokerId}
		{name: "get/ALIVE", method: get, path: brokerPath(1), status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
			var r metadata.RegisterBrokerRecord
			if err := resp.JSON(&r); err != nil || r.BrokerID != b(1) || r.BrokerStatus != "ALIVE" || r.BrokerPort != "9092" || r.InternalUUID == "" {
				t.Fatalf("broker %s", resp.Body)
			}
		}},
		{name: "get/CLOSED is still found", method: get, path: brokerPath(7), status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
			var r metadata.RegisterBrokerRecord
			if err := resp.JSON(&r); err != nil || r.BrokerStatus != "CLOSED" || r.Epoch != 1 {
				t.Fatalf("broker %s", resp.Body)
			}
		}},
		{name: "get/stale", method: get, path: brokerPath(1) + "?stale=true", status: http.StatusOK},
		{name: "get/unknown", method: get, path: brokerPath(99), status: notFound, code: "BROKER_NOT_FOUND"},
		{name: "get/id not an integer", method: get, path: "/v1/brokers/one", status: bad, code: "INVALID_REQUEST"},
		{name: "get/negative id", method: get, path: "/v1/brokers/-1", status: bad, code: "INVALID_REQUEST"},

		// PATCH /v1/brokers/{brokerId}
		{name: "patch/host keeps the rest, epoch + 1", method: patch, path: brokerPath(8), body: map[string]any{"brokerHost": "10.9.9.9"},
			status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
				r := recordOf[*metadata.BrokerRegistrationChangeBrokerRecord](t, resp)
				if r.BrokerID != b(8) || r.BrokerHost != "10.9.9.9" || r.BrokerPort != "9092" || r.SecurityProtocol != "PLAINTEXT" ||
					r.BrokerStatus != "ALIVE" || r.Epoch != 1 {
					t.Fatalf("record %+v", r)
				}
				if got := getBroker(t, 8); got.BrokerHost != "10.9.9.9" || got.Epoch != 1 {
					t.Fatalf("read back %+v", got)
				}
			}},
		{name: "patch/number port and protocol", method: patch, path: brokerPath(9), body: map[string]any{"brokerPort": 9500, "securityProtocol": "SASL_SSL"},
			status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
				if r := recordOf[*metadata.BrokerRegistrationChangeBrokerRecord](t, resp); r.BrokerPort != "9500" || r.SecurityProtocol != "SASL_SSL" || r.Epoch != 1 {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "patch/fence (after the row above: epoch 2)", method: patch, path: brokerPath(9), body: map[string]any{"brokerStatus": "FENCED"},
			status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
				if r := recordOf[*metadata.BrokerRegistrationChangeBrokerRecord](t, resp); r.BrokerStatus != "FENCED" || r.Epoch != 2 || r.BrokerPort != "9500" {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "patch/empty", method: patch, path: brokerPath(1), body: map[string]any{}, status: bad, code: "INVALID_REQUEST"},
		{name: "patch/status CLOSED", method: patch, path: brokerPath(1), body: map[string]any{"brokerStatus": "CLOSED"}, status: bad, code: "INVALID_REQUEST"},
		{name: "patch/unknown protocol", method: patch, path: brokerPath(1), body: map[string]any{"securityProtocol": "TLS"}, status: bad, code: "INVALID_REQUEST"},
		{name: "patch/bad port", method: patch, path: brokerPath(1), body: map[string]any{"brokerPort": 0}, status: bad, code: "INVALID_REQUEST"},
		{name: "patch/unknown field", method: patch, path: brokerPath(1), body: map[string]any{"rackId": "r2"}, status: bad, code: "INVALID_REQUEST"},
		{name: "patch/unknown broker", method: patch, path: brokerPath(99), body: map[string]any{"brokerHost": "h"}, status: notFound, code: "BROKER_NOT_FOUND"},
		{name: "patch/CLOSED broker", method: patch, path: brokerPath(7), body: map[string]any{"brokerHost": "h"}, status: conflict, code: "BROKER_NOT_ACTIVE"},
		{name: "patch/id not an integer", method: patch, path: "/v1/brokers/x", body: map[string]any{"brokerHost": "h"}, status: bad, code: "INVALID_REQUEST"},

		// DELETE /v1/brokers/{brokerId}
		{name: "unregister/leadership passes to the next ALIVE ISR member", method: del, path: brokerPath(10),
			status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
				if r := recordOf[*metadata.BrokerRegistrationChangeBrokerRecord](t, resp); r.BrokerStatus != "CLOSED" || r.Epoch != 1 || r.BrokerID != b(10) {
					t.Fatalf("record %+v", r)
				}
				// b(6) left the ISR when it was fenced, so b(2) leads;
				// b(10) leaves the ISR.
				wantPartition(part(1, 2, f.bs(10, 6, 2), f.bs(2), b(2)))(t, getPartition(t, 1))
				if got := getBroker(t, 10); got.BrokerStatus != "CLOSED" {
					t.Fatalf("read back %+v", got)
				}
			}},
		{name: "unregister/no one left to lead: offline, the last ISR member kept", method: del, path: brokerPath(11),
			status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
				wantPartition(part(2, 1, f.bs(11, 1), f.bs(11), metadata.NoLeader))(t, getPartition(t, 2))
			}},
		{name: "unregister/unknown broker", method: del, path: brokerPath(99), status: notFound, code: "BROKER_NOT_FOUND"},
		{name: "unregister/CLOSED broker", method: del, path: brokerPath(7), status: conflict, code: "BROKER_NOT_ACTIVE"},
		{name: "unregister/id not an integer", method: del, path: "/v1/brokers/x", status: bad, code: "INVALID_REQUEST"},

		// GET /v1/topics, DELETE /v1/topics/{name}
		{name: "topics/list", method: get, path: "/v1/topics", status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
			var out struct{ Topics []metadata.TopicView }
			if err := resp.JSON(&out); err != nil {
				t.Fatal(err)
			}
			if !sort.SliceIsSorted(out.Topics, func(i, j int) bool { return out.Topics[i].Name < out.Topics[j].Name }) {
				t.Fatalf("not sorted by name: %s", resp.Body)
			}
			found := 0
			for _, tv := range out.Topics {
				if (tv.Name == f.topic && tv.Partitions == 6) || (tv.Name == f.gone && tv.Partitions == 0) {
					if tv.TopicUUID == "" {
						t.Fatalf("no topicUUID: %+v", tv)
					}
					found++
				}
			}
			if found != 2 {
				t.Fatalf("want %s with 6 partitions and %s with none in %s", f.topic, f.gone, resp.Body)
			}
		}},
		{name: "topics/list stale", method: get, path: "/v1/topics?stale=true", status: http.StatusOK},
		{name: "topics/delete", method: del, path: "/v1/topics/" + f.gone, status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
			if r := recordOf[*metadata.RemoveTopicRecord](t, resp); r.Name != f.gone || r.TopicUUID == "" {
				t.Fatalf("record %+v", r)
			}
			r, err := c.Do(context.Background(), node, get, "/v1/topics/"+f.gone, nil)
			if err != nil || r.Status != notFound {
				t.Fatalf("deleted topic read back: %v %v", err, r)
			}
		}},
		{name: "topics/delete unknown", method: del, path: "/v1/topics/" + f.missingTopic, status: notFound, code: "TOPIC_NOT_FOUND"},

		// POST /v1/topics/{name}/partitions
		{name: "create partition/defaults: id 0, ISR = replicas, first leads", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(2, 1)}, status: http.StatusCreated,
			check: partitionAnswer(f.empty, part(0, 0, f.bs(2, 1), f.bs(2, 1), b(2)))},
		{name: "create partition/next free id (after the row above)", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(3)}, status: http.StatusCreated,
			check: partitionAnswer(f.empty, part(1, 0, f.bs(3), f.bs(3), b(3)))},
		{name: "create partition/explicit id, ISR and leader", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"partitionId": 7, "replicas": f.bs(1, 2, 3), "ISR": f.bs(2, 3), "leader": b(3)}, status: http.StatusCreated,
			check: partitionAnswer(f.empty, part(7, 0, f.bs(1, 2, 3), f.bs(2, 3), b(3)))},
		{name: "create partition/FENCED replica allowed", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"partitionId": 8, "replicas": f.bs(6, 1)}, status: http.StatusCreated,
			check: partitionAnswer(f.empty, part(8, 0, f.bs(6, 1), f.bs(6, 1), b(6)))},
		{name: "create partition/existing id", method: post, path: f.topicPath + "/partitions",
			body: map[string]any{"partitionId": 0, "replicas": f.bs(1)}, status: conflict, code: "PARTITION_ALREADY_EXISTS"},
		{name: "create partition/unknown topic", method: post, path: "/v1/topics/" + f.missingTopic + "/partitions",
			body: map[string]any{"replicas": f.bs(1)}, status: notFound, code: "TOPIC_NOT_FOUND"},
		{name: "create partition/no replicas", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"partitionId": 9}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/empty replicas", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": []int{}}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/duplicate replica", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(1, 2, 1)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/CLOSED replica", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(1, 7)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/unregistered replica", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(1, 99)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/ISR not within replicas", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(1, 2), "ISR": f.bs(1, 3)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/leader not in ISR", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(1, 2), "ISR": f.bs(1), "leader": b(2)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "create partition/negative id", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"partitionId": -1, "replicas": f.bs(1)}, status: bad, code: "INVALID_REQUEST"},
		{name: "create partition/unknown field", method: post, path: f.emptyPath + "/partitions",
			body: map[string]any{"replicas": f.bs(1), "replicationFactor": 1}, status: bad, code: "INVALID_REQUEST"},

		// GET /v1/topics/{name}/partitions/{partitionId}
		{name: "get partition", method: get, path: partPath(f.topic, 0), status: http.StatusOK, check: func(t *testing.T, resp *testcluster.Response) {
			var p metadata.PartitionRecord
			if err := resp.JSON(&p); err != nil {
				t.Fatal(err)
			}
			wantPartition(part(0, 0, f.bs(1, 2, 3), f.bs(1, 2, 3), b(1)))(t, p)
		}},
		{name: "get partition/stale", method: get, path: partPath(f.topic, 0) + "?stale=true", status: http.StatusOK},
		{name: "get partition/unknown partition", method: get, path: partPath(f.topic, 99), status: notFound, code: "PARTITION_NOT_FOUND"},
		{name: "get partition/unknown topic", method: get, path: partPath(f.missingTopic, 0), status: notFound, code: "TOPIC_NOT_FOUND"},
		{name: "get partition/id not an integer", method: get, path: f.topicPath + "/partitions/first", status: bad, code: "INVALID_REQUEST"},

		// POST /v1/topics/{name}/partitions/{partitionId}/replicas
		{name: "add replica/joins replicas and addingReplicas, not ISR", method: post, path: replicasPath(0),
			body: map[string]any{"brokerId": b(4)}, status: http.StatusOK,
			check: partitionAnswer(f.topic, func() metadata.PartitionRecord {
				p := part(0, 1, f.bs(1, 2, 3, 4), f.bs(1, 2, 3), b(1))
				p.AddingReplicas = f.bs(4)
				return p
			}())},
		{name: "add replica/already a replica", method: post, path: replicasPath(0), body: map[string]any{"brokerId": b(2)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "add replica/CLOSED broker", method: post, path: replicasPath(0), body: map[string]any{"brokerId": b(7)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "add replica/unregistered broker", method: post, path: replicasPath(0), body: map[string]any{"brokerId": b(99)}, status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "add replica/no brokerId", method: post, path: replicasPath(0), body: map[string]any{}, status: bad, code: "INVALID_REQUEST"},
		{name: "add replica/unknown partition", method: post, path: replicasPath(99), body: map[string]any{"brokerId": b(4)}, status: notFound, code: "PARTITION_NOT_FOUND"},
		{name: "add replica/unknown topic", method: post, path: partPath(f.missingTopic, 0) + "/replicas", body: map[string]any{"brokerId": b(4)}, status: notFound, code: "TOPIC_NOT_FOUND"},

		// DELETE /v1/topics/{name}/partitions/{partitionId}/replicas/{brokerId}
		{name: "remove replica/a follower", method: del, path: fmt.Sprintf("%s/%d", replicasPath(3), b(3)), status: http.StatusOK,
			check: partitionAnswer(f.topic, part(3, 1, f.bs(1, 2), f.bs(1, 2), b(1)))},
		{name: "remove replica/the leader: the next ISR member leads", method: del, path: fmt.Sprintf("%s/%d", replicasPath(4), b(1)), status: http.StatusOK,
			check: partitionAnswer(f.topic, part(4, 1, f.bs(2), f.bs(2), b(2)))},
		{name: "remove replica/the last one", method: del, path: fmt.Sprintf("%s/%d", replicasPath(5), b(1)), status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "remove replica/not a replica", method: del, path: fmt.Sprintf("%s/%d", replicasPath(5), b(2)), status: bad, code: "INVALID_REPLICA_ASSIGNMENT"},
		{name: "remove replica/unknown partition", method: del, path: fmt.Sprintf("%s/%d", replicasPath(99), b(1)), status: notFound, code: "PARTITION_NOT_FOUND"},
		{name: "remove replica/unknown topic", method: del, path: fmt.Sprintf("%s/replicas/%d", partPath(f.missingTopic, 0), b(1)), status: notFound, code: "TOPIC_NOT_FOUND"},
		{name: "remove replica/broker id not an integer", method: del, path: replicasPath(3) + "/x", status: bad, code: "INVALID_REQUEST"},

		// POST /v1/producer-ids
		{name: "producer ids/next free block", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(1)},
			status: http.StatusCreated, check: pids(b(1), 0, -1)},
		{name: "producer ids/at the broker's current epoch", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(8)},
			status: http.StatusCreated, check: pids(b(8), 1, -1)},
		{name: "producer ids/chosen block", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(1), "producerId": f.freePID},
			status: http.StatusCreated, check: pids(b(1), 0, f.freePID)},
		{name: "producer ids/chosen block overlaps", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(2), "producerId": f.pidBlock + 500},
			status: conflict, code: "PRODUCER_ID_ALREADY_ALLOCATED"},
		{name: "producer ids/unknown broker", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(99)}, status: notFound, code: "BROKER_NOT_FOUND"},
		{name: "producer ids/FENCED broker", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(6)}, status: conflict, code: "BROKER_NOT_ACTIVE"},
		{name: "producer ids/CLOSED broker", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(7)}, status: conflict, code: "BROKER_NOT_ACTIVE"},
		{name: "producer ids/negative producerId", method: post, path: "/v1/producer-ids", body: map[string]any{"brokerId": b(1), "producerId": -1000}, status: bad, code: "INVALID_REQUEST"},
		{name: "producer ids/no brokerId", method: post, path: "/v1/producer-ids", body: map[string]any{}, status: bad, code: "INVALID_REQUEST"},
	}
}

// recordOf decodes a response holding one record in the API's envelope,
// checks its body type and that X-Yakt-Offset is its offset.
func recordOf[T metadata.Body](t *testing.T, resp *testcluster.Response) T {
	t.Helper()
	var rec metadata.Record
	if err := resp.JSON(&rec); err != nil {
		t.Fatal(err)
	}
	body, ok := rec.Body.(T)
	if !ok {
		t.Fatalf("answer holds a %s: %s", rec.Body.RecordName(), resp.Body)
	}
	if h := resp.Header.Get("X-Yakt-Offset"); h != strconv.FormatInt(rec.Offset, 10) {
		t.Fatalf("X-Yakt-Offset %q, record offset %d", h, rec.Offset)
	}
	return body
}

func mustStatus(t *testing.T, c *testcluster.Cluster, node uint64, method, path string, body any, status int) *testcluster.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, node, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != status {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Status, resp.Body, status)
	}
	return resp
}

func getJSON(t *testing.T, c *testcluster.Cluster, node uint64, path string, v any) {
	t.Helper()
	if err := mustStatus(t, c, node, http.MethodGet, path, nil, http.StatusOK).JSON(v); err != nil {
		t.Fatal(err)
	}
}

// concurrently sends n requests at once, spread over the running nodes,
// and returns the answers in request order.
func concurrently(t *testing.T, c *testcluster.Cluster, n int, req func(i int) (method, path string, body any)) []*testcluster.Response {
	t.Helper()
	var nodes []uint64
	for _, id := range c.IDs() {
		if c.Server(id) != nil {
			nodes = append(nodes, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out := make([]*testcluster.Response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			method, path, body := req(i)
			<-start
			out[i], errs[i] = c.Do(ctx, nodes[i%len(nodes)], method, path, body)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}
