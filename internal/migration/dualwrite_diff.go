package migration

import (
	"maps"
	"slices"

	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
)

// The pure half of the dual write: what ZooKeeper holds (zkView), the
// znode writes that make it hold YAKt's state (zkOp), and the diff that
// computes them. Nothing here talks to ZooKeeper, so the diff is tested
// on plain values.

// opKind is what a zkOp does to its znode.
type opKind uint8

const (
	opCreate opKind = iota
	opSet
	opDelete
)

func (k opKind) String() string {
	switch k {
	case opCreate:
		return "create"
	case opSet:
		return "set"
	case opDelete:
		return "delete"
	}
	return "?"
}

// zkOp is one znode write. Paths are relative to the chroot.
type zkOp struct {
	kind opKind
	path string
	// version is the znode version a set or delete expects: the one the
	// view holds, so a write based on a stale view fails instead of
	// losing someone else's change (and a partition state znode's
	// version, which is YAKt's partition epoch, stays exact).
	version int32
	// value is what the znode's data encodes: a zkformat.Topic,
	// zkformat.PartitionState, zkformat.ProducerIDBlock or topicConfig;
	// nil for the empty data of container znodes (partitions, partition).
	value any
}

// data is the op's znode content in Kafka's JSON.
func (o zkOp) data() []byte {
	switch v := o.value.(type) {
	case zkformat.Topic:
		return zkformat.EncodeTopic(v)
	case zkformat.PartitionState:
		return zkformat.EncodePartitionState(v)
	case zkformat.ProducerIDBlock:
		return zkformat.EncodeProducerIDBlock(v)
	case topicConfig:
		return zkformat.EncodeTopicConfig(nil)
	}
	return nil
}

// topicConfig is the value of a topic's config znode: YAKt has no topic
// configs, so it is empty, as Kafka's own dual write creates it.
type topicConfig struct{}

// Versions of the znodes the dual write writes: what Kafka 3.x writes.
const (
	topicZnodeVersion           = 3 // with topic_id, adding_replicas and removing_replicas
	partitionStateZnodeVersion  = 1
	producerIDBlockZnodeVersion = 1
	controllerZnodeVersion      = 2
	migrationZnodeVersion       = 0
)

// maxEpochBumps bounds the extra writes that bring a partition state
// znode's version up to YAKt's partition epoch. They differ by at most
// one per change written, so only a damaged ZooKeeper needs more; past
// the bound the content is still right and only the version lags.
const maxEpochBumps = 64

// zkView is the part of ZooKeeper the dual write owns, as this writer
// last read or wrote it: it is updated as ops are generated, so a diff
// always starts from what ZooKeeper will hold once every earlier op is
// written. A failed write makes it stale; the writer then reads it
// again.
type zkView struct {
	topics map[string]*zkTopic
	// configs and deleting are the topic names under /config/topics and
	// /admin/delete_topics: removed with their topic.
	configs  map[string]bool
	deleting map[string]bool
	// pid is /latest_producer_id_block, nil when absent.
	pid        *zkformat.ProducerIDBlock
	pidVersion int32
}

// zkTopic is /brokers/topics/<t> and its partitions.
type zkTopic struct {
	// topic is the parsed znode; bad marks content that did not parse
	// (it is then rewritten or deleted, never trusted).
	topic   zkformat.Topic
	bad     bool
	version int32
	// partitionsNode: /brokers/topics/<t>/partitions exists.
	partitionsNode bool
	// parts holds the partitions whose znode exists.
	parts map[int32]*zkPartition
}

// zkPartition is /brokers/topics/<t>/partitions/<p> and its state znode.
type zkPartition struct {
	hasState bool
	bad      bool // the state znode's content did not parse
	state    zkformat.PartitionState
	version  int32 // the state znode's version
}

func newZkView() *zkView {
	return &zkView{topics: map[string]*zkTopic{}, configs: map[string]bool{}, deleting: map[string]bool{}}
}

// differ computes the ops that make ZooKeeper hold YAKt's state, topic by
// topic, and advances the view past them.
type differ struct {
	view *zkView
	// controllerEpoch is /controller_epoch as the writer set it when it
	// took over: the controller_epoch of every state znode it writes.
	controllerEpoch int32
}

// all is the whole reconcile: every YAKt topic, every ZooKeeper topic YAKt
// lacks, and the producer-id block.
func (d *differ) all(r metadata.Reader) []zkOp {
	var ops []zkOp
	seen := map[string]bool{}
	for _, t := range r.Topics() {
		seen[t.Name] = true
		ops = d.topic(r, t.Name, ops)
	}
	for _, name := range slices.Sorted(maps.Keys(d.view.topics)) {
		if !seen[name] {
			ops = d.topic(r, name, ops)
		}
	}
	return d.producerIDs(r, ops)
}

// topic appends the ops that make ZooKeeper's topic name match YAKt's
// (created, changed or deleted).
func (d *differ) topic(r metadata.Reader, name string, ops []zkOp) []zkOp {
	cur := d.view.topics[name]
	rec, ok := r.Topic(name)
	if !ok {
		if cur == nil {
			return ops
		}
		return d.deleteTopic(name, cur, ops)
	}
	parts := r.Partitions(rec.TopicUUID)
	want := topicZnode(rec, parts)
	if cur != nil && (cur.bad || cur.topic.TopicID != rec.TopicUUID) {
		// Another topic of that name (a different id): it goes, YAKt's
		// comes in its place.
		ops = d.deleteTopic(name, cur, ops)
		cur = nil
	}
	if cur == nil {
		ops = append(ops, zkOp{kind: opCreate, path: zkformat.TopicPath(name), value: want})
		cur = &zkTopic{topic: want, parts: map[int32]*zkPartition{}}
		d.view.topics[name] = cur
	} else if !sameAssignment(cur.topic, want) {
		ops = append(ops, zkOp{kind: opSet, path: zkformat.TopicPath(name), version: cur.version, value: want})
		cur.topic, cur.version = want, cur.version+1
	}
	if !d.view.configs[name] {
		// ZooKeeper-mode brokers and tools expect every topic to have
		// one; an empty one means the defaults.
		ops = append(ops, zkOp{kind: opCreate, path: zkformat.TopicConfigPath(name), value: topicConfig{}})
		d.view.configs[name] = true
	}
	if !cur.partitionsNode {
		ops = append(ops, zkOp{kind: opCreate, path: zkformat.PartitionsPath(name)})
		cur.partitionsNode = true
	}
	wanted := make(map[int32]bool, len(parts))
	for i := range parts {
		wanted[parts[i].PartitionID] = true
		ops = d.partition(name, &parts[i], cur, ops)
	}
	// Partitions YAKt lacks (YAKt never removes one: only a damaged
	// ZooKeeper holds them).
	for _, p := range slices.Sorted(maps.Keys(cur.parts)) {
		if !wanted[p] {
			ops = deletePartition(name, p, cur.parts[p], ops)
			delete(cur.parts, p)
		}
	}
	return ops
}

// partition appends the ops that make a partition's znodes match p.
func (d *differ) partition(topic string, p *metadata.PartitionRecord, t *zkTopic, ops []zkOp) []zkOp {
	id := p.PartitionID
	path := zkformat.PartitionStatePath(topic, id)
	cur := t.parts[id]
	if cur == nil {
		ops = append(ops, zkOp{kind: opCreate, path: zkformat.PartitionPath(topic, id)})
		cur = &zkPartition{}
		t.parts[id] = cur
	}
	switch {
	case !cur.hasState:
		st := d.state(p, nil)
		ops = append(ops, zkOp{kind: opCreate, path: path, value: st})
		*cur = zkPartition{hasState: true, state: st, version: 0}
	case cur.bad || cur.state.Leader != p.Leader || !slices.Equal(cur.state.ISR, p.ISR):
		st := d.state(p, cur)
		ops = append(ops, zkOp{kind: opSet, path: path, version: cur.version, value: st})
		*cur = zkPartition{hasState: true, state: st, version: cur.version + 1}
	}
	// The state znode's version is Kafka's partition epoch, which YAKt's
	// mirrors: a change that left leader and ISR alone (a reassignment)
	// still rewrites the znode, so that after a rollback ZooKeeper's
	// next change carries an epoch above YAKt's.
	for n := 0; int64(cur.version) < p.PartitionEpoch && n < maxEpochBumps; n++ {
		ops = append(ops, zkOp{kind: opSet, path: path, version: cur.version, value: cur.state})
		cur.version++
	}
	return ops
}

// state is the state znode for p; cur is ZooKeeper's, nil if none. The
// leader epoch is ZooKeeper's, one higher when the leader changes (YAKt
// keeps no leader epoch; ZooKeeper-mode brokers fence by it).
func (d *differ) state(p *metadata.PartitionRecord, cur *zkPartition) zkformat.PartitionState {
	var epoch int32
	if cur != nil && cur.hasState && !cur.bad {
		epoch = cur.state.LeaderEpoch
		if cur.state.Leader != p.Leader {
			epoch++
		}
	}
	return zkformat.PartitionState{
		Version:         partitionStateZnodeVersion,
		Leader:          p.Leader,
		LeaderEpoch:     epoch,
		ISR:             nonNil(p.ISR),
		ControllerEpoch: d.controllerEpoch,
	}
}

// deleteTopic appends the ops that remove a topic's znodes, children
// first, with its config and deletion marker, and drops it from the view.
func (d *differ) deleteTopic(name string, t *zkTopic, ops []zkOp) []zkOp {
	for _, p := range slices.Sorted(maps.Keys(t.parts)) {
		ops = deletePartition(name, p, t.parts[p], ops)
	}
	if t.partitionsNode {
		ops = append(ops, zkOp{kind: opDelete, path: zkformat.PartitionsPath(name), version: -1})
	}
	ops = append(ops, zkOp{kind: opDelete, path: zkformat.TopicPath(name), version: t.version})
	if d.view.configs[name] {
		ops = append(ops, zkOp{kind: opDelete, path: zkformat.TopicConfigPath(name), version: -1})
		delete(d.view.configs, name)
	}
	if d.view.deleting[name] {
		ops = append(ops, zkOp{kind: opDelete, path: zkformat.PathDeleteTopics + "/" + name, version: -1})
		delete(d.view.deleting, name)
	}
	delete(d.view.topics, name)
	return ops
}

func deletePartition(topic string, id int32, p *zkPartition, ops []zkOp) []zkOp {
	if p.hasState {
		ops = append(ops, zkOp{kind: opDelete, path: zkformat.PartitionStatePath(topic, id), version: p.version})
	}
	return append(ops, zkOp{kind: opDelete, path: zkformat.PartitionPath(topic, id), version: -1})
}

// producerIDs appends the write that raises /latest_producer_id_block to
// YAKt's allocation when ZooKeeper's is behind: ZooKeeper-mode brokers
// allocate after its block_end, so it must cover every id YAKt gave.
func (d *differ) producerIDs(r metadata.Reader, ops []zkOp) []zkOp {
	s := r.ProducerIDs()
	next := s.NextProducerID
	if next <= 0 || d.view.pid != nil && d.view.pid.End+1 >= next {
		return ops
	}
	b := zkformat.ProducerIDBlock{Version: producerIDBlockZnodeVersion, End: next - 1, Start: next - metadata.ProducerIDBlockSize}
	switch {
	case len(s.Blocks) > 0:
		b.Broker = s.Blocks[len(s.Blocks)-1].BrokerID
	case d.view.pid != nil:
		b.Broker = d.view.pid.Broker
	}
	if d.view.pid == nil {
		ops = append(ops, zkOp{kind: opCreate, path: zkformat.PathProducerIDBlock, value: b})
		d.view.pidVersion = 0
	} else {
		ops = append(ops, zkOp{kind: opSet, path: zkformat.PathProducerIDBlock, version: d.view.pidVersion, value: b})
		d.view.pidVersion++
	}
	d.view.pid = &b
	return ops
}

// topicZnode is YAKt's topic as Kafka's topic znode.
func topicZnode(rec metadata.TopicRecord, parts []metadata.PartitionRecord) zkformat.Topic {
	t := zkformat.Topic{
		Name: rec.Name, Version: topicZnodeVersion, TopicID: rec.TopicUUID,
		Partitions: make(map[int32][]int32, len(parts)), Adding: map[int32][]int32{}, Removing: map[int32][]int32{},
	}
	for _, p := range parts {
		t.Partitions[p.PartitionID] = nonNil(p.Replicas)
		if len(p.AddingReplicas) > 0 {
			t.Adding[p.PartitionID] = p.AddingReplicas
		}
		if len(p.RemovingReplicas) > 0 {
			t.Removing[p.PartitionID] = p.RemovingReplicas
		}
	}
	return t
}

// sameAssignment reports whether two topic znodes hold the same id and
// assignment (an absent and an empty list are the same).
func sameAssignment(a, b zkformat.Topic) bool {
	return a.TopicID == b.TopicID &&
		sameLists(a.Partitions, b.Partitions) && sameLists(a.Adding, b.Adding) && sameLists(a.Removing, b.Removing)
}

func sameLists(a, b map[int32][]int32) bool {
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok && len(v) > 0 {
			return false
		}
	}
	return true
}

// nonNil makes a nil list empty: Kafka's JSON has [] where YAKt has none.
func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}
