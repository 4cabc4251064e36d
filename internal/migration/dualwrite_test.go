package migration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/zktest"
)

// The dual write against a real ZooKeeper. YAKt's side is a real
// StateMachine fed committed entries directly (so a test chooses every
// record and offset), or, for the client operations, a real cluster
// (dualwrite_cluster_test.go, which uses the exported helpers here).
// What lands in ZooKeeper is read back as raw JSON and compared with what
// Kafka writes, without zkformat.

// startZK starts a ZooKeeper server and connects to it; each test writes
// under a chroot of its own.
func StartZK(t *testing.T) (*zktest.Server, *zk.Conn) {
	t.Helper()
	s := zktest.Start(t)
	return s, s.Connect(t, 10*time.Second)
}

// chroot creates a fresh chroot for a test and returns it.
func Chroot(t *testing.T, conn *zk.Conn, name string) string {
	t.Helper()
	root := "/" + name
	if _, err := conn.Create(root, nil, 0, zkACL); err != nil {
		t.Fatalf("create chroot %s: %v", root, err)
	}
	return root
}

// smLog feeds a StateMachine committed entries, as the node's apply loop
// would.
type smLog struct {
	t    *testing.T
	sm   *controller.StateMachine
	next uint64
}

func newSMLog(t *testing.T) *smLog { return &smLog{t: t, sm: controller.NewStateMachine(0)} }

// apply commits one entry of bodies and returns its offset.
func (l *smLog) apply(bodies ...metadata.Body) int64 {
	l.t.Helper()
	l.next++
	recs := make([]metadata.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = metadata.Record{Body: b, Timestamp: time.Now()}
	}
	res, err := l.sm.Apply([]raftnode.Committed{{Index: l.next, Payload: metadata.EncodeRecords(recs)}})
	if err != nil {
		l.t.Fatalf("apply at %d: %v", l.next, err)
	}
	if e, ok := res[0].(*metadata.Error); ok {
		l.t.Fatalf("apply at %d: refused: %v", l.next, e)
	}
	return int64(l.next)
}

// toDualWrite moves the log's migration to DUAL_WRITE, as a migration
// that imported and cut over leaves it.
func (l *smLog) toDualWrite() int64 {
	l.apply(&metadata.ZkMigrationStateRecord{Phase: metadata.MigrationImporting, ZkConnect: "zk:2181", ZkClusterID: "c"})
	l.apply(&metadata.ZkMigrationStateRecord{Phase: metadata.MigrationFollowing, ZkConnect: "zk:2181", ZkClusterID: "c"})
	return l.apply(&metadata.ZkMigrationStateRecord{Phase: metadata.MigrationDualWrite, ZkConnect: "zk:2181", ZkClusterID: "c"})
}

// running is a writer's Run in its own goroutine.
type RunningWriter struct {
	w      *dualWriter
	cancel context.CancelFunc
	done   chan struct{}
	end    int64
	err    error
}

func StartWriter(t *testing.T, w *dualWriter) *RunningWriter {
	ctx, cancel := context.WithCancel(context.Background())
	r := &RunningWriter{w: w, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.end, r.err = w.Run(ctx)
	}()
	t.Cleanup(func() { r.Stop() })
	return r
}

// stop cancels the writer and waits for Run to return.
func (r *RunningWriter) Stop() (int64, error) {
	r.cancel()
	<-r.done
	return r.end, r.err
}

// wait waits for Run to return on its own.
func (r *RunningWriter) Wait(t *testing.T) (int64, error) {
	t.Helper()
	select {
	case <-r.done:
		return r.end, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("the dual writer did not return")
		return 0, nil
	}
}

// waitWritten waits until the writer has everything up to offset in
// ZooKeeper.
func (r *RunningWriter) WaitWritten(t *testing.T, offset int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := waitUntil(ctx, func() bool {
		select {
		case <-r.done:
			return true
		default:
		}
		return r.w.stats().Offset >= offset
	})
	select {
	case <-r.done:
		t.Fatalf("the dual writer stopped before offset %d: end %d, %v", offset, r.end, r.err)
	default:
	}
	if err != nil {
		t.Fatalf("offset %d not written to ZooKeeper in time (written up to %d)", offset, r.w.stats().Offset)
	}
}

// waitUntil polls cond every 10 ms until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// NewTestLogger logs to t (shown when the test fails).
func NewTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// zkJSON reads a znode's JSON into a generic value; ok false if absent.
func ZkJSON(t *testing.T, conn *zk.Conn, path string) (v map[string]any, stat *zk.Stat, ok bool) {
	t.Helper()
	data, stat, err := conn.Get(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil, false
	}
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s holds %q: not a JSON object: %v", path, data, err)
	}
	return v, stat, true
}

func MustZkJSON(t *testing.T, conn *zk.Conn, path string) (map[string]any, *zk.Stat) {
	t.Helper()
	v, st, ok := ZkJSON(t, conn, path)
	if !ok {
		t.Fatalf("%s does not exist", path)
	}
	return v, st
}

func ZkExists(t *testing.T, conn *zk.Conn, path string) bool {
	t.Helper()
	ok, _, err := conn.Exists(path)
	if err != nil {
		t.Fatalf("exists %s: %v", path, err)
	}
	return ok
}

// jsonOf is v as it comes back from encoding/json into an any.
func jsonOf(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func CheckZkJSON(t *testing.T, path string, got map[string]any, want map[string]any) {
	t.Helper()
	if w := jsonOf(t, want); !reflect.DeepEqual(any(got), w) {
		t.Errorf("%s:\n got %v\nwant %v", path, got, w)
	}
}

// kafkaID is a topic id as Kafka writes it: base64url of its 16 bytes.
func KafkaID(t *testing.T, id string) string {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// CheckZooKeeperEqualsImage reads ZooKeeper under root with zktest's
// reader (independent of zkformat) and fails t unless it holds exactly
// img's topics, partitions (assignment, leader, ISR, the state znode's
// version equal to the partition epoch) and a producer-id block covering
// img's.
func CheckZooKeeperEqualsImage(t *testing.T, conn *zk.Conn, root string, img *metadata.Image) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := zktest.ReadView(ctx, conn, root)
	if err != nil {
		t.Fatalf("read ZooKeeper under %q: %v", root, err)
	}
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	for _, tr := range img.Topics() {
		zt, ok := v.Topics[tr.Name]
		if !ok {
			add("topic %s: not in ZooKeeper", tr.Name)
			continue
		}
		if zt.ID != tr.TopicUUID {
			add("topic %s: id %s in ZooKeeper, %s in YAKt", tr.Name, zt.ID, tr.TopicUUID)
		}
		if zt.Config == nil {
			add("topic %s: no config znode", tr.Name)
		}
		parts := img.Partitions(tr.TopicUUID)
		if len(zt.Partitions) != len(parts) {
			add("topic %s: %d partitions in ZooKeeper, %d in YAKt", tr.Name, len(zt.Partitions), len(parts))
		}
		for _, p := range parts {
			zp, ok := zt.Partitions[p.PartitionID]
			switch {
			case !ok || !zp.HasState:
				add("%s-%d: no partition or state znode", tr.Name, p.PartitionID)
			case !slices.Equal(zp.Replicas, p.Replicas) || !slices.Equal(zp.Adding, p.AddingReplicas) || !slices.Equal(zp.Removing, p.RemovingReplicas):
				add("%s-%d: replicas %v +%v -%v in ZooKeeper, %v +%v -%v in YAKt", tr.Name, p.PartitionID,
					zp.Replicas, zp.Adding, zp.Removing, p.Replicas, p.AddingReplicas, p.RemovingReplicas)
			case zp.Leader != p.Leader || !slices.Equal(zp.ISR, p.ISR):
				add("%s-%d: leader %d ISR %v in ZooKeeper, %d %v in YAKt", tr.Name, p.PartitionID, zp.Leader, zp.ISR, p.Leader, p.ISR)
			case int64(zp.StateVersion) != p.PartitionEpoch:
				add("%s-%d: state znode version %d, partition epoch %d", tr.Name, p.PartitionID, zp.StateVersion, p.PartitionEpoch)
			}
		}
	}
	for name := range v.Topics {
		if _, ok := img.Topic(name); !ok {
			add("topic %s: in ZooKeeper, not in YAKt", name)
		}
	}
	if next := img.ProducerIDs().NextProducerID; next > 0 && v.ProducerIDBlockEnd < next-1 {
		add("/latest_producer_id_block ends at %d; YAKt gave ids up to %d", v.ProducerIDBlockEnd, next-1)
	}
	slices.Sort(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

// create writes a znode with its parents (empty), as a test's setup.
func create(t *testing.T, conn *zk.Conn, path string, data string, flags int32) {
	t.Helper()
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			if _, err := conn.Create(path[:i], nil, 0, zkACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("create %s: %v", path[:i], err)
			}
		}
	}
	if _, err := conn.Create(path, []byte(data), flags, zkACL); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}

// TestDualWriteToZooKeeper runs the dual-write cases against one
// ZooKeeper server (its start is most of a case's time), each under its
// own chroot.
func TestDualWriteToZooKeeper(t *testing.T) {
	s, conn := StartZK(t)
	for _, c := range []struct {
		name string
		run  func(t *testing.T, conn *zk.Conn)
	}{
		{"TakesOverReconcilesAndFollowsTheLog", testDualWriteTakesOverReconcilesAndFollowsTheLog},
		{"ReconcileIsIdempotent", testDualWriteReconcileIsIdempotent},
		{"Fencing", testDualWriteFencing},
		{"SplitsLargeChanges", testDualWriteSplitsLargeChanges},
		{"FinalizeKeepsTheController", testDualWriteFinalizeKeepsTheController},
		// Last: it stops the server.
		{"WaitsForZooKeeper", func(t *testing.T, conn *zk.Conn) { testDualWriteWaitsForZooKeeper(t, s, conn) }},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, conn) })
	}
}

// The whole life of a dual write: takeover of a ZooKeeper that a
// ZooKeeper-mode controller held, reconcile (a topic YAKt lacks goes, one
// ZooKeeper lacks comes), then every kind of record in log order, and the
// end at a rollback record, with nothing after it written.
func testDualWriteTakesOverReconcilesAndFollowsTheLog(t *testing.T, conn *zk.Conn) {
	root := Chroot(t, conn, "kafka")
	// A ZooKeeper-mode cluster: broker 1 is its controller (an ephemeral
	// znode of another session), and it has a topic YAKt does not.
	create(t, conn, root+"/controller_epoch", "3", 0)
	create(t, conn, root+"/controller", `{"version":2,"brokerid":1,"timestamp":"1700000000000","kraftControllerEpoch":-1}`, zk.FlagEphemeral)
	create(t, conn, root+"/brokers/topics/zkonly", `{"version":3,"partitions":{"0":[1]},"adding_replicas":{},"removing_replicas":{},"topic_id":"`+KafkaID(t, uuidB)+`"}`, 0)
	create(t, conn, root+"/brokers/topics/zkonly/partitions/0/state", `{"controller_epoch":3,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`, 0)
	create(t, conn, root+"/config/topics/zkonly", `{"version":1,"config":{}}`, 0)

	l := newSMLog(t)
	l.apply(broker(1), broker(2), broker(3))
	l.apply(&metadata.TopicRecord{Name: "before", TopicUUID: uuidA}, part(uuidA, 0, 1, 0, []int32{1, 2}, []int32{1, 2}))
	l.toDualWrite()

	w := newDualWriter(conn, root, l.sm, 2, 7, NewTestLogger(t))
	r := StartWriter(t, w)
	r.WaitWritten(t, l.sm.Image().Offset())

	mig, _ := MustZkJSON(t, conn, root+"/migration")
	CheckZkJSON(t, "/migration", mig, map[string]any{"version": 0, "kraft_controller_id": 2, "kraft_controller_epoch": 7,
		"kraft_metadata_offset": l.sm.Image().Offset(), "kraft_metadata_epoch": 7})
	ctl, ctlStat := MustZkJSON(t, conn, root+"/controller")
	if ctl["brokerid"] != 2.0 || ctl["kraftControllerEpoch"] != 7.0 || ctl["version"] != 2.0 || ctlStat.EphemeralOwner != 0 {
		t.Errorf("/controller = %v (ephemeral owner %d), want YAKt's node 2 at KRaft epoch 7, persistent", ctl, ctlStat.EphemeralOwner)
	}
	if data, _, err := conn.Get(root + "/controller_epoch"); err != nil || string(data) != "4" {
		t.Errorf("/controller_epoch = %q, %v; want 4", data, err)
	}
	for _, p := range []string{"/brokers/topics/zkonly", "/config/topics/zkonly"} {
		if ZkExists(t, conn, root+p) {
			t.Errorf("%s is still there: YAKt has no such topic", p)
		}
	}
	topic, _ := MustZkJSON(t, conn, root+"/brokers/topics/before")
	CheckZkJSON(t, "/brokers/topics/before", topic, map[string]any{"version": 3, "topic_id": KafkaID(t, uuidA),
		"partitions": map[string]any{"0": []int{1, 2}}, "adding_replicas": map[string]any{}, "removing_replicas": map[string]any{}})
	state, _ := MustZkJSON(t, conn, root+"/brokers/topics/before/partitions/0/state")
	CheckZkJSON(t, "state of before-0", state, map[string]any{"version": 1, "leader": 1, "leader_epoch": 0, "isr": []int{1, 2}, "controller_epoch": 4})
	CheckZooKeeperEqualsImage(t, conn, root, l.sm.Image())
	cfg, _ := MustZkJSON(t, conn, root+"/config/topics/before")
	CheckZkJSON(t, "/config/topics/before", cfg, map[string]any{"version": 1, "config": map[string]any{}})

	// Records after the takeover, in log order.
	uuidC := "3d9f2c1b-8a7e-4f6d-9c5b-1a2b3c4d5e6f"
	l.apply(&metadata.TopicRecord{Name: "orders", TopicUUID: uuidC},
		part(uuidC, 0, 1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}), part(uuidC, 1, 2, 0, []int32{2, 3, 1}, []int32{2, 3, 1}))
	l.apply(part(uuidC, 1, 2, 1, []int32{2, 3, 1}, []int32{2, 3}))    // ISR shrinks
	l.apply(part(uuidC, 0, 3, 1, []int32{1, 2, 3}, []int32{3, 2}))    // new leader
	l.apply(&metadata.ProducerIdsRecord{BrokerID: 3, BrokerEpoch: 1}) // [0, 999]
	l.apply(broker(4))                                                // brokers are not written
	// Last, a record that is written: /migration keeps the offset of the
	// last write, so an entry without writes (the broker) moves it only
	// when the writer sees it together with one that has writes.
	last := l.apply(&metadata.RemoveTopicRecord{Name: "before", TopicUUID: uuidA})
	r.WaitWritten(t, last)

	topic, _ = MustZkJSON(t, conn, root+"/brokers/topics/orders")
	CheckZkJSON(t, "/brokers/topics/orders", topic, map[string]any{"version": 3, "topic_id": KafkaID(t, uuidC),
		"partitions": map[string]any{"0": []int{1, 2, 3}, "1": []int{2, 3, 1}}, "adding_replicas": map[string]any{}, "removing_replicas": map[string]any{}})
	for p, want := range map[int]map[string]any{
		0: {"version": 1, "leader": 3, "leader_epoch": 1, "isr": []int{3, 2}, "controller_epoch": 4},
		1: {"version": 1, "leader": 2, "leader_epoch": 0, "isr": []int{2, 3}, "controller_epoch": 4},
	} {
		path := root + "/brokers/topics/orders/partitions/" + strconv.Itoa(p) + "/state"
		got, st := MustZkJSON(t, conn, path)
		CheckZkJSON(t, path, got, want)
		if st.Version != 1 {
			t.Errorf("%s at version %d, want 1: the partition epoch", path, st.Version)
		}
	}
	block, _ := MustZkJSON(t, conn, root+"/latest_producer_id_block")
	CheckZkJSON(t, "/latest_producer_id_block", block, map[string]any{"version": 1, "broker": 3, "block_start": "0", "block_end": "999"})
	for _, p := range []string{"/brokers/topics/before", "/config/topics/before", "/brokers/ids/4"} {
		if ZkExists(t, conn, root+p) {
			t.Errorf("%s exists", p)
		}
	}
	mig, _ = MustZkJSON(t, conn, root+"/migration")
	if mig["kraft_metadata_offset"] != float64(last) {
		t.Errorf("/migration's offset = %v, want %d", mig["kraft_metadata_offset"], last)
	}
	CheckZooKeeperEqualsImage(t, conn, root, l.sm.Image())
	if s := w.stats(); s.Writes == 0 || s.Pending != 0 || s.Offset != last {
		t.Errorf("stats = %+v, want writes, none pending, offset %d", s, last)
	}

	// Rollback: the writer stops at its record; what follows is
	// ZooKeeper's to write.
	rollback := l.apply(&metadata.ZkMigrationStateRecord{Phase: metadata.MigrationFollowing, ZkConnect: "zk:2181", ZkClusterID: "c"})
	l.apply(&metadata.TopicRecord{Name: "after", TopicUUID: uuidB}, part(uuidB, 0, 1, 0, []int32{1}, []int32{1}))
	end, err := r.Wait(t)
	if err != nil || end != rollback {
		t.Fatalf("Run = %d, %v; want the rollback's offset %d", end, err, rollback)
	}
	if ZkExists(t, conn, root+"/brokers/topics/after") {
		t.Error("a topic created after the rollback was written")
	}
	if ZkExists(t, conn, root+"/controller") {
		t.Error("/controller still names YAKt after the rollback: ZooKeeper-mode brokers cannot elect a controller")
	}
	// A writer started now leaves ZooKeeper alone.
	before, _ := MustZkJSON(t, conn, root+"/migration")
	w2 := newDualWriter(conn, root, l.sm, 2, 8, NewTestLogger(t))
	if end, err := w2.Run(context.Background()); err != nil || end != l.sm.Image().Offset() {
		t.Errorf("Run outside DUAL_WRITE = %d, %v; want %d, nil", end, err, l.sm.Image().Offset())
	}
	if after, _ := MustZkJSON(t, conn, root+"/migration"); !reflect.DeepEqual(before, after) {
		t.Errorf("a writer outside DUAL_WRITE took over: /migration %v -> %v", before, after)
	}
}

// A reconcile of a ZooKeeper that already holds YAKt's state writes
// nothing, whether the same leader resumes or a new one takes over.
func testDualWriteReconcileIsIdempotent(t *testing.T, conn *zk.Conn) {
	root := Chroot(t, conn, "idem")
	l := newSMLog(t)
	l.apply(broker(1), broker(2))
	for i := range 5 {
		id := uuid.NewString()
		l.apply(&metadata.TopicRecord{Name: fmt.Sprintf("t%d", i), TopicUUID: id},
			part(id, 0, 1, 0, []int32{1, 2}, []int32{1, 2}), part(id, 1, 2, 0, []int32{2, 1}, []int32{2}))
	}
	l.apply(&metadata.ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 1, ProducerID: 4000})
	off := l.toDualWrite()

	first := StartWriter(t, newDualWriter(conn, root, l.sm, 1, 3, NewTestLogger(t)))
	first.WaitWritten(t, off)
	if n := first.w.stats().Writes; n != 5*(1+1+1+2*2)+1 {
		t.Errorf("first reconcile made %d writes, want %d", n, 5*(1+1+1+2*2)+1)
	}
	first.Stop()
	for _, term := range []uint64{3, 4} { // the same leader again, then a new one
		r := StartWriter(t, newDualWriter(conn, root, l.sm, 1, term, NewTestLogger(t)))
		r.WaitWritten(t, off)
		if n := r.w.stats().Writes; n != 0 {
			t.Errorf("reconcile at term %d made %d writes, want none", term, n)
		}
		r.Stop()
	}
}

// A newer leader's takeover fences the former one: its next write fails
// and it stops; an older leader cannot take over at all.
func testDualWriteFencing(t *testing.T, conn *zk.Conn) {
	root := Chroot(t, conn, "fence")
	l := newSMLog(t)
	l.apply(broker(1))
	off := l.toDualWrite()

	old := StartWriter(t, newDualWriter(conn, root, l.sm, 1, 5, NewTestLogger(t)))
	old.WaitWritten(t, off)
	_, oldStat := MustZkJSON(t, conn, root+"/migration")
	newer := StartWriter(t, newDualWriter(conn, root, l.sm, 2, 6, NewTestLogger(t)))
	newer.WaitWritten(t, off)
	if _, st := MustZkJSON(t, conn, root+"/migration"); st.Version <= oldStat.Version {
		t.Fatalf("/migration at version %d after the newer takeover, was %d", st.Version, oldStat.Version)
	}

	// Only /migration changed (the newer writer pauses): the former
	// leader's next write must fail on its version alone.
	newer.Stop()
	created := l.apply(&metadata.TopicRecord{Name: "t", TopicUUID: uuidA}, part(uuidA, 0, 1, 0, []int32{1}, []int32{1}))
	if _, err := old.Wait(t); !errors.Is(err, errDualWriteFenced) {
		t.Errorf("the former leader's writer returned %v, want fenced", err)
	}
	if ZkExists(t, conn, root+"/brokers/topics/t") {
		t.Error("the former leader's write landed")
	}
	newer = StartWriter(t, newDualWriter(conn, root, l.sm, 2, 6, NewTestLogger(t)))
	newer.WaitWritten(t, created)
	if !ZkExists(t, conn, root+"/brokers/topics/t/partitions/0/state") {
		t.Error("the current leader's write is missing")
	}
	mig, _ := MustZkJSON(t, conn, root+"/migration")
	if mig["kraft_controller_id"] != 2.0 || mig["kraft_controller_epoch"] != 6.0 {
		t.Errorf("/migration = %v, want node 2 at epoch 6", mig)
	}

	_, err := newDualWriter(conn, root, l.sm, 3, 4, NewTestLogger(t)).Run(context.Background())
	if !errors.Is(err, errDualWriteFenced) {
		t.Errorf("an older leader's takeover returned %v, want fenced", err)
	}
	if ctl, _ := MustZkJSON(t, conn, root+"/controller"); ctl["brokerid"] != 2.0 {
		t.Errorf("/controller = %v after the older leader's attempt, want node 2", ctl)
	}
}

// A change too big for one ZooKeeper request goes in several fenced
// multis, and /migration records only offsets written whole.
func testDualWriteSplitsLargeChanges(t *testing.T, conn *zk.Conn) {
	root := Chroot(t, conn, "big")
	l := newSMLog(t)
	l.apply(broker(1), broker(2))
	l.toDualWrite()
	r := StartWriter(t, newDualWriter(conn, root, l.sm, 1, 2, NewTestLogger(t)))
	r.WaitWritten(t, l.sm.Image().Offset())

	const n = 1500 // 2 znodes each: three multis' worth
	bodies := []metadata.Body{&metadata.TopicRecord{Name: "big", TopicUUID: uuidA}}
	for p := range n {
		bodies = append(bodies, part(uuidA, int32(p), 1, 0, []int32{1, 2}, []int32{1, 2}))
	}
	_, before := MustZkJSON(t, conn, root+"/migration")
	off := l.apply(bodies...)
	r.WaitWritten(t, off)
	parts, _, err := conn.Children(root + "/brokers/topics/big/partitions")
	if err != nil || len(parts) != n {
		t.Fatalf("%d partition znodes (%v), want %d", len(parts), err, n)
	}
	for _, p := range []int{0, n / 2, n - 1} {
		if !ZkExists(t, conn, fmt.Sprintf("%s/brokers/topics/big/partitions/%d/state", root, p)) {
			t.Errorf("partition %d has no state znode", p)
		}
	}
	mig, after := MustZkJSON(t, conn, root+"/migration")
	if after.Version-before.Version < 3 || mig["kraft_metadata_offset"] != float64(off) {
		t.Errorf("/migration went from version %d to %d with offset %v: want at least 3 multis and offset %d",
			before.Version, after.Version, mig["kraft_metadata_offset"], off)
	}
	CheckZooKeeperEqualsImage(t, conn, root, l.sm.Image())
	if s := r.w.stats(); s.Writes != 2*n+3 {
		t.Errorf("%d writes, want %d", s.Writes, 2*n+3)
	}
}

// NewDualWriter is newDualWriter for the external tests.
func NewDualWriter(conn *zk.Conn, root string, src *controller.StateMachine, nodeID, term uint64, log *slog.Logger) *RunningWriterSpec {
	return &RunningWriterSpec{w: newDualWriter(conn, root, src, nodeID, term, log)}
}

// RunningWriterSpec is a dual writer not yet started.
type RunningWriterSpec struct{ w *dualWriter }

// Start runs it until the test ends.
func (s *RunningWriterSpec) Start(t *testing.T) *RunningWriter { return StartWriter(t, s.w) }

// Stats is the writer's progress.
func (r *RunningWriter) Stats() dualWriteStats { return r.w.stats() }

// While ZooKeeper is down YAKt's changes wait (and are counted); once it
// is back they are written, in order, through the same session.
func testDualWriteWaitsForZooKeeper(t *testing.T, s *zktest.Server, conn *zk.Conn) {
	root := Chroot(t, conn, "down")
	// A short session: a client that reconnects while the server is still
	// starting may get no answer to its session request, and go-zookeeper
	// then waits ten times two thirds of the session timeout before it
	// tries again (the session has expired by then; the writer goes on
	// with a new one).
	conn = s.Connect(t, 2*time.Second)
	l := newSMLog(t)
	l.apply(broker(1), broker(2))
	l.apply(&metadata.TopicRecord{Name: "t", TopicUUID: uuidA}, part(uuidA, 0, 1, 0, []int32{1, 2}, []int32{1, 2}))
	off := l.toDualWrite()
	r := StartWriter(t, newDualWriter(conn, root, l.sm, 1, 2, NewTestLogger(t)))
	r.WaitWritten(t, off)

	s.Stop()
	var last int64
	for i, isr := range [][]int32{{1}, {1, 2}, {2}} {
		leader := isr[0]
		last = l.apply(part(uuidA, 0, leader, int64(i+1), []int32{1, 2}, isr))
	}
	if p := r.Stats().Pending; p != 3 {
		t.Errorf("%d records pending while ZooKeeper is down, want 3", p)
	}
	s.Restart(t)
	r.WaitWritten(t, last)
	state, st := MustZkJSON(t, conn, root+"/brokers/topics/t/partitions/0/state")
	CheckZkJSON(t, "state of t-0", state, map[string]any{"version": 1, "leader": 2, "leader_epoch": 1, "isr": []int{2}, "controller_epoch": 1})
	if st.Version != 3 {
		t.Errorf("state znode at version %d, want the partition epoch 3", st.Version)
	}
	if p := r.Stats().Pending; p != 0 {
		t.Errorf("%d records pending after the catch-up", p)
	}
	CheckZooKeeperEqualsImage(t, conn, root, l.sm.Image())
}

// Finalize ends the dual write, and YAKt stays the controller ZooKeeper
// names, so that no ZooKeeper-mode controller comes back.
func testDualWriteFinalizeKeepsTheController(t *testing.T, conn *zk.Conn) {
	root := Chroot(t, conn, "final")
	l := newSMLog(t)
	l.apply(broker(1))
	off := l.toDualWrite()
	r := StartWriter(t, newDualWriter(conn, root, l.sm, 1, 2, NewTestLogger(t)))
	r.WaitWritten(t, off)
	final := l.apply(&metadata.ZkMigrationStateRecord{Phase: metadata.MigrationFinalized, ZkConnect: "zk:2181", ZkClusterID: "c"})
	if end, err := r.Wait(t); err != nil || end != final {
		t.Fatalf("Run = %d, %v; want the finalize's offset %d", end, err, final)
	}
	if ctl, _ := MustZkJSON(t, conn, root+"/controller"); ctl["brokerid"] != 1.0 || ctl["kraftControllerEpoch"] != 2.0 {
		t.Errorf("/controller = %v after finalize, want YAKt's node 1 at epoch 2", ctl)
	}
}
