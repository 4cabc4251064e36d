package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zktest"
)

// bigLayout is the import's data set: 100 brokers, 1,000 topics x 10
// partitions.
var bigLayout = layout{
	ClusterID: "big-cluster-0000000001", Brokers: 100, Topics: 1000, Partitions: 10, RF: 3,
	ProducerBlockEnd: 41_999, Reassigning: 97, ISRChanges: 13,
}

// lifecycleLayout is the smaller data set the rest of a migration's life
// runs on (a lost ZooKeeper, cutover, rollback): each step's check reads
// both sides whole, which for the big set costs seconds each.
var lifecycleLayout = layout{
	ClusterID: "lifecycle-cluster-00001", Brokers: 20, Topics: 100, Partitions: 10, RF: 3,
	ProducerBlockEnd: 4_999, Reassigning: 31, ISRChanges: 7,
}

// testImportFollow imports 1,000 topics x 10 partitions and 100 brokers,
// then follows a load on them.
func testImportFollow(t *testing.T, srv *zktest.Server) {
	ctx := testContext(t, 4*time.Minute)
	zk := newKafkaZK(t, srv, "/kafka-big")
	zk.populate(ctx, t, bigLayout)
	c := newCluster(t, 3)
	cl := c.API()
	runSteps(t, []step{
		{"Import", func(t *testing.T) { stepImport(ctx, t, bigLayout, zk, cl, pagedClient(t, c.URLs())) }},
		{"Follow", func(t *testing.T) { stepFollow(ctx, t, zk, cl) }},
	})
}

// testLifecycle walks a migration through the rest of its life on one
// YAKt cluster: import, a lost ZooKeeper, cutover with dual write,
// rollback.
func testLifecycle(t *testing.T, srv *zktest.Server) {
	ctx := testContext(t, 3*time.Minute)
	zk := newKafkaZK(t, srv, "/kafka-lifecycle")
	zk.populate(ctx, t, lifecycleLayout)
	c := newCluster(t, 3)
	cl := c.API()
	runSteps(t, []step{
		{"Import", func(t *testing.T) { stepImport(ctx, t, lifecycleLayout, zk, cl, pagedClient(t, c.URLs())) }},
		{"ZooKeeperLost", func(t *testing.T) { stepZooKeeperLost(ctx, t, srv, zk, cl) }},
		{"BadZnodeWhileFollowing", func(t *testing.T) { stepBadZnodeWhileFollowing(ctx, t, zk, cl) }},
		{"Cutover", func(t *testing.T) { stepCutover(ctx, t, zk, cl) }},
		{"Rollback", func(t *testing.T) { stepRollback(ctx, t, zk, cl) }},
	})
}

type step struct {
	name string
	run  func(t *testing.T)
}

// runSteps runs steps that each need the one before: after a failure the
// rest are skipped, saying why.
func runSteps(t *testing.T, steps []step) {
	for i, s := range steps {
		if !t.Run(s.name, s.run) {
			for _, rest := range steps[i+1:] {
				t.Run(rest.name, func(t *testing.T) { t.Skipf("needs step %s, which failed", s.name) })
			}
			return
		}
	}
}

// pageSize is the topic list's page size in the import's check: the
// 1,000 topics come in several pages.
const pageSize = 300

func pagedClient(t testing.TB, endpoints []string) *client.Client {
	cl, err := client.New(client.Config{Endpoints: endpoints, ListPageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func stepImport(ctx context.Context, t *testing.T, l layout, zk *kafkaZK, cl, paged *client.Client) {
	start := time.Now()
	st, err := startMigration(ctx, cl, zk.connect())
	if err != nil {
		t.Fatalf("start the migration from %s: %v", zk.connect(), err)
	}
	if st.Phase != metadata.MigrationImporting && st.Phase != metadata.MigrationFollowing {
		t.Fatalf("start answered phase %s, want IMPORTING: %s", st.Phase, statusText(st))
	}
	st = waitPhase(ctx, t, cl, metadata.MigrationFollowing, 3*time.Minute)
	took := time.Since(start)
	t.Logf("import of %d brokers, %d topics x %d partitions: FOLLOWING %v after the start (%s)",
		l.Brokers, l.Topics, l.Partitions, took.Round(time.Millisecond), statusText(st))
	if st.TopicsImported != int64(l.Topics) || st.TopicsTotal != int64(l.Topics) {
		t.Errorf("import progress %d/%d topics, want %d/%d", st.TopicsImported, st.TopicsTotal, l.Topics, l.Topics)
	}
	if st.ZkClusterID != zk.clusterID {
		t.Errorf("zkClusterId %q, want %q from /cluster/id", st.ZkClusterID, zk.clusterID)
	}
	if st.Zxid <= 0 {
		t.Errorf("zxid %d after the import, want ZooKeeper's", st.Zxid)
	}
	// As an operator reads it: the topic list in pages, each topic
	// described, the brokers listed.
	checkStart := time.Now()
	zs, _ := checkEqualDescribed(ctx, t, zk, paged, 60*time.Second)
	t.Logf("checker (topic list in pages of %d, each topic described): ZooKeeper and YAKt equal (%s), compared in %v",
		pageSize, zs.summary(), time.Since(checkStart).Round(time.Millisecond))
	if len(zs.Topics) != l.Topics || len(zs.Brokers) != l.Brokers {
		t.Fatalf("ZooKeeper holds %s, want %d topics and %d brokers", zs.summary(), l.Topics, l.Brokers)
	}
}

// change is one ZooKeeper change of a load, and when YAKt showed it.
type change struct {
	kind  string // createTopic, deleteTopic, addPartitions, isr, leader
	topic string
	what  string
	start time.Time // when the test began writing it to ZooKeeper
	acked time.Time // when ZooKeeper had it: the writer's last write returned
	// seen reports whether the records YAKt committed show the change.
	seen func(w *watcher) (time.Time, bool)
}

// stepFollow writes a load to ZooKeeper, as a Kafka controller and admin
// tools would, and measures for each change how long until YAKt's API
// shows it (from the moment the test started writing it).
func stepFollow(ctx context.Context, t *testing.T, zk *kafkaZK, cl *client.Client) {
	w := startWatcher(ctx, t, cl)
	model, err := zk.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	ld := &load{zk: zk, model: model, rng: rng, prefix: "follow"}
	changes := ld.run(ctx, t, 300, 10*time.Second)
	lat := waitSeen(ctx, t, cl, w, changes, 20*time.Second)
	p50, p99, maxLat := percentiles(lat)
	t.Logf("follow: %d ZooKeeper changes in %v; ZooKeeper has it (write acknowledged) -> YAKt's API shows it: p50 %v, p99 %v, max %v",
		len(changes), changes[len(changes)-1].acked.Sub(changes[0].start).Round(time.Millisecond), p50, p99, maxLat)
	logByKind(t, changes, w)
	if p99 > time.Second {
		t.Errorf("follow latency p99 %v, want <= 1s", p99)
	}
	checkEqual(ctx, t, zk, cl, 20*time.Second)
	st, err := migrationStatus(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != metadata.MigrationFollowing || st.Driver == nil || len(st.Driver.Problems) != 0 {
		t.Errorf("after the load: %s, want FOLLOWING without problems", statusText(st))
	}
}

// stepZooKeeperLost stops ZooKeeper while the migration follows it, makes
// changes once it is back, and checks they are applied once, and that
// nothing was applied twice when the driver re-read everything.
func stepZooKeeperLost(ctx context.Context, t *testing.T, srv *zktest.Server, zk *kafkaZK, cl *client.Client) {
	before, err := migrationStatus(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	stopZooKeeper(ctx, t, srv, cl)
	zk.waitSession(ctx, t)
	waitDriver(ctx, t, cl, "driver connected to ZooKeeper again", 60*time.Second, func(st contract.MigrationStatus) bool {
		return st.Driver != nil && st.Driver.ZkConnected
	})
	model, err := zk.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := startWatcher(ctx, t, cl)
	ld := &load{zk: zk, model: model, rng: rand.New(rand.NewPCG(2, 2)), prefix: "after-loss"}
	changes := ld.run(ctx, t, 40, 2*time.Second)
	waitSeen(ctx, t, cl, w, changes, 20*time.Second)
	checkEqual(ctx, t, zk, cl, 20*time.Second)
	checkAppliedOnce(ctx, t, cl, before.Offset)
}

// stepBadZnodeWhileFollowing writes a topic znode YAKt cannot read while
// the migration follows: the driver reports it with its path and applies
// nothing of it, the other changes go on, a cutover is refused until the
// znode is fixed, and then the problem is gone.
func stepBadZnodeWhileFollowing(ctx context.Context, t *testing.T, zk *kafkaZK, cl *client.Client) {
	const name = "malformed-while-following"
	path := "/brokers/topics/" + name
	model, err := zk.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	zk.setRaw(ctx, t, path, []byte(`{"version":3,"topic_id":"`))
	hasProblem := func(st contract.MigrationStatus) bool {
		if st.Driver == nil {
			return false
		}
		for _, p := range st.Driver.Problems {
			if strings.Contains(p.Path, path) {
				return true
			}
		}
		return false
	}
	st := waitDriver(ctx, t, cl, "a problem reported for "+path, 10*time.Second, hasProblem)
	t.Logf("reported while following: %s", statusText(st))
	if st.Phase != metadata.MigrationFollowing {
		t.Errorf("a bad znode while following moved the migration to %s", statusText(st))
	}
	if _, err := cl.Topic(ctx, name); err == nil {
		t.Errorf("topic %s, whose znode does not parse, is in YAKt", name)
	} else {
		wantCode(t, "describe "+name, err, 404, contract.CodeTopicNotFound)
	}
	// The rest of ZooKeeper is still followed.
	w := startWatcher(ctx, t, cl)
	ld := &load{zk: zk, model: model, rng: rand.New(rand.NewPCG(5, 5)), prefix: "beside-bad-znode"}
	waitSeen(ctx, t, cl, w, ld.run(ctx, t, 10, 500*time.Millisecond), 20*time.Second)
	// A cutover waits for a ZooKeeper YAKt can follow whole.
	_, _, err = cl.CutoverMigration(ctx)
	wantCode(t, "cutover while the driver reports "+path, err, 409, contract.CodeMigrationPhase)
	// Fixed (the topic removed), the problem goes.
	zk.deleteRaw(t, path)
	waitDriver(ctx, t, cl, "no problems once "+path+" is gone", 10*time.Second, func(st contract.MigrationStatus) bool {
		return st.Driver != nil && len(st.Driver.Problems) == 0
	})
	checkEqual(ctx, t, zk, cl, 20*time.Second)
}

func stepCutover(ctx context.Context, t *testing.T, zk *kafkaZK, cl *client.Client) {
	st, _, err := cl.CutoverMigration(ctx)
	if err != nil {
		t.Fatalf("cutover: %v", err)
	}
	if st.Phase != metadata.MigrationDualWrite {
		t.Fatalf("cutover answered %s, want DUAL_WRITE", statusText(st))
	}
	// The driver takes over ZooKeeper (/migration, /controller) before it
	// writes anything; its status says dual-writing once it has.
	waitDriver(ctx, t, cl, "driver dual-writing", 30*time.Second, func(st contract.MigrationStatus) bool {
		return st.Driver != nil && st.Driver.Activity == "dual-writing"
	})

	// YAKt takes ZooKeeper's controller role the KRaft way.
	epochBefore := zk.controllerEpoch(t)
	{
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var id, kraftEpoch int32
		err := testcluster.WaitFor(wctx, func() bool {
			id, kraftEpoch = zk.controller(t)
			return kraftEpoch >= 0
		})
		cancel()
		if err != nil {
			t.Fatalf("/controller after cutover: brokerid %d, kraftControllerEpoch %d; YAKt did not take the controller role within 15 s", id, kraftEpoch)
		}
		t.Logf("/controller after cutover: brokerid %d, kraftControllerEpoch %d; /controller_epoch %d (ZooKeeper's controller had %d)",
			id, kraftEpoch, zk.controllerEpoch(t), epochBefore)
	}

	// A topic created through YAKt appears in ZooKeeper in Kafka's format.
	const name = "created-after-cutover"
	detail, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: name, Partitions: contract.Int32(4), ReplicationFactor: contract.Int32(3)})
	if err != nil {
		t.Fatalf("create topic %s through YAKt in DUAL_WRITE: %v", name, err)
	}
	zt := waitZkTopic(ctx, t, zk, name, 10*time.Second, func(zt zkTopic) bool {
		return len(zt.States) == 4
	})
	checkZkTopicMatches(t, zk, zt, topicFromDetail(detail))

	// An ISR change through YAKt (the partition leader's report).
	p := detail.Partitions[0]
	if len(p.ISR) < 2 {
		t.Fatalf("partition %s-0 has ISR %v, want 3 replicas", name, p.ISR)
	}
	shrunk := slices.DeleteFunc(slices.Clone(p.ISR), func(b int32) bool { return b == p.ISR[len(p.ISR)-1] })
	if _, _, err := cl.AlterISR(ctx, name, 0, p.Leader, p.PartitionEpoch, shrunk); err != nil {
		t.Fatalf("alter the ISR of %s-0 to %v through YAKt: %v", name, shrunk, err)
	}
	zt = waitZkTopic(ctx, t, zk, name, 10*time.Second, func(zt zkTopic) bool {
		s, ok := zt.States[0]
		return ok && slices.Equal(s.ISR, shrunk)
	})
	after, err := cl.Partition(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := zt.States[0]
	if s.Leader != after.Leader || s.ZnodeVersion != after.PartitionEpoch {
		t.Errorf("ZooKeeper's %s-0 state after the ISR change: leader %d, znode version %d; YAKt: leader %d, epoch %d",
			name, s.Leader, s.ZnodeVersion, after.Leader, after.PartitionEpoch)
	}
	if s.LeaderEpoch != zt.States[1].LeaderEpoch {
		t.Errorf("an ISR change without a new leader changed %s-0's leader_epoch to %d (partition 1 has %d)", name, s.LeaderEpoch, zt.States[1].LeaderEpoch)
	}
	checkEqual(ctx, t, zk, cl, 20*time.Second)
}

func stepRollback(ctx context.Context, t *testing.T, zk *kafkaZK, cl *client.Client) {
	st, _, err := cl.RollbackMigration(ctx)
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if st.Phase != metadata.MigrationFollowing {
		t.Fatalf("rollback answered %s, want FOLLOWING", statusText(st))
	}
	// ZooKeeper is the authority again: YAKt refuses its own writes.
	_, _, err = cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "refused-after-rollback", Partitions: contract.Int32(1), ReplicationFactor: contract.Int32(1)})
	wantCode(t, "create a topic through YAKt after rollback", err, 409, contract.CodeMigrationInProgress)
	// ... and follows ZooKeeper's, once a ZooKeeper-mode broker won the
	// controller election again: after the dual write ended (it writes
	// what came before the rollback, then gives /controller up).
	waitDriver(ctx, t, cl, "the driver following again after the rollback", 20*time.Second, func(st contract.MigrationStatus) bool {
		return st.Driver != nil && st.Driver.Activity == "following"
	})
	zk.electController(t, 1)
	model, err := zk.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := startWatcher(ctx, t, cl)
	ld := &load{zk: zk, model: model, rng: rand.New(rand.NewPCG(3, 3)), prefix: "after-rollback"}
	changes := ld.run(ctx, t, 20, time.Second)
	waitSeen(ctx, t, cl, w, changes, 20*time.Second)
	zs, _ := checkEqual(ctx, t, zk, cl, 20*time.Second)
	if _, ok := zs.Topics["created-after-cutover"]; !ok {
		t.Errorf("the topic created through YAKt before the rollback is gone from ZooKeeper")
	}
}

// checkAppliedOnce checks YAKt's log from offset on: every topic created
// once, removed at most once, and each partition's epochs rising (a change
// applied twice would repeat or reorder them).
func checkAppliedOnce(ctx context.Context, t testing.TB, cl *client.Client, from int64) {
	t.Helper()
	recs, err := readLogFrom(ctx, cl, from)
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int{}
	removed := map[string]int{}
	epochs := map[string]int64{}
	for _, r := range recs {
		switch b := r.Body.(type) {
		case *metadata.TopicRecord:
			created[b.Name]++
		case *metadata.RemoveTopicRecord:
			removed[b.Name]++
		case *metadata.PartitionRecord:
			key := fmt.Sprintf("%s/%d", b.TopicUUID, b.PartitionID)
			if last, ok := epochs[key]; ok && b.PartitionEpoch <= last {
				t.Errorf("log offset %d: partition %s epoch %d after %d: a change applied twice or out of order", r.Offset, key, b.PartitionEpoch, last)
			}
			epochs[key] = b.PartitionEpoch
		}
	}
	for name, n := range created {
		if n > 1 {
			t.Errorf("topic %q created %d times in the log from offset %d", name, n, from)
		}
	}
	for name, n := range removed {
		if n > 1 {
			t.Errorf("topic %q removed %d times in the log from offset %d", name, n, from)
		}
	}
	t.Logf("log from offset %d: %d records, %d topic creations, %d removals, each once", from, len(recs), len(created), len(removed))
}

func readLogFrom(ctx context.Context, cl *client.Client, from int64) ([]contract.Record, error) {
	if from < 1 {
		from = 1
	}
	var out []contract.Record
	for {
		page, err := cl.Log(ctx, from, contract.MaxLogLimit)
		if err != nil {
			return nil, fmt.Errorf("read the log from offset %d: %w", from, err)
		}
		out = append(out, page.Records...)
		if len(page.Records) == 0 || page.NextOffset <= from {
			return out, nil
		}
		from = page.NextOffset
	}
}

// waitSeen waits until YAKt showed every change and returns each one's
// latency (ZooKeeper's acknowledgement to YAKt showing it), in the
// changes' order. Changes YAKt does not show within the deadline fail the
// test (with the migration's status) and are left out of the latencies;
// the caller's checker then shows what differs.
func waitSeen(ctx context.Context, t testing.TB, cl *client.Client, w *watcher, changes []*change, within time.Duration) []time.Duration {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var missing []*change
	err := testcluster.WaitFor(wctx, func() bool {
		missing = missing[:0]
		for i, c := range changes {
			if _, ok := c.seen(w); !ok && !deletedAfter(w, changes, i) {
				missing = append(missing, c)
			}
		}
		return len(missing) == 0
	})
	if err != nil {
		msg := ""
		for i, c := range missing {
			if i == 10 {
				msg += fmt.Sprintf("\n  ... and %d more", len(missing)-10)
				break
			}
			msg += fmt.Sprintf("\n  %s %s (written %v ago)", c.kind, c.what, time.Since(c.start).Round(time.Millisecond))
			// What the load did to the same topic before, and whether
			// YAKt showed it: a clue to what the follower lost track of.
			for _, e := range changes {
				if e == c {
					break
				}
				if e.topic == c.topic {
					at, ok := e.seen(w)
					msg += fmt.Sprintf("\n      earlier: %s %s, %v before; seen in YAKt: %v (after %v)", e.kind, e.what, c.start.Sub(e.start).Round(time.Millisecond), ok, latency(e, at))
				}
			}
		}
		st, serr := migrationStatus(ctx, cl)
		t.Errorf("%d of %d ZooKeeper changes not in YAKt within %v after the load %s; migration status %s (%v):%s",
			len(missing), len(changes), within, w.errText(), statusText(st), serr, msg)
	}
	var out []time.Duration
	for _, c := range changes {
		if at, ok := c.seen(w); ok {
			out = append(out, latency(c, at))
		}
	}
	return out
}

// latency is from ZooKeeper's acknowledgement of the change's last write
// until YAKt showed it; 0 when YAKt showed it earlier (a topic deletion is
// visible once its znode is gone, before Kafka's last step removes the
// deletion mark).
func latency(c *change, seen time.Time) time.Duration {
	return max(0, seen.Sub(c.acked))
}

func percentiles(lat []time.Duration) (p50, p99, maxLat time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1 // nearest rank
		return s[max(0, min(i, len(s)-1))].Round(time.Millisecond)
	}
	return at(0.50), at(0.99), s[len(s)-1].Round(time.Millisecond)
}

// deletedAfter reports whether a later change deleted changes[i]'s topic
// and YAKt shows that deletion. Following applies ZooKeeper's state, not
// its events: a topic created (or changed) and deleted again before the
// follower read it never shows the earlier change, and must not. Such a
// change has no latency of its own.
func deletedAfter(w *watcher, changes []*change, i int) bool {
	for _, e := range changes[i+1:] {
		if e.kind == "deleteTopic" && e.topic == changes[i].topic {
			_, ok := e.seen(w)
			return ok
		}
	}
	return false
}

// logByKind logs the latencies per kind of change, and how long the
// writes to ZooKeeper took (not counted in the latency).
func logByKind(t testing.TB, changes []*change, w *watcher) {
	byKind := map[string][]time.Duration{}
	var writes []time.Duration
	for _, c := range changes {
		writes = append(writes, c.acked.Sub(c.start))
		if at, ok := c.seen(w); ok {
			byKind[c.kind] = append(byKind[c.kind], latency(c, at))
		}
	}
	w50, w99, wmax := percentiles(writes)
	t.Logf("  the writes to ZooKeeper themselves took p50 %v, p99 %v, max %v", w50, w99, wmax)
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		p50, p99, mx := percentiles(byKind[k])
		t.Logf("  %-14s %3d changes: p50 %v, p99 %v, max %v", k, len(byKind[k]), p50, p99, mx)
	}
}

// newTopicID is a fresh topic id, as Kafka's controller makes one.
func newTopicID() string { return uuid.NewString() }
