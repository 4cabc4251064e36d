package testcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func followers(c *testcluster.Cluster, lead uint64) []uint64 {
	var out []uint64
	for _, id := range c.IDs() {
		if id != lead && c.Server(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

// assertTopics checks that every running node holds every name.
func assertTopics(t *testing.T, c *testcluster.Cluster, names []string) {
	t.Helper()
	ctx := ctxFor(t, 15*time.Second)
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		if c.Server(id) == nil {
			continue
		}
		have := c.TopicNames(id)
		missing := 0
		for _, n := range names {
			if !have[n] {
				missing++
				if missing <= 5 {
					t.Errorf("node %d lacks acknowledged topic %q", id, n)
				}
			}
		}
		if missing > 0 {
			t.Errorf("node %d lacks %d of %d acknowledged topics", id, missing, len(names))
		}
	}
}

func createTopics(t *testing.T, c *testcluster.Cluster, prefix string, n int) []string {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
		if err := c.CreateTopic(ctx, names[i]); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestLeaderElectedAndWritesReplicate(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	ctx := ctxFor(t, 10*time.Second)

	// A write sent to a follower is forwarded to the leader.
	f := followers(c, lead)[0]
	resp, err := c.Do(ctx, f, http.MethodPost, "/v1/topics", map[string]any{"name": "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusCreated {
		t.Fatalf("create via follower: %d %s", resp.Status, resp.Body)
	}
	offset, err := strconv.ParseUint(resp.Header.Get("X-Yakt-Offset"), 10, 64)
	if err != nil || offset == 0 {
		t.Fatalf("X-Yakt-Offset = %q", resp.Header.Get("X-Yakt-Offset"))
	}
	// An election in between (a starved node on a busy machine) may have
	// moved leadership: the header names the leader of its time.
	if got := resp.Header.Get("X-Yakt-Leader"); got != strconv.FormatUint(lead, 10) && got != strconv.FormatUint(c.MustLeader(), 10) {
		t.Errorf("X-Yakt-Leader = %q, want %d", got, lead)
	}

	// The same name again is a conflict, whichever node takes it.
	resp, err = c.Do(ctx, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusConflict || resp.ErrorCode() != "TOPIC_ALREADY_EXISTS" {
		t.Fatalf("duplicate create: %d %s", resp.Status, resp.Body)
	}

	// A linearizable read on every node sees the write at once.
	for _, id := range c.IDs() {
		resp, err := c.Do(ctx, id, http.MethodGet, "/v1/topics/orders", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Topic struct{ Name, TopicUUID string }
		}
		if resp.Status != http.StatusOK || resp.JSON(&got) != nil || got.Topic.Name != "orders" || got.Topic.TopicUUID == "" {
			t.Fatalf("node %d: GET /v1/topics/orders = %d %s", id, resp.Status, resp.Body)
		}
		if resp.Header.Get("X-Yakt-Node") != strconv.FormatUint(id, 10) {
			t.Errorf("node %d answered with X-Yakt-Node %q", id, resp.Header.Get("X-Yakt-Node"))
		}
	}
	resp, err = c.Do(ctx, f, http.MethodGet, "/v1/topics/nope", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusNotFound || resp.ErrorCode() != "TOPIC_NOT_FOUND" {
		t.Fatalf("missing topic: %d %s", resp.Status, resp.Body)
	}
	assertTopics(t, c, []string{"orders"})
}

// writers keeps n goroutines creating topics through c.CreateTopic and
// remembers every one acknowledged (a 201, or a 409 after an attempt with
// an unknown outcome: the topic exists either way).
type writers struct {
	t     *testing.T
	ctx   context.Context
	stopc chan struct{}
	wg    sync.WaitGroup

	mu    sync.Mutex
	acked []string
}

func startWriters(ctx context.Context, t *testing.T, c *testcluster.Cluster, n int) *writers {
	w := &writers{t: t, ctx: ctx, stopc: make(chan struct{})}
	for g := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stopc:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", g, i)
				if err := c.CreateTopic(ctx, name); err != nil {
					t.Error(err)
					return
				}
				w.mu.Lock()
				w.acked = append(w.acked, name)
				w.mu.Unlock()
			}
		}()
	}
	return w
}

func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitFor waits until at least n writes are acknowledged.
func (w *writers) waitFor(n int) {
	w.t.Helper()
	if err := testcluster.WaitFor(w.ctx, func() bool { return w.count() >= n }); err != nil {
		w.t.Fatalf("only %d writes acknowledged, want %d: %v", w.count(), n, err)
	}
}

// stop stops the writers and returns every acknowledged name.
func (w *writers) stop() []string {
	close(w.stopc)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

func TestLeaderKilledNoAcknowledgedWriteLost(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	ctx := ctxFor(t, 60*time.Second)

	w := startWriters(ctx, t, c, 4)
	w.waitFor(40)
	lead = c.MustLeader() // the leader now, should an election have moved it
	c.Kill(lead)
	newLead := c.MustLeader()
	if newLead == lead {
		t.Fatalf("leader %d still leads after being killed", lead)
	}
	w.waitFor(w.count() + 40) // writes continue under the new leader
	acked := w.stop()

	c.Start(lead) // the old leader rejoins and catches up
	assertTopics(t, c, acked)
}

func TestFollowerCatchesUpFromLog(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	c.Kill(f)
	names := createTopics(t, c, "while-down", 30)
	c.Start(f)
	assertTopics(t, c, names)
	if got := c.Server(f).Node.AppliedIndex(); got == 0 {
		t.Fatalf("follower applied nothing")
	}
}

func TestFollowerCatchesUpFromSnapshotAfterCompaction(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{SnapshotEntries: 20, CompactionMargin: 5})
	lead := c.MustLeader()
	f := followers(c, lead)[0]
	c.Kill(f)
	names := createTopics(t, c, "compacted", 80)
	// The leader has compacted past what the follower has.
	ctx := ctxFor(t, 10*time.Second)
	st, err := c.Server(lead).Node.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.SnapshotIndex < 40 {
		t.Fatalf("leader snapshot index %d: expected automatic snapshots every 20 entries", st.SnapshotIndex)
	}
	c.Start(f)
	assertTopics(t, c, names)
	fst, err := c.Server(f).Node.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fst.SnapshotIndex == 0 {
		t.Fatalf("follower caught up without a snapshot, but the entries it lacked were compacted")
	}
}

func TestFullClusterRestartRecoversEverything(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{SnapshotEntries: 25, CompactionMargin: 5})
	c.MustLeader()
	names := createTopics(t, c, "durable", 60)
	c.StopAll()
	for _, id := range c.IDs() {
		c.Start(id)
	}
	c.MustLeader()
	assertTopics(t, c, names)
	more := createTopics(t, c, "after-restart", 5)
	assertTopics(t, c, append(names, more...))
}

func TestFiveNodesServeWithTwoDownAndRefuseWithThreeDown(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 5})
	lead := c.MustLeader()
	down := followers(c, lead)[:2]
	for _, id := range down {
		c.Kill(id)
	}
	names := createTopics(t, c, "two-down", 10)
	assertTopics(t, c, names)

	lead = c.MustLeader() // the leader now, should an election have moved it
	c.Kill(followers(c, lead)[0])
	// With CheckQuorum the leader steps down once it cannot hear a quorum;
	// from then on writes are refused at once, not left hanging.
	ctx := ctxFor(t, 15*time.Second)
	if err := testcluster.WaitFor(ctx, func() bool { return c.Server(lead).Node.Leader() == 0 }); err != nil {
		t.Fatalf("leader did not step down without a quorum: %v", err)
	}
	for _, id := range c.IDs() {
		if c.Server(id) == nil {
			continue
		}
		start := time.Now()
		resp, err := c.Do(ctx, id, http.MethodPost, "/v1/topics", map[string]any{"name": "no-quorum"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "NO_LEADER" {
			t.Fatalf("node %d without quorum: %d %s", id, resp.Status, resp.Body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("node %d took %v to refuse", id, d)
		}
	}
}
