package migration

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
)

// The diff on plain values: YAKt images built by replaying records, views
// of ZooKeeper built by hand, no ZooKeeper.

const (
	uuidA = "6f1c3c6e-0d5a-4f39-9a4b-2f8e0c1d2e3f"
	uuidB = "0b7a7f1e-5c2d-4e8a-b1f0-9d3c4b5a6e7f"
)

// image replays recs (one entry each) into a new image.
func image(t *testing.T, recs ...metadata.Body) *metadata.Image {
	t.Helper()
	d := metadata.NewDelta(nil)
	for i, b := range recs {
		if err := d.Replay(metadata.Record{Offset: int64(i + 1), Body: b}); err != nil {
			t.Fatalf("replay %s: %v", b.RecordName(), err)
		}
	}
	return d.Apply(int64(len(recs)))
}

func broker(id int32) *metadata.RegisterBrokerRecord {
	return &metadata.RegisterBrokerRecord{BrokerID: id, Epoch: 1, BrokerStatus: metadata.StatusAlive, BrokerHost: "h", BrokerPort: "1", SecurityProtocol: metadata.ProtocolPlaintext}
}

func part(uuid string, id int32, leader int32, epoch int64, replicas, isr []int32) *metadata.PartitionRecord {
	return &metadata.PartitionRecord{TopicUUID: uuid, PartitionID: id, Leader: leader, PartitionEpoch: epoch, Replicas: replicas, ISR: isr}
}

// opLines is ops as "kind path@version value" lines, for comparing.
func opLines(ops []zkOp) string {
	var b strings.Builder
	for _, o := range ops {
		fmt.Fprintf(&b, "%s %s", o.kind, o.path)
		if o.kind != opCreate {
			fmt.Fprintf(&b, "@%d", o.version)
		}
		switch v := o.value.(type) {
		case zkformat.PartitionState:
			fmt.Fprintf(&b, " leader=%d leaderEpoch=%d isr=%v controllerEpoch=%d", v.Leader, v.LeaderEpoch, v.ISR, v.ControllerEpoch)
		case zkformat.Topic:
			fmt.Fprintf(&b, " id=%s v=%d partitions=%v adding=%v removing=%v", v.TopicID, v.Version, v.Partitions, v.Adding, v.Removing)
		case zkformat.ProducerIDBlock:
			fmt.Fprintf(&b, " broker=%d start=%d end=%d", v.Broker, v.Start, v.End)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkOps(t *testing.T, got []zkOp, want string) {
	t.Helper()
	if g := opLines(got); g != want {
		t.Errorf("ops:\n%s\nwant:\n%s", g, want)
	}
}

func TestDiffCreatesWhatZooKeeperLacks(t *testing.T) {
	p1 := part(uuidA, 1, 2, 0, []int32{2, 3}, []int32{2})
	p1.AddingReplicas = []int32{3}
	img := image(t,
		&metadata.TopicRecord{Name: "orders", TopicUUID: uuidA},
		part(uuidA, 0, 1, 0, []int32{1, 2}, []int32{1, 2}),
		p1,
		broker(7), broker(8),
		&metadata.ProducerIdsRecord{BrokerID: 7, BrokerEpoch: 1, ProducerID: 0},
		&metadata.ProducerIdsRecord{BrokerID: 8, BrokerEpoch: 1, ProducerID: 1000},
	)
	d := &differ{view: newZkView(), controllerEpoch: 5}
	checkOps(t, d.all(img), ""+
		"create /brokers/topics/orders id="+uuidA+" v=3 partitions=map[0:[1 2] 1:[2 3]] adding=map[1:[3]] removing=map[]\n"+
		"create /config/topics/orders\n"+
		"create /brokers/topics/orders/partitions\n"+
		"create /brokers/topics/orders/partitions/0\n"+
		"create /brokers/topics/orders/partitions/0/state leader=1 leaderEpoch=0 isr=[1 2] controllerEpoch=5\n"+
		"create /brokers/topics/orders/partitions/1\n"+
		"create /brokers/topics/orders/partitions/1/state leader=2 leaderEpoch=0 isr=[2] controllerEpoch=5\n"+
		"create /latest_producer_id_block broker=8 start=1000 end=1999\n")
	// The view now holds all of it: a second diff writes nothing.
	checkOps(t, d.all(img), "")
}

func TestDiffDeletesWhatYAKtLacks(t *testing.T) {
	v := newZkView()
	v.topics["gone"] = &zkTopic{topic: zkformat.Topic{TopicID: uuidB}, version: 2, partitionsNode: true, parts: map[int32]*zkPartition{
		1: {hasState: true, version: 4},
		0: {},
	}}
	v.configs["gone"], v.deleting["gone"], v.configs["other"] = true, true, true
	d := &differ{view: v, controllerEpoch: 5}
	checkOps(t, d.all(metadata.Empty), ""+
		"delete /brokers/topics/gone/partitions/0@-1\n"+
		"delete /brokers/topics/gone/partitions/1/state@4\n"+
		"delete /brokers/topics/gone/partitions/1@-1\n"+
		"delete /brokers/topics/gone/partitions@-1\n"+
		"delete /brokers/topics/gone@2\n"+
		"delete /config/topics/gone@-1\n"+
		"delete /admin/delete_topics/gone@-1\n")
	if len(v.topics) != 0 || v.configs["gone"] || v.deleting["gone"] || !v.configs["other"] {
		t.Errorf("view after delete: topics %v configs %v deleting %v", v.topics, v.configs, v.deleting)
	}
}

// viewOf is the view ZooKeeper would hold after the diff wrote img.
func viewOf(t *testing.T, img *metadata.Image, controllerEpoch int32) *zkView {
	t.Helper()
	d := &differ{view: newZkView(), controllerEpoch: controllerEpoch}
	d.all(img)
	return d.view
}

func TestDiffPartitionChanges(t *testing.T) {
	base := []metadata.Body{
		&metadata.TopicRecord{Name: "t", TopicUUID: uuidA},
		part(uuidA, 0, 1, 0, []int32{1, 2, 3}, []int32{1, 2, 3}),
		part(uuidA, 1, 2, 0, []int32{2, 3}, []int32{2, 3}),
	}
	for _, tc := range []struct {
		name    string
		changes []metadata.Body
		want    string
	}{
		{"ISR shrinks, same leader: same leader epoch", []metadata.Body{part(uuidA, 0, 1, 1, []int32{1, 2, 3}, []int32{1, 2})},
			"set /brokers/topics/t/partitions/0/state@0 leader=1 leaderEpoch=0 isr=[1 2] controllerEpoch=9\n"},
		{"new leader: leader epoch + 1", []metadata.Body{part(uuidA, 0, 2, 1, []int32{1, 2, 3}, []int32{2, 3})},
			"set /brokers/topics/t/partitions/0/state@0 leader=2 leaderEpoch=1 isr=[2 3] controllerEpoch=9\n"},
		{"two changes: one write, the version follows the partition epoch", []metadata.Body{
			part(uuidA, 1, 3, 1, []int32{2, 3}, []int32{3}),
			part(uuidA, 1, 3, 2, []int32{2, 3}, []int32{3, 2}),
		}, "set /brokers/topics/t/partitions/1/state@0 leader=3 leaderEpoch=1 isr=[3 2] controllerEpoch=9\n" +
			"set /brokers/topics/t/partitions/1/state@1 leader=3 leaderEpoch=1 isr=[3 2] controllerEpoch=9\n"},
		{"reassignment: topic znode, and the state's version still follows", []metadata.Body{
			&metadata.PartitionRecord{TopicUUID: uuidA, PartitionID: 1, Leader: 2, PartitionEpoch: 1, Replicas: []int32{2, 3, 4}, ISR: []int32{2, 3}, AddingReplicas: []int32{4}},
		}, // the state is rewritten as it stands, for its version
			"set /brokers/topics/t@0 id=" + uuidA + " v=3 partitions=map[0:[1 2 3] 1:[2 3 4]] adding=map[1:[4]] removing=map[]\n" +
				"set /brokers/topics/t/partitions/1/state@0 leader=2 leaderEpoch=0 isr=[2 3] controllerEpoch=7\n"},
		{"new partition", []metadata.Body{part(uuidA, 2, 3, 0, []int32{3, 1}, []int32{3, 1})},
			"set /brokers/topics/t@0 id=" + uuidA + " v=3 partitions=map[0:[1 2 3] 1:[2 3] 2:[3 1]] adding=map[] removing=map[]\n" +
				"create /brokers/topics/t/partitions/2\n" +
				"create /brokers/topics/t/partitions/2/state leader=3 leaderEpoch=0 isr=[3 1] controllerEpoch=9\n"},
		{"topic removed", []metadata.Body{&metadata.RemoveTopicRecord{Name: "t", TopicUUID: uuidA}},
			"delete /brokers/topics/t/partitions/0/state@0\n" +
				"delete /brokers/topics/t/partitions/0@-1\n" +
				"delete /brokers/topics/t/partitions/1/state@0\n" +
				"delete /brokers/topics/t/partitions/1@-1\n" +
				"delete /brokers/topics/t/partitions@-1\n" +
				"delete /brokers/topics/t@0\n" +
				"delete /config/topics/t@-1\n"},
		{"recreated under another id: deleted, then created", []metadata.Body{
			&metadata.RemoveTopicRecord{Name: "t", TopicUUID: uuidA},
			&metadata.TopicRecord{Name: "t", TopicUUID: uuidB},
			part(uuidB, 0, 1, 0, []int32{1}, []int32{1}),
		}, "delete /brokers/topics/t/partitions/0/state@0\n" +
			"delete /brokers/topics/t/partitions/0@-1\n" +
			"delete /brokers/topics/t/partitions/1/state@0\n" +
			"delete /brokers/topics/t/partitions/1@-1\n" +
			"delete /brokers/topics/t/partitions@-1\n" +
			"delete /brokers/topics/t@0\n" +
			"delete /config/topics/t@-1\n" +
			"create /brokers/topics/t id=" + uuidB + " v=3 partitions=map[0:[1]] adding=map[] removing=map[]\n" +
			"create /config/topics/t\n" +
			"create /brokers/topics/t/partitions\n" +
			"create /brokers/topics/t/partitions/0\n" +
			"create /brokers/topics/t/partitions/0/state leader=1 leaderEpoch=0 isr=[1] controllerEpoch=9\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &differ{view: viewOf(t, image(t, base...), 7), controllerEpoch: 9}
			img := image(t, append(append([]metadata.Body{}, base...), tc.changes...)...)
			checkOps(t, d.all(img), tc.want)
			checkOps(t, d.all(img), "")
		})
	}
}

func TestDiffRepairsDamagedZooKeeper(t *testing.T) {
	img := image(t,
		&metadata.TopicRecord{Name: "t", TopicUUID: uuidA},
		part(uuidA, 0, 1, 0, []int32{1}, []int32{1}),
		part(uuidA, 1, 1, 0, []int32{1}, []int32{1}),
	)
	v := viewOf(t, img, 3)
	tp := v.topics["t"]
	tp.parts[0].bad = true                     // unreadable state
	tp.parts[1].hasState = false               // partition znode without its state
	tp.parts[5] = &zkPartition{hasState: true} // a partition YAKt does not have
	tp.topic.Partitions[5] = []int32{1}        // ...in the assignment too
	tp.parts[0].state.LeaderEpoch = 4          // kept only from readable content
	d := &differ{view: v, controllerEpoch: 3}
	checkOps(t, d.all(img), ""+
		"set /brokers/topics/t@0 id="+uuidA+" v=3 partitions=map[0:[1] 1:[1]] adding=map[] removing=map[]\n"+
		"set /brokers/topics/t/partitions/0/state@0 leader=1 leaderEpoch=0 isr=[1] controllerEpoch=3\n"+
		"create /brokers/topics/t/partitions/1/state leader=1 leaderEpoch=0 isr=[1] controllerEpoch=3\n"+
		"delete /brokers/topics/t/partitions/5/state@0\n"+
		"delete /brokers/topics/t/partitions/5@-1\n")
	checkOps(t, d.all(img), "")
}

func TestDiffProducerIDBlock(t *testing.T) {
	img := image(t,
		broker(4),
		&metadata.ProducerIdsRecord{BrokerID: 4, BrokerEpoch: 1, ProducerID: 5000},
	)
	for _, tc := range []struct {
		name string
		zk   *zkformat.ProducerIDBlock
		want string
	}{
		{"behind", &zkformat.ProducerIDBlock{Broker: 1, Start: 2000, End: 2999},
			"set /latest_producer_id_block@3 broker=4 start=5000 end=5999\n"},
		{"equal", &zkformat.ProducerIDBlock{Broker: 1, Start: 5000, End: 5999}, ""},
		{"ahead: ZooKeeper-mode brokers allocated more", &zkformat.ProducerIDBlock{Broker: 1, Start: 9000, End: 9999}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newZkView()
			v.pid, v.pidVersion = tc.zk, 3
			checkOps(t, (&differ{view: v}).all(img), tc.want)
		})
	}
	checkOps(t, (&differ{view: newZkView()}).all(metadata.Empty), "")
}

// entryOps replays records entry by entry and diffs only what they touch.
func TestEntryOpsFollowsTheLog(t *testing.T) {
	retention := "1000"
	img := image(t,
		&metadata.TopicRecord{Name: "keep", TopicUUID: uuidB},
		part(uuidB, 0, 1, 0, []int32{1}, []int32{1}),
	)
	d := &differ{view: viewOf(t, img, 2), controllerEpoch: 2}
	delta := metadata.NewDelta(img)
	w := &dualWriter{}
	entries := [][]metadata.Body{
		{broker(9)},
		{&metadata.TopicRecord{Name: "new", TopicUUID: uuidA}, part(uuidA, 0, 9, 0, []int32{9}, []int32{9})},
		{part(uuidA, 0, 9, 1, []int32{9, 1}, []int32{9}), part(uuidA, 1, 1, 0, []int32{1}, []int32{1})},
		{&metadata.ProducerIdsRecord{BrokerID: 9, BrokerEpoch: 1, ProducerID: 0}},
		// Configs are not written back to ZooKeeper: no ops, no error.
		{&metadata.ConfigRecord{ResourceType: metadata.ConfigResourceTopic, ResourceName: "new", Name: "retention.ms", Value: &retention},
			&metadata.ConfigRecord{ResourceType: metadata.ConfigResourceBroker, ResourceName: "", Name: "min.insync.replicas", Value: &retention}},
		{&metadata.RemoveTopicRecord{Name: "new", TopicUUID: uuidA}},
	}
	want := []string{
		"",
		"create /brokers/topics/new id=" + uuidA + " v=3 partitions=map[0:[9]] adding=map[] removing=map[]\n" +
			"create /config/topics/new\n" +
			"create /brokers/topics/new/partitions\n" +
			"create /brokers/topics/new/partitions/0\n" +
			"create /brokers/topics/new/partitions/0/state leader=9 leaderEpoch=0 isr=[9] controllerEpoch=2\n",
		"set /brokers/topics/new@0 id=" + uuidA + " v=3 partitions=map[0:[9 1] 1:[1]] adding=map[] removing=map[]\n" +
			"set /brokers/topics/new/partitions/0/state@0 leader=9 leaderEpoch=0 isr=[9] controllerEpoch=2\n" +
			"create /brokers/topics/new/partitions/1\n" +
			"create /brokers/topics/new/partitions/1/state leader=1 leaderEpoch=0 isr=[1] controllerEpoch=2\n",
		"create /latest_producer_id_block broker=9 start=0 end=999\n",
		"",
		"delete /brokers/topics/new/partitions/0/state@1\n" +
			"delete /brokers/topics/new/partitions/0@-1\n" +
			"delete /brokers/topics/new/partitions/1/state@0\n" +
			"delete /brokers/topics/new/partitions/1@-1\n" +
			"delete /brokers/topics/new/partitions@-1\n" +
			"delete /brokers/topics/new@1\n" +
			"delete /config/topics/new@-1\n",
	}
	for i, bodies := range entries {
		var entry []metadata.Record
		for _, b := range bodies {
			entry = append(entry, metadata.Record{Offset: int64(10 + i), Body: b})
		}
		ops, err := w.entryOps(d, delta, entry)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		checkOps(t, ops, want[i])
	}
	// The view ends where a full diff of the final state finds nothing.
	checkOps(t, d.all(delta.Apply(20)), "")
	if !reflect.DeepEqual(d.view.topics["keep"].topic.Partitions, map[int32][]int32{0: {1}}) {
		t.Errorf("untouched topic changed in the view: %v", d.view.topics["keep"].topic)
	}
}

func TestEndsDualWrite(t *testing.T) {
	rec := func(phase string) []metadata.Record {
		return []metadata.Record{{Offset: 1, Body: &metadata.ZkMigrationStateRecord{Phase: phase}}}
	}
	if _, ends := endsDualWrite(rec(metadata.MigrationDualWrite)); ends {
		t.Error("a DUAL_WRITE record ends the dual write")
	}
	for _, p := range []string{metadata.MigrationFollowing, metadata.MigrationFinalized} {
		if phase, ends := endsDualWrite(rec(p)); !ends || phase != p {
			t.Errorf("a %s record: ends %v at %q", p, ends, phase)
		}
	}
	if _, ends := endsDualWrite([]metadata.Record{{Offset: 1, Body: &metadata.TopicRecord{Name: "x"}}}); ends {
		t.Error("a topic record ends the dual write")
	}
}
