package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startOneNode runs a real one-node cluster (raft on loopback, a WAL in a
// temporary directory) and returns its controller once it leads.
func startOneNode(t *testing.T, clock Clock, sessionTimeout time.Duration) *Controller {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	state := NewStateMachine(0)
	node, err := raftnode.StartContext(context.Background(), raftnode.Config{
		NodeID: 1, ClusterID: "migration-test", Peers: map[uint64]string{1: l.Addr().String()}, PeerListener: l,
		DataDir: t.TempDir(), StateMachine: state, TickInterval: 10 * time.Millisecond, ElectionTicks: 10, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	c := New(Config{Node: node, ClusterID: "migration-test", State: state, Clock: clock, BrokerSessionTimeout: sessionTimeout, Logger: log})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ready := node.LeaderReady(); ready {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not lead within 30s")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded above
	}
}

// driverCommit commits what the migration driver would: the current state
// moved to phase, with extra records in the same batch, through write
// itself (the path MigrationWrite takes), which the guard never sees.
func driverCommit(t *testing.T, ctx context.Context, c *Controller, phase string, extra ...metadata.Body) {
	t.Helper()
	_, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		cur, _ := img.Migration()
		cur.Phase, cur.Zxid, cur.TopicsImported, cur.TopicsTotal = phase, cur.Zxid+10, 1, 1
		recs := []metadata.Record{{Body: &cur}}
		for _, b := range extra {
			recs = append(recs, metadata.Record{Body: b})
		}
		return recs, nil
	})
	if err != nil {
		t.Fatalf("the driver's commit of %s: %v", phase, err)
	}
}

func wantCode(t *testing.T, what string, err error, code contract.Code) {
	t.Helper()
	if CodeOf(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func wantPhase(t *testing.T, ctx context.Context, c *Controller, phase string) contract.MigrationStatus {
	t.Helper()
	st, err := c.MigrationStatus(ctx, false)
	if err != nil || st.Phase != phase {
		t.Fatalf("status: %+v, %v; want phase %s", st, err, phase)
	}
	return st
}

// clientWrites are one of each write a client or broker makes, against
// the fixture of TestMigrationOnARealNode.
func clientWrites(c *Controller) map[string]func(ctx context.Context) error {
	b1, b2, b3, epoch := int32(1), int32(2), int32(3), int64(0)
	host := "10.0.0.9"
	return map[string]func(ctx context.Context) error{
		"create topic": func(ctx context.Context) error {
			_, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "during"})
			return err
		},
		"delete topic": func(ctx context.Context) error { _, _, err := c.DeleteTopic(ctx, "before"); return err },
		"create partition": func(ctx context.Context) error {
			_, _, err := c.CreatePartition(ctx, "before", contract.CreatePartitionRequest{Replicas: []int32{1, 2}})
			return err
		},
		"add replica": func(ctx context.Context) error {
			_, _, err := c.AddReplica(ctx, "before", 0, contract.AddReplicaRequest{BrokerID: &b3})
			return err
		},
		"remove replica": func(ctx context.Context) error { _, _, err := c.RemoveReplica(ctx, "before", 0, 2); return err },
		"alter ISR": func(ctx context.Context) error {
			_, _, err := c.AlterISR(ctx, "before", 0, contract.AlterISRRequest{BrokerID: &b1, PartitionEpoch: &epoch, ISR: []int32{1}})
			return err
		},
		"producer ids": func(ctx context.Context) error {
			_, _, err := c.AllocateProducerIDs(ctx, contract.AllocateProducerIDsRequest{BrokerID: &b1})
			return err
		},
		"register broker": func(ctx context.Context) error {
			_, _, err := c.RegisterBroker(ctx, contract.RegisterBrokerRequest{BrokerID: contract.Int32(9), BrokerHost: host, BrokerPort: contract.PortNumber(9092)})
			return err
		},
		"patch broker": func(ctx context.Context) error {
			_, _, err := c.PatchBroker(ctx, b2, contract.PatchBrokerRequest{BrokerHost: &host})
			return err
		},
		"unregister broker": func(ctx context.Context) error { _, _, err := c.UnregisterBroker(ctx, b2); return err },
		"elect leaders": func(ctx context.Context) error {
			_, err := c.ElectLeaders(ctx, contract.ElectLeadersRequest{Type: contract.ElectionUnclean})
			return err
		},
		"reassign": func(ctx context.Context) error {
			_, err := c.AlterReassignments(ctx, contract.ReassignRequest{Partitions: []contract.PartitionReassignment{{Topic: "before", Partition: 0, Replicas: []int32{b1}}}})
			return err
		},
		"shutdown broker": func(ctx context.Context) error { _, _, err := c.ControlledShutdown(ctx, b2); return err },
	}
}

// TestMigrationOnARealNode takes a migration through every phase on a real
// node: the operations and their phase errors, the guard on every client
// write while ZooKeeper is the authority (nothing proposed, the driver's
// own writes pass), unfencing and liveness held off while a migration
// runs, and liveness back once it is finalized.
func TestMigrationOnARealNode(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	const timeout = 10 * time.Second
	c := startOneNode(t, clock, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for id := int32(1); id <= 3; id++ {
		if _, _, err := c.RegisterBroker(ctx, contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "10.0.0.1", BrokerPort: contract.PortNumber(9092 + int(id))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "before", Partitions: contract.Int32(2), ReplicationFactor: contract.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ControlledShutdown(ctx, 3); err != nil { // FENCED: unfenced by a heartbeat only after cutover
		t.Fatal(err)
	}
	wantPhase(t, ctx, c, contract.MigrationPhaseNone)

	var checked []string
	check := func(ctx context.Context, zk string) (string, error) {
		checked = append(checked, zk)
		if zk == "down:2181" {
			return "", errors.New("dial tcp: connection refused")
		}
		return "kafka-cluster-1", nil
	}
	// Refusals change nothing, and a bad connect string never reaches
	// ZooKeeper.
	before := c.state.Image().Offset()
	_, err := c.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: "no-port"}, check)
	wantCode(t, "start with a bad connect string", err, contract.CodeInvalidRequest)
	_, err = c.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: "down:2181"}, check)
	wantCode(t, "start with ZooKeeper down", err, contract.CodeZooKeeperUnavailable)
	_, err = c.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: "zk:2181"}, nil)
	wantCode(t, "start without a driver", err, contract.CodeZooKeeperUnavailable)
	for name, op := range map[string]func(context.Context) (contract.MigrationStatus, error){
		"cutover": c.CutoverMigration, "finalize": c.FinalizeMigration, "rollback": c.RollbackMigration,
	} {
		_, err := op(ctx)
		wantCode(t, name+" without a migration", err, contract.CodeMigrationPhase)
	}
	if got := c.state.Image().Offset(); got != before || len(checked) != 1 {
		t.Fatalf("refused operations moved the log from %d to %d; ZooKeeper checked %v", before, got, checked)
	}

	// Start, then stop before cutover: ABORTED, writes allowed again.
	st, err := c.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: "zk1:2181,zk2:2181/kafka"}, check)
	if err != nil || st.Phase != metadata.MigrationImporting || st.ZkClusterID != "kafka-cluster-1" || st.ZkConnect != "zk1:2181,zk2:2181/kafka" || st.Offset <= before {
		t.Fatalf("start: %+v, %v", st, err)
	}
	_, err = c.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: "zk:2181"}, check)
	wantCode(t, "a second start", err, contract.CodeMigrationPhase)
	if len(checked) != 2 {
		t.Fatalf("a start refused for its phase checked ZooKeeper: %v", checked)
	}
	for name, write := range clientWrites(c) {
		before := c.state.Image().Offset()
		wantCode(t, name+" while IMPORTING", write(ctx), contract.CodeMigrationInProgress)
		if got := c.state.Image().Offset(); got != before {
			t.Fatalf("%s while IMPORTING was refused but the log moved from %d to %d", name, before, got)
		}
	}
	if st, err := c.RollbackMigration(ctx); err != nil || st.Phase != metadata.MigrationAborted {
		t.Fatalf("rollback while IMPORTING: %+v, %v", st, err)
	}
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "after-abort"}); err != nil {
		t.Fatalf("a write after the migration was aborted: %v", err)
	}

	// Start again, retry-safe: the repeat answers the first answer.
	idem := &Idempotency{Key: "start-2", Fingerprint: metadata.Fingerprint{1}}
	first, err := c.StartMigration(WithIdempotency(ctx, idem), contract.MigrationStartRequest{ZkConnect: "zk:2181"}, check)
	if err != nil || first.Phase != metadata.MigrationImporting {
		t.Fatalf("start after ABORTED: %+v, %v", first, err)
	}
	again := &Idempotency{Key: "start-2", Fingerprint: metadata.Fingerprint{1}}
	if st, err := c.StartMigration(WithIdempotency(ctx, again), contract.MigrationStartRequest{ZkConnect: "zk:2181"}, check); err != nil || st != first || !again.Replayed() {
		t.Fatalf("the start repeated with its key: %+v, %v, replayed %v; want %+v", st, err, again.Replayed(), first)
	}

	// The driver's batch passes while ZooKeeper is the authority; clients'
	// writes do not.
	driverCommit(t, ctx, c, metadata.MigrationFollowing, top("from-zk", "9c7bd5a4-0f39-4a43-9e1c-6c3d4c1b2a01"),
		prt("9c7bd5a4-0f39-4a43-9e1c-6c3d4c1b2a01", 0, 1, ids(1, 2), ids(1, 2), 1))
	following := wantPhase(t, ctx, c, metadata.MigrationFollowing)
	if _, ok := c.state.Image().Topic("from-zk"); !ok {
		t.Fatal("the driver's topic is not in the image")
	}
	// Cut over and roll back: ZooKeeper is the authority again, at the
	// zxid it had.
	if _, err := c.CutoverMigration(ctx); err != nil {
		t.Fatalf("cutover from FOLLOWING: %v", err)
	}
	if st, err := c.RollbackMigration(ctx); err != nil || st.Phase != metadata.MigrationFollowing || st.Zxid != following.Zxid {
		t.Fatalf("rollback from DUAL_WRITE: %+v, %v; want FOLLOWING at zxid %d", st, err, following.Zxid)
	}
	for name, write := range clientWrites(c) {
		before := c.state.Image().Offset()
		wantCode(t, name+" while FOLLOWING", write(ctx), contract.CodeMigrationInProgress)
		if got := c.state.Image().Offset(); got != before {
			t.Fatalf("%s while FOLLOWING was refused but the log moved from %d to %d", name, before, got)
		}
	}
	_, err = c.FinalizeMigration(ctx)
	wantCode(t, "finalize while FOLLOWING", err, contract.CodeMigrationPhase)

	// A fenced broker's heartbeat is answered but does not unfence it, and
	// no broker is fenced for silence while ZooKeeper is the authority.
	off := c.state.Image().Offset() + 100
	if _, err := c.BrokerHeartbeat(ctx, 3, &off); err != nil {
		t.Fatalf("a fenced broker's heartbeat while FOLLOWING: %v", err)
	}
	if b, _ := c.state.Image().Broker(3); b.BrokerStatus != metadata.StatusFenced {
		t.Fatalf("broker 3 is %s while FOLLOWING, want FENCED still", b.BrokerStatus)
	}
	silence := func() []int32 {
		var all []int32
		for range 6 { // steps under the stall threshold (a third of the timeout)
			clock.advance(timeout / 4)
			fenced, err := c.FenceExpired(ctx)
			if err != nil {
				t.Fatalf("liveness check: %v", err)
			}
			all = append(all, fenced...)
		}
		return all
	}
	if fenced := silence(); len(fenced) != 0 {
		t.Fatalf("fenced %v while FOLLOWING", fenced)
	}

	// Cutover: YAKt's writes are allowed, liveness still holds off.
	st, err = c.CutoverMigration(ctx)
	if err != nil || st.Phase != metadata.MigrationDualWrite || st.Zxid != following.Zxid || st.ZkConnect != "zk:2181" {
		t.Fatalf("cutover: %+v, %v", st, err)
	}
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "after-cutover"}); err != nil {
		t.Fatalf("a write after cutover: %v", err)
	}
	if _, err := c.BrokerHeartbeat(ctx, 3, &off); err != nil {
		t.Fatal(err)
	}
	if b, _ := c.state.Image().Broker(3); b.BrokerStatus != metadata.StatusAlive {
		t.Fatalf("broker 3 is %s after its heartbeat in DUAL_WRITE, want ALIVE", b.BrokerStatus)
	}
	if fenced := silence(); len(fenced) != 0 {
		t.Fatalf("fenced %v while DUAL_WRITE", fenced)
	}

	// Finalized: nothing more to do, and silent brokers are fenced again.
	if st, err := c.FinalizeMigration(ctx); err != nil || st.Phase != metadata.MigrationFinalized {
		t.Fatalf("finalize: %+v, %v", st, err)
	}
	for name, op := range map[string]func(context.Context) (contract.MigrationStatus, error){
		"cutover": c.CutoverMigration, "finalize": c.FinalizeMigration, "rollback": c.RollbackMigration,
	} {
		_, err := op(ctx)
		wantCode(t, name+" when FINALIZED", err, contract.CodeMigrationPhase)
	}
	_, err = c.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: "zk:2181"}, check)
	wantCode(t, "start when FINALIZED", err, contract.CodeMigrationPhase)
	if fenced := silence(); len(fenced) != 3 {
		t.Fatalf("fenced %v after the migration was finalized, want the 3 silent brokers", fenced)
	}
}
