package clienttest

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestFranzGo drives every admin API a Kafka tool uses with franz-go's
// kgo and kadm, seeded with a follower's Kafka address, and checks each
// change through the HTTP API. The subtests share one cluster and run in
// order; the last one kills the leader.
func TestFranzGo(t *testing.T) {
	c := startCluster(t)
	fol := follower(t, c)
	cl, adm := kafkaClient(t, c, fol)

	t.Run("topics", func(t *testing.T) { franzTopics(t, c, adm) })
	t.Run("create partitions", func(t *testing.T) { franzCreatePartitions(t, c, adm) })
	t.Run("describe cluster", func(t *testing.T) { franzDescribeCluster(t, c, cl, adm) })
	t.Run("configs", func(t *testing.T) { franzConfigs(t, c, cl, adm) })
	t.Run("elect leaders", func(t *testing.T) { franzElectLeaders(t, c, adm) })
	t.Run("reassignments", func(t *testing.T) { franzReassignments(t, c, adm) })
	t.Run("init producer id", func(t *testing.T) { franzInitProducerID(t, c, cl) })
	t.Run("every node answers", func(t *testing.T) { franzEveryNode(t, c, cl) })
	t.Run("leader kill", func(t *testing.T) { franzLeaderKill(t, c, adm) })
}

func franzTopics(t *testing.T, c *testcluster.Cluster, adm *kadm.Client) {
	ctx := ctxFor(t, 30*time.Second)
	res, err := adm.CreateTopics(ctx, 3, 2, nil, "orders")
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	r := res["orders"]
	if r.Err != nil || r.NumPartitions != 3 || r.ReplicationFactor != 2 {
		t.Fatalf("CreateTopics orders: %+v, want 3 partitions, replication factor 2, no error", r)
	}
	d := topicDetail(t, ctx, c, "orders")
	if d == nil || len(d.Partitions) != 3 {
		t.Fatalf("HTTP API after CreateTopics: %+v, want orders with 3 partitions", d)
	}
	if got := r.ID.String(); got == (kadm.TopicID{}).String() {
		t.Errorf("CreateTopics gave no topic id (HTTP API: %s)", d.Topic.TopicUUID)
	}

	// List and describe: kadm's ListTopics is a Metadata request.
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	td, ok := topics["orders"]
	if !ok || td.Err != nil {
		t.Fatalf("ListTopics has no orders: %v", topics.Names())
	}
	samePartitions(t, "ListTopics orders", kadmPartitions(td), httpPartitions(d))

	// Errors, as a Kafka client expects them.
	for _, tc := range []struct {
		name string
		p    int32
		rf   int16
		want error
	}{
		{"orders", 1, 1, kerr.TopicAlreadyExists},
		{"too-many-replicas", 1, int16(len(brokerIDs) + 1), kerr.InvalidReplicationFactor},
		{"bad name!", 1, 1, kerr.InvalidTopicException},
	} {
		res, err := adm.CreateTopics(ctx, tc.p, tc.rf, nil, tc.name)
		if err != nil {
			t.Fatalf("CreateTopics %q: %v", tc.name, err)
		}
		if got := res[tc.name].Err; !errors.Is(got, tc.want) {
			t.Errorf("CreateTopics %q (rf %d): error %v, want %v", tc.name, tc.rf, got, tc.want)
		}
	}

	// validateOnly checks and creates nothing.
	res, err = adm.ValidateCreateTopics(ctx, 2, 2, nil, "dry-run")
	if err != nil || res["dry-run"].Err != nil {
		t.Fatalf("ValidateCreateTopics: %v %+v", err, res["dry-run"])
	}
	if d := topicDetail(t, ctx, c, "dry-run"); d != nil {
		t.Errorf("validateOnly created the topic: %+v", d)
	}

	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "doomed"); err != nil {
		t.Fatalf("CreateTopics doomed: %v", err)
	}
	del, err := adm.DeleteTopics(ctx, "doomed", "never-was")
	if err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	if err := del["doomed"].Err; err != nil {
		t.Errorf("DeleteTopics doomed: %v", err)
	}
	if err := del["never-was"].Err; !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("DeleteTopics of a topic that never was: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	if d := topicDetail(t, ctx, c, "doomed"); d != nil {
		t.Errorf("HTTP API still has the deleted topic: %+v", d)
	}
	topics, err = adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if topics.Has("doomed") {
		t.Errorf("ListTopics still lists the deleted topic: %v", topics.Names())
	}
}

func kadmPartitions(td kadm.TopicDetail) map[int32]partitionState {
	m := map[int32]partitionState{}
	for id, p := range td.Partitions {
		m[id] = partitionState{Leader: p.Leader, Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR)}
	}
	return m
}

func franzCreatePartitions(t *testing.T, c *testcluster.Cluster, adm *kadm.Client) {
	ctx := ctxFor(t, 30*time.Second)
	res, err := adm.CreatePartitions(ctx, 2, "orders")
	if err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	if err := res["orders"].Err; err != nil {
		t.Fatalf("CreatePartitions orders +2: %v", err)
	}
	d := topicDetail(t, ctx, c, "orders")
	if d == nil || len(d.Partitions) != 5 {
		t.Fatalf("HTTP API after adding 2 partitions to 3: %+v, want 5", d)
	}
	for _, p := range d.Partitions {
		if len(p.Replicas) != 2 {
			t.Errorf("partition %d has replicas %v, want the topic's replication factor 2", p.PartitionID, p.Replicas)
		}
	}
	// Kafka cannot shrink a topic: setting fewer partitions is INVALID_PARTITIONS.
	res, err = adm.UpdatePartitions(ctx, 2, "orders")
	if err != nil {
		t.Fatalf("UpdatePartitions: %v", err)
	}
	if err := res["orders"].Err; !errors.Is(err, kerr.InvalidPartitions) {
		t.Errorf("UpdatePartitions orders to 2 of 5: %v, want INVALID_PARTITIONS", err)
	}
	res, err = adm.CreatePartitions(ctx, 1, "no-such-topic")
	if err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	if err := res["no-such-topic"].Err; !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("CreatePartitions of a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

// nodeBrokers is what Metadata and DescribeCluster must list: every node
// under its raft id at its Kafka address.
func nodeBrokers(t testing.TB, c *testcluster.Cluster) map[int32]string {
	m := map[int32]string{}
	for _, id := range c.IDs() {
		m[int32(id)] = c.KafkaAddr(id)
	}
	return m
}

func franzDescribeCluster(t *testing.T, c *testcluster.Cluster, cl *kgo.Client, adm *kadm.Client) {
	ctx := ctxFor(t, 30*time.Second)
	want := nodeBrokers(t, c)
	cid := clusterID(t, ctx, c)

	var resp *kmsg.DescribeClusterResponse
	var md kadm.Metadata
	var err, mdErr error
	lead := underOneLeader(t, c, func() {
		resp, err = kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
		md, mdErr = adm.BrokerMetadata(ctx)
	})
	if err != nil {
		t.Fatalf("DescribeCluster: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("DescribeCluster: %v", err)
	}
	if resp.ClusterID != cid || resp.ControllerID != int32(lead) {
		t.Errorf("DescribeCluster: cluster %q controller %d, want %q and the leader %d", resp.ClusterID, resp.ControllerID, cid, lead)
	}
	got := map[int32]string{}
	for _, b := range resp.Brokers {
		got[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	if !mapsEqual(got, want) {
		t.Errorf("DescribeCluster brokers %v, want the nodes' Kafka addresses %v", got, want)
	}

	// Metadata says the same.
	if mdErr != nil {
		t.Fatalf("Metadata: %v", mdErr)
	}
	got = map[int32]string{}
	for _, b := range md.Brokers {
		got[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	if md.Cluster != cid || md.Controller != int32(lead) || !mapsEqual(got, want) {
		t.Errorf("Metadata: cluster %q controller %d brokers %v, want %q, %d, %v", md.Cluster, md.Controller, got, cid, lead, want)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// configValue finds a config in a describe's answer.
func configValue(rc kadm.ResourceConfig, key string) (kadm.Config, bool) {
	for _, cfg := range rc.Configs {
		if cfg.Key == key {
			return cfg, true
		}
	}
	return kadm.Config{}, false
}

// httpConfig reads one config from GET path (an HTTP configs resource).
func httpConfig(t testing.TB, ctx context.Context, c *testcluster.Cluster, path, key string) (contract.ConfigEntry, bool) {
	t.Helper()
	r, err := c.Do(ctx, c.MustLeader(), "GET", path, nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("GET %s: %v %v %s", path, err, r.Status, r.Body)
	}
	var rc contract.ResourceConfigs
	if err := r.JSON(&rc); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	for _, e := range rc.Configs {
		if e.Name == key {
			return e, true
		}
	}
	return contract.ConfigEntry{}, false
}

func franzConfigs(t *testing.T, c *testcluster.Cluster, cl *kgo.Client, adm *kadm.Client) {
	ctx := ctxFor(t, 30*time.Second)

	// A topic config: set, describe (Kafka and HTTP), delete back to the default.
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("3600000")}}, "orders")
	if err != nil || alt[0].Err != nil {
		t.Fatalf("AlterTopicConfigs retention.ms: %v %+v", err, alt)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatalf("DescribeTopicConfigs: %v", err)
	}
	rc, err := rcs.On("orders", nil)
	if err != nil {
		t.Fatalf("DescribeTopicConfigs orders: %v", err)
	}
	cfg, ok := configValue(rc, "retention.ms")
	if !ok || cfg.Value == nil || *cfg.Value != "3600000" || cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("DescribeTopicConfigs retention.ms: %+v (found %v), want 3600000 from the topic", cfg, ok)
	}
	if _, ok := configValue(rc, "cleanup.policy"); !ok {
		t.Errorf("DescribeTopicConfigs has no cleanup.policy: describe fills in defaults")
	}
	e, ok := httpConfig(t, ctx, c, "/v1/topics/orders/configs", "retention.ms")
	if !ok || e.Value == nil || *e.Value != "3600000" || e.Source != contract.ConfigSourceTopic {
		t.Errorf("HTTP API retention.ms: %+v, want 3600000 from TOPIC", e)
	}

	alt, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("soon")}}, "orders")
	if err != nil {
		t.Fatalf("AlterTopicConfigs: %v", err)
	}
	if !errors.Is(alt[0].Err, kerr.InvalidConfig) {
		t.Errorf("AlterTopicConfigs retention.ms=soon: %v, want INVALID_CONFIG", alt[0].Err)
	}
	alt, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "orders")
	if err != nil || alt[0].Err != nil {
		t.Fatalf("AlterTopicConfigs delete retention.ms: %v %+v", err, alt)
	}
	e, _ = httpConfig(t, ctx, c, "/v1/topics/orders/configs", "retention.ms")
	if e.Source == contract.ConfigSourceTopic {
		t.Errorf("HTTP API retention.ms after delete: %+v, want an inherited value", e)
	}

	// The cluster-wide broker default (resource name ""), which every
	// broker inherits: kgo sends a numbered broker's configs to that
	// Kafka broker, and YAKt's Kafka brokers are its nodes, not the
	// registered brokers.
	alt, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: ptr("2")}})
	if err != nil || len(alt) != 1 || alt[0].Err != nil {
		t.Fatalf("AlterBrokerConfigs cluster default min.insync.replicas: %v %+v", err, alt)
	}
	rcs, err = adm.DescribeBrokerConfigs(ctx)
	if err != nil {
		t.Fatalf("DescribeBrokerConfigs: %v", err)
	}
	rc, err = rcs.On("", nil)
	if err != nil {
		t.Fatalf("DescribeBrokerConfigs cluster default: %v", err)
	}
	cfg, ok = configValue(rc, "min.insync.replicas")
	if !ok || cfg.Value == nil || *cfg.Value != "2" || cfg.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("DescribeBrokerConfigs min.insync.replicas: %+v (found %v), want 2 from the cluster default", cfg, ok)
	}
	e, ok = httpConfig(t, ctx, c, "/v1/cluster/configs", "min.insync.replicas")
	if !ok || e.Value == nil || *e.Value != "2" || e.Source != contract.ConfigSourceClusterDefault {
		t.Errorf("HTTP API cluster min.insync.replicas: %+v, want 2 from CLUSTER_DEFAULT", e)
	}

	// A registered broker's own configs: sent to a node directly (here a
	// follower, which forwards the change), since kgo would route them
	// to a Kafka broker of that id.
	node := cl.Broker(int(follower(t, c)))
	ialt := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ir := kmsg.NewIncrementalAlterConfigsRequestResource()
	ir.ResourceType, ir.ResourceName = kmsg.ConfigResourceTypeBroker, "101"
	ic := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	ic.Name, ic.Op, ic.Value = "min.insync.replicas", kmsg.IncrementalAlterConfigOpSet, ptr("3")
	ir.Configs = append(ir.Configs, ic)
	ialt.Resources = append(ialt.Resources, ir)
	kr, err := node.Request(ctx, ialt)
	if err != nil {
		t.Fatalf("IncrementalAlterConfigs broker 101: %v", err)
	}
	if r := kr.(*kmsg.IncrementalAlterConfigsResponse); len(r.Resources) != 1 || r.Resources[0].ErrorCode != 0 {
		t.Fatalf("IncrementalAlterConfigs broker 101: %+v", r.Resources)
	}
	desc := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName, dr.ConfigNames = kmsg.ConfigResourceTypeBroker, "101", []string{"min.insync.replicas"}
	desc.Resources = append(desc.Resources, dr)
	kr, err = node.Request(ctx, desc)
	if err != nil {
		t.Fatalf("DescribeConfigs broker 101: %v", err)
	}
	dresp := kr.(*kmsg.DescribeConfigsResponse)
	if len(dresp.Resources) != 1 || dresp.Resources[0].ErrorCode != 0 || len(dresp.Resources[0].Configs) != 1 {
		t.Fatalf("DescribeConfigs broker 101 min.insync.replicas: %+v", dresp.Resources)
	}
	if got := dresp.Resources[0].Configs[0]; got.Value == nil || *got.Value != "3" || got.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("DescribeConfigs broker 101 min.insync.replicas: %+v, want 3 from the broker", got)
	}
	e, ok = httpConfig(t, ctx, c, "/v1/brokers/101/configs", "min.insync.replicas")
	if !ok || e.Value == nil || *e.Value != "3" || e.Source != contract.ConfigSourceBroker {
		t.Errorf("HTTP API broker 101 min.insync.replicas: %+v, want 3 from BROKER", e)
	}
}

// httpPartition is one partition as the HTTP API shows it.
func httpPartition(t testing.TB, ctx context.Context, c *testcluster.Cluster, topic string, id int32) contract.Partition {
	t.Helper()
	p, err := c.API().Partition(ctx, topic, id)
	if err != nil {
		t.Fatalf("GET /v1/topics/%s/partitions/%d: %v", topic, id, err)
	}
	return p
}

// createPartition makes a partition with a chosen layout through the HTTP API.
func createPartition(t testing.TB, ctx context.Context, c *testcluster.Cluster, topic string, replicas, isr []int32, leader int32) {
	t.Helper()
	_, _, err := c.API().CreatePartition(ctx, topic, contract.CreatePartitionRequest{Replicas: replicas, ISR: isr, Leader: &leader})
	if err != nil {
		t.Fatalf("create partition of %s %v isr %v leader %d: %v", topic, replicas, isr, leader, err)
	}
}

func createHTTPTopic(t testing.TB, ctx context.Context, c *testcluster.Cluster, name string) {
	t.Helper()
	if _, _, err := c.API().CreateTopic(ctx, contract.CreateTopicRequest{Name: name}); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

func franzElectLeaders(t *testing.T, c *testcluster.Cluster, adm *kadm.Client) {
	ctx := ctxFor(t, 30*time.Second)
	createHTTPTopic(t, ctx, c, "elect")
	createPartition(t, ctx, c, "elect", []int32{101, 102}, nil, 102) // preferred 101 is in sync, 102 leads

	set := kadm.TopicsSet{}
	set.Add("elect", 0)
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatalf("ElectLeaders preferred: %v", err)
	}
	if r := res["elect"][0]; r.Err != nil {
		t.Fatalf("ElectLeaders preferred elect-0: %v %s", r.Err, r.ErrMessage)
	}
	if p := httpPartition(t, ctx, c, "elect", 0); p.Leader != 101 {
		t.Errorf("after a preferred election the HTTP API shows leader %d, want the first replica 101", p.Leader)
	}
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatalf("ElectLeaders preferred again: %v", err)
	}
	if r := res["elect"][0]; !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Errorf("a second preferred election: %v, want ELECTION_NOT_NEEDED", r.Err)
	}

	// Unclean: the only in-sync replica is fenced, so only an unclean
	// election finds a leader, out of the ISR. A broker of its own keeps
	// the fencing away from the other subtests' partitions.
	registerBroker(t, ctx, c, 105)
	createPartition(t, ctx, c, "elect", []int32{103, 105}, []int32{105}, 105)
	if _, _, err := c.API().PatchBroker(ctx, 105, contract.PatchBrokerRequest{BrokerStatus: ptr(contract.StatusFenced)}); err != nil {
		t.Fatalf("fence broker 105: %v", err)
	}
	t.Cleanup(func() {
		// Back in service for whatever runs after.
		_, _, _ = c.API().PatchBroker(context.Background(), 105, contract.PatchBrokerRequest{BrokerStatus: ptr(contract.StatusAlive)})
	})
	one := kadm.TopicsSet{}
	one.Add("elect", 1)
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, one)
	if err != nil {
		t.Fatalf("ElectLeaders preferred elect-1: %v", err)
	}
	if r := res["elect"][1]; !errors.Is(r.Err, kerr.PreferredLeaderNotAvailable) {
		t.Errorf("preferred election with 103 out of the ISR: %v, want PREFERRED_LEADER_NOT_AVAILABLE", r.Err)
	}
	res, err = adm.ElectLeaders(ctx, kadm.ElectLiveReplica, one)
	if err != nil {
		t.Fatalf("ElectLeaders unclean elect-1: %v", err)
	}
	if r := res["elect"][1]; r.Err != nil {
		t.Fatalf("unclean election elect-1: %v %s", r.Err, r.ErrMessage)
	}
	p := httpPartition(t, ctx, c, "elect", 1)
	if p.Leader != 103 || !slices.Equal(p.ISR, []int32{103}) {
		t.Errorf("after an unclean election the HTTP API shows leader %d ISR %v, want 103 and [103]", p.Leader, p.ISR)
	}
}

func franzReassignments(t *testing.T, c *testcluster.Cluster, adm *kadm.Client) {
	ctx := ctxFor(t, 30*time.Second)
	createHTTPTopic(t, ctx, c, "moves")
	createPartition(t, ctx, c, "moves", []int32{101, 102}, nil, 101)
	set := kadm.TopicsSet{}
	set.Add("moves", 0)

	reassign := func(replicas []int32) {
		t.Helper()
		var req kadm.AlterPartitionAssignmentsReq
		req.Assign("moves", 0, replicas)
		res, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			t.Fatalf("AlterPartitionAssignments %v: %v", replicas, err)
		}
		if r := res["moves"][0]; r.Err != nil {
			t.Fatalf("AlterPartitionAssignments moves-0 to %v: %v %s", replicas, r.Err, r.ErrMessage)
		}
	}
	listed := func() (kadm.ListPartitionReassignmentsResponse, bool) {
		t.Helper()
		res, err := adm.ListPartitionReassignments(ctx, set)
		if err != nil {
			t.Fatalf("ListPartitionReassignments: %v", err)
		}
		r, ok := res["moves"][0]
		return r, ok
	}

	// Move from [101 102] to [102 103]: 103 is being added, 101 removed.
	reassign([]int32{102, 103})
	r, ok := listed()
	if !ok || !slices.Equal(r.Replicas, []int32{102, 103, 101}) || !slices.Equal(r.AddingReplicas, []int32{103}) || !slices.Equal(r.RemovingReplicas, []int32{101}) {
		t.Fatalf("ListPartitionReassignments: %+v (listed %v), want replicas [102 103 101] adding [103] removing [101]", r, ok)
	}
	p := httpPartition(t, ctx, c, "moves", 0)
	if !slices.Equal(p.Replicas, r.Replicas) || !slices.Equal(p.AddingReplicas, r.AddingReplicas) || !slices.Equal(p.RemovingReplicas, r.RemovingReplicas) {
		t.Errorf("HTTP API shows %+v, Kafka listed %+v", p, r)
	}

	// Cancel: back to the original replicas.
	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.CancelAssign("moves", 0)
	res, err := adm.AlterPartitionAssignments(ctx, cancel)
	if err != nil || res["moves"][0].Err != nil {
		t.Fatalf("cancel reassignment: %v %+v", err, res)
	}
	if r, ok := listed(); ok {
		t.Errorf("ListPartitionReassignments after cancel still lists %+v", r)
	}
	// As in Kafka, a cancel keeps the replicas in progress minus those
	// being added: the original set, in the reassignment's order.
	if p := httpPartition(t, ctx, c, "moves", 0); !slices.Equal(p.Replicas, []int32{102, 101}) || len(p.AddingReplicas) != 0 || len(p.RemovingReplicas) != 0 || p.Leader != 101 {
		t.Errorf("after cancel the HTTP API shows %+v, want replicas [102 101], nothing adding or removing, leader 101", p)
	}
	res, err = adm.AlterPartitionAssignments(ctx, cancel)
	if err != nil {
		t.Fatalf("cancel again: %v", err)
	}
	if err := res["moves"][0].Err; !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Errorf("cancel with nothing in progress: %v, want NO_REASSIGNMENT_IN_PROGRESS", err)
	}

	// Again, and this time the leader reports 103 in sync: the
	// reassignment completes, 101 leaves, leadership moves into the target.
	reassign([]int32{102, 103})
	p = httpPartition(t, ctx, c, "moves", 0)
	if _, _, err := c.API().AlterISR(ctx, "moves", 0, p.Leader, p.PartitionEpoch, []int32{101, 102, 103}); err != nil {
		t.Fatalf("AlterISR with the adding replica in sync: %v", err)
	}
	if r, ok := listed(); ok {
		t.Errorf("ListPartitionReassignments after the ISR caught up still lists %+v", r)
	}
	p = httpPartition(t, ctx, c, "moves", 0)
	if !slices.Equal(p.Replicas, []int32{102, 103}) || !slices.Equal(p.ISR, []int32{102, 103}) || p.Leader != 102 {
		t.Errorf("completed reassignment: the HTTP API shows %+v, want replicas and ISR [102 103], leader 102", p)
	}
}

func franzInitProducerID(t *testing.T, c *testcluster.Cluster, cl *kgo.Client) {
	ctx := ctxFor(t, 30*time.Second)
	seen := map[int64]bool{}
	for range 3 {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionTimeoutMillis = 60000
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("InitProducerID: %v", err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			t.Fatalf("InitProducerID: %v", err)
		}
		if resp.ProducerID < 0 || seen[resp.ProducerID] || resp.ProducerEpoch != 0 {
			t.Fatalf("InitProducerID gave producer id %d epoch %d (given before: %v)", resp.ProducerID, resp.ProducerEpoch, seen[resp.ProducerID])
		}
		seen[resp.ProducerID] = true
	}
	// The ids come from blocks in the metadata log: the next block the
	// HTTP API allocates overlaps none of them.
	b, _, err := c.API().AllocateProducerIDs(ctx, 101, -1)
	if err != nil {
		t.Fatalf("allocate a producer id block over HTTP: %v", err)
	}
	for id := range seen {
		if id >= b.FirstProducerID && id < b.FirstProducerID+int64(b.Size) {
			t.Errorf("producer id %d from InitProducerID is in the block [%d, +%d) the HTTP API allocated after it", id, b.FirstProducerID, b.Size)
		}
	}
}

// franzEveryNode sends the requests to each node in turn, so the
// followers forward the controller's requests and answer Metadata after a
// read barrier: what one node created, the next one lists at once.
func franzEveryNode(t *testing.T, c *testcluster.Cluster, cl *kgo.Client) {
	ctx := ctxFor(t, 30*time.Second)
	for _, id := range c.IDs() {
		name := "via-node-" + strconv.Itoa(int(id))
		node := cl.Broker(int(id))
		create := kmsg.NewPtrCreateTopicsRequest()
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = name, 2, 3
		create.Topics = append(create.Topics, ct)
		create.TimeoutMillis = 10000
		kr, err := node.Request(ctx, create)
		if err != nil {
			t.Fatalf("CreateTopics on node %d: %v", id, err)
		}
		resp := kr.(*kmsg.CreateTopicsResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("CreateTopics on node %d: %+v", id, resp.Topics)
		}
		d := topicDetail(t, ctx, c, name)
		if d == nil {
			t.Fatalf("HTTP API has no %s after node %d created it", name, id)
		}
		next := c.IDs()[int(id)%len(c.IDs())]
		md := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = ptr(name)
		md.Topics = append(md.Topics, mt)
		kr, err = cl.Broker(int(next)).Request(ctx, md)
		if err != nil {
			t.Fatalf("Metadata on node %d: %v", next, err)
		}
		mresp := kr.(*kmsg.MetadataResponse)
		if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != 0 {
			t.Fatalf("Metadata on node %d right after node %d created %s: %+v", next, id, name, mresp.Topics)
		}
		got := map[int32]partitionState{}
		for _, p := range mresp.Topics[0].Partitions {
			got[p.Partition] = partitionState{Leader: p.Leader, Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR)}
		}
		samePartitions(t, "Metadata on node "+strconv.Itoa(int(next)), got, httpPartitions(d))

		// InitProducerId takes its ids from a block only the controller
		// allocates, so on a follower it is forwarded too.
		ipid := kmsg.NewPtrInitProducerIDRequest()
		ipid.TransactionTimeoutMillis = 60000
		kr, err = node.Request(ctx, ipid)
		if err != nil {
			t.Fatalf("InitProducerID on node %d: %v", id, err)
		}
		if r := kr.(*kmsg.InitProducerIDResponse); r.ErrorCode != 0 || r.ProducerID < 0 {
			t.Errorf("InitProducerID on node %d: error %d producer id %d", id, r.ErrorCode, r.ProducerID)
		}
	}
}

func franzLeaderKill(t *testing.T, c *testcluster.Cluster, adm *kadm.Client) {
	lead := c.MustLeader()
	c.Kill(lead)
	ctx := ctxFor(t, 60*time.Second)
	// kgo finds the new controller itself: its requests to the dead node
	// fail, a follower without a leader answers NOT_CONTROLLER, and each
	// retry starts with fresh Metadata.
	res, err := adm.CreateTopics(ctx, 2, 2, nil, "after-kill")
	if err != nil {
		t.Fatalf("CreateTopics after killing leader %d: %v", lead, err)
	}
	if r := res["after-kill"]; r.Err != nil {
		t.Fatalf("CreateTopics after killing leader %d: %v %s", lead, r.Err, r.ErrMessage)
	}
	var md kadm.Metadata
	newLead := underOneLeader(t, c, func() { md, err = adm.BrokerMetadata(ctx) })
	if err != nil {
		t.Fatalf("Metadata after the kill: %v", err)
	}
	if md.Controller != int32(newLead) {
		t.Errorf("Metadata's controller after the kill: %d, want the new leader %d", md.Controller, newLead)
	}
	d := topicDetail(t, ctx, c, "after-kill")
	if d == nil {
		t.Fatal("HTTP API has no after-kill")
	}
	topics, err := adm.ListTopics(ctx, "after-kill", "orders")
	if err != nil {
		t.Fatalf("ListTopics after the kill: %v", err)
	}
	samePartitions(t, "ListTopics after-kill", kadmPartitions(topics["after-kill"]), httpPartitions(d))
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: ptr("compact")}}, "after-kill")
	if err != nil || len(alt) != 1 || alt[0].Err != nil {
		t.Fatalf("AlterTopicConfigs after the kill: %v %+v", err, alt)
	}
	if e, _ := httpConfig(t, ctx, c, "/v1/topics/after-kill/configs", "cleanup.policy"); e.Value == nil || *e.Value != "compact" {
		t.Errorf("HTTP API cleanup.policy after the kill: %+v, want compact", e)
	}
	if _, err := adm.DeleteTopics(ctx, "after-kill"); err != nil {
		t.Fatalf("DeleteTopics after the kill: %v", err)
	}
	if d := topicDetail(t, ctx, c, "after-kill"); d != nil {
		t.Errorf("HTTP API still has after-kill after DeleteTopics: %+v", d)
	}
}
