package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zkformat"
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

// kafkaZK is one ZooKeeper-mode Kafka cluster's metadata in a chroot of
// the shared ZooKeeper server, written and read through zktest.
type kafkaZK struct {
	t         testing.TB
	srv       *zktest.Server
	chroot    string
	clusterID string
}

// zkTopic is a topic as ZooKeeper holds it, parsed by zktest's reader.
type zkTopic struct {
	Topic  zkformat.Topic
	States map[int32]zkPartitionState
}

// zkPartitionState is a partition state znode: its content and its
// znode version (the partition epoch).
type zkPartitionState struct {
	zkformat.PartitionState
	ZnodeVersion int64
}

func (k *kafkaZK) connect() string { return k.srv.Addr() + k.chroot }

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
	if zt.Topic.TopicID != y.ID {
		t.Errorf("ZooKeeper topic %s: topic_id %s, YAKt's id %s", zt.Topic.Name, zt.Topic.TopicID, y.ID)
	}
	if zt.Topic.Version != 3 {
		t.Errorf("ZooKeeper topic %s: version %d, want 3 (Kafka 3.x's TopicZNode with topic_id)", zt.Topic.Name, zt.Topic.Version)
	}
	ctrlEpoch := zk.controllerEpoch(t)
	for p, yp := range y.Partitions {
		if got := zt.Topic.Partitions[p]; !slices.Equal(got, yp.Replicas) {
			t.Errorf("ZooKeeper %s-%d: replicas %v, YAKt %v", zt.Topic.Name, p, got, yp.Replicas)
		}
		s, ok := zt.States[p]
		if !ok {
			t.Errorf("ZooKeeper %s-%d: no state znode", zt.Topic.Name, p)
			continue
		}
		if s.Version != 1 {
			t.Errorf("ZooKeeper %s-%d state: version field %d, want 1", zt.Topic.Name, p, s.Version)
		}
		if s.Leader != yp.Leader || !slices.Equal(s.ISR, yp.ISR) || s.ZnodeVersion != yp.Epoch {
			t.Errorf("ZooKeeper %s-%d state: leader %d isr %v znode version %d; YAKt leader %d isr %v epoch %d",
				zt.Topic.Name, p, s.Leader, s.ISR, s.ZnodeVersion, yp.Leader, yp.ISR, yp.Epoch)
		}
		if s.ControllerEpoch != ctrlEpoch {
			t.Errorf("ZooKeeper %s-%d state: controller_epoch %d, /controller_epoch holds %d (YAKt's)", zt.Topic.Name, p, s.ControllerEpoch, ctrlEpoch)
		}
		if s.LeaderEpoch < 0 {
			t.Errorf("ZooKeeper %s-%d state: leader_epoch %d", zt.Topic.Name, p, s.LeaderEpoch)
		}
	}
}

// kafkaTopicID is a canonical UUID in Kafka's base64url form.
func kafkaTopicID(t testing.TB, id string) string {
	t.Helper()
	s, err := zkformat.UUIDToKafka(id)
	if err != nil {
		t.Fatalf("topic id %s in Kafka's form: %v", id, err)
	}
	return s
}

var _ = fmt.Sprintf
