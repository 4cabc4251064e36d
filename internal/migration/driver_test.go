package migration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/migration"
	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zkformat"
	"github.com/yakt/yakt/internal/zktest"
)

// These tests run the driver in a real in-process YAKt cluster against a
// real ZooKeeper server, written as a ZooKeeper-mode Kafka cluster writes
// it.

// kafka writes znodes as a ZooKeeper-mode Kafka 3.x cluster does
// (zktest.Kafka: brokers on sessions of their own, controller writes),
// failing the test on an error.
type kafka struct {
	t    testing.TB
	kz   *zktest.Kafka
	conn *zk.Conn
}

var acl = zk.WorldACL(zk.PermAll)

func newKafka(t testing.TB, zs *zktest.Server) *kafka {
	kz := zktest.NewKafka(t, zs.Addr(), "")
	k := &kafka{t: t, kz: kz, conn: kz.Conn()}
	k.must(kz.Bootstrap("kafka-cluster-1"))
	return k
}

func (k *kafka) must(err error) {
	k.t.Helper()
	if err != nil {
		k.t.Fatal(err)
	}
}

func (k *kafka) create(p string, data []byte) {
	k.t.Helper()
	if _, err := k.conn.Create(p, data, 0, acl); err != nil {
		k.t.Fatalf("create %s: %v", p, err)
	}
}

func (k *kafka) raw(p string, data []byte) { k.t.Helper(); k.must(k.kz.WriteRaw(p, data)) }

// broker registers a broker on its own session, listening on port.
func (k *kafka) broker(id int32, port int32) {
	k.t.Helper()
	_, err := k.kz.RegisterBroker(id, fmt.Sprintf("kafka-%d.local", id), port, fmt.Sprintf("rack-%d", id%3))
	k.must(err)
}

func topicID(n int) string { return fmt.Sprintf("7b0d1c2e-3f40-4a5b-8c6d-%012d", n) }

// replicasOf places partition p on three of brokers, rotating.
func replicasOf(p int32, brokers int32) []int32 {
	return []int32{p % brokers, (p + 1) % brokers, (p + 2) % brokers}
}

func assignment(from, to int32, brokers int32) map[int32][]int32 {
	a := map[int32][]int32{}
	for p := from; p < to; p++ {
		a[p] = replicasOf(p, brokers)
	}
	return a
}

// topic creates a topic as Kafka does: the topic znode, then its
// partitions' state znodes.
func (k *kafka) topic(name, id string, partitions int32, brokers int32) {
	k.t.Helper()
	k.must(k.kz.CreateTopic(name, id, assignment(0, partitions, brokers)))
}

// addPartitions grows a topic from old to n partitions.
func (k *kafka) addPartitions(name string, old, n int32, brokers int32) {
	k.t.Helper()
	k.must(k.kz.AddPartitions(name, assignment(old, n, brokers)))
}

func (k *kafka) isr(name string, p int32, leader int32, isr []int32) {
	k.t.Helper()
	_, err := k.kz.SetLeaderAndISR(name, p, leader, isr)
	k.must(err)
}

// populate registers brokers 0..brokers-1 and creates topics t000..
// with partitions each, and a producer id block.
func (k *kafka) populate(brokers int32, topics int, partitions int32) {
	k.t.Helper()
	for id := range brokers {
		k.broker(id, 9092)
	}
	for i := range topics {
		k.topic(fmt.Sprintf("t%03d", i), topicID(i), partitions, brokers)
	}
	k.producerBlock()
}

// producerBlock allocates the next producer id block and returns its end.
func (k *kafka) producerBlock() int64 {
	k.t.Helper()
	_, end, err := k.kz.AllocateProducerIDBlock(0)
	k.must(err)
	return end
}

// diff compares YAKt's image with ZooKeeper: every broker, topic and
// partition; "" when equal.
func (k *kafka) diff(img *metadata.Image) string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	ids, _, err := k.conn.Children(zkformat.PathBrokerIDs)
	if err != nil {
		return err.Error()
	}
	alive := map[int32]bool{}
	for _, s := range ids {
		n, _ := strconv.Atoi(s)
		id := int32(n)
		alive[id] = true
		data, _, err := k.conn.Get(zkformat.BrokerPath(id))
		if err != nil {
			return err.Error()
		}
		zb, _ := zkformat.ParseBroker(id, data)
		b, ok := img.Broker(id)
		switch {
		case !ok:
			add("broker %d missing", id)
		case b.BrokerStatus != metadata.StatusAlive || b.BrokerHost != zb.Endpoints[0].Host || b.BrokerPort != strconv.Itoa(int(zb.Endpoints[0].Port)) || b.RackID != zb.Rack:
			add("broker %d: YAKt %+v, ZooKeeper %+v", id, b, zb)
		}
	}
	for _, b := range img.Brokers() {
		if !alive[b.BrokerID] && b.BrokerStatus == metadata.StatusAlive {
			add("broker %d ALIVE in YAKt, not in ZooKeeper", b.BrokerID)
		}
	}
	names, _, err := k.conn.Children(zkformat.PathTopics)
	if err != nil {
		return err.Error()
	}
	for _, name := range names {
		data, _, err := k.conn.Get(zkformat.TopicPath(name))
		if err != nil {
			return err.Error()
		}
		zt, err := zkformat.ParseTopic(name, data)
		if err != nil {
			return err.Error()
		}
		yt, ok := img.Topic(name)
		if !ok || yt.TopicUUID != zt.TopicID {
			add("topic %s: YAKt %+v (%v), ZooKeeper id %s", name, yt, ok, zt.TopicID)
			continue
		}
		if n := img.PartitionCount(yt.TopicUUID); n != len(zt.Partitions) {
			add("topic %s: %d partitions in YAKt, %d in ZooKeeper", name, n, len(zt.Partitions))
		}
		for p, replicas := range zt.Partitions {
			path := zkformat.PartitionStatePath(name, p)
			data, stat, err := k.conn.Get(path)
			if err != nil {
				return err.Error()
			}
			st, _ := zkformat.ParsePartitionState(path, data)
			yp, ok := img.Partition(yt.TopicUUID, p)
			if !ok || !slices.Equal(yp.Replicas, replicas) || !slices.Equal(yp.ISR, st.ISR) || yp.Leader != st.Leader || yp.PartitionEpoch != int64(stat.Version) {
				add("%s: YAKt %+v, ZooKeeper %+v version %d replicas %v", path, yp, st, stat.Version, replicas)
			}
		}
	}
	if got, want := len(img.Topics()), len(names); got != want {
		add("%d topics in YAKt, %d in ZooKeeper", got, want)
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("and %d more", len(out)-10))
	}
	return strings.Join(out, "\n")
}

// fixture is a YAKt cluster and a ZooKeeper holding a Kafka cluster.
type fixture struct {
	t  *testing.T
	zs *zktest.Server
	k  *kafka
	c  *testcluster.Cluster
}

func newFixture(t *testing.T, nodes int) *fixture {
	zs := zktest.Start(t)
	f := &fixture{t: t, zs: zs, k: newKafka(t, zs), c: testcluster.New(t, testcluster.Options{Nodes: nodes})}
	f.c.MustLeader()
	return f
}

// leaderImage is the leader's applied image.
func (f *fixture) leaderImage() *metadata.Image {
	return f.c.Server(f.c.MustLeader()).State.Image()
}

func (f *fixture) start() contract.MigrationStatus {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := f.c.Server(f.c.MustLeader()).Controller.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: f.zs.Addr()}, migration.CheckZooKeeper)
	if err != nil {
		f.t.Fatalf("start migration: %v", err)
	}
	return st
}

// waitFor waits until cond holds for the leader's applied image, waking
// on every applied entry; it fails the test after timeout with last's
// description of what differed.
func (f *fixture) waitFor(timeout time.Duration, what string, cond func(img *metadata.Image) string) *metadata.Image {
	f.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// A change in ZooKeeper that YAKt already reflects applies nothing, so
	// the condition is also looked at on a short tick.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		srv := f.c.Server(f.c.MustLeader())
		changed := srv.Controller.AppliedChanged()
		img := srv.State.Image()
		if last = cond(img); last == "" {
			return img
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			f.t.Fatalf("%s: not within %v:\n%s", what, timeout, last)
		}
	}
}

func phaseIs(want string) func(img *metadata.Image) string {
	return func(img *metadata.Image) string {
		if st, _ := img.Migration(); st.Phase != want {
			return fmt.Sprintf("phase %q (error %q)", st.Phase, st.Error)
		}
		return ""
	}
}

// equalToZK also requires the FOLLOWING phase.
func (f *fixture) equalToZK(img *metadata.Image) string {
	if d := phaseIs(metadata.MigrationFollowing)(img); d != "" {
		return d
	}
	return f.k.diff(img)
}

// driverStatus is GET /v1/migration's answer.
func (f *fixture) status() contract.MigrationStatus {
	f.t.Helper()
	resp, err := f.c.Client.Get(f.c.URL(f.c.MustLeader()) + "/v1/migration")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET /v1/migration: %d %s", resp.StatusCode, body)
	}
	var st contract.MigrationStatus
	if err := json.Unmarshal(body, &st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// waitStatus polls the leader's driver status until ok holds.
func (f *fixture) waitStatus(timeout time.Duration, what string, ok func(ds *contract.MigrationDriverStatus) bool) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ds := f.status().Driver
		if ds != nil && ok(ds) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not within %v: driver status %+v", what, timeout, ds)
		}
		time.Sleep(20 * time.Millisecond) // an HTTP answer: nothing to wait on
	}
}

func TestImportSmallClusterEqualsZooKeeper(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(6, 40, 5)
	pidEnd := f.k.producerBlock()
	// Topics being deleted are not imported.
	f.k.topic("going", topicID(900), 2, 6)
	f.k.must(f.k.kz.MarkTopicForDeletion("going"))

	began := time.Now()
	f.start()
	img := f.waitFor(20*time.Second, "import", phaseIs(metadata.MigrationFollowing))
	t.Logf("imported 6 brokers, 40 topics x 5 partitions in %v", time.Since(began).Round(time.Millisecond))
	st, _ := img.Migration()
	if st.TopicsImported != 40 || st.TopicsTotal != 40 || st.NextProducerID != pidEnd+1 || st.Zxid <= 0 || st.ZkClusterID != "kafka-cluster-1" {
		t.Fatalf("state after import: %+v", st)
	}
	if n := img.ProducerIDs().NextProducerID; n < pidEnd+1 {
		t.Fatalf("next producer id %d, want >= %d", n, pidEnd+1)
	}
	if _, ok := img.Topic("going"); ok {
		t.Fatalf("a topic being deleted was imported")
	}
	// Kafka finishes the deletion (the checker compares all topics).
	f.k.must(f.k.kz.DeleteTopic("going"))
	f.waitFor(10*time.Second, "ZooKeeper and YAKt equal", f.equalToZK)
	// A broker imported registers at its znode's czxid, Kafka's broker
	// epoch in ZooKeeper mode.
	for id := range int32(6) {
		_, stat, err := f.k.conn.Get(zkformat.BrokerPath(id))
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := img.Broker(id); b.Epoch != stat.Czxid {
			t.Fatalf("broker %d at epoch %d, czxid %d", id, b.Epoch, stat.Czxid)
		}
	}
	ds := f.status().Driver
	if ds == nil || !ds.ZkConnected || ds.Activity != "following" || ds.ChangesApplied == 0 || len(ds.Problems) != 0 {
		t.Fatalf("driver status %+v", ds)
	}
}

func TestFollowAppliesEveryKindOfChange(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(4, 5, 3)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)

	var pidEnd int64
	steps := []struct {
		name string
		do   func()
	}{
		{"topic created", func() { f.k.topic("fresh", topicID(100), 4, 4) }},
		{"topic deleted", func() { f.k.must(f.k.kz.DeleteTopic("t001")) }},
		{"partitions added", func() { f.k.addPartitions("t002", 3, 6, 4) }},
		{"ISR shrinks, leader moves", func() { f.k.isr("t000", 1, 2, []int32{2, 3}) }},
		{"broker leaves", func() { f.k.must(f.k.kz.UnregisterBroker(3)) }},
		{"broker joins", func() { f.k.broker(7, 9092) }},
		{"broker returns", func() { f.k.broker(3, 9093) }},
		{"producer id block", func() { pidEnd = f.k.producerBlock() }},
	}
	for _, s := range steps {
		began := time.Now()
		s.do()
		img := f.waitFor(10*time.Second, s.name, f.equalToZK)
		t.Logf("%s: in YAKt after %v", s.name, time.Since(began).Round(time.Millisecond))
		if s.name == "broker leaves" {
			if b, _ := img.Broker(3); b.BrokerStatus != metadata.StatusFenced {
				t.Fatalf("broker 3 after leaving: %+v", b)
			}
		}
	}
	img := f.waitFor(10*time.Second, "producer ids", func(img *metadata.Image) string {
		if n := img.ProducerIDs().NextProducerID; n < pidEnd+1 {
			return fmt.Sprintf("next producer id %d", n)
		}
		return ""
	})
	// A topic on a broker ZooKeeper does not know waits, reported as a
	// problem, until the broker registers.
	f.k.must(f.k.kz.CreateTopic("waiting", topicID(400), map[int32][]int32{0: {0, 1, 8}}))
	f.waitStatus(10*time.Second, "a problem for the topic on broker 8", func(ds *contract.MigrationDriverStatus) bool {
		return len(ds.Problems) == 1 && ds.Problems[0].Path == "/brokers/topics/waiting" && strings.Contains(ds.Problems[0].Message, "replica 8")
	})
	f.k.broker(8, 9092)
	img = f.waitFor(10*time.Second, "the waiting topic", f.equalToZK)
	f.waitStatus(10*time.Second, "no problems", func(ds *contract.MigrationDriverStatus) bool { return len(ds.Problems) == 0 })

	st, _ := img.Migration()
	ds := f.status().Driver
	if ds == nil || ds.LastLagMs <= 0 || ds.LastLagMs > 1000 || len(ds.Problems) != 0 {
		t.Fatalf("driver status %+v", ds)
	}
	t.Logf("zxid %d, last lag %d ms", st.Zxid, ds.LastLagMs)
}

func TestImportBadInputFailsApplyingNothing(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 3, 2)
	// Malformed JSON, a replica that is no broker, a topic without id,
	// a broker znode of an unknown version.
	f.k.raw(zkformat.PartitionStatePath("t000", 1), []byte(`{"version":1,"leader":0,`))
	f.k.must(f.k.kz.CreateTopic("ghosts", topicID(50), map[int32][]int32{0: {0, 1, 9}}))
	f.k.raw(zkformat.TopicPath("t002"), []byte(`{"version":1,"partitions":{"0":[0,1,2],"1":[1,2,0]}}`))
	f.k.raw(zkformat.BrokerPath(5), []byte(`{"version":99,"host":"x","port":1}`))
	before := f.leaderImage().Offset()
	f.start()
	img := f.waitFor(20*time.Second, "import fails", phaseIs(metadata.MigrationFailed))
	st, _ := img.Migration()
	for _, want := range []string{
		"/brokers/topics/t000/partitions/1/state: ",
		"/brokers/topics/ghosts: partition 0: replica 9 is not a broker under /brokers/ids",
		"/brokers/topics/t002: no topic_id",
		"/brokers/ids/5: ",
	} {
		if !strings.Contains(st.Error, want) {
			t.Errorf("FAILED error lacks %q: %s", want, st.Error)
		}
	}
	if n := len(img.Topics()) + len(img.Brokers()); n != 0 {
		t.Fatalf("a failed import applied %d topics and brokers", n)
	}
	recs, err := f.c.Server(f.c.MustLeader()).Controller.AppliedRecordsAfter(before, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Body.RecordName() != metadata.NameZkMigrationStateRecord {
			t.Fatalf("a failed import applied %s", r.Body.RecordName())
		}
	}
	// The driver stops once it sees FAILED; until then it reports the
	// problems.
	deadline := time.Now().Add(10 * time.Second)
	for ds := f.status().Driver; ds != nil; ds = f.status().Driver {
		if len(ds.Problems) < 4 || time.Now().After(deadline) {
			t.Fatalf("driver status after FAILED: %+v", ds)
		}
		time.Sleep(20 * time.Millisecond) // polls an HTTP answer: nothing to wait on
	}
}

func TestFollowSurvivesZooKeeperRestart(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 4, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	before := f.leaderImage().Offset()

	f.k.isr("t000", 0, 1, []int32{1, 2})
	f.zs.Restart(t)
	// The test's own writer must have its session back before it writes:
	// a request queued while its client still reconnects fails with
	// ErrNoServer (unsent), which is the writer's problem, not the
	// migration's.
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testcluster.WaitFor(sctx, func() bool { return f.k.conn.State() == zk.StateHasSession }); err != nil {
		t.Fatalf("the test's ZooKeeper writer never got its session back after the restart: %v", err)
	}
	f.k.isr("t001", 1, 0, []int32{0})
	f.k.topic("after-restart", topicID(200), 2, 3)
	img := f.waitFor(20*time.Second, "changes around a ZooKeeper restart", f.equalToZK)

	// Each change applied exactly once: one PartitionRecord per ISR
	// change, one TopicRecord for the new topic.
	recs, err := f.c.Server(f.c.MustLeader()).Controller.AppliedRecordsAfter(before, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		switch b := r.Body.(type) {
		case *metadata.PartitionRecord:
			t0, _ := img.TopicByUUID(b.TopicUUID)
			count[fmt.Sprintf("%s-%d", t0.Name, b.PartitionID)]++
		case *metadata.TopicRecord:
			count[b.Name]++
		case *metadata.RemoveTopicRecord, *metadata.RegisterBrokerRecord:
			t.Fatalf("unexpected %s after the restart", r.Body.RecordName())
		}
	}
	want := map[string]int{"t000-0": 1, "t001-1": 1, "after-restart": 1, "after-restart-0": 1, "after-restart-1": 1}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s applied %d times, want %d (all: %v)", k, count[k], n, count)
		}
	}
}

func TestCheckZooKeeper(t *testing.T) {
	zs := zktest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// No Kafka cluster there yet.
	_, err := migration.CheckZooKeeper(ctx, zs.Addr())
	if ce, ok := errors.AsType[*contract.Error](err); !ok || ce.Code != contract.CodeZooKeeperUnavailable || !strings.Contains(err.Error(), "/cluster/id") {
		t.Fatalf("check of an empty ZooKeeper: %v", err)
	}
	k := newKafka(t, zs)
	if id, err := migration.CheckZooKeeper(ctx, zs.Addr()); err != nil || id != "kafka-cluster-1" {
		t.Fatalf("check: %q %v", id, err)
	}
	// A chroot is a path prefix.
	k.create("/kafka", nil)
	k.create("/kafka/cluster", nil)
	k.create("/kafka/cluster/id", zkformat.EncodeClusterID("chrooted"))
	if id, err := migration.CheckZooKeeper(ctx, zs.Addr()+"/kafka"); err != nil || id != "chrooted" {
		t.Fatalf("check with a chroot: %q %v", id, err)
	}
	// Nobody listening: an answer within the session timeout, not a hang.
	zs.Stop()
	began := time.Now()
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	_, err = migration.CheckZooKeeper(short, zs.Addr())
	if ce, ok := errors.AsType[*contract.Error](err); !ok || ce.Code != contract.CodeZooKeeperUnavailable {
		t.Fatalf("check of a stopped ZooKeeper: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("check of a stopped ZooKeeper took %v", d)
	}
}

// waitZnode waits until path exists in ZooKeeper (by an existence watch).
func (k *kafka) waitZnode(path string, timeout time.Duration) {
	k.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ok, _, ch, err := k.conn.ExistsW(path)
		k.must(err)
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			k.t.Fatalf("%s not in ZooKeeper within %v", path, timeout)
		}
	}
}

func TestCutoverThenRollbackHandsOver(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 2, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctl := f.c.Server(f.c.MustLeader()).Controller
	if _, err := ctl.CutoverMigration(ctx); err != nil {
		t.Fatal(err)
	}
	// YAKt is the authority: its topic reaches ZooKeeper through the
	// dual writer the driver runs.
	n := int32(2)
	if _, _, err := ctl.CreateTopic(ctx, contract.CreateTopicRequest{Name: "from-yakt", Partitions: &n}); err != nil {
		t.Fatal(err)
	}
	f.k.waitZnode(zkformat.PartitionStatePath("from-yakt", 1), 10*time.Second)
	// Brokers are still followed from ZooKeeper.
	f.k.broker(9, 9092)
	f.waitFor(10*time.Second, "broker 9 while dual writing", func(img *metadata.Image) string {
		if b, ok := img.Broker(9); !ok || b.BrokerStatus != metadata.StatusAlive {
			return fmt.Sprintf("broker 9: %+v %v", b, ok)
		}
		return ""
	})
	if ds := f.status().Driver; ds == nil || ds.Activity != "dual-writing" || ds.ZkWrites == 0 {
		t.Fatalf("driver status while dual writing: %+v", ds)
	}
	// Rollback: ZooKeeper is the authority again, and its changes are
	// followed; YAKt's topic stays, being in ZooKeeper.
	if _, err := ctl.RollbackMigration(ctx); err != nil {
		t.Fatal(err)
	}
	// A ZooKeeper-mode controller is elected again, as Kafka's brokers
	// do once YAKt gives /controller up (when the dual write has ended).
	f.waitStatus(10*time.Second, "the driver following again", func(ds *contract.MigrationDriverStatus) bool { return ds.Activity == "following" })
	f.k.must(f.k.kz.ElectController(0))
	f.k.isr("t000", 0, 1, []int32{1, 2})
	f.waitFor(10*time.Second, "following after the rollback", f.equalToZK)
	if _, ok := f.leaderImage().Topic("from-yakt"); !ok {
		t.Fatalf("the topic created while dual writing is gone after the rollback")
	}
}

func TestNewLeaderGoesOnFollowing(t *testing.T) {
	f := newFixture(t, 3)
	f.k.populate(3, 3, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	old := f.c.MustLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.c.Server(old).Node.TransferLeadership(ctx); err != nil {
		t.Fatal(err)
	}
	f.k.topic("after-election", topicID(300), 2, 3)
	f.k.isr("t001", 0, 2, []int32{2})
	img := f.waitFor(20*time.Second, "follow on the new leader", func(img *metadata.Image) string {
		if id := f.c.MustLeader(); id == old {
			return "leadership not moved yet"
		}
		return f.equalToZK(img)
	})
	st, _ := img.Migration()
	if st.Phase != metadata.MigrationFollowing {
		t.Fatalf("phase %s", st.Phase)
	}
	if ds := f.status().Driver; ds == nil || ds.NodeID == old {
		t.Fatalf("driver status on the new leader: %+v", ds)
	}
}
