package migration

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
)

// The reconcile functions are pure: these tests give them a model of
// ZooKeeper's content and an image, and check the records and problems.

const (
	idA = "0b6d8a0e-8b8b-4c1e-9d6f-111111111111"
	idB = "0b6d8a0e-8b8b-4c1e-9d6f-222222222222"
)

func modelWith(brokers ...int32) *srcModel {
	m := newModel()
	for _, id := range brokers {
		m.brokers[id] = &srcBroker{b: zkformat.Broker{ID: id, Host: fmt.Sprintf("b%d", id), Port: 9092,
			Endpoints: []zkformat.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: fmt.Sprintf("b%d", id), Port: 9092}}}, czxid: 100 + int64(id)}
	}
	return m
}

// addTopic puts a topic with n partitions on replicas [0 1 2] (leader 0,
// all in sync) into m, every state znode at version.
func addTopic(m *srcModel, name, id string, n int, version int32) {
	t := &srcTopic{t: zkformat.Topic{Name: name, TopicID: id, Partitions: map[int32][]int32{}}, parts: map[int32]*srcPart{}}
	for p := range int32(n) {
		t.t.Partitions[p] = []int32{0, 1, 2}
		t.parts[p] = &srcPart{exists: true, version: version, state: zkformat.PartitionState{Leader: 0, ISR: []int32{0, 1, 2}}}
	}
	m.topics[name] = t
}

// apply replays recs onto img, failing the test if replay refuses them.
func apply(t *testing.T, img *metadata.Image, recs []metadata.Record) *metadata.Image {
	t.Helper()
	d := metadata.NewDelta(img)
	off := img.Offset() + 1
	for i := range recs {
		recs[i].Offset = off
	}
	if err := d.ReplayBatch(recs); err != nil {
		t.Fatalf("replay: %v", err)
	}
	return d.Apply(off)
}

// allRecords is a whole reconcile's records in one list.
func allRecords(m *srcModel, img *metadata.Image, mode topicMode) ([]metadata.Record, []problem) {
	pl := makePlan(m, img, mode, false)
	recs := append([]metadata.Record{}, pl.brokers...)
	for _, g := range pl.groups {
		recs = append(recs, groupRecords(m, g, img, mode)...)
	}
	return append(recs, pl.removals...), pl.probs
}

func names(recs []metadata.Record) string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Body.RecordName())
	}
	return strings.Join(out, ",")
}

func TestReconcileNewClusterThenNothing(t *testing.T) {
	m := modelWith(0, 1, 2)
	addTopic(m, "orders", idA, 3, 0)
	recs, probs := allRecords(m, metadata.Empty, topicMode{strict: true})
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	want := "RegisterBrokerRecord,RegisterBrokerRecord,RegisterBrokerRecord,TopicRecord,PartitionRecord,PartitionRecord,PartitionRecord"
	if got := names(recs); got != want {
		t.Fatalf("records %s, want %s", got, want)
	}
	rb := recs[0].Body.(*metadata.RegisterBrokerRecord)
	if rb.Epoch != 100 || rb.BrokerStatus != metadata.StatusAlive || rb.BrokerHost != "b0" || rb.BrokerPort != "9092" {
		t.Fatalf("broker record %+v", rb)
	}
	img := apply(t, metadata.Empty, recs)
	// State-based: what YAKt has gives nothing.
	if again, probs := allRecords(m, img, topicMode{strict: true}); len(again) != 0 || len(probs) != 0 {
		t.Fatalf("second reconcile: %s %v", names(again), probs)
	}
	// The same records built again are the same (internal UUIDs derive
	// from the znode), so a retried batch is recognisable.
	recs2, _ := allRecords(m, metadata.Empty, topicMode{strict: true})
	if *recs2[0].Body.(*metadata.RegisterBrokerRecord) != *rb {
		t.Fatalf("broker record differs when built again")
	}
}

func TestReconcileISRChangeUsesStateVersion(t *testing.T) {
	m := modelWith(0, 1, 2)
	addTopic(m, "orders", idA, 2, 0)
	img := apply(t, metadata.Empty, mustRecords(t, m, metadata.Empty))
	nt := *m.topics["orders"]
	nt.parts = map[int32]*srcPart{0: nt.parts[0], 1: {exists: true, version: 1, state: zkformat.PartitionState{Leader: 1, ISR: []int32{1, 2}}}}
	m.topics["orders"] = &nt
	recs, probs := allRecords(m, img, topicMode{})
	if len(probs) != 0 || names(recs) != "PartitionRecord" {
		t.Fatalf("records %s problems %v", names(recs), probs)
	}
	pr := recs[0].Body.(*metadata.PartitionRecord)
	if pr.PartitionID != 1 || pr.PartitionEpoch != 1 || pr.Leader != 1 || fmt.Sprint(pr.ISR) != "[1 2]" {
		t.Fatalf("partition record %+v", pr)
	}
	img = apply(t, img, recs)
	// A change whose state version is not above YAKt's epoch waits: a
	// problem naming the state znode, nothing applied.
	nt2 := *m.topics["orders"]
	nt2.parts = map[int32]*srcPart{0: nt.parts[0], 1: {exists: true, version: 1, state: zkformat.PartitionState{Leader: 2, ISR: []int32{2}}}}
	m.topics["orders"] = &nt2
	recs, probs = allRecords(m, img, topicMode{})
	if len(recs) != 0 || len(probs) != 1 || probs[0].path != "/brokers/topics/orders/partitions/1/state" {
		t.Fatalf("records %s problems %v", names(recs), probs)
	}
	// Changed and changed back between two reads: the same content at
	// version 3 still moves YAKt's epoch to the state znode's version.
	nt3 := *m.topics["orders"]
	nt3.parts = map[int32]*srcPart{0: nt.parts[0], 1: {exists: true, version: 3, state: zkformat.PartitionState{Leader: 1, ISR: []int32{1, 2}}}}
	m.topics["orders"] = &nt3
	recs, probs = allRecords(m, img, topicMode{})
	if len(probs) != 0 || names(recs) != "PartitionRecord" || recs[0].Body.(*metadata.PartitionRecord).PartitionEpoch != 3 {
		t.Fatalf("same content at a higher version: records %s problems %v", names(recs), probs)
	}
	if recs, _ = allRecords(m, apply(t, img, recs), topicMode{}); len(recs) != 0 {
		t.Fatalf("after applying it, records %s", names(recs))
	}
}

func mustRecords(t *testing.T, m *srcModel, img *metadata.Image) []metadata.Record {
	t.Helper()
	recs, probs := allRecords(m, img, topicMode{})
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	return recs
}

func TestReconcileBrokersLeaveAndReturn(t *testing.T) {
	m := modelWith(0, 1)
	img := apply(t, metadata.Empty, mustRecords(t, m, metadata.Empty))
	delete(m.brokers, 1)
	recs := mustRecords(t, m, img)
	ch, ok := recs[0].Body.(*metadata.BrokerRegistrationChangeBrokerRecord)
	if len(recs) != 1 || !ok || ch.BrokerStatus != metadata.StatusFenced || ch.Epoch != 102 {
		t.Fatalf("records %s %+v", names(recs), recs[0].Body)
	}
	img = apply(t, img, recs)
	if again := mustRecords(t, m, img); len(again) != 0 {
		t.Fatalf("fenced broker fenced again: %s", names(again))
	}
	// Back, registered anew (a new znode, a new czxid) on another port.
	m.brokers[1] = &srcBroker{b: zkformat.Broker{ID: 1, Host: "b1", Port: 9093}, czxid: 500}
	recs = mustRecords(t, m, img)
	ch, ok = recs[0].Body.(*metadata.BrokerRegistrationChangeBrokerRecord)
	if len(recs) != 1 || !ok || ch.BrokerStatus != metadata.StatusAlive || ch.Epoch != 103 || ch.BrokerPort != "9093" {
		t.Fatalf("records %s %+v", names(recs), recs[0].Body)
	}
	apply(t, img, recs)
}

func TestReconcileTopicRemovedAndRecreated(t *testing.T) {
	m := modelWith(0, 1, 2)
	addTopic(m, "orders", idA, 2, 0)
	addTopic(m, "audit", idB, 1, 0)
	img := apply(t, metadata.Empty, mustRecords(t, m, metadata.Empty))

	delete(m.topics, "audit")
	// Strict (a first import): a YAKt topic ZooKeeper lacks is bad input.
	if recs, probs := allRecords(m, img, topicMode{strict: true}); len(recs) != 0 || len(probs) != 1 || !strings.Contains(probs[0].String(), "/brokers/topics/audit: topic exists in YAKt but not in ZooKeeper") {
		t.Fatalf("strict: records %s problems %v", names(recs), probs)
	}
	recs := mustRecords(t, m, img)
	if names(recs) != "RemoveTopicRecord" {
		t.Fatalf("records %s", names(recs))
	}
	img = apply(t, img, recs)

	// Deleted and re-created under the same name with a new id.
	addTopic(m, "orders", idB, 1, 0)
	if _, probs := allRecords(m, img, topicMode{strict: true}); len(probs) != 1 || !strings.Contains(probs[0].msg, "ZooKeeper has id "+idB) {
		t.Fatalf("strict: problems %v", probs)
	}
	recs = mustRecords(t, m, img)
	if names(recs) != "RemoveTopicRecord,TopicRecord,PartitionRecord" {
		t.Fatalf("records %s", names(recs))
	}
	img = apply(t, img, recs)

	// Marked for deletion: leaves YAKt, and is not imported.
	m.deleting["orders"] = true
	recs = mustRecords(t, m, img)
	if names(recs) != "RemoveTopicRecord" {
		t.Fatalf("records %s", names(recs))
	}
	img = apply(t, img, recs)
	if again := mustRecords(t, m, img); len(again) != 0 {
		t.Fatalf("records %s", names(again))
	}
}

func TestReconcileNeverHalfATopic(t *testing.T) {
	m := modelWith(0, 1, 2)
	addTopic(m, "orders", idA, 3, 0)
	m.topics["orders"].parts[2] = &srcPart{exists: false}
	recs, probs := allRecords(m, metadata.Empty, topicMode{strict: true})
	if len(probs) != 0 || strings.Contains(names(recs), "Topic") {
		t.Fatalf("a topic without all its state znodes: records %s problems %v", names(recs), probs)
	}
	// Partitions added in ZooKeeper arrive together once all have state.
	m2 := modelWith(0, 1, 2)
	addTopic(m2, "orders", idA, 2, 0)
	img := apply(t, metadata.Empty, mustRecords(t, m2, metadata.Empty))
	addTopic(m2, "orders", idA, 4, 0)
	m2.topics["orders"].parts[3] = &srcPart{exists: false}
	if recs := mustRecords(t, m2, img); len(recs) != 0 {
		t.Fatalf("half the added partitions: %s", names(recs))
	}
	m2.topics["orders"].parts[3] = &srcPart{exists: true, state: zkformat.PartitionState{Leader: 1, ISR: []int32{1}}}
	recs = mustRecords(t, m2, img)
	if names(recs) != "PartitionRecord,PartitionRecord" {
		t.Fatalf("records %s", names(recs))
	}
	apply(t, img, recs)
}

func TestReconcileBadInputNamesPaths(t *testing.T) {
	m := modelWith(0, 1)
	addTopic(m, "orders", idA, 1, 0) // replica 2 is no broker
	addTopic(m, "noid", "", 1, 0)
	addTopic(m, "broken", idB, 1, 0)
	m.topics["broken"].parts[0] = &srcPart{exists: true, err: "invalid JSON"}
	m.brokers[7] = &srcBroker{err: "unknown version 9"}
	m.pidErr = "invalid JSON"
	_, probs := allRecords(m, metadata.Empty, topicMode{strict: true})
	text := failureText(probs)
	for _, want := range []string{
		"/brokers/topics/orders: partition 0: replica 2 is not a broker under /brokers/ids",
		"/brokers/topics/noid: no topic_id",
		"/brokers/topics/broken/partitions/0/state: invalid JSON; the topic was not applied",
		"/brokers/ids/7: unknown version 9; the broker was not applied",
		"/latest_producer_id_block: invalid JSON",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("failure text lacks %q:\n%s", want, text)
		}
	}
}

func TestFailureTextIsCapped(t *testing.T) {
	var probs []problem
	for i := range 25 {
		probs = append(probs, problem{fmt.Sprintf("/brokers/topics/t%02d", i), "bad"})
	}
	text := failureText(probs)
	if strings.Count(text, ": bad") != maxProblems || !strings.HasSuffix(text, "; and 5 more") {
		t.Fatalf("failure text: %s", text)
	}
}

func TestPlanBatchesWholeTopics(t *testing.T) {
	m := modelWith(0, 1, 2)
	for i := range 1200 {
		addTopic(m, fmt.Sprintf("t%04d", i), fmt.Sprintf("0b6d8a0e-8b8b-4c1e-9d6f-%012d", i), 10, 0)
	}
	pl := makePlan(m, metadata.Empty, topicMode{strict: true}, true)
	if len(pl.probs) != 0 || pl.topics != 1200 || len(pl.groups) != 3 {
		t.Fatalf("plan: %d topics in %d groups, problems %v", pl.topics, len(pl.groups), pl.probs)
	}
	for _, g := range pl.groups {
		if len(g)*10 > batchPartitions {
			t.Fatalf("a batch of %d partitions", len(g)*10)
		}
	}
}

func TestParseConnect(t *testing.T) {
	for _, c := range []struct {
		in, servers, root string
	}{
		{"127.0.0.1:2181", "[127.0.0.1:2181]", ""},
		{"a:1,b:2/kafka", "[a:1 b:2]", "/kafka"},
		{"a:1/kafka/prod/", "[a:1]", "/kafka/prod"},
		{"a:1/", "[a:1]", ""},
	} {
		servers, root, err := parseConnect(c.in)
		if err != nil || fmt.Sprint(servers) != c.servers || root != c.root {
			t.Errorf("parseConnect(%q) = %v %q %v", c.in, servers, root, err)
		}
	}
	if _, _, err := parseConnect("/kafka"); err == nil {
		t.Errorf("a connect string without servers was accepted")
	}
}

// A new leader resuming an import plans the same batches; what the
// earlier leader committed gives no records, a topic ZooKeeper deleted
// meanwhile is removed rather than failing the import.
func TestImportResumeAppliesOnlyWhatIsMissing(t *testing.T) {
	m := modelWith(0, 1, 2)
	addTopic(m, "orders", idA, 2, 0)
	addTopic(m, "gone", idB, 1, 0)
	img := apply(t, metadata.Empty, mustRecords(t, m, metadata.Empty))
	delete(m.topics, "gone")
	addTopic(m, "later", "0b6d8a0e-8b8b-4c1e-9d6f-333333333333", 1, 0)
	pl := makePlan(m, img, topicMode{}, true)
	if len(pl.probs) != 0 || pl.topics != 2 {
		t.Fatalf("plan: %d topics, problems %v", pl.topics, pl.probs)
	}
	var recs []metadata.Record
	for _, g := range pl.groups {
		recs = append(recs, groupRecords(m, g, img, topicMode{})...)
	}
	rem, _ := removedTopics(m, img, false)
	recs = append(recs, rem...)
	if names(recs) != "TopicRecord,PartitionRecord,RemoveTopicRecord" || recs[0].Body.(*metadata.TopicRecord).Name != "later" {
		t.Fatalf("records %s", names(recs))
	}
	apply(t, img, recs)
}

// A follow pass compares only the topics whose znodes changed, as the
// changed paths name them.
func TestScopedPlanComparesOnlyChangedTopics(t *testing.T) {
	m := modelWith(0, 1, 2)
	addTopic(m, "orders", idA, 2, 0)
	addTopic(m, "payments", idB, 2, 0)
	recs, _ := allRecords(m, metadata.Empty, topicMode{strict: true})
	img := apply(t, metadata.Empty, recs)
	// Both topics change in ZooKeeper; only orders' state znode fired.
	for _, name := range []string{"orders", "payments"} {
		p := m.topics[name].parts[0]
		p.version++
		p.state.ISR = []int32{0, 1}
	}
	scope := changedTopics(map[string]bool{"/brokers/topics/orders/partitions/0/state": true, "/brokers/ids": true})
	if len(scope) != 1 || !scope["orders"] {
		t.Fatalf("changedTopics = %v, want orders alone", scope)
	}
	pl := makeScopedPlan(m, img, topicMode{}, false, scope)
	if len(pl.groups) != 1 || !slices.Equal(pl.groups[0], []string{"orders"}) {
		t.Fatalf("scoped plan groups = %v, want [[orders]]", pl.groups)
	}
	if pl = makePlan(m, img, topicMode{}, false); len(pl.groups) != 1 || !slices.Equal(pl.groups[0], []string{"orders", "payments"}) {
		t.Fatalf("full plan groups = %v, want [[orders payments]]", pl.groups)
	}
}
