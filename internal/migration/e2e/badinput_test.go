package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zktest"
)

// testBadInput starts migrations from ZooKeeper content YAKt must refuse,
// one after the other on one YAKt cluster (a FAILED migration may be
// started again): each is reported with the znode's path, and nothing of
// it is applied, not even the valid topics and brokers beside it.
func testBadInput(t *testing.T, srv *zktest.Server) {
	ctx := testContext(t, 3*time.Minute)
	c := newCluster(t, 1)
	cl := c.API()

	t.Run("ZooKeeperUnreachable", func(t *testing.T) {
		addr := testcluster.ReserveAddr(t) // reserved, nothing listens there
		// The refusal must come promptly: the leader gives ZooKeeper a
		// session timeout to answer, and a client that retried the 503
		// would keep an operator waiting until its own deadline.
		const prompt = 15 * time.Second
		sctx, cancel := context.WithTimeout(ctx, 2*prompt)
		defer cancel()
		began := time.Now()
		_, err := startMigration(sctx, cl, addr+"/kafka")
		took := time.Since(began)
		wantCode(t, "start a migration from "+addr, err, 503, contract.CodeZooKeeperUnavailable)
		if took > prompt {
			t.Errorf("the refusal of a start from an unreachable ZooKeeper took %v (error %v), want it within %v", took.Round(time.Millisecond), err, prompt)
		}
		st, err := migrationStatus(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if st.Phase != contract.MigrationPhaseNone {
			t.Errorf("after the refused start: %s, want phase NONE", statusText(st))
		}
	})

	cases := []struct {
		name   string
		chroot string
		// spoil writes the bad input and returns the path the failure
		// must name.
		spoil func(t *testing.T, zk *kafkaZK) string
	}{
		{"MalformedTopicJSON", "/bad-json", func(t *testing.T, zk *kafkaZK) string {
			path := "/brokers/topics/topic-0002"
			zk.setRaw(ctx, t, path, []byte(`{"version":3,"partitions":{"0":[1,2,3],"1":[2,3`))
			return path
		}},
		{"UnknownTopicVersion", "/bad-version", func(t *testing.T, zk *kafkaZK) string {
			path := "/brokers/topics/topic-0003"
			zk.setRaw(ctx, t, path, []byte(`{"version":99,"topic_id":"`+kafkaTopicID(t, newTopicID())+`","partitions":{"0":[1,2,3],"1":[2,3,1]},"adding_replicas":{},"removing_replicas":{}}`))
			return path
		}},
		{"UnknownPartitionStateVersion", "/bad-state-version", func(t *testing.T, zk *kafkaZK) string {
			path := "/brokers/topics/topic-0001/partitions/1/state"
			zk.setRaw(ctx, t, path, []byte(`{"controller_epoch":1,"leader":2,"version":7,"leader_epoch":0,"isr":[2,3,1]}`))
			return path
		}},
		{"ReplicaOnUnknownBroker", "/bad-broker", func(t *testing.T, zk *kafkaZK) string {
			path := "/brokers/topics/topic-0004"
			zk.setRaw(ctx, t, path, []byte(`{"version":3,"topic_id":"`+kafkaTopicID(t, newTopicID())+`","partitions":{"0":[1,2,999],"1":[2,3,1]},"adding_replicas":{},"removing_replicas":{}}`))
			return path
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			zk := newKafkaZK(t, srv, tc.chroot)
			zk.populate(ctx, t, layout{ClusterID: "bad-input-cluster-00001", Brokers: 3, Topics: 5, Partitions: 2, RF: 3, ProducerBlockEnd: 999})
			path := tc.spoil(t, zk)
			expectFailed(ctx, t, cl, zk, path)
		})
	}

	// A topic YAKt already has under another id: created in YAKt (on
	// brokers registered there) before the migration starts.
	t.Run("TopicInYaktWithAnotherID", func(t *testing.T) {
		zk := newKafkaZK(t, srv, "/bad-topic-id")
		zk.populate(ctx, t, layout{ClusterID: "bad-input-cluster-00001", Brokers: 3, Topics: 5, Partitions: 2, RF: 3, ProducerBlockEnd: 999})
		zs, err := zk.read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range sortedKeys(zs.Brokers) {
			b := zs.Brokers[id]
			if _, _, err := cl.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: contract.Int32(id), BrokerHost: b.Host,
				BrokerPort: contract.PortOf(b.Port), SecurityProtocol: b.Protocol, RackID: b.Rack}); err != nil {
				t.Fatalf("register broker %d in YAKt: %v", id, err)
			}
		}
		const name = "topic-0000"
		if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: name, Partitions: contract.Int32(2), ReplicationFactor: contract.Int32(3)}); err != nil {
			t.Fatalf("create topic %s in YAKt: %v", name, err)
		}
		expectFailed(ctx, t, cl, zk, "/brokers/topics/"+name)
	})
}

// expectFailed starts a migration from zk, which holds bad input at path,
// and checks that it FAILED naming path, and that YAKt's metadata is
// what it was before: nothing of ZooKeeper's was applied.
func expectFailed(ctx context.Context, t *testing.T, cl *client.Client, zk *kafkaZK, path string) {
	t.Helper()
	before, err := readYakt(ctx, cl, -1)
	if err != nil {
		t.Fatal(err)
	}
	st0, err := migrationStatus(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := startMigration(ctx, cl, zk.connect()); err != nil {
		t.Fatalf("start the migration from %s: %v", zk.connect(), err)
	}
	st := waitPhase(ctx, t, cl, metadata.MigrationFailed, time.Minute)
	if !strings.Contains(st.Error, path) {
		t.Errorf("FAILED with error %q, which does not name the bad znode %s", st.Error, path)
	} else {
		t.Logf("FAILED as it should: %s", st.Error)
	}
	after, err := readYakt(ctx, cl, -1)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffStates(before, after, 10); len(d) != 0 {
		t.Errorf("a FAILED import changed YAKt's metadata:\n  %s", strings.Join(d, "\n  "))
	}
	recs, err := readLogFrom(ctx, cl, st0.Offset+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, ok := r.Body.(*metadata.ZkMigrationStateRecord); !ok {
			t.Errorf("log offset %d: a %s committed by a FAILED import", r.Offset, r.Body.RecordName())
		}
	}
}
