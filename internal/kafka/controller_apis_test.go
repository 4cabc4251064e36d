package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// apiTest sends each request over TCP to a node's Kafka listener (the
// leader's unless a test names another), one cluster for every subtest.
type apiTest struct {
	t *testing.T
	c *testcluster.Cluster
}

func (d apiTest) ctrl() *controller.Controller { return d.c.Server(d.c.MustLeader()).Controller }

func serve[R kmsg.Response](t *testing.T, d apiTest, req kmsg.Request) R {
	t.Helper()
	return serveVia[R](t, d, d.c.MustLeader(), req)
}

// serveVia sends req to node's listener: a follower forwards the
// controller's APIs to the leader.
func serveVia[R kmsg.Response](t *testing.T, d apiTest, node uint64, req kmsg.Request) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := roundTrip(ctx, d.c.KafkaAddr(node), req)
	if err != nil {
		t.Fatalf("%s v%d via node %d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), node, err)
	}
	return resp.(R)
}

func (d apiTest) register(t *testing.T, id int32) int64 {
	t.Helper()
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.ClusterID = id, d.ctrl().ClusterID()
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", "127.0.0.1", uint16(9000+id)
	req.Listeners = append(req.Listeners, l)
	resp := serve[*kmsg.BrokerRegistrationResponse](t, d, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("register broker %d: error %d", id, resp.ErrorCode)
	}
	return resp.BrokerEpoch
}

func (d apiTest) broker(t *testing.T, id int32) metadata.RegisterBrokerRecord {
	t.Helper()
	b, err := d.ctrl().Broker(context.Background(), id, false)
	if err != nil {
		t.Fatalf("broker %d: %v", id, err)
	}
	return b
}

func (d apiTest) createTopic(t *testing.T, name string, partitions, rf int32) contract.TopicDetail {
	t.Helper()
	td, _, err := d.ctrl().CreateTopic(context.Background(), contract.CreateTopicRequest{Name: name, Partitions: &partitions, ReplicationFactor: &rf})
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return td
}

func (d apiTest) partition(t *testing.T, topic string, p int32) metadata.PartitionRecord {
	t.Helper()
	pr, err := d.ctrl().Partition(context.Background(), topic, p, false)
	if err != nil {
		t.Fatalf("partition %s/%d: %v", topic, p, err)
	}
	return pr
}

func TestControllerAPIs(t *testing.T) {
	d := apiTest{t: t, c: testcluster.New(t, testcluster.Options{Kafka: true})}
	t.Run("ApiVersions", d.testAPIVersions)
	t.Run("BrokerRegistration", d.testBrokerRegistration)
	t.Run("BrokerHeartbeat", d.testBrokerHeartbeat)
	t.Run("UnregisterBroker", d.testUnregisterBroker)
	t.Run("AllocateProducerIds", d.testAllocateProducerIDs)
	t.Run("AlterPartition", d.testAlterPartition)
	t.Run("ElectLeaders", d.testElectLeaders)
	t.Run("Reassignments", d.testReassignments)
	t.Run("Configs", d.testConfigs)
	t.Run("Follower", d.testFollower)
	t.Run("RequestChecks", d.testRequestChecks)
}

func (d apiTest) testBrokerRegistration(t *testing.T) {
	if e := d.register(t, 10); e != 0 {
		t.Fatalf("first registration's epoch = %d, want 0", e)
	}
	b := d.broker(t, 10)
	if b.BrokerHost != "127.0.0.1" || b.BrokerPort != "9010" || b.SecurityProtocol != "PLAINTEXT" || b.BrokerStatus != metadata.StatusAlive {
		t.Fatalf("registered broker = %+v", b)
	}

	base := func() *kmsg.BrokerRegistrationRequest {
		req := kmsg.NewPtrBrokerRegistrationRequest()
		req.Version = 3
		req.BrokerID, req.ClusterID = 11, d.ctrl().ClusterID()
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port, l.SecurityProtocol = "SSL", "b11.example", 9093, 1
		req.Listeners = append(req.Listeners, l)
		rack := "r1"
		req.Rack = &rack
		return req
	}
	cases := []struct {
		name string
		edit func(*kmsg.BrokerRegistrationRequest)
		want int16
	}{
		{"other cluster", func(r *kmsg.BrokerRegistrationRequest) { r.ClusterID = "another" }, 104},
		{"no listener", func(r *kmsg.BrokerRegistrationRequest) { r.Listeners = nil }, 42},
		{"unknown protocol", func(r *kmsg.BrokerRegistrationRequest) { r.Listeners[0].SecurityProtocol = 9 }, 42},
		{"bad host", func(r *kmsg.BrokerRegistrationRequest) { r.Listeners[0].Host = "" }, 42},
		{"already registered", func(r *kmsg.BrokerRegistrationRequest) { r.BrokerID = 10 }, 101},
	}
	for _, tc := range cases {
		req := base()
		tc.edit(req)
		resp := serve[*kmsg.BrokerRegistrationResponse](t, d, req)
		if resp.ErrorCode != tc.want || resp.BrokerEpoch != -1 {
			t.Errorf("%s: error %d epoch %d, want error %d epoch -1", tc.name, resp.ErrorCode, resp.BrokerEpoch, tc.want)
		}
	}
	resp := serve[*kmsg.BrokerRegistrationResponse](t, d, base())
	if resp.ErrorCode != 0 {
		t.Fatalf("register 11 (v3, SSL, rack): error %d", resp.ErrorCode)
	}
	if b := d.broker(t, 11); b.BrokerHost != "b11.example" || b.BrokerPort != "9093" || b.SecurityProtocol != "SSL" || b.RackID != "r1" {
		t.Fatalf("registered broker 11 = %+v", b)
	}

	// A restarted broker whose old session ended (FENCED) registers
	// again: its new address and a newer epoch, still FENCED until its
	// heartbeat shows it caught up. Another rack is another broker.
	d.setStatus(t, 11, metadata.StatusFenced)
	old := d.broker(t, 11)
	req := base()
	req.Listeners[0].Port = 9094
	resp = serve[*kmsg.BrokerRegistrationResponse](t, d, req)
	if resp.ErrorCode != 0 || resp.BrokerEpoch <= old.Epoch {
		t.Fatalf("re-registration of a fenced broker: %+v, want a newer epoch than %d", resp, old.Epoch)
	}
	if b := d.broker(t, 11); b.BrokerPort != "9094" || b.BrokerStatus != metadata.StatusFenced || b.Epoch != resp.BrokerEpoch {
		t.Fatalf("re-registered broker 11 = %+v", b)
	}
	if hb := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(11, resp.BrokerEpoch, 1<<40)); hb.ErrorCode != 0 || hb.IsFenced {
		t.Fatalf("heartbeat after re-registration: %+v, want unfenced", hb)
	}
	d.setStatus(t, 11, metadata.StatusFenced)
	other := "r2"
	req.Rack = &other
	if resp := serve[*kmsg.BrokerRegistrationResponse](t, d, req); resp.ErrorCode != 101 {
		t.Fatalf("re-registration with another rack: %+v, want 101", resp)
	}
}

func heartbeat(id int32, epoch, offset int64) *kmsg.BrokerHeartbeatRequest {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = id, epoch, offset
	return req
}

func (d apiTest) testBrokerHeartbeat(t *testing.T) {
	epoch := d.register(t, 20)
	const far = 1 << 40 // an offset past anything the test writes

	resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(20, epoch, far))
	if resp.ErrorCode != 0 || resp.IsFenced || !resp.IsCaughtUp || resp.ShouldShutdown {
		t.Fatalf("heartbeat of an ALIVE broker = %+v", resp)
	}
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(20, epoch, 0)); resp.ErrorCode != 0 || resp.IsCaughtUp {
		t.Fatalf("heartbeat from offset 0 = %+v, want not caught up", resp)
	}
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(29, 0, far)); resp.ErrorCode != 102 || !resp.IsFenced {
		t.Fatalf("heartbeat of an unknown broker = %+v, want 102", resp)
	}
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(20, epoch+5, far)); resp.ErrorCode != 77 {
		t.Fatalf("heartbeat at a future epoch = %+v, want 77", resp)
	}

	// WantFence fences; a later plain heartbeat, caught up, unfences.
	req := heartbeat(20, epoch, far)
	req.WantFence = true
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, req); resp.ErrorCode != 0 || !resp.IsFenced || !resp.IsCaughtUp {
		t.Fatalf("WantFence heartbeat = %+v", resp)
	}
	if b := d.broker(t, 20); b.BrokerStatus != metadata.StatusFenced {
		t.Fatalf("after WantFence broker is %s", b.BrokerStatus)
	}
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(20, epoch, 0)); resp.ErrorCode != 0 || !resp.IsFenced {
		t.Fatalf("heartbeat of a fenced broker not caught up = %+v, want still fenced", resp)
	}
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(20, epoch, far)); resp.ErrorCode != 0 || resp.IsFenced {
		t.Fatalf("caught-up heartbeat of a fenced broker = %+v, want unfenced", resp)
	}
	if b := d.broker(t, 20); b.BrokerStatus != metadata.StatusAlive {
		t.Fatalf("after unfencing broker is %s", b.BrokerStatus)
	}

	// WantShutdown: leadership moves off, the broker is fenced and told
	// to stop.
	d.register(t, 21)
	d.createTopic(t, "hb-shutdown", 4, 2)
	req = heartbeat(20, epoch, far)
	req.WantShutdown = true
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, req); resp.ErrorCode != 0 || !resp.IsFenced || !resp.ShouldShutdown {
		t.Fatalf("WantShutdown heartbeat = %+v", resp)
	}
	for p := range int32(4) {
		if pr := d.partition(t, "hb-shutdown", p); pr.Leader == 20 || slices.Contains(pr.ISR, 20) && len(pr.ISR) > 1 {
			t.Errorf("after shutdown partition %d = %+v still led or followed by 20", p, pr)
		}
	}
	// The broker's registration moved on: an old epoch is still its own.
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(20, epoch, far)); resp.ErrorCode != 0 {
		t.Fatalf("heartbeat after shutdown = %+v", resp)
	}

	// Unregistered: its registration is over.
	if _, _, err := d.ctrl().UnregisterBroker(context.Background(), 21); err != nil {
		t.Fatal(err)
	}
	if resp := serve[*kmsg.BrokerHeartbeatResponse](t, d, heartbeat(21, 0, far)); resp.ErrorCode != 77 {
		t.Fatalf("heartbeat of an unregistered broker = %+v, want 77", resp)
	}
}

func (d apiTest) testUnregisterBroker(t *testing.T) {
	d.register(t, 30)
	unregister := func(id int32) *kmsg.UnregisterBrokerResponse {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		return serve[*kmsg.UnregisterBrokerResponse](t, d, req)
	}
	if resp := unregister(30); resp.ErrorCode != 0 {
		t.Fatalf("unregister 30: %+v", resp)
	}
	if b := d.broker(t, 30); b.BrokerStatus != metadata.StatusClosed {
		t.Fatalf("after unregister broker is %s", b.BrokerStatus)
	}
	if resp := unregister(30); resp.ErrorCode != 102 {
		t.Fatalf("unregister 30 again: %+v, want 102", resp)
	}
	if resp := unregister(39); resp.ErrorCode != 102 || resp.ErrorMessage == nil {
		t.Fatalf("unregister an unknown broker: %+v, want 102 with a message", resp)
	}
	// It may register again, at a newer epoch.
	if e := d.register(t, 30); e <= 0 {
		t.Fatalf("re-registration epoch %d, want > 0", e)
	}
}

func (d apiTest) testAllocateProducerIDs(t *testing.T) {
	epoch := d.register(t, 40)
	alloc := func(id int32, epoch int64) *kmsg.AllocateProducerIDsResponse {
		req := kmsg.NewPtrAllocateProducerIDsRequest()
		req.BrokerID, req.BrokerEpoch = id, epoch
		return serve[*kmsg.AllocateProducerIDsResponse](t, d, req)
	}
	a := alloc(40, epoch)
	b := alloc(40, epoch)
	if a.ErrorCode != 0 || b.ErrorCode != 0 || a.ProducerIDLen != metadata.ProducerIDBlockSize || b.ProducerIDLen != metadata.ProducerIDBlockSize {
		t.Fatalf("allocations: %+v, %+v", a, b)
	}
	if b.ProducerIDStart < a.ProducerIDStart+int64(a.ProducerIDLen) {
		t.Fatalf("blocks overlap: [%d,+%d) and [%d,+%d)", a.ProducerIDStart, a.ProducerIDLen, b.ProducerIDStart, b.ProducerIDLen)
	}
	if r := alloc(49, 0); r.ErrorCode != 102 {
		t.Fatalf("unknown broker: %+v, want 102", r)
	}
	if r := alloc(40, epoch+3); r.ErrorCode != 77 {
		t.Fatalf("future epoch: %+v, want 77", r)
	}
	fenced := metadata.StatusFenced
	if _, _, err := d.ctrl().PatchBroker(context.Background(), 40, contract.PatchBrokerRequest{BrokerStatus: &fenced}); err != nil {
		t.Fatal(err)
	}
	if r := alloc(40, epoch); r.ErrorCode != 8 {
		t.Fatalf("fenced broker: %+v, want 8 (BROKER_NOT_AVAILABLE)", r)
	}
}

func alterPartition(version int16, broker int32, epoch int64, topic string, id [16]byte, p kmsg.AlterPartitionRequestTopicPartition) *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version, req.BrokerID, req.BrokerEpoch = version, broker, epoch
	t := kmsg.NewAlterPartitionRequestTopic()
	t.Topic, t.TopicID = topic, id
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func newISR(partition int32, epoch int64, isr ...int32) kmsg.AlterPartitionRequestTopicPartition {
	p := kmsg.NewAlterPartitionRequestTopicPartition()
	p.Partition, p.PartitionEpoch, p.LeaderEpoch, p.NewISR = partition, int32(epoch), int32(epoch), isr
	return p
}

func (d apiTest) testAlterPartition(t *testing.T) {
	for _, id := range []int32{50, 51, 52} {
		d.register(t, id)
	}
	td := d.createTopic(t, "alter-partition", 1, 3)
	tid := uuid.MustParse(td.Topic.TopicUUID)
	cur := d.partition(t, "alter-partition", 0)
	leader := cur.Leader
	var follower, other int32 = -1, -1
	for _, r := range cur.Replicas {
		if r != leader && follower == -1 {
			follower = r
		} else if r != leader {
			other = r
		}
	}
	one := func(resp *kmsg.AlterPartitionResponse) kmsg.AlterPartitionResponseTopicPartition {
		t.Helper()
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("AlterPartition answer %+v, want one partition", resp)
		}
		return resp.Topics[0].Partitions[0]
	}

	// v0, by name: shrink the ISR to leader and follower.
	got := one(serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(0, leader, -1, "alter-partition", [16]byte{}, newISR(0, cur.PartitionEpoch, leader, follower))))
	if got.ErrorCode != 0 || got.LeaderID != leader || int64(got.PartitionEpoch) != cur.PartitionEpoch+1 || !slices.Equal(got.ISR, []int32{leader, follower}) {
		t.Fatalf("v0 shrink: %+v", got)
	}
	if now := d.partition(t, "alter-partition", 0); !slices.Equal(now.ISR, []int32{leader, follower}) {
		t.Fatalf("ISR after shrink = %v", now.ISR)
	}
	epoch := cur.PartitionEpoch + 1

	// v2, by topic id: grow it back.
	got = one(serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(2, leader, -1, "", tid, newISR(0, epoch, leader, follower, other))))
	if got.ErrorCode != 0 || int64(got.PartitionEpoch) != epoch+1 || len(got.ISR) != 3 {
		t.Fatalf("v2 grow: %+v", got)
	}
	epoch++

	// v3: members with their epochs.
	p3 := kmsg.NewAlterPartitionRequestTopicPartition()
	p3.Partition, p3.PartitionEpoch = 0, int32(epoch)
	for _, id := range []int32{leader, follower} {
		m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		m.BrokerID, m.BrokerEpoch = id, d.broker(t, id).Epoch
		p3.NewEpochISR = append(p3.NewEpochISR, m)
	}
	got = one(serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(3, leader, d.broker(t, leader).Epoch, "", tid, p3)))
	if got.ErrorCode != 0 || !slices.Equal(got.ISR, []int32{leader, follower}) {
		t.Fatalf("v3 shrink: %+v", got)
	}
	epoch++

	p3.NewEpochISR[1].BrokerEpoch += 10
	p3.PartitionEpoch = int32(epoch)
	if got := one(serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(3, leader, -1, "", tid, p3))); got.ErrorCode != 107 {
		t.Fatalf("v3 member at a future epoch: %+v, want 107", got)
	}

	recovering := newISR(0, epoch, leader)
	recovering.LeaderRecoveryState = 1
	cases := []struct {
		name string
		req  *kmsg.AlterPartitionRequest
		want int16
	}{
		{"stale partition epoch", alterPartition(1, leader, -1, "alter-partition", [16]byte{}, newISR(0, epoch-1, leader)), 95},
		{"not the leader", alterPartition(1, follower, -1, "alter-partition", [16]byte{}, newISR(0, epoch, follower)), 6},
		{"unknown topic", alterPartition(1, leader, -1, "no-such-topic", [16]byte{}, newISR(0, epoch, leader)), 3},
		{"unknown partition", alterPartition(1, leader, -1, "alter-partition", [16]byte{}, newISR(7, epoch, leader)), 3},
		{"unknown topic id", alterPartition(2, leader, -1, "", uuid.New(), newISR(0, epoch, leader)), 100},
		{"ISR without the leader", alterPartition(2, leader, -1, "", tid, newISR(0, epoch, follower)), 42},
		{"ISR names an unknown broker", alterPartition(2, leader, -1, "", tid, newISR(0, epoch, leader, 59)), 107},
		{"recovering", alterPartition(1, leader, -1, "alter-partition", [16]byte{}, recovering), 42},
	}
	for _, tc := range cases {
		if got := one(serve[*kmsg.AlterPartitionResponse](t, d, tc.req)); got.ErrorCode != tc.want {
			t.Errorf("%s: error %d, want %d", tc.name, got.ErrorCode, tc.want)
		}
	}
	if resp := serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(0, 58, -1, "alter-partition", [16]byte{}, newISR(0, epoch, leader))); resp.ErrorCode != 102 {
		t.Errorf("unknown sender: top-level error %d, want 102", resp.ErrorCode)
	}
	if resp := serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(0, leader, 1000, "alter-partition", [16]byte{}, newISR(0, epoch, leader))); resp.ErrorCode != 77 {
		t.Errorf("sender at a future epoch: top-level error %d, want 77", resp.ErrorCode)
	}

	// A fenced broker is not eligible.
	fenced := metadata.StatusFenced
	if _, _, err := d.ctrl().PatchBroker(context.Background(), other, contract.PatchBrokerRequest{BrokerStatus: &fenced}); err != nil {
		t.Fatal(err)
	}
	if got := one(serve[*kmsg.AlterPartitionResponse](t, d, alterPartition(1, leader, -1, "alter-partition", [16]byte{}, newISR(0, d.partition(t, "alter-partition", 0).PartitionEpoch, leader, other)))); got.ErrorCode != 107 {
		t.Errorf("ISR with a fenced broker: error %d, want 107", got.ErrorCode)
	}
}

// testRequestChecks covers what the handlers refuse before asking the
// controller.
func (d apiTest) testRequestChecks(t *testing.T) {
	desc := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
	desc.Resources = append(desc.Resources, r)
	if resp := serve[*kmsg.DescribeConfigsResponse](t, d, desc); len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 42 {
		t.Errorf("DescribeConfigs of a broker logger: %+v, want 42", resp.Resources)
	}

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := func(name string, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.Configs = kmsg.ConfigResourceTypeTopic, name, ops
		alter.Resources = append(alter.Resources, r)
	}
	op := func(name string, o kmsg.IncrementalAlterConfigOp) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		v := "1"
		c.Name, c.Op, c.Value = name, o, &v
		return c
	}
	res("twice", op("retention.ms", 0))
	res("twice", op("retention.ms", 0))
	res("bad-op", op("retention.ms", 9))
	res("same-name", op("retention.ms", 0), op("retention.ms", 1))
	resp := serve[*kmsg.IncrementalAlterConfigsResponse](t, d, alter)
	if len(resp.Resources) != 4 {
		t.Fatalf("IncrementalAlterConfigs: %d results, want 4", len(resp.Resources))
	}
	for _, r := range resp.Resources {
		if r.ErrorCode != 42 || r.ErrorMessage == nil {
			t.Errorf("IncrementalAlterConfigs %s: error %d, want 42 with a message", r.ResourceName, r.ErrorCode)
		}
	}

	elect := kmsg.NewPtrElectLeadersRequest()
	elect.Version, elect.ElectionType = 1, 7
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = "x", []int32{0, 1}
	elect.Topics = append(elect.Topics, et)
	if resp := serve[*kmsg.ElectLeadersResponse](t, d, elect); resp.ErrorCode != 42 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 || resp.Topics[0].Partitions[1].ErrorCode != 42 {
		t.Errorf("ElectLeaders of type 7: %+v, want 42 on the request and each partition", resp)
	}
	elect.ElectionType, elect.Topics[0].Partitions = 0, []int32{}
	if resp := serve[*kmsg.ElectLeadersResponse](t, d, elect); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Errorf("ElectLeaders of no partition: %+v, want an empty answer", resp)
	}

	d.createTopic(t, "reassign-checks", 1, 2)
	reassign := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	reassign.Version, reassign.AllowReplicationFactorChange = 1, false
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = "reassign-checks"
	for _, replicas := range [][]int32{{}, {50, 51, 52}} {
		p := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		p.Partition, p.Replicas = 0, replicas
		rt.Partitions = append(rt.Partitions, p)
	}
	reassign.Topics = append(reassign.Topics, rt)
	ra := serve[*kmsg.AlterPartitionAssignmentsResponse](t, d, reassign)
	if len(ra.Topics) != 1 || len(ra.Topics[0].Partitions) != 2 || ra.Topics[0].Partitions[0].ErrorCode != 39 || ra.Topics[0].Partitions[1].ErrorCode != 38 {
		t.Errorf("AlterPartitionReassignments of an empty target and a changed replication factor: %+v, want 39 and 38", ra)
	}

	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	lt := kmsg.NewListPartitionReassignmentsRequestTopic()
	lt.Topic = "reassign-checks"
	list.Topics = append(list.Topics, lt)
	if resp := serve[*kmsg.ListPartitionReassignmentsResponse](t, d, list); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Errorf("ListPartitionReassignments of no partition: %+v, want an empty answer", resp)
	}
}

// testAPIVersions: ApiVersions advertises every API of this file set at
// the versions documented in docs/kafka.md.
func (d apiTest) testAPIVersions(t *testing.T) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "yakt-test", "1"
	resp := serve[*kmsg.ApiVersionsResponse](t, d, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions: error %d", resp.ErrorCode)
	}
	got := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	want := map[int16][2]int16{32: {0, 4}, 44: {0, 1}, 43: {0, 2}, 45: {0, 1}, 46: {0, 0}, 62: {0, 4}, 63: {0, 2}, 64: {0, 0}, 67: {0, 0}, 56: {0, 3}}
	for key, v := range want {
		if got[key] != v {
			t.Errorf("%s: versions %v, want %v", kmsg.NameForKey(key), got[key], v)
		}
	}
}
