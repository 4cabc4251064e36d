package clienttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// The brokers every test cluster registers. Their ids differ from the
// nodes' (1..3) on purpose: Metadata lists the nodes as Kafka's brokers
// and these as the partitions' leaders and replicas, and a mix-up of the
// two shows as a wrong id rather than passing by coincidence.
var brokerIDs = []int32{101, 102, 103, 104}

// needTool finds an external client the test drives. Missing, it fails
// the test under CI (.ci/run installs it) and skips it elsewhere.
func needTool(t testing.TB, path string, args ...string) {
	t.Helper()
	p, err := exec.LookPath(path)
	if err == nil && len(args) > 0 {
		err = exec.Command(p, args...).Run()
	}
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s %s unusable (%v); .ci/run installs it", path, strings.Join(args, " "), err)
		}
		t.Fatalf("%s %s unusable under CI: %v (.ci/run installs kcat and python3-kafka)", path, strings.Join(args, " "), err)
	}
}

// startCluster starts a 3-node cluster whose nodes all serve Kafka and
// registers brokerIDs in it.
func startCluster(t testing.TB) *testcluster.Cluster {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Kafka: true})
	c.MustLeader()
	ctx := ctxFor(t, 30*time.Second)
	for _, id := range brokerIDs {
		registerBroker(t, ctx, c, id)
	}
	return c
}

func registerBroker(t testing.TB, ctx context.Context, c *testcluster.Cluster, id int32) {
	t.Helper()
	_, _, err := c.API().RegisterBroker(ctx, contract.RegisterBrokerRequest{
		BrokerID: &id, BrokerHost: "127.0.0.1", BrokerPort: contract.PortNumber(9000 + int(id)),
	})
	if err != nil {
		t.Fatalf("register broker %d: %v", id, err)
	}
}

// ctxFor is a context that ends after d or with the test.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// follower is a running node other than the leader.
func follower(t testing.TB, c *testcluster.Cluster) uint64 {
	t.Helper()
	lead := c.MustLeader()
	for _, id := range c.IDs() {
		if id != lead && c.Server(id) != nil {
			return id
		}
	}
	t.Fatal("no running follower")
	return 0
}

// kafkaClient is a kgo client seeded with the given nodes' Kafka
// addresses, closed when the test ends. Metadata may be refreshed every
// few milliseconds, so a test sees a new controller or topic at once
// rather than after kgo's default five seconds.
func kafkaClient(t testing.TB, c *testcluster.Cluster, seeds ...uint64) (*kgo.Client, *kadm.Client) {
	t.Helper()
	var addrs []string
	for _, id := range seeds {
		addrs = append(addrs, c.KafkaAddr(id))
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.MetadataMinAge(10*time.Millisecond),
		kgo.RetryTimeout(30*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.WithLogger(kgo.BasicLogger(logWriter{t}, kgo.LogLevelWarn, nil)),
	)
	if err != nil {
		t.Fatalf("kgo client for %v: %v", addrs, err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// logWriter sends a client's log lines to the test's log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// topicDetail is GET /v1/topics/{name}, or nil when it is 404.
func topicDetail(t testing.TB, ctx context.Context, c *testcluster.Cluster, name string) *contract.TopicDetail {
	t.Helper()
	d, err := c.API().Topic(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		t.Fatalf("GET /v1/topics/%s: %v", name, err)
	}
	return &d
}

func isNotFound(err error) bool { return errors.Is(err, client.ErrTopicNotFound) }

// partitionState is what both APIs show of a partition.
type partitionState struct {
	Leader   int32
	Replicas []int32
	ISR      []int32
}

func (p partitionState) String() string {
	return fmt.Sprintf("leader %d replicas %v isr %v", p.Leader, p.Replicas, p.ISR)
}

func (p partitionState) equal(q partitionState) bool {
	return p.Leader == q.Leader && slices.Equal(p.Replicas, q.Replicas) && slices.Equal(p.ISR, q.ISR)
}

// httpPartitions is a topic's partitions by id as the HTTP API shows them.
func httpPartitions(d *contract.TopicDetail) map[int32]partitionState {
	m := map[int32]partitionState{}
	for _, p := range d.Partitions {
		m[p.PartitionID] = partitionState{Leader: p.Leader, Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR)}
	}
	return m
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// samePartitions compares two views of a topic's partitions.
func samePartitions(t testing.TB, what string, got, want map[int32]partitionState) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d partitions %v, HTTP API shows %d %v", what, len(got), got, len(want), want)
		return
	}
	for id, w := range want {
		if g, ok := got[id]; !ok || !g.equal(w) {
			t.Errorf("%s: partition %d is %v, HTTP API shows %v", what, id, g, w)
		}
	}
}

// clusterID is the cluster's id as the HTTP API gives it.
func clusterID(t testing.TB, ctx context.Context, c *testcluster.Cluster) string {
	t.Helper()
	n, _, err := c.API().Node(ctx)
	if err != nil {
		t.Fatalf("GET /v1/node: %v", err)
	}
	return n.ClusterID
}

// underOneLeader runs read until the raft leader is the same before and
// after it (at most three times) and returns that leader, so comparing
// the controller a client read with the leader does not fail because a
// loaded machine held an election in between.
func underOneLeader(t testing.TB, c *testcluster.Cluster, read func()) uint64 {
	t.Helper()
	for attempt := 1; ; attempt++ {
		before := c.MustLeader()
		read()
		if after := c.MustLeader(); after == before || attempt == 3 {
			return before
		}
	}
}
