package kafka_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/kafka"
	"github.com/yakt/yakt/internal/testcluster"
)

// startCluster starts a 3-node cluster with a Kafka listener per node
// and waits for its leader and for every node to know every other's
// Kafka address.
func startCluster(t *testing.T) (*testcluster.Cluster, uint64) { return startClusterTB(t) }

// startClusterTB is startCluster for a test or a benchmark; it also
// creates topic "bench" (1 partition).
func startClusterTB(t testing.TB) (*testcluster.Cluster, uint64) {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Kafka: true, BrokerSessionTimeout: time.Hour})
	lead := c.MustLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for id := int32(1); id <= 3; id++ {
		req := contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "b" + strconv.Itoa(int(id)), BrokerPort: contract.PortNumber(9092)}
		if _, _, err := c.Server(lead).Controller.RegisterBroker(ctx, req); err != nil {
			t.Fatalf("register broker %d: %v", id, err)
		}
	}
	one := int32(1)
	if _, _, err := c.Server(lead).Controller.CreateTopic(ctx, contract.CreateTopicRequest{Name: "bench", Partitions: &one, ReplicationFactor: &one}); err != nil {
		t.Fatalf("create topic bench: %v", err)
	}
	for _, id := range c.IDs() {
		for {
			if n := len(c.Server(id).Controller.KafkaNodes()); n == 3 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node %d knows %d Kafka addresses, want 3", id, len(c.Server(id).Controller.KafkaNodes()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return c, lead
}

func follower(c *testcluster.Cluster, lead uint64) uint64 {
	for _, id := range c.IDs() {
		if id != lead {
			return id
		}
	}
	panic("no follower")
}

// One cluster serves every test of the package that needs one: each
// starts three nodes, which is most of a test's time.
var shared struct {
	c    *testcluster.Cluster
	lead uint64
	last uint64 // the node NoLeader leaves running
}

func TestCluster(t *testing.T) {
	shared.c, shared.lead = startCluster(t)
	t.Run("APIVersionsAndMetadata", testAPIVersionsAndMetadata)
	t.Run("Topics", testTopics)
	t.Run("Forwarding", testForwarding)
	t.Run("ProducerIDs", testProducerIDs)
	t.Run("DescribeClusterAndQuorum", testDescribeClusterAndQuorum)
	t.Run("BadFrames", testBadFrames)
	// It stops two nodes.
	t.Run("NoLeader", testNoLeader)
	// Last: its second listener on the surviving node takes over (and at
	// its end clears) the node's handler of forwarded Kafka requests.
	t.Run("Limits", testLimits)
}

func testAPIVersionsAndMetadata(t *testing.T) {
	c, lead := shared.c, shared.lead
	for _, id := range c.IDs() {
		cl := dial(t, c.KafkaAddr(id))
		for v := int16(0); v <= 3; v++ {
			resp := cl.do(kmsg.NewPtrApiVersionsRequest(), v).(*kmsg.ApiVersionsResponse)
			if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
				t.Fatalf("node %d ApiVersions v%d: error %d, %d keys", id, v, resp.ErrorCode, len(resp.ApiKeys))
			}
		}
		for _, v := range []int16{0, 1, 4, 9, 10, 12} {
			resp := cl.do(kmsg.NewPtrMetadataRequest(), v).(*kmsg.MetadataResponse)
			if len(resp.Brokers) != 3 {
				t.Fatalf("node %d Metadata v%d: brokers %+v, want 3", id, v, resp.Brokers)
			}
			for _, b := range resp.Brokers {
				want := c.KafkaAddr(uint64(b.NodeID))
				if got := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))); got != want {
					t.Fatalf("node %d lists broker %d at %s, want %s", id, b.NodeID, got, want)
				}
			}
			if v >= 1 && resp.ControllerID != int32(lead) {
				t.Fatalf("node %d Metadata v%d: controller %d, want leader %d", id, v, resp.ControllerID, lead)
			}
			if v >= 2 && (resp.ClusterID == nil || *resp.ClusterID != "testcluster") {
				t.Fatalf("node %d Metadata v%d: cluster id %v", id, v, resp.ClusterID)
			}
		}
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(fmt.Sprintf("missing-%d", id))
		req.Topics = append(req.Topics, rt)
		resp := cl.do(req, 4).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 3 {
			t.Fatalf("node %d Metadata of a missing topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", id, resp.Topics)
		}
	}
}

func createTopicsReq(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = topics
	req.ValidateOnly = validateOnly
	req.TimeoutMillis = 5000
	return req
}

func topic(name string, partitions int32, rf int16) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	return t
}

func metadataOf(t *testing.T, cl *wireClient, v int16, names ...string) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	return cl.do(req, v).(*kmsg.MetadataResponse)
}

func testTopics(t *testing.T) {
	c, lead := shared.c, shared.lead
	cl := dial(t, c.KafkaAddr(lead))
	assign := topic("k-assigned", -1, -1)
	for p, reps := range [][]int32{{1, 2}, {2, 3}, {3, 1}} {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), reps
		assign.ReplicaAssignment = append(assign.ReplicaAssignment, a)
	}
	resp := cl.do(createTopicsReq(false,
		topic("k-one", 3, 2), topic("k-defaults", -1, -1), assign,
		topic("k-dup", 1, 1), topic("k-dup", 1, 1),
		topic("k-rf", 1, 4), topic("k-zero", 0, 1), topic("bad/name", 1, 1),
	), 7).(*kmsg.CreateTopicsResponse)
	want := map[string]int16{"k-one": 0, "k-defaults": 0, "k-assigned": 0, "k-dup": 42, "k-rf": 38, "k-zero": 37, "bad/name": 17}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != want[rt.Topic] {
			t.Errorf("CreateTopics %s: error %d (%v), want %d", rt.Topic, rt.ErrorCode, rt.ErrorMessage, want[rt.Topic])
		}
		if rt.ErrorCode == 0 && rt.TopicID == [16]byte{} {
			t.Errorf("CreateTopics %s: no topic id", rt.Topic)
		}
	}
	if len(resp.Topics) != 8 {
		t.Fatalf("CreateTopics answered %d topics, want 8", len(resp.Topics))
	}
	again := cl.do(createTopicsReq(false, topic("k-one", 1, 1)), 4).(*kmsg.CreateTopicsResponse)
	if again.Topics[0].ErrorCode != 36 {
		t.Fatalf("second create: error %d, want TOPIC_ALREADY_EXISTS", again.Topics[0].ErrorCode)
	}
	// Configs go in with the topic; a bad one refuses the whole topic.
	withCfg := func(name, key, value string) kmsg.CreateTopicsRequestTopic {
		tp := topic(name, 1, 1)
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = key, &value
		tp.Configs = append(tp.Configs, cfg)
		return tp
	}
	cfgResp := cl.do(createTopicsReq(false, withCfg("k-compact", "cleanup.policy", "compact"),
		withCfg("k-badcfg", "retention.ms", "soon"), withCfg("k-unknowncfg", "no.such.key", "1")), 7).(*kmsg.CreateTopicsResponse)
	wantCfg := map[string]int16{"k-compact": 0, "k-badcfg": 40, "k-unknowncfg": 40}
	for _, rt := range cfgResp.Topics {
		if rt.ErrorCode != wantCfg[rt.Topic] {
			t.Errorf("CreateTopics with configs %s: error %d (%v), want %d", rt.Topic, rt.ErrorCode, rt.ErrorMessage, wantCfg[rt.Topic])
		}
	}
	rc, err := c.Server(lead).Controller.DescribeConfigs(context.Background(),
		contract.ConfigResource{Type: contract.ConfigResourceTopic, Name: "k-compact"}, []string{"cleanup.policy"}, false)
	if err != nil || len(rc.Configs) != 1 || rc.Configs[0].Value == nil || *rc.Configs[0].Value != "compact" ||
		rc.Configs[0].Source != contract.ConfigSourceTopic {
		t.Fatalf("k-compact's cleanup.policy after CreateTopics: %+v, %v", rc.Configs, err)
	}
	if _, err := c.Server(lead).Controller.Topic(context.Background(), "k-badcfg", false); contract.CodeOf(err) != contract.CodeTopicNotFound {
		t.Fatalf("a topic whose config was refused exists: %v", err)
	}

	vo := cl.do(createTopicsReq(true, topic("k-validated", 2, 1)), 5).(*kmsg.CreateTopicsResponse)
	if vo.Topics[0].ErrorCode != 0 || vo.Topics[0].NumPartitions != 2 {
		t.Fatalf("validateOnly create: %+v", vo.Topics[0])
	}

	// From a follower, after the create was answered: the read barrier
	// makes every node list what was created.
	fl := dial(t, c.KafkaAddr(follower(c, lead)))
	md := metadataOf(t, fl, 12, "k-one", "k-defaults", "k-assigned", "k-validated")
	got := map[string]kmsg.MetadataResponseTopic{}
	for _, mt := range md.Topics {
		got[*mt.Topic] = mt
	}
	if n := len(got["k-one"].Partitions); n != 3 || got["k-one"].ErrorCode != 0 {
		t.Fatalf("k-one from a follower: %d partitions, error %d", n, got["k-one"].ErrorCode)
	}
	if rf := len(got["k-one"].Partitions[0].Replicas); rf != 2 {
		t.Fatalf("k-one replication factor %d, want 2", rf)
	}
	if n := len(got["k-defaults"].Partitions); n != 1 || len(got["k-defaults"].Partitions[0].Replicas) != 3 {
		t.Fatalf("k-defaults: %+v, want 1 partition of 3 replicas", got["k-defaults"].Partitions)
	}
	for _, p := range got["k-assigned"].Partitions {
		if want := assign.ReplicaAssignment[p.Partition].Replicas; fmt.Sprint(p.Replicas) != fmt.Sprint(want) || p.Leader != want[0] {
			t.Fatalf("k-assigned partition %d: replicas %v leader %d, want %v", p.Partition, p.Replicas, p.Leader, want)
		}
	}
	if got["k-validated"].ErrorCode != 3 {
		t.Fatalf("a validateOnly topic exists: error %d", got["k-validated"].ErrorCode)
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	for _, x := range []struct {
		name  string
		count int32
	}{{"k-one", 5}, {"k-defaults", 1}, {"k-missing", 2}} {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = x.name, x.count
		cp.Topics = append(cp.Topics, rt)
	}
	cpr := fl.do(cp, 3).(*kmsg.CreatePartitionsResponse)
	wantCP := map[string]int16{"k-one": 0, "k-defaults": 37, "k-missing": 3}
	for _, rt := range cpr.Topics {
		if rt.ErrorCode != wantCP[rt.Topic] {
			t.Errorf("CreatePartitions %s: error %d (%v), want %d", rt.Topic, rt.ErrorCode, rt.ErrorMessage, wantCP[rt.Topic])
		}
	}
	md = metadataOf(t, cl, 4, "k-one")
	if n := len(md.Topics[0].Partitions); n != 5 {
		t.Fatalf("k-one after CreatePartitions: %d partitions, want 5", n)
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TopicNames = []string{"k-one", "k-missing"}
	dr := fl.do(del, 4).(*kmsg.DeleteTopicsResponse)
	wantDel := map[string]int16{"k-one": 0, "k-missing": 3}
	for _, rt := range dr.Topics {
		if rt.ErrorCode != wantDel[*rt.Topic] {
			t.Errorf("DeleteTopics %s: error %d, want %d", *rt.Topic, rt.ErrorCode, wantDel[*rt.Topic])
		}
	}
	// By id (v6).
	id := got["k-defaults"].TopicID
	del6 := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.TopicID = id
	del6.Topics = append(del6.Topics, dt)
	dr6 := cl.do(del6, 6).(*kmsg.DeleteTopicsResponse)
	if dr6.Topics[0].ErrorCode != 0 || dr6.Topics[0].Topic == nil || *dr6.Topics[0].Topic != "k-defaults" {
		t.Fatalf("DeleteTopics by id: %+v", dr6.Topics[0])
	}
	md = metadataOf(t, fl, 1, "k-one", "k-defaults")
	for _, mt := range md.Topics {
		if mt.ErrorCode != 3 {
			t.Fatalf("deleted topic %s still listed (error %d)", *mt.Topic, mt.ErrorCode)
		}
	}
}

// testForwarding: a follower forwards the controller's requests, and
// pipelined requests are answered in order while some wait on the leader.
func testForwarding(t *testing.T) {
	c, lead := shared.c, shared.lead
	fl := dial(t, c.KafkaAddr(follower(c, lead)))
	var reqs []kmsg.Request
	var corrs []int32
	for i := range 6 {
		var req kmsg.Request
		if i%2 == 0 {
			r := createTopicsReq(false, topic(fmt.Sprintf("k-pipe-%d", i), 1, 1))
			r.SetVersion(5)
			req = r
		} else {
			r := kmsg.NewPtrMetadataRequest()
			r.SetVersion(9)
			req = r
		}
		reqs = append(reqs, req)
		corrs = append(corrs, fl.send(req))
	}
	for i, req := range reqs {
		resp, err := fl.recv(req, corrs[i])
		if err != nil {
			t.Fatalf("pipelined request %d: %v", i, err)
		}
		if ct, ok := resp.(*kmsg.CreateTopicsResponse); ok && ct.Topics[0].ErrorCode != 0 {
			t.Fatalf("forwarded create %d: error %d", i, ct.Topics[0].ErrorCode)
		}
	}
}

func testProducerIDs(t *testing.T) {
	c, lead := shared.c, shared.lead
	seen := map[int64]bool{}
	for _, id := range c.IDs() {
		cl := dial(t, c.KafkaAddr(id))
		for v := int16(0); v <= 4; v++ {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.ProducerID, req.ProducerEpoch = -1, -1
			resp := cl.do(req, v).(*kmsg.InitProducerIDResponse)
			if resp.ErrorCode != 0 || resp.ProducerID < 0 || seen[resp.ProducerID] {
				t.Fatalf("node %d InitProducerId v%d: error %d id %d (seen %v)", id, v, resp.ErrorCode, resp.ProducerID, seen[resp.ProducerID])
			}
			seen[resp.ProducerID] = true
		}
		txn := kmsg.NewPtrInitProducerIDRequest()
		txn.TransactionalID = kmsg.StringPtr("txn")
		if resp := cl.do(txn, 1).(*kmsg.InitProducerIDResponse); resp.ErrorCode != 42 {
			t.Fatalf("transactional InitProducerId: error %d, want INVALID_REQUEST", resp.ErrorCode)
		}
	}
	img, err := c.Server(lead).Controller.Image(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	blocks := img.ProducerIDs().Blocks
	if len(blocks) != 1 || blocks[0].BrokerID != -1 || blocks[0].BrokerEpoch != int64(lead) {
		t.Fatalf("producer id blocks %+v, want one of the leader's", blocks)
	}
}

func testDescribeClusterAndQuorum(t *testing.T) {
	c, lead := shared.c, shared.lead
	for _, id := range c.IDs() {
		cl := dial(t, c.KafkaAddr(id))
		for v := int16(0); v <= 1; v++ {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.EndpointType = 1
			resp := cl.do(req, v).(*kmsg.DescribeClusterResponse)
			if resp.ErrorCode != 0 || resp.ClusterID != "testcluster" || resp.ControllerID != int32(lead) || len(resp.Brokers) != 3 {
				t.Fatalf("node %d DescribeCluster v%d: %+v", id, v, resp)
			}
		}
		for v := int16(0); v <= 2; v++ {
			req := kmsg.NewPtrDescribeQuorumRequest()
			rt := kmsg.NewDescribeQuorumRequestTopic()
			rt.Topic = "__cluster_metadata"
			rp := kmsg.NewDescribeQuorumRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := cl.do(req, v).(*kmsg.DescribeQuorumResponse)
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.LeaderID != int32(lead) || len(p.CurrentVoters) != 3 || p.HighWatermark <= 0 {
				t.Fatalf("node %d DescribeQuorum v%d: %+v", id, v, p)
			}
			if v >= 2 && len(resp.Nodes) != 3 {
				t.Fatalf("node %d DescribeQuorum v2: nodes %+v", id, resp.Nodes)
			}
		}
	}
}

// testNoLeader: after the leader is killed, a follower's CreateTopics
// succeeds once a new leader is elected (answered NOT_CONTROLLER, or its
// connection closed, until then, which clients retry); with two of three
// nodes down, the last one answers NOT_CONTROLLER (41), and Metadata
// still lists the cluster, with no controller.
func testNoLeader(t *testing.T) {
	c, lead := shared.c, shared.lead
	last := c.IDs()[0]
	if last == lead {
		last = c.IDs()[1]
	}
	shared.last = last
	c.Kill(lead)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		cl := dial(t, c.KafkaAddr(last))
		req := createTopicsReq(false, topic("k-after-failover", 1, 1))
		req.SetVersion(4)
		resp, err := cl.recv(req, cl.send(req))
		code := int16(-100)
		if err == nil {
			code = resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
		}
		if code == 0 || code == 36 && attempt > 0 {
			break
		}
		if ctx.Err() != nil || err == nil && code != 41 {
			t.Fatalf("create after the leader died: error %d, %v", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range c.IDs() {
		if id != last && id != lead {
			c.Kill(id)
		}
	}
	for c.Server(last).Controller.Leader() != 0 {
		if ctx.Err() != nil {
			t.Fatal("the last node still knows a leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cl := dial(t, c.KafkaAddr(last))
	resp := cl.do(createTopicsReq(false, topic("k-noleader", 1, 1)), 4).(*kmsg.CreateTopicsResponse)
	if resp.Topics[0].ErrorCode != 41 {
		t.Fatalf("create without a leader: error %d, want NOT_CONTROLLER", resp.Topics[0].ErrorCode)
	}
	md := metadataOf(t, cl, 4)
	if md.ControllerID != -1 || len(md.Brokers) == 0 {
		t.Fatalf("Metadata without a leader: controller %d, %d brokers", md.ControllerID, len(md.Brokers))
	}
}

// testLimits: a connection beyond MaxConnections is closed at once, an
// idle one after IdleTimeout, and Close ends Serve and every connection.
func testLimits(t *testing.T) {
	c, node := shared.c, shared.last
	if node == 0 { // run alone
		node = shared.lead
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := kafka.New(kafka.Config{Controller: c.Server(node).Controller, Listener: ln, MaxConnections: 1, IdleTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	first := dial(t, ln.Addr().String())
	first.do(kmsg.NewPtrApiVersionsRequest(), 3) // counted before the second dials
	if err := dial(t, ln.Addr().String()).closed(); err != nil {
		t.Fatalf("a connection beyond MaxConnections: %v", err)
	}
	start := time.Now()
	if err := first.closed(); err != nil {
		t.Fatalf("an idle connection: %v", err)
	}
	if idle := time.Since(start); idle < 400*time.Millisecond {
		t.Fatalf("an idle connection closed after %v, before IdleTimeout", idle)
	}
	// The idle connection's slot is freed once its goroutines are done.
	var open *wireClient
	for deadline := time.Now().Add(10 * time.Second); ; {
		open = dial(t, ln.Addr().String())
		req := kmsg.NewPtrApiVersionsRequest()
		_, err := open.conn.Write(frame(req, 1, nil))
		if err == nil {
			if _, err = open.recv(req, 1); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after the idle one closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := open.closed(); err != nil {
		t.Fatalf("a connection after Close: %v", err)
	}
}
