package e2e_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zktest"
)

// layout is the ZooKeeper-mode Kafka cluster populate writes.
type layout struct {
	ClusterID                       string
	Brokers, Topics, Partitions, RF int
	// ProducerBlockEnd is the end of the last producer-id block given.
	ProducerBlockEnd int64
	// Reassigning: every Reassigning-th partition is being reassigned
	// (adding and removing replicas in its topic znode); 0: none.
	Reassigning int
	// ISRChanges: every ISRChanges-th partition's ISR changed a few times
	// before the migration (its state znode's version, the partition
	// epoch, above 0); 0: none.
	ISRChanges int
}

// zkTopic is a topic as ZooKeeper holds it, read from the znodes with
// this package's own JSON types (neither zkformat, which the code under
// test uses, nor a writer's templates), to check what YAKt wrote.
type zkTopic struct {
	Name       string
	Version    int    // the topic znode's "version" field
	TopicID    string // canonical UUID text
	Partitions map[int32][]int32
	States     map[int32]zkPartitionState
}

// zkPartitionState is a partition state znode: its content and its
// znode version (the partition epoch).
type zkPartitionState struct {
	Version         int // the "version" field
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32
	ZnodeVersion    int64
}

// waitZkTopic waits until ZooKeeper holds topic name and cond holds for
// it, and returns it.
func waitZkTopic(ctx context.Context, t testing.TB, zk *kafkaZK, name string, within time.Duration, cond func(zkTopic) bool) zkTopic {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var (
		last    zkTopic
		found   bool
		lastErr error
	)
	err := testcluster.WaitFor(ctx, func() bool {
		zt, ok, err := zk.topic(ctx, name)
		if err != nil {
			lastErr = err
			return false
		}
		last, found = zt, ok
		return ok && cond(zt)
	})
	if err != nil {
		t.Fatalf("ZooKeeper: topic %s not as awaited within %v (found %v: %+v; last error %v)", name, within, found, last, lastErr)
	}
	return last
}

// checkZkTopicMatches checks a topic YAKt wrote to ZooKeeper against
// YAKt's own: Kafka's format (topic znode version 3 with the topic id in
// Kafka's base64 form, state znodes version 1 with the controller epoch
// YAKt took), the same replicas, leader, ISR, and each partition's epoch
// as its state znode's version.
func checkZkTopicMatches(t testing.TB, zk *kafkaZK, zt zkTopic, y topicState) {
	t.Helper()
	if zt.TopicID != y.ID {
		t.Errorf("ZooKeeper topic %s: topic_id %s, YAKt's id %s", zt.Name, zt.TopicID, y.ID)
	}
	if zt.Version != 3 {
		t.Errorf("ZooKeeper topic %s: version %d, want 3 (Kafka 3.x's TopicZNode with topic_id)", zt.Name, zt.Version)
	}
	ctrlEpoch := zk.controllerEpoch(t)
	for p, yp := range y.Partitions {
		if got := zt.Partitions[p]; !slices.Equal(got, yp.Replicas) {
			t.Errorf("ZooKeeper %s-%d: replicas %v, YAKt %v", zt.Name, p, got, yp.Replicas)
		}
		s, ok := zt.States[p]
		if !ok {
			t.Errorf("ZooKeeper %s-%d: no state znode", zt.Name, p)
			continue
		}
		if s.Version != 1 {
			t.Errorf("ZooKeeper %s-%d state: version field %d, want 1", zt.Name, p, s.Version)
		}
		if s.Leader != yp.Leader || !slices.Equal(s.ISR, yp.ISR) || s.ZnodeVersion != yp.Epoch {
			t.Errorf("ZooKeeper %s-%d state: leader %d isr %v znode version %d; YAKt leader %d isr %v epoch %d",
				zt.Name, p, s.Leader, s.ISR, s.ZnodeVersion, yp.Leader, yp.ISR, yp.Epoch)
		}
		if s.ControllerEpoch != ctrlEpoch {
			t.Errorf("ZooKeeper %s-%d state: controller_epoch %d, /controller_epoch holds %d (YAKt's)", zt.Name, p, s.ControllerEpoch, ctrlEpoch)
		}
		if s.LeaderEpoch < 0 {
			t.Errorf("ZooKeeper %s-%d state: leader_epoch %d", zt.Name, p, s.LeaderEpoch)
		}
	}
}

// kafkaTopicID is a canonical UUID in Kafka's base64url form.
func kafkaTopicID(t testing.TB, id string) string {
	t.Helper()
	s, err := zktest.KafkaTopicID(id)
	if err != nil {
		t.Fatalf("topic id %s in Kafka's form: %v", id, err)
	}
	return s
}
