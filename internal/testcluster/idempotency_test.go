package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// doKeyed sends one request with the given Idempotency-Key header values
// (none when keys is empty).
func doKeyed(ctx context.Context, c *testcluster.Cluster, node uint64, method, path string, body any, keys ...string) (*testcluster.Response, error) {
	req, err := jsonRequest(ctx, method, c.URL(node)+path, body)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		req.Header.Add("Idempotency-Key", k)
	}
	return send(c.Client, req)
}

// jsonRequest is a request to url with body (nil: none) as JSON.
func jsonRequest(ctx context.Context, method, url string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// send sends req with client and reads the whole answer.
func send(client *http.Client, req *http.Request) (*testcluster.Response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &testcluster.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// keyed is an answer to a keyed request, possibly after retries.
type keyed struct {
	*testcluster.Response
	retried bool // an earlier attempt had no definite answer
}

// sendKeyed sends a keyed request and, as a client should, sends it again
// with the same key while the answer is not definite (no leader, timeout,
// lost connection), until ctx ends. Elections on a busy machine then cost
// time, not a failed test.
func sendKeyed(ctx context.Context, c *testcluster.Cluster, node uint64, method, path string, body any, key string) (keyed, error) {
	var keys []string
	if key != "" {
		keys = append(keys, key)
	}
	for attempt := 0; ; attempt++ {
		resp, err := doKeyed(ctx, c, node, method, path, body, keys...)
		definite := err == nil && resp.Status != http.StatusServiceUnavailable && resp.Status != http.StatusGatewayTimeout
		if definite || key == "" || ctx.Err() != nil {
			return keyed{resp, attempt > 0}, err
		}
		if err := testcluster.Pace(ctx, 50*time.Millisecond); err != nil {
			return keyed{resp, attempt > 0}, err
		}
	}
}

func mustKeyed(t *testing.T, c *testcluster.Cluster, node uint64, method, path string, body any, key string, status int) keyed {
	t.Helper()
	resp, err := sendKeyed(ctxFor(t, 60*time.Second), c, node, method, path, body, key)
	if err != nil {
		t.Fatalf("%s %s on node %d: %v", method, path, node, err)
	}
	if resp.Status != status {
		t.Fatalf("%s %s on node %d = %d %s, want %d", method, path, node, resp.Status, resp.Body, status)
	}
	return resp
}

// checkReplay fails unless again repeats first exactly, marked as a replay.
func checkReplay(t *testing.T, first, again keyed) {
	t.Helper()
	if first.Header.Get("X-Yakt-Replayed") != "" && !first.retried {
		t.Errorf("first answer is marked replayed")
	}
	if again.Status != first.Status || !bytes.Equal(again.Body, first.Body) {
		t.Errorf("replay = %d %s\nwant     %d %s", again.Status, again.Body, first.Status, first.Body)
	}
	if o1, o2 := first.Header.Get("X-Yakt-Offset"), again.Header.Get("X-Yakt-Offset"); o1 == "" || o1 != o2 {
		t.Errorf("X-Yakt-Offset: first %q, replay %q", o1, o2)
	}
	if got := again.Header.Get("X-Yakt-Replayed"); got != "true" {
		t.Errorf("replay has X-Yakt-Replayed %q, want true", got)
	}
}

// stateOf is the node's whole metadata (a BrokerMgmt snapshot, as broker
// 1 asks for it) without its offset, for checking that nothing changed.
func stateOf(t *testing.T, c *testcluster.Cluster, node uint64) string {
	t.Helper()
	var v struct {
		Snapshot struct {
			Brokers     json.RawMessage `json:"brokers"`
			Topics      json.RawMessage `json:"topics"`
			Partitions  json.RawMessage `json:"partitions"`
			ProducerIDs json.RawMessage `json:"producerIds"`
		} `json:"snapshot"`
	}
	resp := mustStatus(t, c, node, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}, http.StatusOK)
	if err := resp.JSON(&v); err != nil {
		t.Fatal(err)
	}
	s := v.Snapshot
	return string(s.Brokers) + string(s.Topics) + string(s.Partitions) + string(s.ProducerIDs)
}

// TestIdempotentWritesReplay sends every write of docs/api.md with a key, then
// sends it again to another node: the answer repeats the first one byte
// for byte, with its offset, marked X-Yakt-Replayed, and nothing applies.
// The same key with another request is 422 and applies nothing either.
func TestIdempotentWritesReplay(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 20 * time.Second, ElectionTicks: 50})
	lead := c.MustLeader()
	f := followers(c, lead)
	nodes := []uint64{lead, f[0], f[1]}

	type step struct {
		method, path string
		body         any
		status       int
		other        any // a different body for the same key (nil: use otherPath)
	}
	steps := []step{
		{http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "h1", "brokerPort": 9092}, http.StatusCreated, map[string]any{"brokerId": 1, "brokerHost": "h1", "brokerPort": 9093}},
		{http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 2, "brokerHost": "h2", "brokerPort": "9092"}, http.StatusCreated, map[string]any{"brokerId": 9, "brokerHost": "h2", "brokerPort": "9092"}},
		{http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 3, "brokerHost": "h3", "brokerPort": "9092", "rackId": "r3"}, http.StatusCreated, nil},
		{http.MethodPost, "/v1/topics", map[string]any{"name": "idem", "partitions": 2, "replicationFactor": 3}, http.StatusCreated, map[string]any{"name": "idem", "partitions": 3}},
		{http.MethodPost, "/v1/topics/idem/partitions", map[string]any{"partitionId": 5, "replicas": []int{1, 2}, "leader": 1}, http.StatusCreated, nil},
		{http.MethodPost, "/v1/topics/idem/partitions/5/isr", map[string]any{"brokerId": 1, "partitionEpoch": 0, "ISR": []int{1}}, http.StatusOK, nil},
		{http.MethodPost, "/v1/topics/idem/partitions/5/replicas", map[string]any{"brokerId": 3}, http.StatusOK, nil},
		{http.MethodDelete, "/v1/topics/idem/partitions/5/replicas/3", nil, http.StatusOK, nil},
		{http.MethodPatch, "/v1/brokers/2", map[string]any{"brokerHost": "h2b"}, http.StatusOK, nil},
		{http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1}, http.StatusCreated, map[string]any{"brokerId": 2}},
		{http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1, "producerId": 50000}, http.StatusCreated, nil},
		{http.MethodPost, "/v1/brokers/3/shutdown", nil, http.StatusOK, nil},
		{http.MethodDelete, "/v1/brokers/2", nil, http.StatusOK, nil},
		{http.MethodDelete, "/v1/topics/idem", nil, http.StatusOK, nil},
	}
	for i, s := range steps {
		key := fmt.Sprintf("replay-%d %s %s", i, s.method, s.path)
		t.Run(fmt.Sprintf("%d %s %s", i, s.method, s.path), func(t *testing.T) {
			first := mustKeyed(t, c, nodes[i%3], s.method, s.path, s.body, key, s.status)
			before := stateOf(t, c, lead)
			again := mustKeyed(t, c, nodes[(i+1)%3], s.method, s.path, s.body, key, s.status)
			checkReplay(t, first, again)
			// The same key on another request: 422, nothing applied.
			method, path, body := s.method, s.path, s.other
			if body == nil {
				method, path, body = http.MethodPost, "/v1/topics", map[string]any{"name": "never-created"}
			}
			resp := mustKeyed(t, c, nodes[(i+2)%3], method, path, body, key, http.StatusUnprocessableEntity)
			if resp.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
				t.Errorf("reused key: %s", resp.Body)
			}
			if after := stateOf(t, c, lead); after != before {
				t.Errorf("replay or reuse changed the state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("a refused write stores nothing", func(t *testing.T) {
		mustKeyed(t, c, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "taken"}, "", http.StatusCreated)
		// The first use of the key fails (409): nothing is remembered, so
		// the key serves another request.
		resp := mustKeyed(t, c, f[0], http.MethodPost, "/v1/topics", map[string]any{"name": "taken"}, "refused", http.StatusConflict)
		if resp.ErrorCode() != "TOPIC_ALREADY_EXISTS" || resp.Header.Get("X-Yakt-Replayed") != "" {
			t.Fatalf("refused write: %v %s", resp.Header, resp.Body)
		}
		mustKeyed(t, c, f[1], http.MethodPost, "/v1/topics", map[string]any{"name": "free"}, "refused", http.StatusCreated)
	})

	t.Run("fetch and snapshots take a key without effect", func(t *testing.T) {
		for range 2 {
			for _, body := range []map[string]any{{"brokerId": 1}, {"brokerId": 1, "offset": 1}} {
				resp := mustKeyed(t, c, f[0], http.MethodPost, "/v1/metadata/fetch", body, "fetch-key", http.StatusOK)
				if resp.Header.Get("X-Yakt-Replayed") != "" {
					t.Errorf("fetch marked replayed")
				}
			}
			mustKeyed(t, c, f[1], http.MethodPost, "/v1/snapshots", nil, "snap-key", http.StatusCreated)
		}
	})
}

func TestMalformedIdempotencyKeys(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	tests := []struct {
		name string
		keys []string
	}{
		{"empty", []string{""}},
		{"too long", []string{strings.Repeat("k", 129)}},
		{"not ASCII", []string{"naïve"}},
		{"control character", []string{"a\tb"}},
		{"sent twice", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, node := range []uint64{lead, f} {
				for _, r := range []struct {
					method, path string
					body         any
				}{
					{http.MethodPost, "/v1/topics", map[string]any{"name": "bad-key"}},
					{http.MethodDelete, "/v1/topics/nope", nil},
					{http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}},
				} {
					resp, err := doKeyed(ctxFor(t, 60*time.Second), c, node, r.method, r.path, r.body, tt.keys...)
					if err != nil {
						t.Fatal(err)
					}
					if resp.Status != http.StatusBadRequest || resp.ErrorCode() != "INVALID_REQUEST" {
						t.Errorf("%s %s on node %d: %d %s, want 400 INVALID_REQUEST", r.method, r.path, node, resp.Status, resp.Body)
					}
				}
			}
		})
	}
	if c.TopicNames(lead)["bad-key"] {
		t.Errorf("a write with a malformed key applied")
	}
	// The longest valid key works.
	mustKeyed(t, c, f, http.MethodPost, "/v1/topics", map[string]any{"name": "good-key"}, strings.Repeat("k", 128), http.StatusCreated)
}

// sendAll sends the same keyed request n times at once, spread over the
// running nodes.
func sendAll(t *testing.T, c *testcluster.Cluster, n int, method, path string, body any, key string) []keyed {
	t.Helper()
	var nodes []uint64
	for _, id := range c.IDs() {
		if c.Server(id) != nil {
			nodes = append(nodes, id)
		}
	}
	ctx := ctxFor(t, 60*time.Second)
	out := make([]keyed, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = sendKeyed(ctx, c, nodes[i%len(nodes)], method, path, body, key)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRacingDuplicatesApplyOnce sends one keyed request many times at once
// through every node: retries that arrive while the first is still being
// committed. One applies; every caller gets its answer.
func TestRacingDuplicatesApplyOnce(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 20 * time.Second, ElectionTicks: 50})
	lead := c.MustLeader()
	for id := 1; id <= 3; id++ {
		mustStatus(t, c, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated)
	}
	const n = 12
	// One answer applied, the others repeat it. Only an attempt that got
	// no definite answer (and was retried) may leave every answer marked.
	check := func(t *testing.T, resps []keyed, status int) keyed {
		t.Helper()
		var first keyed
		retried := false
		for _, r := range resps {
			retried = retried || r.retried
			if r.Header.Get("X-Yakt-Replayed") == "" {
				if first.Response != nil {
					t.Fatalf("two answers not marked replayed:\n%s\n%s", first.Body, r.Body)
				}
				first = r
			}
		}
		if first.Response == nil {
			if !retried {
				t.Fatalf("every answer is marked replayed")
			}
			first = resps[0]
			first.retried = true
		}
		for _, r := range resps {
			if r.Response != first.Response {
				checkReplay(t, first, r)
			}
		}
		if first.Status != status {
			t.Fatalf("status %d %s, want %d", first.Status, first.Body, status)
		}
		return first
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("create topic round %d", round), func(t *testing.T) {
			name := fmt.Sprintf("racing-%d", round)
			resps := sendAll(t, c, n, http.MethodPost, "/v1/topics", map[string]any{"name": name, "partitions": 3}, "race-topic-"+name)
			check(t, resps, http.StatusCreated)
		})
		t.Run(fmt.Sprintf("producer ids round %d", round), func(t *testing.T) {
			var before, after struct {
				Snapshot struct {
					ProducerIDs struct {
						Next   int64             `json:"nextProducerId"`
						Blocks []json.RawMessage `json:"blocks"`
					} `json:"producerIds"`
				} `json:"snapshot"`
			}
			if err := mustStatus(t, c, lead, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}, http.StatusOK).JSON(&before); err != nil {
				t.Fatal(err)
			}
			resps := sendAll(t, c, n, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1}, fmt.Sprintf("race-pid-%d", round))
			first := check(t, resps, http.StatusCreated)
			var got struct {
				FirstProducerID int64 `json:"firstProducerId"`
			}
			if err := first.JSON(&got); err != nil {
				t.Fatal(err)
			}
			if err := mustStatus(t, c, lead, http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}, http.StatusOK).JSON(&after); err != nil {
				t.Fatal(err)
			}
			b, a := before.Snapshot.ProducerIDs, after.Snapshot.ProducerIDs
			if len(a.Blocks) != len(b.Blocks)+1 || a.Next != got.FirstProducerID+1000 {
				t.Errorf("%d blocks -> %d, next %d -> %d, block given at %d: want exactly one new block", len(b.Blocks), len(a.Blocks), b.Next, a.Next, got.FirstProducerID)
			}
		})
	}
	for _, id := range c.IDs() {
		names := c.TopicNames(id)
		if len(names) != 3 {
			t.Errorf("node %d has topics %v, want the 3 racing ones", id, names)
		}
	}
}

// TestIdempotencyKeysSurviveSnapshotRestartAndLeaderChange: a key whose
// entry was compacted into a snapshot is still answered after every node
// restarted from its snapshot, and after the leader changed.
func TestIdempotencyKeysSurviveSnapshotRestartAndLeaderChange(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{SnapshotEntries: 20, CompactionMargin: 5, RequestTimeout: 20 * time.Second, ElectionTicks: 50})
	lead := c.MustLeader()
	mustStatus(t, c, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated)
	topic := mustKeyed(t, c, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "kept", "partitions": 2}, "kept-topic", http.StatusCreated)
	pids := mustKeyed(t, c, lead, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1}, "kept-pids", http.StatusCreated)
	var offset uint64
	if _, err := fmt.Sscan(pids.Header.Get("X-Yakt-Offset"), &offset); err != nil {
		t.Fatal(err)
	}
	createTopics(t, c, "filler", 60)
	ctx := ctxFor(t, 60*time.Second)
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	c.StopAll()
	for _, id := range c.IDs() {
		c.Start(id)
	}
	lead = c.MustLeader()
	for _, id := range c.IDs() {
		st, err := c.Server(id).Node.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.SnapshotIndex <= offset {
			t.Fatalf("node %d restarted from snapshot %d; the keyed writes at <= %d were not in it", id, st.SnapshotIndex, offset)
		}
	}
	checkReplay(t, topic, mustKeyed(t, c, followers(c, lead)[0], http.MethodPost, "/v1/topics", map[string]any{"name": "kept", "partitions": 2}, "kept-topic", http.StatusCreated))
	checkReplay(t, pids, mustKeyed(t, c, lead, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1}, "kept-pids", http.StatusCreated))

	c.Kill(lead)
	next := c.MustLeader()
	if next == lead {
		t.Fatalf("leader %d still leads after it was killed", lead)
	}
	checkReplay(t, topic, mustKeyed(t, c, next, http.MethodPost, "/v1/topics", map[string]any{"name": "kept", "partitions": 2}, "kept-topic", http.StatusCreated))
	checkReplay(t, pids, mustKeyed(t, c, followers(c, next)[0], http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1}, "kept-pids", http.StatusCreated))
	resp := mustKeyed(t, c, next, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1, "producerId": 900000}, "kept-pids", http.StatusUnprocessableEntity)
	if resp.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reused key after restart: %s", resp.Body)
	}
}

// sendKeyedAnywhere is sendKeyed against the running nodes in turn, from
// the first follower of start on: a client that moves on when a node
// stops answering.
func sendKeyedAnywhere(ctx context.Context, c *testcluster.Cluster, start int, method, path string, body any, key string) (keyed, error) {
	retried := false
	for attempt := start; ; attempt++ {
		node := c.IDs()[attempt%len(c.IDs())]
		if c.Server(node) != nil {
			resp, err := doKeyed(ctx, c, node, method, path, body, key)
			if err == nil && resp.Status != http.StatusServiceUnavailable && resp.Status != http.StatusGatewayTimeout {
				return keyed{resp, retried}, nil
			}
			retried = true
		}
		if err := testcluster.Pace(ctx, 50*time.Millisecond); err != nil {
			return keyed{}, fmt.Errorf("%s %s with key %q: no definite answer: %w", method, path, key, err)
		}
	}
}

// TestKeyedWritesSurviveLeaderKill writes with keys while the leader is
// killed and restarted: every call ends in a definite answer, every
// success is in the final state exactly once, and no key got two
// producer-id blocks.
func TestKeyedWritesSurviveLeaderKill(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 5 * time.Second, ElectionTicks: 50})
	lead := c.MustLeader()
	mustStatus(t, c, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated)

	const workers, perWorker = 4, 16
	ctx := ctxFor(t, 3*time.Minute)
	var done, retried atomic.Int64
	type result struct {
		topic, uuid string
		block       int64
	}
	results := make([][]result, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				name := fmt.Sprintf("kill-%d-%d", w, i)
				resp, err := sendKeyedAnywhere(ctx, c, w+i, http.MethodPost, "/v1/topics", map[string]any{"name": name}, "topic-"+name)
				if err != nil || resp.Status != http.StatusCreated {
					errs <- fmt.Errorf("create %s: %v %v", name, err, resp.Response)
					return
				}
				var td struct {
					Topic struct {
						TopicUUID string `json:"topicUUID"`
					} `json:"topic"`
				}
				if err := resp.JSON(&td); err != nil {
					errs <- err
					return
				}
				if resp.retried {
					retried.Add(1)
				}
				resp, err = sendKeyedAnywhere(ctx, c, w+i+1, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": 1}, "pid-"+name)
				if err != nil || resp.Status != http.StatusCreated {
					errs <- fmt.Errorf("producer ids for %s: %v %v", name, err, resp.Response)
					return
				}
				var pid struct {
					FirstProducerID int64 `json:"firstProducerId"`
				}
				if err := resp.JSON(&pid); err != nil {
					errs <- err
					return
				}
				if resp.retried {
					retried.Add(1)
				}
				results[w] = append(results[w], result{name, td.Topic.TopicUUID, pid.FirstProducerID})
				done.Add(1)
			}
		}()
	}
	// Kill the leader once writes are flowing, restart it once a new
	// leader took over.
	if err := testcluster.WaitFor(ctx, func() bool { return done.Load() >= workers*perWorker/4 }); err != nil {
		t.Fatalf("writes did not start: %v", err)
	}
	c.Kill(lead)
	killedAt := done.Load()
	if err := testcluster.WaitFor(ctx, func() bool {
		for _, id := range followers(c, lead) {
			if l := c.Server(id).Node.Leader(); l != 0 && l != lead {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no new leader: %v", err)
	}
	c.Start(lead)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	// The fault took effect: the leader died with writes still to come,
	// and they were answered by its successor. Whether a call had to be
	// retried is up to timing: a follower resends a keyed write to the new
	// leader itself, so the caller often never sees the kill.
	if killedAt >= workers*perWorker {
		t.Errorf("every write was answered before the leader was killed")
	}
	t.Logf("%d of %d writes were answered before the kill; %d of %d calls were retried by the caller",
		killedAt, workers*perWorker, retried.Load(), 2*workers*perWorker)
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	var state struct {
		Snapshot struct {
			Topics      []struct{ Name, TopicUUID string } `json:"topics"`
			ProducerIDs struct {
				Blocks []struct {
					ProducerID int64 `json:"producerId"`
				} `json:"blocks"`
			} `json:"producerIds"`
		} `json:"snapshot"`
	}
	if err := mustStatus(t, c, c.MustLeader(), http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": 1}, http.StatusOK).JSON(&state); err != nil {
		t.Fatal(err)
	}
	topics := map[string]string{}
	for _, tp := range state.Snapshot.Topics {
		topics[tp.Name] = tp.TopicUUID
	}
	blocks := map[int64]bool{}
	for _, b := range state.Snapshot.ProducerIDs.Blocks {
		blocks[b.ProducerID] = true
	}
	n := 0
	for _, rs := range results {
		for _, r := range rs {
			n++
			if topics[r.topic] != r.uuid {
				t.Errorf("topic %s: answered with id %s, state has %q", r.topic, r.uuid, topics[r.topic])
			}
			if !blocks[r.block] {
				t.Errorf("block %d answered for %s is not in the state", r.block, r.topic)
			}
		}
	}
	if n != workers*perWorker || len(topics) != n || len(blocks) != n {
		t.Errorf("%d answers, %d topics, %d producer-id blocks: want %d of each (one per key)", n, len(topics), len(blocks), workers*perWorker)
	}
}
