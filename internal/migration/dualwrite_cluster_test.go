package migration_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/migration"
	"github.com/yakt/yakt/internal/testcluster"
)

// The dual write from a real YAKt cluster: a topic created, an ISR
// changed, producer ids given and the topic deleted through the leader's
// client operations appear in ZooKeeper in Kafka's format.
func TestDualWriteFromCluster(t *testing.T) {
	_, conn := migration.StartZK(t)
	root := migration.Chroot(t, conn, "cluster")
	c := testcluster.New(t, testcluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := c.Server(id)
	ctl := srv.Controller
	term, ready := ctl.MigrationLeader()
	for !ready {
		if err := testcluster.Pace(ctx, 10*time.Millisecond); err != nil {
			t.Fatal("the leader is not ready")
		}
		term, ready = ctl.MigrationLeader()
	}
	if _, err := ctl.MigrationWrite(ctx, func(*metadata.Image) ([]metadata.Record, error) {
		var recs []metadata.Record
		for id := range int32(3) {
			recs = append(recs, metadata.Record{Body: &metadata.RegisterBrokerRecord{BrokerID: id + 1, Epoch: 1, BrokerStatus: metadata.StatusAlive,
				BrokerHost: "h", BrokerPort: "1", SecurityProtocol: metadata.ProtocolPlaintext}})
		}
		return recs, nil
	}); err != nil {
		t.Fatalf("register brokers: %v", err)
	}

	r := migration.NewDualWriter(conn, root, ctl.AppliedState(), id, term, migration.NewTestLogger(t)).Start(t)
	partitions, rf, three := int32(2), int32(3), int32(3)
	detail, off, err := ctl.CreateTopic(ctx, contract.CreateTopicRequest{Name: "orders", Partitions: &partitions, ReplicationFactor: &rf})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	r.WaitWritten(t, off)
	tid := migration.KafkaID(t, detail.Topic.TopicUUID)
	topic, _ := migration.MustZkJSON(t, conn, root+"/brokers/topics/orders")
	if topic["topic_id"] != tid || topic["version"] != 3.0 || len(topic["partitions"].(map[string]any)) != 2 {
		t.Errorf("/brokers/topics/orders = %v, want version 3, topic_id %s, 2 partitions", topic, tid)
	}
	p0 := detail.Partitions[0]
	state, st := migration.MustZkJSON(t, conn, root+"/brokers/topics/orders/partitions/0/state")
	migration.CheckZkJSON(t, "state of orders-0", state, map[string]any{"version": 1, "leader": p0.Leader, "leader_epoch": 0,
		"isr": p0.ISR, "controller_epoch": 1})
	if st.Version != 0 {
		t.Errorf("new state znode at version %d", st.Version)
	}

	// The leader shrinks the ISR to itself.
	epoch := p0.PartitionEpoch
	rec, off, err := ctl.AlterISR(ctx, "orders", 0, contract.AlterISRRequest{BrokerID: &p0.Leader, PartitionEpoch: &epoch, ISR: []int32{p0.Leader}})
	if err != nil {
		t.Fatalf("alter ISR: %v", err)
	}
	r.WaitWritten(t, off)
	state, st = migration.MustZkJSON(t, conn, root+"/brokers/topics/orders/partitions/0/state")
	migration.CheckZkJSON(t, "state of orders-0", state, map[string]any{"version": 1, "leader": p0.Leader, "leader_epoch": 0,
		"isr": []int32{p0.Leader}, "controller_epoch": 1})
	if want := rec.Body.(*metadata.PartitionRecord).PartitionEpoch; int64(st.Version) != want {
		t.Errorf("state znode at version %d, want the partition epoch %d", st.Version, want)
	}

	migration.CheckZooKeeperEqualsImage(t, conn, root, ctl.AppliedState().Image())

	resp, off, err := ctl.AllocateProducerIDs(ctx, contract.AllocateProducerIDsRequest{BrokerID: &three})
	if err != nil {
		t.Fatalf("allocate producer ids: %v", err)
	}
	r.WaitWritten(t, off)
	block, _ := migration.MustZkJSON(t, conn, root+"/latest_producer_id_block")
	first := resp.Record.Body.(*metadata.ProducerIdsRecord).ProducerID
	migration.CheckZkJSON(t, "/latest_producer_id_block", block, map[string]any{"version": 1, "broker": 3,
		"block_start": strconv.FormatInt(first, 10), "block_end": strconv.FormatInt(first+999, 10)})

	_, off, err = ctl.DeleteTopic(ctx, "orders")
	if err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	r.WaitWritten(t, off)
	for _, p := range []string{"/brokers/topics/orders", "/config/topics/orders"} {
		if migration.ZkExists(t, conn, root+p) {
			t.Errorf("%s survived the topic's deletion", p)
		}
	}
	migration.CheckZooKeeperEqualsImage(t, conn, root, ctl.AppliedState().Image())
	if _, err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v", err)
	}
}
