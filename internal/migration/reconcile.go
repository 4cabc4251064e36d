package migration

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/google/uuid"

	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
)

// The reconcile functions are pure: ZooKeeper's content (a srcModel)
// against YAKt's image gives the records that make YAKt equal to it, and
// the problems that keep parts of it out. They are state-based: what YAKt
// already has gives no record, so a batch built twice, or an import run
// again by a new leader, never applies anything twice.

// problem is a znode whose content cannot be applied.
type problem struct {
	path string
	msg  string
}

func (p problem) String() string { return p.path + ": " + p.msg }

// brokerNamespace makes the internal UUIDs of brokers registered from
// ZooKeeper: derived from the id and the znode's czxid, so the same
// registration always gives the same record.
var brokerNamespace = uuid.MustParse("5f0c7c86-3b0e-4d4b-9a53-7a1f4b3f8f21")

// endpoint picks the address YAKt records for a broker: its first
// advertised endpoint, or the legacy host and port.
func endpoint(b zkformat.Broker) (host, port, protocol string) {
	if len(b.Endpoints) > 0 {
		e := b.Endpoints[0]
		return e.Host, strconv.Itoa(int(e.Port)), e.SecurityProtocol
	}
	return b.Host, strconv.Itoa(int(b.Port)), metadata.ProtocolPlaintext
}

// brokerRecords makes YAKt's brokers what /brokers/ids says: a new
// broker registers ALIVE at epoch czxid, a known one changes when its
// address or status differs, and a registered broker whose znode is gone
// is FENCED.
func brokerRecords(m *srcModel, img *metadata.Image) (recs []metadata.Record, probs []problem) {
	for path, msg := range m.badBrokers {
		probs = append(probs, problem{path, msg})
	}
	ids := make([]int32, 0, len(m.brokers))
	for id := range m.brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		zb := m.brokers[id]
		path := zkformat.BrokerPath(id)
		if zb.err != "" {
			probs = append(probs, problem{path, zb.err + "; the broker was not applied"})
			continue
		}
		host, port, proto := endpoint(zb.b)
		if !metadata.ValidSecurityProtocol(proto) {
			probs = append(probs, problem{path, fmt.Sprintf("security protocol %q is not one YAKt knows; the broker was not applied", proto)})
			continue
		}
		old, ok := img.Broker(id)
		switch {
		case !ok || old.BrokerStatus == metadata.StatusClosed:
			epoch := zb.czxid
			if ok && epoch <= old.Epoch {
				epoch = old.Epoch + 1
			}
			recs = append(recs, metadata.Record{Body: &metadata.RegisterBrokerRecord{
				InternalUUID: uuid.NewSHA1(brokerNamespace, fmt.Appendf(nil, "%d/%d", id, zb.czxid)).String(),
				BrokerID:     id, BrokerHost: host, BrokerPort: port, SecurityProtocol: proto,
				BrokerStatus: metadata.StatusAlive, RackID: zb.b.Rack, Epoch: epoch,
			}})
		case old.BrokerHost != host || old.BrokerPort != port || old.SecurityProtocol != proto || old.BrokerStatus != metadata.StatusAlive:
			recs = append(recs, metadata.Record{Body: &metadata.BrokerRegistrationChangeBrokerRecord{
				BrokerID: id, BrokerHost: host, BrokerPort: port, SecurityProtocol: proto,
				BrokerStatus: metadata.StatusAlive, Epoch: old.Epoch + 1,
			}})
		}
	}
	for _, b := range img.Brokers() {
		if _, ok := m.brokers[b.BrokerID]; ok || b.BrokerStatus != metadata.StatusAlive {
			continue
		}
		recs = append(recs, metadata.Record{Body: &metadata.BrokerRegistrationChangeBrokerRecord{
			BrokerID: b.BrokerID, BrokerHost: b.BrokerHost, BrokerPort: b.BrokerPort, SecurityProtocol: b.SecurityProtocol,
			BrokerStatus: metadata.StatusFenced, Epoch: b.Epoch + 1,
		}})
	}
	return recs, probs
}

// topicMode says how strictly topicRecords judges what differs.
type topicMode struct {
	// strict: the first import, where YAKt must not already hold the
	// topic under another id (a resumed import or a follow replaces it:
	// ZooKeeper deleted and re-created it).
	strict bool
}

// importable reports whether a topic is to be in YAKt: listed, not being
// deleted, and every partition with its state znode (never half a topic).
// A topic still waiting for state znodes is neither a problem nor
// applied.
func importable(m *srcModel, name string) (t *srcTopic, ok bool) {
	t, ok = m.topics[name]
	if !ok || m.deleting[name] {
		return nil, false
	}
	if t.err != "" {
		return t, true // reported by topicRecords
	}
	for p := range t.t.Partitions {
		if ps, read := t.parts[p]; !read || !ps.exists {
			return nil, false
		}
	}
	return t, true
}

// topicRecords makes YAKt's topic name what ZooKeeper says: the
// TopicRecord and all its PartitionRecords for a new topic, the changed
// partitions (partition epoch = the state znode's version) for a known
// one. Any problem keeps the whole topic out.
func topicRecords(m *srcModel, name string, img *metadata.Image, mode topicMode) (recs []metadata.Record, probs []problem) {
	zt, ok := importable(m, name)
	if !ok {
		return nil, nil
	}
	tpath := zkformat.TopicPath(name)
	if zt.err != "" {
		return nil, []problem{{tpath, zt.err + "; the topic was not applied"}}
	}
	if err := metadata.ValidateTopicName(name); err != nil {
		return nil, []problem{{tpath, err.Error() + "; the topic was not applied"}}
	}
	id := zt.t.TopicID
	if id == "" {
		return nil, []problem{{tpath, "no topic_id (a topic created before Kafka 2.8 that no controller has given an id yet); the topic was not applied"}}
	}
	known := func(b int32) bool {
		if _, ok := m.brokers[b]; ok {
			return true
		}
		_, ok := img.Broker(b)
		return ok
	}
	parts := make([]int32, 0, len(zt.t.Partitions))
	for p := range zt.t.Partitions {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	want := make([]metadata.PartitionRecord, 0, len(parts))
	for _, p := range parts {
		ps := zt.parts[p]
		spath := zkformat.PartitionStatePath(name, p)
		if ps.err != "" {
			probs = append(probs, problem{spath, ps.err + "; the topic was not applied"})
			continue
		}
		pr := metadata.PartitionRecord{
			PartitionID: p, TopicUUID: id,
			Replicas: zt.t.Partitions[p], AddingReplicas: zt.t.Adding[p], RemovingReplicas: zt.t.Removing[p],
			Leader: ps.state.Leader, ISR: ps.state.ISR, PartitionEpoch: int64(ps.version),
		}
		for _, b := range pr.Replicas {
			if !known(b) {
				probs = append(probs, problem{tpath, fmt.Sprintf("partition %d: replica %d is not a broker under %s; the topic was not applied", p, b, zkformat.PathBrokerIDs)})
				break
			}
		}
		if msg := checkPartition(&pr); msg != "" {
			probs = append(probs, problem{spath, msg + "; the topic was not applied"})
		}
		want = append(want, pr)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	cur, exists := img.Topic(name)
	if other, ok := img.TopicByUUID(id); ok && other.Name != name {
		return nil, []problem{{tpath, fmt.Sprintf("topic id %s belongs to YAKt's topic %q; the topic was not applied", id, other.Name)}}
	}
	if exists && cur.TopicUUID != id {
		if mode.strict {
			return nil, []problem{{tpath, fmt.Sprintf("topic exists in YAKt with id %s, ZooKeeper has id %s; the topic was not applied", cur.TopicUUID, id)}}
		}
		recs = append(recs, metadata.Record{Body: &metadata.RemoveTopicRecord{TopicUUID: cur.TopicUUID, Name: name}})
		exists = false
	}
	if !exists {
		if other, ok := img.CollidingTopic(name); ok && other != name {
			return nil, []problem{{tpath, fmt.Sprintf("collides with YAKt's topic %q ('.' and '_' are interchangeable); the topic was not applied", other)}}
		}
		recs = append(recs, metadata.Record{Body: &metadata.TopicRecord{TopicUUID: id, Name: name}})
		for i := range want {
			recs = append(recs, metadata.Record{Body: &want[i]})
		}
		return recs, nil
	}
	for i := range want {
		pr := &want[i]
		old, ok := img.Partition(id, pr.PartitionID)
		if !ok {
			recs = append(recs, metadata.Record{Body: pr})
			continue
		}
		if samePartition(&old, pr) && pr.PartitionEpoch <= old.PartitionEpoch {
			continue
		}
		// The same content at a higher state version is still a change:
		// ZooKeeper changed the partition and back between two reads
		// (an ISR shrunk and grew again), and YAKt's partition epoch
		// follows the state znode's version.
		if pr.PartitionEpoch <= old.PartitionEpoch {
			probs = append(probs, problem{zkformat.PartitionStatePath(name, pr.PartitionID),
				fmt.Sprintf("state version %d is not above YAKt's partition epoch %d; the change waits for the state znode to change", pr.PartitionEpoch, old.PartitionEpoch)})
			continue
		}
		recs = append(recs, metadata.Record{Body: pr})
	}
	if n := img.PartitionCount(id); n > len(want) {
		probs = append(probs, problem{tpath, fmt.Sprintf("YAKt has %d partitions, ZooKeeper %d: partitions cannot be removed; not applied", n, len(want))})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return recs, nil
}

// removedTopics are YAKt's topics ZooKeeper no longer has (or is
// deleting): RemoveTopicRecords, or in strict mode (the first import,
// where YAKt holds only what it had before) problems.
func removedTopics(m *srcModel, img *metadata.Image, strict bool) (recs []metadata.Record, probs []problem) {
	for _, t := range img.Topics() {
		zt, listed := m.topics[t.Name]
		if listed && !m.deleting[t.Name] {
			continue
		}
		if strict {
			msg := "topic exists in YAKt but not in ZooKeeper"
			if listed {
				msg = "topic exists in YAKt and is being deleted in ZooKeeper (" + zkformat.PathDeleteTopics + ")"
			}
			probs = append(probs, problem{zkformat.TopicPath(t.Name), msg})
			continue
		}
		_ = zt
		recs = append(recs, metadata.Record{Body: &metadata.RemoveTopicRecord{TopicUUID: t.TopicUUID, Name: t.Name}})
	}
	return recs, probs
}

// checkPartition is replay's structural check, made here so a bad
// state znode is a problem with its path rather than a refused batch.
func checkPartition(r *metadata.PartitionRecord) string {
	if len(r.Replicas) == 0 {
		return "the topic znode gives the partition no replicas"
	}
	in := func(ids []int32, id int32) bool { return slices.Contains(ids, id) }
	for i, id := range r.Replicas {
		if id < 0 || in(r.Replicas[:i], id) {
			return fmt.Sprintf("replicas %v are not distinct broker ids", r.Replicas)
		}
	}
	for _, l := range []struct {
		name string
		ids  []int32
	}{{"isr", r.ISR}, {"adding_replicas", r.AddingReplicas}, {"removing_replicas", r.RemovingReplicas}} {
		for i, id := range l.ids {
			if !in(r.Replicas, id) {
				return fmt.Sprintf("%s member %d is not a replica %v", l.name, id, r.Replicas)
			}
			if in(l.ids[:i], id) {
				return fmt.Sprintf("%s lists %d twice", l.name, id)
			}
		}
	}
	for _, id := range r.RemovingReplicas {
		if in(r.AddingReplicas, id) {
			return fmt.Sprintf("replica %d is both being added and removed", id)
		}
	}
	if r.Leader != metadata.NoLeader && !in(r.ISR, r.Leader) {
		return fmt.Sprintf("leader %d is not in the isr %v", r.Leader, r.ISR)
	}
	return ""
}

// samePartition compares what ZooKeeper defines of a partition.
func samePartition(a, b *metadata.PartitionRecord) bool {
	eq := func(x, y []int32) bool { return len(x) == len(y) && (len(x) == 0 || slices.Equal(x, y)) }
	return a.Leader == b.Leader && eq(a.Replicas, b.Replicas) && eq(a.ISR, b.ISR) &&
		eq(a.AddingReplicas, b.AddingReplicas) && eq(a.RemovingReplicas, b.RemovingReplicas)
}

// plan is one reconcile: the records grouped in batches of whole topics.
type plan struct {
	brokers  []metadata.Record
	groups   [][]string // topic names per batch, sorted
	topics   int        // topics in the groups
	removals []metadata.Record
	probs    []problem
	changed  bool // some record is needed
}

// batchPartitions bounds the partitions of one batch: well inside a raft
// entry, and large enough that 10,000 partitions take two commits.
const batchPartitions = 5000

// batchWeight is a topic's share of a batch: its partitions, counted
// heavier when they have more than three replicas, so a batch of wide
// partitions stays as far from a raft entry's limit (5,000 partitions of
// three replicas encode to about 370 KB).
func batchWeight(t *srcTopic) int {
	w := 0
	for p, r := range t.t.Partitions {
		w += max(3, len(r)+len(t.t.Adding[p])+len(t.t.Removing[p]))
	}
	return (w + 2) / 3
}

// makePlan reconciles all of m against img. With all, every importable
// topic is in the groups (the import counts them as progress); otherwise
// only topics that need records.
func makePlan(m *srcModel, img *metadata.Image, mode topicMode, all bool) plan {
	return makeScopedPlan(m, img, mode, all, nil)
}

// makeScopedPlan is makePlan over the topics in scope alone (nil: every
// topic), for a follow pass that knows which topics ZooKeeper changed:
// comparing every partition on every change would make a change's
// latency grow with the cluster. Brokers, removed topics and the
// producer-id block are always compared (they cost per broker or per
// topic, not per partition).
func makeScopedPlan(m *srcModel, img *metadata.Image, mode topicMode, all bool, scope map[string]bool) plan {
	var pl plan
	pl.brokers, pl.probs = brokerRecords(m, img)
	names := make([]string, 0, len(m.topics))
	for n := range m.topics {
		if scope == nil || scope[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var group []string
	size := 0
	for _, n := range names {
		recs, probs := topicRecords(m, n, img, mode)
		pl.probs = append(pl.probs, probs...)
		if len(probs) > 0 {
			continue
		}
		if _, ok := importable(m, n); !ok {
			continue
		}
		if len(recs) == 0 && !all {
			continue
		}
		pl.changed = pl.changed || len(recs) > 0
		parts := batchWeight(m.topics[n])
		if size > 0 && size+parts > batchPartitions {
			pl.groups = append(pl.groups, group)
			group, size = nil, 0
		}
		group = append(group, n)
		size += parts
		pl.topics++
	}
	if len(group) > 0 {
		pl.groups = append(pl.groups, group)
	}
	removals, probs := removedTopics(m, img, mode.strict)
	pl.removals = removals
	pl.probs = append(pl.probs, probs...)
	if m.pidErr != "" {
		pl.probs = append(pl.probs, problem{zkformat.PathProducerIDBlock, m.pidErr + "; the producer id block was not applied"})
	}
	pl.changed = pl.changed || len(pl.brokers) > 0 || len(pl.removals) > 0
	sort.Slice(pl.probs, func(i, j int) bool { return pl.probs[i].path < pl.probs[j].path })
	return pl
}

// groupRecords rebuilds, against img, the records of one batch's topics.
func groupRecords(m *srcModel, names []string, img *metadata.Image, mode topicMode) []metadata.Record {
	var recs []metadata.Record
	for _, n := range names {
		r, probs := topicRecords(m, n, img, mode)
		if len(probs) == 0 {
			recs = append(recs, r...)
		}
	}
	return recs
}

// nextProducerID is what the state record carries from
// /latest_producer_id_block: one past the last id ZooKeeper gave out.
func nextProducerID(m *srcModel) int64 {
	if m.pid == nil {
		return 0
	}
	return m.pid.End + 1
}

// maxProblems caps the problems a FAILED record lists.
const maxProblems = 20

// failureText lists the problems of a failed import, capped.
func failureText(probs []problem) string {
	var b []byte
	for i, p := range probs {
		if i == maxProblems {
			b = fmt.Appendf(b, "; and %d more", len(probs)-maxProblems)
			break
		}
		if i > 0 {
			b = append(b, "; "...)
		}
		b = append(b, p.String()...)
	}
	return string(b)
}
