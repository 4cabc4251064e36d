package testcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// mixedWorkload drives every record type through the API and fails the
// test on any unexpected answer.
func mixedWorkload(t *testing.T, c *testcluster.Cluster, via uint64, round int) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	do := func(method, path string, body any, want int) {
		t.Helper()
		resp, err := c.Do(ctx, via, method, path, body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Status, resp.Body, want)
		}
	}
	base := int32(round * 10)
	for i := range int32(4) {
		do(http.MethodPost, "/v1/brokers", map[string]any{"brokerId": base + i, "brokerHost": fmt.Sprintf("10.0.%d.%d", round, i),
			"brokerPort": 9092, "rackId": fmt.Sprintf("r%d", i%2)}, http.StatusCreated)
	}
	do(http.MethodPatch, fmt.Sprintf("/v1/brokers/%d", base+1), map[string]any{"brokerHost": "moved"}, http.StatusOK)
	for i := range 3 {
		do(http.MethodPost, "/v1/topics", map[string]any{"name": fmt.Sprintf("r%d-t%d", round, i), "partitions": 4, "replicationFactor": 2}, http.StatusCreated)
	}
	do(http.MethodPost, fmt.Sprintf("/v1/topics/r%d-t0/partitions", round), map[string]any{"replicas": []int32{base, base + 2}}, http.StatusCreated)
	do(http.MethodPost, fmt.Sprintf("/v1/topics/r%d-t1/partitions/0/replicas", round), map[string]any{"brokerId": base + 3}, http.StatusOK)
	do(http.MethodDelete, fmt.Sprintf("/v1/topics/r%d-t1/partitions/0/replicas/%d", round, base+3), nil, http.StatusOK)
	do(http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": base}, http.StatusCreated)
	do(http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": base + 1, "producerId": 1_000_000 * (round + 1)}, http.StatusCreated)
	do(http.MethodDelete, fmt.Sprintf("/v1/topics/r%d-t2", round), nil, http.StatusOK)
	do(http.MethodDelete, fmt.Sprintf("/v1/brokers/%d", base+3), nil, http.StatusOK)
}

// views returns each running node's full snapshot JSON.
func views(t *testing.T, c *testcluster.Cluster) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	for _, id := range c.IDs() {
		if s := c.Server(id); s != nil {
			b, err := json.Marshal(s.State.Image().View(true))
			if err != nil {
				t.Fatal(err)
			}
			out[id] = string(b)
		}
	}
	return out
}

func assertSameState(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	v := views(t, c)
	var first uint64
	for id, s := range v {
		if first == 0 {
			first = id
			continue
		}
		if s != v[first] {
			t.Fatalf("node %d and node %d differ:\n%s\n---\n%s", id, first, s, v[first])
		}
	}
}

// TestRebuildFromEmptyDirectoryConverges wipes a node's data directory and
// checks it rebuilds exactly the others' state: once from the log alone,
// once from a snapshot after the log was compacted.
func TestRebuildFromEmptyDirectoryConverges(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{SnapshotEntries: 15, CompactionMargin: 3})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	mixedWorkload(t, c, f, 0)
	assertSameState(t, c)

	c.Kill(f)
	if err := os.RemoveAll(c.DataDir(f)); err != nil {
		t.Fatal(err)
	}
	mixedWorkload(t, c, lead, 1) // enough entries for the others to snapshot and compact
	c.Start(f)
	assertSameState(t, c)

	ctx := ctxFor(t, 5*time.Second)
	st, err := c.Server(f).Node.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.SnapshotIndex == 0 {
		t.Fatal("the wiped node rebuilt without a snapshot although the log was compacted")
	}
	// And it keeps up with new writes.
	mixedWorkload(t, c, f, 2)
	assertSameState(t, c)
}
