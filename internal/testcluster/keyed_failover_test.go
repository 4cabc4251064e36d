package testcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// keyedFailover is a cluster under test as the keyed failover test sees
// it: nodes reached over HTTP, and one fault to inject into the leader
// and to undo.
type keyedFailover struct {
	ids    []uint64
	url    func(id uint64) string
	leader func(ctx context.Context) (uint64, error) // the first leader
	fault  func(id uint64)
	heal   func(id uint64)
}

// TestKeyedWritesThroughFollowersSurviveLeaderFaults writes through the
// followers with the Go client (which sends every write with an
// Idempotency-Key and resends it with the same key until an answer settles
// it) while the leader is killed, frozen with SIGSTOP, or cut off from its
// peers. Every call must end in a definite answer; every acknowledged
// topic must be in the final state once, every refused one not at all;
// and the producer-id blocks in the final state must be exactly the ones
// acknowledged, so a resent allocation never allocated a second block.
func TestKeyedWritesThroughFollowersSurviveLeaderFaults(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) keyedFailover
	}{
		{"kill", func(t *testing.T) keyedFailover {
			c := testcluster.New(t, testcluster.Options{ElectionTicks: 50})
			return keyedFailover{
				ids: c.IDs(), url: c.URL,
				leader: c.Leader,
				fault:  c.Kill,
				heal:   c.Start,
			}
		}},
		{"sigstop", func(t *testing.T) keyedFailover {
			if testing.Short() {
				t.Skip("builds and runs real processes")
			}
			// Later flags win: a 1 s election timeout rather than the
			// harness's 200 ms, so a busy machine does not hold
			// elections of its own.
			p := testcluster.StartProcesses(t, testcluster.BuildYakt(t), 3,
				"--election-timeout", "1s", "--broker-session-timeout", "1h")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := p.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			return keyedFailover{
				ids: p.IDs(), url: p.URL,
				leader: func(ctx context.Context) (uint64, error) {
					return kfAgreedLeader(ctx, p.URL, p.IDs(), 0)
				},
				fault: p.Pause,
				heal:  p.Resume,
			}
		}},
		{"isolate", func(t *testing.T) keyedFailover {
			c := testcluster.New(t, testcluster.Options{ElectionTicks: 50, Network: true})
			return keyedFailover{
				ids: c.IDs(), url: c.URL,
				leader: c.Leader,
				fault:  c.Net.Isolate,
				heal:   func(uint64) { c.Net.HealAll() },
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			runKeyedFailover(t, tt.setup(t))
			t.Logf("%s took %v", tt.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// kfCall is the outcome of one client call.
type kfCall struct {
	topic  string // a topic creation, else a producer-id allocation
	broker int32
	block  int64 // first id of the allocated block
	err    error
	meta   client.Meta
	done   time.Time
}

// kfRecorder is the writers' shared log of calls.
type kfRecorder struct {
	mu    sync.Mutex
	calls []kfCall
}

func (r *kfRecorder) add(c kfCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

// successes counts the successful calls answered after since while a
// node other than notLeader led.
func (r *kfRecorder) successes(since time.Time, notLeader uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.err == nil && !c.done.Before(since) && c.meta.Leader != 0 && c.meta.Leader != notLeader {
			n++
		}
	}
	return n
}

func (r *kfRecorder) all() []kfCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kfCall(nil), r.calls...)
}

// kfTransport records every request the client sends: which hosts it
// reached and how often each idempotency key was sent.
type kfTransport struct {
	next  http.RoundTripper
	mu    sync.Mutex
	hosts map[string]int
	keys  map[string]int
}

func (tr *kfTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.mu.Lock()
	tr.hosts[req.URL.Host]++
	if k := req.Header.Get("Idempotency-Key"); k != "" {
		tr.keys[k]++
	}
	tr.mu.Unlock()
	return tr.next.RoundTrip(req)
}

func runKeyedFailover(t *testing.T, kf keyedFailover) {
	const writers = 4
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	lead, err := kf.leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var followerIDs []uint64
	var endpoints []string
	for _, id := range kf.ids {
		if id != lead {
			followerIDs = append(followerIDs, id)
			endpoints = append(endpoints, kf.url(id))
		}
	}
	leadURL, err := url.Parse(kf.url(lead))
	if err != nil {
		t.Fatal(err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	tr := &kfTransport{next: base, hosts: map[string]int{}, keys: map[string]int{}}
	cl, err := client.New(client.Config{Endpoints: endpoints, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer base.CloseIdleConnections()

	// Brokers to allocate producer ids to; the session timeout is long
	// enough that they stay ALIVE without heartbeats.
	brokers := []int32{1, 2}
	for _, b := range brokers {
		cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
		_, _, err := cl.RegisterBroker(cctx, client.RegisterBrokerRequest{BrokerID: &b, BrokerHost: fmt.Sprintf("broker-%d", b), BrokerPort: contract.PortOf("9092")})
		ccancel()
		if err != nil {
			t.Fatalf("register broker %d: %v", b, err)
		}
	}

	rec := &kfRecorder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Each call gets a deadline far beyond a failover, so only
				// a lost write can run into it.
				cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
				var c kfCall
				if i%2 == 0 {
					c.topic = fmt.Sprintf("kf-%d-%d", w, i)
					_, c.meta, c.err = cl.CreateTopic(cctx, client.CreateTopicRequest{Name: c.topic})
				} else {
					c.broker = brokers[(w+i/2)%len(brokers)]
					var blk client.ProducerIDBlock
					blk, c.meta, c.err = cl.AllocateProducerIDs(cctx, c.broker, -1)
					c.block = blk.FirstProducerID
					if c.err == nil && blk.Size != metadata.ProducerIDBlockSize {
						t.Errorf("allocated block [%d,+%d), want size %d", blk.FirstProducerID, blk.Size, metadata.ProducerIDBlockSize)
					}
				}
				ccancel()
				c.done = time.Now()
				rec.add(c)
			}
		}()
	}
	stopWriters := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopWriters()

	waitSuccesses := func(what string, since time.Time, notLeader uint64, n int) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		if err := testcluster.WaitFor(wctx, func() bool { return rec.successes(since, notLeader) >= n }); err != nil {
			t.Fatalf("%s: %d successes, want %d: %v", what, rec.successes(since, notLeader), n, err)
		}
	}
	waitSuccesses("before the fault", time.Time{}, 0, 3*writers)

	faultAt := time.Now()
	kf.fault(lead)
	t.Logf("fault on leader %d after %d calls", lead, len(rec.all()))
	lctx, lcancel := context.WithTimeout(ctx, 60*time.Second)
	newLead, err := kfAgreedLeader(lctx, kf.url, followerIDs, lead)
	lcancel()
	if err != nil {
		kf.heal(lead)
		t.Fatalf("no new leader among the followers: %v", err)
	}
	t.Logf("node %d leads after %v", newLead, time.Since(faultAt).Round(time.Millisecond))
	// Writes go on through the new leader while the old one is faulted.
	waitSuccesses("after the fault", faultAt, lead, 5*writers)

	kf.heal(lead)
	healAt := time.Now()
	waitSuccesses("after healing", healAt, 0, 2*writers)
	stopWriters()

	// Wait until every node, the healed one included, holds the same log.
	cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
	defer ccancel()
	if err := kfConverged(cctx, kf.url, kf.ids); err != nil {
		t.Fatal(err)
	}

	calls := rec.all()
	for host, n := range tr.hosts {
		if host == leadURL.Host {
			t.Errorf("the client sent %d requests to the faulted node %d", n, lead)
		}
	}
	retried := 0
	for _, n := range tr.keys {
		if n > 1 {
			retried++
		}
	}
	replayed, refused := 0, 0
	for _, c := range calls {
		if c.meta.Replayed {
			replayed++
		}
		if c.err == nil {
			continue
		}
		var apiErr *client.Error
		switch {
		case errors.Is(c.err, client.ErrUnknownOutcome), errors.Is(c.err, context.DeadlineExceeded), !errors.As(c.err, &apiErr):
			t.Errorf("call ended without a definite answer: %v", c.err)
		default:
			refused++
			t.Logf("refused: %v", c.err)
		}
	}
	t.Logf("%d calls, %d refused, %d keys sent more than once, %d answers replayed", len(calls), refused, retried, replayed)

	// The final state, read linearizably from a node that was never faulted.
	final, err := client.New(client.Config{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	defer final.Close()
	topics, err := final.Topics(cctx)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	have := map[string]int{}
	for _, tp := range topics {
		have[tp.Name]++
	}
	fetched, err := final.BrokerFetch(cctx, brokers[0], client.FetchOptions{})
	if err != nil {
		t.Fatalf("fetch the snapshot: %v", err)
	}
	var snap struct {
		ProducerIDs struct {
			Blocks []metadata.ProducerIdsRecord `json:"blocks"`
		} `json:"producerIds"`
	}
	if fetched.Mode != "snapshot" || json.Unmarshal(fetched.Snapshot, &snap) != nil {
		t.Fatalf("fetch answered %q %s, want a snapshot", fetched.Mode, fetched.Snapshot)
	}
	blocks := map[int64]metadata.ProducerIdsRecord{}
	var stateBlocks [][2]int64
	for _, b := range snap.ProducerIDs.Blocks {
		if _, dup := blocks[b.ProducerID]; dup {
			t.Errorf("block %d is in the state twice", b.ProducerID)
		}
		blocks[b.ProducerID] = b
		stateBlocks = append(stateBlocks, [2]int64{b.ProducerID, metadata.ProducerIDBlockSize})
	}

	var acked [][2]int64
	ackedFirst := map[int64]bool{}
	createdTopics := 0
	for _, c := range calls {
		switch {
		case c.topic != "" && c.err == nil:
			createdTopics++
			if have[c.topic] != 1 {
				t.Errorf("created topic %s is in the final state %d times, want once", c.topic, have[c.topic])
			}
		case c.topic != "":
			if have[c.topic] != 0 {
				t.Errorf("topic %s is in the final state although its creation failed: %v", c.topic, c.err)
			}
		case c.err == nil:
			if ackedFirst[c.block] {
				t.Errorf("block %d was returned to two allocations", c.block)
			}
			ackedFirst[c.block] = true
			acked = append(acked, [2]int64{c.block, metadata.ProducerIDBlockSize})
			if b, ok := blocks[c.block]; ok && b.BrokerID != c.broker {
				t.Errorf("block %d belongs to broker %d, allocated to %d", c.block, b.BrokerID, c.broker)
			}
		}
	}
	for _, msg := range testcluster.CheckProducerIDBlocks(acked, stateBlocks) {
		t.Error(msg)
	}
	// Every block in the state was acknowledged: a resent allocation that
	// allocated again would leave a block nobody was told of.
	var extra []int64
	for first := range blocks {
		if !ackedFirst[first] {
			extra = append(extra, first)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	if len(extra) > 0 || len(blocks) != len(acked) {
		t.Errorf("%d blocks in the state for %d acknowledged allocations; unacknowledged: %v", len(blocks), len(acked), extra)
	}
	var kfTopics int
	for name := range have {
		if strings.HasPrefix(name, "kf-") {
			kfTopics++
		}
	}
	if kfTopics != createdTopics {
		t.Errorf("%d test topics in the state for %d acknowledged creations", kfTopics, createdTopics)
	}
	t.Logf("%d topics and %d producer-id blocks acknowledged", createdTopics, len(acked))
}

// kfQuorum asks node id whom it follows.
func kfQuorum(ctx context.Context, base string) (uint64, bool) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := testcluster.Do(qctx, http.DefaultClient, base, http.MethodGet, "/v1/quorum", nil)
	var q struct {
		LeaderID uint64 `json:"leaderId"`
	}
	if err != nil || resp.Status != http.StatusOK || resp.JSON(&q) != nil {
		return 0, false
	}
	return q.LeaderID, true
}

// kfAgreedLeader waits until the given nodes all name the same leader, one
// other than not.
func kfAgreedLeader(ctx context.Context, url func(uint64) string, ids []uint64, not uint64) (uint64, error) {
	var lead uint64
	err := testcluster.WaitFor(ctx, func() bool {
		lead = 0
		for _, id := range ids {
			l, ok := kfQuorum(ctx, url(id))
			if !ok || l == 0 || l == not || (lead != 0 && l != lead) {
				return false
			}
			lead = l
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("nodes %v agree on no leader but %d: %w", ids, not, err)
	}
	return lead, nil
}

// kfConverged waits until every node answers with the same high watermark.
func kfConverged(ctx context.Context, url func(uint64) string, ids []uint64) error {
	var last map[uint64]int64
	err := testcluster.WaitFor(ctx, func() bool {
		last = map[uint64]int64{}
		hws := map[int64]bool{}
		for _, id := range ids {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := testcluster.Do(qctx, http.DefaultClient, url(id), http.MethodGet, "/v1/metadata", nil)
			cancel()
			var m struct {
				HW int64 `json:"highWatermark"`
			}
			if err != nil || resp.Status != http.StatusOK || resp.JSON(&m) != nil {
				return false
			}
			last[id], hws[m.HW] = m.HW, true
		}
		return len(hws) == 1
	})
	if err != nil {
		return fmt.Errorf("nodes do not converge (high watermarks %v): %w", last, err)
	}
	return nil
}
