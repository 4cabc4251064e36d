package testcluster_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// batchSize is controller.MaxPartitionsPerRequest: the partition changes
// one batch of a departure or return holds.
const batchSize = 10_000

// fillTopics creates topics prefix-0.. of 10,000 partitions each with
// replication factor rf through node lead, and waits until every running
// node has applied them.
func fillTopics(t *testing.T, c *testcluster.Cluster, lead uint64, prefix string, topics, rf int) {
	t.Helper()
	for i := range topics {
		ok(c.NodeAPI(lead).CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: fmt.Sprintf("%s-%d", prefix, i),
			Partitions: contract.Int32(10_000), ReplicationFactor: contract.Int32(int32(rf))})).must(t)
	}
	if err := c.WaitConverged(ctxFor(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// heartbeatCaughtUp sends a heartbeat (BrokerMgmt fetch) for each broker
// through node, at node's applied offset: an empty diff, however large
// the state.
func heartbeatCaughtUp(t *testing.T, c *testcluster.Cluster, node uint64, brokers ...int) {
	t.Helper()
	for _, id := range brokers {
		fetch(t, c, node, int32(id), int64(c.Server(node).Node.AppliedIndex()))
	}
}

// partitionsOf is every partition of img, keyed "topic/id".
func partitionsOf(img *metadata.Image) map[string]metadata.PartitionRecord {
	out := map[string]metadata.PartitionRecord{}
	for _, tp := range img.Topics() {
		for _, p := range img.Partitions(tp.TopicUUID) {
			out[fmt.Sprintf("%s/%d", tp.Name, p.PartitionID)] = p
		}
	}
	return out
}

// departed is p once broker id left service under Kafka's rules with every
// other replica ALIVE: out of the ISR unless its last member; where it led,
// the first other ISR member in replica order leads, or no one.
func departed(p metadata.PartitionRecord, id int32) metadata.PartitionRecord {
	if !slices.Contains(p.ISR, id) || len(p.ISR) == 1 && p.Leader != id {
		return p
	}
	next := p
	next.ISR = slices.DeleteFunc(slices.Clone(p.ISR), func(b int32) bool { return b == id })
	if len(next.ISR) == 0 {
		next.ISR = p.ISR
	}
	if p.Leader == id {
		next.Leader = metadata.NoLeader
		for _, r := range p.Replicas {
			if r != id && slices.Contains(next.ISR, r) {
				next.Leader = r
				break
			}
		}
	}
	next.PartitionEpoch++
	return next
}

// checkDeparture compares every partition of img with its departed state
// from before, and fails on the first few differences.
func checkDeparture(t *testing.T, node uint64, before, after map[string]metadata.PartitionRecord, id int32) {
	t.Helper()
	bad := 0
	for k, p := range before {
		want, got := departed(p, id), after[k]
		if fmt.Sprint(want) != fmt.Sprint(got) {
			if bad++; bad <= 5 {
				t.Errorf("node %d %s: got %+v, want %+v", node, k, got, want)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("node %d: %d of %d partitions not in their departed state", node, bad, len(before))
	}
}

// batchWatcher polls node's applied image while a departure of broker id
// runs and checks that every image it sees is between two whole batches:
// the broker is FENCED exactly when some partition changed, and the
// partitions changed so far (partitionEpoch > 0; all started at 0) are a
// whole number of batches, or all of them.
type batchWatcher struct {
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	errs   []string
	counts map[int]bool // changed counts seen
}

func watchBatches(c *testcluster.Cluster, node uint64, id int32, total int) *batchWatcher {
	w := &batchWatcher{stop: make(chan struct{}), counts: map[int]bool{}}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		var last *metadata.Image
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			s := c.Server(node)
			if s == nil {
				return
			}
			img := s.State.Image()
			if img == last {
				continue
			}
			last = img
			changed := 0
			for _, tp := range img.Topics() {
				for _, p := range img.Partitions(tp.TopicUUID) {
					if p.PartitionEpoch > 0 {
						changed++
					}
				}
			}
			b, _ := img.Broker(id)
			w.mu.Lock()
			w.counts[changed] = true
			if (b.BrokerStatus == metadata.StatusFenced) != (changed > 0) {
				w.errs = append(w.errs, fmt.Sprintf("offset %d: broker %d %s with %d partitions changed", img.Offset(), id, b.BrokerStatus, changed))
			}
			if changed%batchSize != 0 && changed != total {
				w.errs = append(w.errs, fmt.Sprintf("offset %d: %d partitions changed, not a whole number of %d-partition batches", img.Offset(), changed, batchSize))
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// finish stops the watcher and returns what it found wrong and the
// changed counts it saw.
func (w *batchWatcher) finish() ([]string, []int) {
	close(w.stop)
	w.done.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	var seen []int
	for n := range w.counts {
		seen = append(seen, n)
	}
	slices.Sort(seen)
	return w.errs, seen
}

// TestFencingABrokerThatLeads50000Partitions: a silent broker that leads
// 50,000 partitions (replicas 1, 2, 3 in that order, so it is also in
// every ISR) is fenced by one liveness check, in 5 batches of 10,000
// partition changes (the first with its registration change); every
// partition ends in its departed state on every node, and a reader
// polling a follower's state never sees part of a batch.
func TestFencingABrokerThatLeads50000Partitions(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 50,000 partitions; not with -short")
	}
	c, clock, lead, _ := livenessCluster(t)
	ctx := ctxFor(t, 5*time.Minute)
	ledBy1 := make([][]int32, 10_000)
	for i := range ledBy1 {
		ledBy1[i] = []int32{1, 2, 3}
	}
	for i := range 5 {
		_, _, err := c.Server(lead).Controller.CreateTopicWith(ctx,
			contract.CreateTopicRequest{Name: fmt.Sprintf("big-%d", i)}, controller.TopicOptions{Assignment: ledBy1})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	before := partitionsOf(c.Server(lead).State.Image())
	led := 0
	for _, p := range before {
		if p.Leader == 1 {
			led++
		}
	}
	if led != 50_000 || len(before) != 50_000 {
		t.Fatalf("broker 1 leads %d of %d partitions; the test wants all of 50,000", led, len(before))
	}

	f := followers(c, lead)[0]
	w := watchBatches(c, f, 1, len(before))
	clock.Advance(10 * time.Second)
	heartbeatCaughtUp(t, c, lead, 2, 3)
	t0 := time.Now()
	fenced, err := c.Server(lead).Controller.FenceExpired(ctx)
	took := time.Since(t0)
	if err != nil || fmt.Sprint(fenced) != "[1]" {
		w.finish()
		t.Fatalf("fenced %v (%v), want [1]", fenced, err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	errs, seen := w.finish()
	for i, e := range errs {
		if i == 5 {
			t.Errorf("... %d more", len(errs)-5)
			break
		}
		t.Error(e)
	}
	t.Logf("fenced broker 1 (leader of %d partitions, in %d ISRs) in %v; follower states seen with %v partitions changed", led, len(before), took, seen)
	if seen[len(seen)-1] != len(before) {
		t.Fatalf("the watcher never saw the whole departure: %v", seen)
	}
	for _, node := range c.IDs() {
		img := c.Server(node).State.Image()
		if b, _ := img.Broker(1); b.BrokerStatus != metadata.StatusFenced {
			t.Fatalf("node %d: broker 1 is %s", node, b.BrokerStatus)
		}
		checkDeparture(t, node, before, partitionsOf(img), 1)
	}
}

// TestInterruptedFencingIsFinishedByTheNextLeader: the leader fencing a
// silent broker in several batches dies after the first; the broker is
// FENCED and still in some ISRs. The next leader's first liveness check
// finishes the departure without fencing anyone else.
func TestInterruptedFencingIsFinishedByTheNextLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 20,000 partitions")
	}
	c, clock, lead, _ := livenessCluster(t)
	ctx := ctxFor(t, 3*time.Minute)
	fillTopics(t, c, lead, "cut", 2, 3) // 2 batches
	before := partitionsOf(c.Server(lead).State.Image())

	clock.Advance(10 * time.Second)
	heartbeatCaughtUp(t, c, lead, 2, 3)
	// Kill the leader as soon as it has applied the first batch.
	fenceCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := c.Server(lead)
	fenceDone := make(chan error, 1)
	go func() {
		_, err := srv.Controller.FenceExpired(fenceCtx)
		fenceDone <- err
	}()
	// A tight poll, not WaitFor's 10 ms steps: on a fast machine the
	// second batch may commit within a few milliseconds of the first.
	for {
		if b, _ := srv.State.Image().Broker(1); b.BrokerStatus == metadata.StatusFenced {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("broker 1 never became FENCED")
		}
		runtime.Gosched()
	}
	c.Kill(lead)
	cancel()
	<-fenceDone // an error: its node stopped under it

	next := c.MustLeader()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	mid := partitionsOf(c.Server(next).State.Image())
	left := 0
	for _, p := range mid {
		if slices.Contains(p.ISR, 1) && len(p.ISR) > 1 {
			left++
		}
	}
	if left == 0 {
		t.Fatal("the departure finished before the leader died; the test proves nothing")
	}
	t.Logf("leader %d killed with broker 1 still in %d of %d ISRs; next leader %d", lead, left, len(mid), next)

	fenced, err := c.Server(next).Controller.FenceExpired(ctx)
	if err != nil || len(fenced) != 0 {
		t.Fatalf("next leader's first check fenced %v (%v), want no one (brokers 2 and 3 start a fresh session)", fenced, err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, node := range followers(c, 0) {
		img := c.Server(node).State.Image()
		if b, _ := img.Broker(1); b.BrokerStatus != metadata.StatusFenced || b.Epoch != 1 {
			t.Fatalf("node %d: broker 1 is %s at epoch %d, want FENCED at epoch 1", node, b.BrokerStatus, b.Epoch)
		}
		checkDeparture(t, node, before, partitionsOf(img), 1)
	}
}

// TestReturnAndDeleteBeyondOneBatch: a broker that is the only replica of
// 10,001 partitions goes offline with them when fenced, and on its return
// leads all of them again (two batches; one batch used to be the limit:
// the heartbeat commits the first, the next liveness check the rest); a
// topic of more than 10,000 partitions is deleted.
func TestReturnAndDeleteBeyondOneBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 10,001 partitions")
	}
	clock := testcluster.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	c := testcluster.New(t, testcluster.Options{Clock: clock, BrokerSessionTimeout: 9 * time.Second, LivenessInterval: time.Hour})
	lead := c.MustLeader()
	ctx := ctxFor(t, 3*time.Minute)
	// Only broker 1 is ALIVE while the topics are placed: it is every
	// partition's only replica.
	ok(c.NodeAPI(lead).RegisterBroker(apiCtx(t), contract.RegisterBrokerRequest{BrokerID: contract.Int32(1), BrokerHost: "h", BrokerPort: contract.PortNumber(9092)})).must(t)
	fillTopics(t, c, lead, "solo", 1, 1)
	ok(c.NodeAPI(lead).CreatePartition(apiCtx(t), "solo-0", contract.CreatePartitionRequest{Replicas: []int32{1}})).must(t)

	clock.Advance(10 * time.Second)
	fenced, err := c.Server(lead).Controller.FenceExpired(ctx)
	if err != nil || fmt.Sprint(fenced) != "[1]" {
		t.Fatalf("fenced %v (%v), want [1]", fenced, err)
	}
	offline := 0
	for _, p := range partitionsOf(c.Server(lead).State.Image()) {
		if p.Leader == metadata.NoLeader && fmt.Sprint(p.ISR) == "[1]" {
			offline++
		}
	}
	if offline != 10_001 {
		t.Fatalf("%d partitions offline with broker 1 kept in the ISR, want 10,001", offline)
	}

	// Broker 1 comes back caught up: its heartbeat unfences it with the
	// first batch, the next check regains the rest.
	fetch(t, c, lead, 1, int64(c.Server(lead).Node.AppliedIndex()))
	regained := 0
	for _, p := range partitionsOf(c.Server(lead).State.Image()) {
		if p.Leader == 1 {
			regained++
		}
	}
	if regained != batchSize {
		t.Fatalf("the heartbeat regained %d partitions, want one batch of %d", regained, batchSize)
	}
	if fenced, err := c.Server(lead).Controller.FenceExpired(ctx); err != nil || len(fenced) != 0 {
		t.Fatalf("check after the return fenced %v (%v)", fenced, err)
	}
	img := c.Server(lead).State.Image()
	if b, _ := img.Broker(1); b.BrokerStatus != metadata.StatusAlive || b.Epoch != 2 {
		t.Fatalf("broker 1 after its heartbeat: %s at epoch %d, want ALIVE at epoch 2", b.BrokerStatus, b.Epoch)
	}
	for k, p := range partitionsOf(img) {
		if p.Leader != 1 || p.PartitionEpoch != 2 {
			t.Fatalf("%s after broker 1 returned: %+v, want leader 1 at epoch 2", k, p)
		}
	}

	ok(c.NodeAPI(lead).DeleteTopic(apiCtx(t), "solo-0")).must(t)
	if _, ok := c.Server(lead).State.Image().Topic("solo-0"); ok {
		t.Fatal("solo-0 (10,001 partitions) still exists after DELETE")
	}
	if n := len(partitionsOf(c.Server(lead).State.Image())); n != 0 {
		t.Fatalf("%d partitions left after the only topic was deleted", n)
	}
}
