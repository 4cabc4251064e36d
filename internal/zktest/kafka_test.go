package zktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestKafka shares one server between the writer's checks (each under a
// chroot of its own).
func TestKafka(t *testing.T) {
	t.Parallel()
	s := Start(t)
	t.Run("Formats", func(t *testing.T) { testFormats(t, s) })
	t.Run("ReadBack", func(t *testing.T) { testReadBack(t, s) })
	t.Run("Fencing", func(t *testing.T) { testFencing(t, s) })
	t.Run("Populate", func(t *testing.T) { testPopulate(t, s) })
}

func get(t *testing.T, c *zk.Conn, path string) ([]byte, *zk.Stat) {
	t.Helper()
	data, st, err := c.Get(path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return data, st
}

// testFormats checks the bytes written against JSON spelled out by hand
// from Kafka 3.x's ZkData encoders, and the znodes' modes.
func testFormats(t *testing.T, s *Server) {
	k := NewKafka(t, s.Addr(), "/formats")
	k.ControllerID = 2
	if err := k.Bootstrap("Zx1y2z3AQ6mVxZ0cf_4n1A"); err != nil {
		t.Fatal(err)
	}
	c := k.Conn()
	for _, p := range persistentPaths {
		if data, st := get(t, c, "/formats"+p); len(data) != 0 || st.EphemeralOwner != 0 {
			t.Errorf("%s: data %q, ephemeral owner %x; want an empty persistent znode", p, data, st.EphemeralOwner)
		}
	}
	if data, _ := get(t, c, "/formats/cluster/id"); string(data) != `{"version":"1","id":"Zx1y2z3AQ6mVxZ0cf_4n1A"}` {
		t.Errorf("/cluster/id = %s", data)
	}
	if data, st := get(t, c, "/formats/controller_epoch"); string(data) != "1" || st.Version != 1 {
		t.Errorf("/controller_epoch = %q version %d; want 1 version 1", data, st.Version)
	}
	data, st := get(t, c, "/formats/controller")
	var ctl map[string]any
	if err := json.Unmarshal(data, &ctl); err != nil {
		t.Fatalf("/controller: %v", err)
	}
	if ctl["version"] != 2.0 || ctl["brokerid"] != 2.0 || ctl["kraftControllerEpoch"] != -1.0 || st.EphemeralOwner != c.SessionID() {
		t.Errorf("/controller = %s (owner %x); want version 2, brokerid 2, kraftControllerEpoch -1, ephemeral on the controller's session", data, st.EphemeralOwner)
	}
	if _, ok := ctl["timestamp"].(string); !ok {
		t.Errorf("/controller timestamp is not a string: %s", data)
	}

	epoch, err := k.RegisterBroker(2, "kafka-2.example", 9093, "eu-1a")
	if err != nil {
		t.Fatal(err)
	}
	data, st = get(t, c, "/formats/brokers/ids/2")
	if st.EphemeralOwner == 0 || st.EphemeralOwner == c.SessionID() || st.Czxid != epoch {
		t.Errorf("/brokers/ids/2: owner %x czxid %d; want ephemeral on the broker's own session, czxid = epoch %d", st.EphemeralOwner, st.Czxid, epoch)
	}
	var broker map[string]any
	if err := json.Unmarshal(data, &broker); err != nil {
		t.Fatal(err)
	}
	ts, _ := broker["timestamp"].(string)
	delete(broker, "timestamp")
	want := map[string]any{
		"version": 5.0, "host": "kafka-2.example", "port": 9093.0, "jmx_port": -1.0, "rack": "eu-1a",
		"endpoints":                      []any{"PLAINTEXT://kafka-2.example:9093"},
		"listener_security_protocol_map": map[string]any{"PLAINTEXT": "PLAINTEXT"},
		"features":                       map[string]any{},
	}
	if !reflect.DeepEqual(broker, want) || ts == "" {
		t.Errorf("/brokers/ids/2 = %s", data)
	}
	if _, err := k.RegisterBroker(3, "kafka-3.example", 9092, ""); err != nil {
		t.Fatal(err)
	}
	if data, _ := get(t, c, "/formats/brokers/ids/3"); strings.Contains(string(data), "rack") {
		t.Errorf("a broker without rack has a rack key: %s", data)
	}

	const id = "4c0e6e4f-3f9a-4b51-9d3c-8b2a1f0e5d7c"
	kid, err := KafkaTopicID(id)
	if err != nil || kid != "TA5uTz-aS1GdPIsqHw5dfA" {
		t.Fatalf("KafkaTopicID = %q, %v", kid, err)
	}
	if back, err := CanonicalTopicID(kid); err != nil || back != id {
		t.Fatalf("CanonicalTopicID(%q) = %q, %v", kid, back, err)
	}
	// Replica 1 is not registered: broker 3 leads partition 0, 1 is out
	// of the ISR; partition 1 has no live replica and so no state.
	if err := k.CreateTopic("orders", id, map[int32][]int32{0: {1, 3, 2}, 1: {1}}); err != nil {
		t.Fatal(err)
	}
	if data, _ := get(t, c, "/formats/brokers/topics/orders"); string(data) !=
		`{"partitions":{"0":[1,3,2],"1":[1]},"topic_id":"TA5uTz-aS1GdPIsqHw5dfA","adding_replicas":{},"removing_replicas":{},"version":3}` {
		t.Errorf("topic znode = %s", data)
	}
	if data, _ := get(t, c, "/formats/config/topics/orders"); string(data) != `{"version":1,"config":{}}` {
		t.Errorf("topic config = %s", data)
	}
	if data, st := get(t, c, "/formats/brokers/topics/orders/partitions/0/state"); string(data) !=
		`{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":0,"isr":[3,2]}` || st.Version != 0 {
		t.Errorf("partition 0 state = %s version %d", data, st.Version)
	}
	if data, _ := get(t, c, "/formats/brokers/topics/orders/partitions"); len(data) != 0 {
		t.Errorf("/partitions has data %q", data)
	}
	if ok, _, _ := c.Exists("/formats/brokers/topics/orders/partitions/1/state"); ok {
		t.Error("partition 1 without a live replica has a state znode")
	}
	if ok, _, _ := c.Exists("/formats/brokers/topics/orders/partitions/1"); !ok {
		t.Error("partition 1's znode is missing")
	}

	if err := k.SetTopicConfig("orders", map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	if data, _ := get(t, c, "/formats/config/topics/orders"); string(data) != `{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"1000"}}` {
		t.Errorf("topic config = %s", data)
	}
	if data, _ := get(t, c, "/formats/config/changes/config_change_0000000000"); string(data) != `{"version":2,"entity_path":"topics/orders"}` {
		t.Errorf("config change notification = %s", data)
	}

	if start, end, err := k.AllocateProducerIDBlock(2); err != nil || start != 0 || end != 999 {
		t.Fatalf("first block = %d-%d, %v; want 0-999", start, end, err)
	}
	if start, end, err := k.AllocateProducerIDBlock(3); err != nil || start != 1000 || end != 1999 {
		t.Fatalf("second block = %d-%d, %v; want 1000-1999", start, end, err)
	}
	if data, _ := get(t, c, "/formats/latest_producer_id_block"); string(data) != `{"version":1,"broker":3,"block_start":"1000","block_end":"1999"}` {
		t.Errorf("producer id block = %s", data)
	}

	if err := k.MarkTopicForDeletion("orders"); err != nil {
		t.Fatal(err)
	}
	if data, st := get(t, c, "/formats/admin/delete_topics/orders"); len(data) != 0 || st.EphemeralOwner != 0 {
		t.Errorf("deletion mark: %q owner %x", data, st.EphemeralOwner)
	}
}

// testReadBack writes a small cluster and reads it back through View.
func testReadBack(t *testing.T, s *Server) {
	k := NewKafka(t, s.Addr(), "/readback")
	k.ControllerID = 1
	if err := k.Bootstrap("readback-cluster"); err != nil {
		t.Fatal(err)
	}
	epochs := map[int32]int64{}
	for id := int32(1); id <= 4; id++ {
		e, err := k.RegisterBroker(id, fmt.Sprintf("b%d", id), 9000+id, fmt.Sprintf("r%d", id%2))
		if err != nil {
			t.Fatal(err)
		}
		epochs[id] = e
	}
	const idA, idB = "00000000-0000-4000-8000-000000000001", "5a0b6c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"
	if err := k.CreateTopic("a", idA, map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	if err := k.CreateTopic("b", idB, map[int32][]int32{0: {4}}); err != nil {
		t.Fatal(err)
	}
	// An ISR change keeps the leader epoch; a leader change raises it.
	if v, err := k.SetLeaderAndISR("a", 0, 1, []int32{1, 2}); err != nil || v != 1 {
		t.Fatalf("shrink ISR: version %d, %v; want 1", v, err)
	}
	if v, err := k.SetLeaderAndISR("a", 0, 2, []int32{2}); err != nil || v != 2 {
		t.Fatalf("new leader: version %d, %v; want 2", v, err)
	}
	if err := k.AddPartitions("a", map[int32][]int32{2: {3, 4, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := k.AddPartitions("a", map[int32][]int32{1: {1}}); err == nil {
		t.Fatal("AddPartitions accepted an existing partition")
	}
	// Partition 1 moves from 2,3,4 to 1,3,4: mid-way the replicas are the
	// union, 1 being added and 2 removed.
	if err := k.ReassignPartition("a", 1, []int32{1, 3, 4, 2}, []int32{1}, []int32{2}); err != nil {
		t.Fatal(err)
	}
	if data, _ := get(t, k.Conn(), k.Path("/brokers/topics/a")); !strings.Contains(string(data),
		`"adding_replicas":{"1":[1]},"removing_replicas":{"1":[2]}`) || !strings.Contains(string(data), `"1":[1,3,4,2]`) {
		t.Errorf("topic znode mid-reassignment: %s", data)
	}
	if err := k.SetTopicConfig("b", map[string]string{"segment.bytes": "1048576"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.AllocateProducerIDBlock(3); err != nil {
		t.Fatal(err)
	}
	if err := k.UnregisterBroker(4); err != nil {
		t.Fatal(err)
	}
	if err := k.UpdateBroker(3, "b3-new", 9999, ""); err != nil {
		t.Fatal(err)
	}

	v, err := ReadViewAt(context.Background(), s.Addr(), "/readback")
	if err != nil {
		t.Fatal(err)
	}
	if v.ClusterID != "readback-cluster" || v.ControllerEpoch != 1 || v.Controller != 1 || v.ProducerIDBlockEnd != 999 {
		t.Errorf("cluster: id %q, controller %d epoch %d, producer ids to %d", v.ClusterID, v.Controller, v.ControllerEpoch, v.ProducerIDBlockEnd)
	}
	if len(v.Brokers) != 3 {
		t.Errorf("brokers %v; want 1-3 (4 unregistered)", v.Brokers)
	}
	for id := int32(1); id <= 3; id++ {
		b := v.Brokers[id]
		host, port, rack := fmt.Sprintf("b%d", id), 9000+id, fmt.Sprintf("r%d", id%2)
		if id == 3 {
			host, port, rack = "b3-new", 9999, "" // updated in place: same epoch
		}
		want := Broker{ID: id, Version: 5, Host: host, Port: port, SecurityProtocol: "PLAINTEXT",
			Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", host, port}}, Rack: rack, Czxid: epochs[id]}
		if !reflect.DeepEqual(b, want) {
			t.Errorf("broker %d = %+v; want %+v", id, b, want)
		}
	}
	a, b := v.Topics["a"], v.Topics["b"]
	if a.ID != idA || b.ID != idB || a.Version != 3 || len(v.Topics) != 2 {
		t.Fatalf("topics %+v", v.Topics)
	}
	wantA := map[int32]Partition{
		0: {Replicas: []int32{1, 2, 3}, HasState: true, Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ControllerEpoch: 1, StateVersion: 2},
		1: {Replicas: []int32{1, 3, 4, 2}, Adding: []int32{1}, Removing: []int32{2}, HasState: true, Leader: 2, ISR: []int32{2, 3, 4}, ControllerEpoch: 1},
		2: {Replicas: []int32{3, 4, 1}, HasState: true, Leader: 3, ISR: []int32{3, 4, 1}, ControllerEpoch: 1},
	}
	if !reflect.DeepEqual(a.Partitions, wantA) {
		t.Errorf("topic a partitions = %+v; want %+v", a.Partitions, wantA)
	}
	if !reflect.DeepEqual(b.Config, map[string]string{"segment.bytes": "1048576"}) || !reflect.DeepEqual(a.Config, map[string]string{}) {
		t.Errorf("configs: a %v, b %v", a.Config, b.Config)
	}
	if v.MaxZxid == 0 {
		t.Error("no zxid seen")
	}

	// View names the znode it cannot parse.
	if err := k.WriteRaw("/brokers/topics/bad", []byte(`{"version":3,"partitions":`)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadView(context.Background(), k.Conn(), "/readback"); err == nil || !strings.Contains(err.Error(), "/readback/brokers/topics/bad") {
		t.Fatalf("view of a malformed topic znode: %v", err)
	}
	if err := k.Conn().Delete(k.Path("/brokers/topics/bad"), -1); err != nil {
		t.Fatal(err)
	}

	if err := k.MarkTopicForDeletion("b"); err != nil {
		t.Fatal(err)
	}
	if v, err = ReadView(context.Background(), k.Conn(), "/readback"); err != nil || !v.Deleting["b"] || len(v.Topics) != 2 {
		t.Fatalf("marked for deletion: %v, deleting %v, %d topics", err, v.Deleting, len(v.Topics))
	}
	before := v.MaxZxid
	if err := k.DeleteTopic("b"); err != nil {
		t.Fatal(err)
	}
	if v, err = ReadView(context.Background(), k.Conn(), "/readback"); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.Topics["b"]; ok || len(v.Deleting) != 0 || v.MaxZxid <= before {
		t.Errorf("after delete: topics %v, deleting %v, zxid %d (was %d)", v.Topics, v.Deleting, v.MaxZxid, before)
	}
	for _, p := range []string{"/readback/brokers/topics/b", "/readback/config/topics/b", "/readback/admin/delete_topics/b"} {
		if ok, _, err := k.Conn().Exists(p); err != nil || ok {
			t.Errorf("%s exists after delete (%v)", p, err)
		}
	}
}

// testFencing: once another controller bumps /controller_epoch (as YAKt
// taking over does), the old controller's writes fail and change nothing.
func testFencing(t *testing.T, s *Server) {
	old := NewKafka(t, s.Addr(), "/fencing")
	if err := old.Bootstrap("fencing"); err != nil {
		t.Fatal(err)
	}
	if _, err := old.RegisterBroker(0, "h", 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := old.CreateTopic("t", "11111111-2222-4333-8444-555555555555", map[int32][]int32{0: {0}}); err != nil {
		t.Fatal(err)
	}
	successor := NewKafka(t, s.Addr(), "/fencing")
	if err := successor.ElectController(7); err != nil {
		t.Fatal(err)
	}
	if successor.ControllerEpoch() != 2 {
		t.Fatalf("successor epoch %d; want 2", successor.ControllerEpoch())
	}
	if _, err := old.SetLeaderAndISR("t", 0, -1, nil); !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("deposed controller's write: %v; want ErrControllerMoved", err)
	}
	data, _ := get(t, old.Conn(), "/fencing/brokers/topics/t/partitions/0/state")
	if !strings.Contains(string(data), `"leader":0`) {
		t.Errorf("state changed by a deposed controller: %s", data)
	}
	if _, err := successor.SetLeaderAndISR("t", 0, -1, []int32{}); err != nil {
		t.Fatalf("the new controller's write: %v", err)
	}
	data, _ = get(t, old.Conn(), "/fencing/brokers/topics/t/partitions/0/state")
	if string(data) != `{"controller_epoch":2,"leader":-1,"version":1,"leader_epoch":1,"isr":[]}` {
		t.Errorf("state after the new controller's write = %s", data)
	}
}

// testPopulate writes the migration tests' large data set (1,000 topics
// of 10 partitions over 100 brokers) and checks it through View.
func testPopulate(t *testing.T, s *Server) {
	k := NewKafka(t, s.Addr(), "/big")
	if err := k.Bootstrap("big"); err != nil {
		t.Fatal(err)
	}
	d := Dataset{Brokers: 100, Topics: 1000, Partitions: 10, ReplicationFactor: 3}
	began := time.Now()
	specs, err := k.Populate(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("populated %d brokers, %d topics x %d partitions in %v", d.Brokers, d.Topics, d.Partitions, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	v, err := ReadView(context.Background(), k.Conn(), "/big")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read them back in %v", time.Since(began).Round(time.Millisecond))
	if len(v.Brokers) != d.Brokers || len(v.Topics) != d.Topics {
		t.Fatalf("read %d brokers, %d topics", len(v.Brokers), len(v.Topics))
	}
	ids := k.BrokerIDs()
	if len(ids) != d.Brokers || ids[0] != 1 || ids[len(ids)-1] != int32(d.Brokers) {
		t.Fatalf("broker ids %v", ids)
	}
	for _, spec := range specs {
		got := v.Topics[spec.Name]
		if got.ID != spec.ID || got.ID != TopicIDFor(spec.Name) || len(got.Partitions) != d.Partitions {
			t.Fatalf("topic %s = %+v; want id %s", spec.Name, got, spec.ID)
		}
		for p, replicas := range spec.Assignment {
			part := got.Partitions[p]
			if !slices.Equal(part.Replicas, replicas) || !part.HasState || part.Leader != replicas[0] ||
				!slices.Equal(part.ISR, replicas) || part.StateVersion != 0 || part.LeaderEpoch != 0 {
				t.Fatalf("topic %s partition %d = %+v; want replicas = ISR = %v", spec.Name, p, part, replicas)
			}
		}
	}
}
