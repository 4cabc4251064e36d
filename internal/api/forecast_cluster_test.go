package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// readBarriers is the leader's yakt_raft_read_barriers_total.
func readBarriers(t *testing.T, c *testcluster.Cluster, id uint64) int {
	t.Helper()
	body := c.Must(t, id, http.MethodGet, "/metrics", nil, http.StatusOK, "").Body
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "yakt_raft_read_barriers_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("read barriers metric %q: %v", v, err)
			}
			return int(f)
		}
	}
	t.Fatalf("no yakt_raft_read_barriers_total in /metrics of node %d", id)
	return 0
}

// Writes are validated against the leader's forecast, not after a read
// barrier: concurrent writes that each choose the next partition id of one
// topic all succeed with distinct ids and the leader runs no barrier for
// them. A refused write is confirmed from committed state, after one.
func TestWritesValidateAgainstTheForecastWithoutReadBarrier(t *testing.T) {
	// The leader's liveness check runs a barrier of its own once per term,
	// on its first tick; a slow machine can put that tick inside the
	// windows this test counts, so it never ticks here.
	c := testcluster.New(t, testcluster.Options{LivenessInterval: time.Hour})
	lead := c.MustLeader()
	for id := range 3 {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "10.0.0.1", "brokerPort": 9092}, http.StatusCreated, "")
	}
	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "t"}, http.StatusCreated, "")

	before := readBarriers(t, c, lead)
	const writers = 24
	ids := make([]int, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := c.Do(ctx, lead, http.MethodPost, "/v1/topics/t/partitions", map[string]any{"replicas": []int{i % 3}})
			if err != nil {
				errs <- err
				return
			}
			var p struct {
				Fields struct {
					PartitionID *int `json:"partitionId"`
				} `json:"fields"`
			}
			if resp.Status != http.StatusCreated {
				errs <- fmt.Errorf("create partition: %d %s", resp.Status, resp.Body)
				return
			}
			if err := resp.JSON(&p); err != nil || p.Fields.PartitionID == nil {
				errs <- fmt.Errorf("create partition answer %s: %v", resp.Body, err)
				return
			}
			ids[i] = *p.Fields.PartitionID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if id != i {
			t.Fatalf("partition ids of %d concurrent creations: %v, want 0..%d", writers, ids, writers-1)
		}
	}
	if after := readBarriers(t, c, lead); after != before {
		t.Fatalf("the leader ran %d read barriers for %d writes, want none", after-before, writers)
	}

	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "t"}, http.StatusConflict, "TOPIC_ALREADY_EXISTS")
	if after := readBarriers(t, c, lead); after != before+1 {
		t.Fatalf("a refused write ran %d read barriers, want 1", after-before)
	}
}
