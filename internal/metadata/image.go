package metadata

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Image is the metadata state as of one offset: an immutable value, safe
// for any number of concurrent readers, built only by Delta.Apply (or
// snapshot decoding). It is split into sub-images per domain (cluster:
// brokers; topics: topics and their partitions; producer ids); an Apply
// reuses every sub-image its records did not touch, and inside a touched
// one shares all persistent-map nodes off the changed paths.
//
// Accessors return copies: records by value, slices freshly allocated
// (partition replica lists included), so callers may keep and modify them.
// Sorted listings are computed once per sub-image and cached.
type Image struct {
	offset  int64
	maxTime time.Time
	state
}

// Empty is the image before any record: offset 0, no brokers, no topics,
// no producer ids.
var Empty = &Image{state: state{cluster: &clusterImage{}, topics: &topicsImage{}, pids: &producerIDsImage{}, keys: &keysImage{}, cfg: &configsImage{}}}

// Reader is the read side shared by *Image and *Delta (which reads as of
// the records replayed so far), so code validating a request can take
// either.
type Reader interface {
	Broker(id int32) (RegisterBrokerRecord, bool)
	Brokers() []RegisterBrokerRecord
	Topic(name string) (TopicRecord, bool)
	TopicByUUID(uuid string) (TopicRecord, bool)
	Topics() []TopicRecord
	Partition(topicUUID string, id int32) (PartitionRecord, bool)
	Partitions(topicUUID string) []PartitionRecord
	PartitionCount(topicUUID string) int
	ProducerIDs() ProducerIDsState
	Migration() (ZkMigrationStateRecord, bool)
	Configs(resourceType, resourceName string) map[string]string
}

var (
	_ Reader = (*Image)(nil)
	_ Reader = (*Delta)(nil)
)

// ProducerIDsState is the producer-id allocation state.
type ProducerIDsState struct {
	// NextProducerID is the first id after every block given so far: the
	// start of the next block when the caller does not choose one.
	NextProducerID int64 `json:"nextProducerId"`
	// Blocks are all blocks given, sorted by ProducerID. Never nil.
	Blocks []ProducerIdsRecord `json:"blocks"`
}

// SnapshotView is the API's "snapshot" (metadata fetch in snapshot mode).
type SnapshotView struct {
	Offset      int64                  `json:"offset"`
	Brokers     []RegisterBrokerRecord `json:"brokers"`    // all, by id
	Topics      []TopicView            `json:"topics"`     // by name
	Partitions  []PartitionRecord      `json:"partitions"` // by topic name, then id
	ProducerIDs *ProducerIDsState      `json:"producerIds,omitempty"`
	// Configs are the set configs as ConfigRecords (by resource type,
	// resource name, then config name), so a broker that starts from a
	// snapshot knows them; absent when none is set.
	Configs []*ConfigRecord `json:"configs,omitempty"`
}

// TopicView is one topic in a listing: its partitions are counted.
type TopicView struct {
	Name       string `json:"name"`
	TopicUUID  string `json:"topicUUID"`
	Partitions int    `json:"partitions"`
}

// Offset is the image's provenance: the offset Apply was given, that is
// the last offset whose records it contains (0 for Empty).
func (im *Image) Offset() int64 { return im.offset }

// MaxTimestamp is the greatest Timestamp of the records replayed into this
// image's history (the zero time if none); snapshots keep it. Tail.ResetAt
// uses it to answer SinceTime after a restore.
func (im *Image) MaxTimestamp() time.Time { return im.maxTime }

// Broker returns a broker's current values (status, epoch, host, ... after
// every change).
func (im *Image) Broker(id int32) (RegisterBrokerRecord, bool) { return im.state.broker(id) }

// Brokers returns every broker, CLOSED ones included, sorted by id.
func (im *Image) Brokers() []RegisterBrokerRecord { return im.state.brokerList() }

// BrokerSet identifies an image's brokers: images with equal BrokerSets
// have the same brokers with the same values, so what a caller derived
// from one image's brokers holds for the other. It keeps only the
// brokers alive, not the rest of the image.
type BrokerSet struct{ c *clusterImage }

// BrokerSet returns the identity of im's brokers.
func (im *Image) BrokerSet() BrokerSet { return BrokerSet{im.cluster} }

// Topic returns the topic named name.
func (im *Image) Topic(name string) (TopicRecord, bool) { return im.state.topic(name) }

// CollidingTopic returns the name of the existing topic that name collides
// with: another name that differs only by '.' against '_'.
func (im *Image) CollidingTopic(name string) (string, bool) { return im.state.collidingTopic(name) }

// TopicByUUID returns the topic with id uuid.
func (im *Image) TopicByUUID(uuid string) (TopicRecord, bool) { return im.state.topicByUUID(uuid) }

// Topics returns every topic, sorted by name.
func (im *Image) Topics() []TopicRecord { return im.state.topicList() }

// TopicsAfter returns, sorted by name, up to limit topics (0: no limit)
// whose names sort after after ("": from the first), and whether more
// follow. The image sorts its topics once; each call copies only its
// page, so paging through 200,000 topics costs the pages, not a copy of
// the whole list per page.
func (im *Image) TopicsAfter(after string, limit int) (page []TopicRecord, more bool) {
	sorted := im.state.topics.sortedTopics()
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(sorted, after, func(t *topicImage, name string) int {
			return strings.Compare(t.rec.Name, name)
		})
		if start < len(sorted) && sorted[start].rec.Name == after {
			start++
		}
	}
	end := len(sorted)
	if limit > 0 {
		end = min(end, start+limit)
	}
	page = make([]TopicRecord, end-start)
	for i, t := range sorted[start:end] {
		page[i] = t.rec
	}
	return page, end < len(sorted)
}

// Partition returns one partition's current state (a deep copy).
func (im *Image) Partition(topicUUID string, id int32) (PartitionRecord, bool) {
	return im.state.partition(topicUUID, id)
}

// Partitions returns a topic's partitions sorted by id (deep copies): nil
// if the topic does not exist, empty if it has none.
func (im *Image) Partitions(topicUUID string) []PartitionRecord {
	return im.state.partitionList(topicUUID)
}

// EachPartition calls fn with each of a topic's partitions in id order
// (none if the topic does not exist). Unlike Partitions it copies
// nothing: the record and its lists are views of the image, valid during
// the call only and read-only. Full answers and whole-image sweeps walk
// millions of partitions this way without making a copy of each.
func (im *Image) EachPartition(topicUUID string, fn func(p *PartitionRecord)) {
	t, ok := im.state.topicImage(topicUUID)
	if !ok {
		return
	}
	rec := new(PartitionRecord) // one for the walk: fn's pointer makes it escape
	for _, r := range t.sortedParts() {
		*rec = r.p.record(r.id, t.rec.TopicUUID)
		fn(rec)
	}
}

// PartitionCount is the number of partitions of a topic (0 if unknown).
func (im *Image) PartitionCount(topicUUID string) int { return im.state.partitionCount(topicUUID) }

// ProducerIDs returns the producer-id state; Blocks is a fresh slice.
func (im *Image) ProducerIDs() ProducerIDsState { return im.state.producerIDs() }

// View returns the API's snapshot of the image. ClientMgmt passes false:
// producer ids are then left out (ProducerIDs nil). Slices are never nil.
func (im *Image) View(withProducerIDs bool) SnapshotView {
	topics := im.topics.sortedTopics()
	v := SnapshotView{
		Offset:  im.offset,
		Brokers: im.Brokers(),
		Topics:  make([]TopicView, 0, len(topics)),
	}
	n := 0
	for _, t := range topics {
		v.Topics = append(v.Topics, TopicView{Name: t.rec.Name, TopicUUID: t.rec.TopicUUID, Partitions: t.parts.Len()})
		n += t.parts.Len()
	}
	v.Partitions = make([]PartitionRecord, 0, n)
	for _, t := range topics {
		v.Partitions = t.appendPartitions(v.Partitions)
	}
	if withProducerIDs {
		s := im.ProducerIDs()
		v.ProducerIDs = &s
	}
	v.Configs = im.configRecords()
	return v
}

// Records writes the image as records, the canonical form snapshots use:
// a RegisterBrokerRecord per broker with its current values, by id; per
// topic by name, its TopicRecord followed by its PartitionRecords by id;
// then a ProducerIdsRecord per block, by ProducerID; last, the migration
// state as a ZkMigrationStateRecord, if a migration ever started (after
// the blocks, since blocks below its NextProducerID may predate it); then
// a ConfigRecord per set config, by resource type, resource name and
// config name (after the topics they need).
// NextProducerID is the greater of the end of the highest block and the
// migration's NextProducerID, so these restore it exactly. Every record
// carries Offset() and a zero Timestamp. ImageFromRecords is the inverse.
func (im *Image) Records() []Record {
	brokers := im.cluster.sortedBrokers()
	topics := im.topics.sortedTopics()
	blocks := im.pids.sortedBlocks()
	n := len(brokers) + len(topics) + len(blocks) + 1
	for _, t := range topics {
		n += t.parts.Len()
	}
	out := make([]Record, 0, n)
	add := func(b Body) { out = append(out, Record{Offset: im.offset, Body: b}) }
	for _, b := range brokers {
		c := *b
		add(&c)
	}
	for _, t := range topics {
		c := t.rec
		add(&c)
		parts := t.appendPartitions(nil)
		for i := range parts {
			add(&parts[i])
		}
	}
	for _, b := range blocks {
		c := b
		add(&c)
	}
	if im.mig != nil {
		c := *im.mig
		add(&c)
	}
	for _, c := range im.configRecords() {
		add(c)
	}
	return out
}

// Equal reports whether two images have the same offset and content.
// MaxTimestamp is provenance, not content, and is not compared. It walks
// the sorted listings; nothing is copied.
func (im *Image) Equal(other *Image) bool {
	if im == other {
		return true
	}
	if im.offset != other.offset || im.pids.next != other.pids.next {
		return false
	}
	if (im.mig == nil) != (other.mig == nil) || im.mig != nil && *im.mig != *other.mig {
		return false
	}
	if !slices.EqualFunc(im.cluster.sortedBrokers(), other.cluster.sortedBrokers(),
		func(a, b *RegisterBrokerRecord) bool { return *a == *b }) {
		return false
	}
	if !slices.EqualFunc(im.topics.sortedTopics(), other.topics.sortedTopics(), func(a, b *topicImage) bool {
		return a.rec == b.rec && slices.EqualFunc(a.sortedParts(), b.sortedParts(),
			func(x, y partRef) bool { return x.id == y.id && x.p.equal(y.p) })
	}) {
		return false
	}
	return slices.Equal(im.pids.sortedBlocks(), other.pids.sortedBlocks()) && idempotencyEqual(im.keys, other.keys) &&
		configsEqual(im.cfg, other.cfg)
}

func bodyEqual(a, b Body) bool {
	switch x := a.(type) {
	case *RegisterBrokerRecord:
		y, ok := b.(*RegisterBrokerRecord)
		return ok && *x == *y
	case *TopicRecord:
		y, ok := b.(*TopicRecord)
		return ok && *x == *y
	case *PartitionRecord:
		y, ok := b.(*PartitionRecord)
		return ok && x.PartitionID == y.PartitionID && x.TopicUUID == y.TopicUUID &&
			x.Leader == y.Leader && x.PartitionEpoch == y.PartitionEpoch &&
			slices.Equal(x.Replicas, y.Replicas) && slices.Equal(x.ISR, y.ISR) &&
			slices.Equal(x.RemovingReplicas, y.RemovingReplicas) && slices.Equal(x.AddingReplicas, y.AddingReplicas)
	case *ProducerIdsRecord:
		y, ok := b.(*ProducerIdsRecord)
		return ok && *x == *y
	case *BrokerRegistrationChangeBrokerRecord:
		y, ok := b.(*BrokerRegistrationChangeBrokerRecord)
		return ok && *x == *y
	case *RemoveTopicRecord:
		y, ok := b.(*RemoveTopicRecord)
		return ok && *x == *y
	case *ZkMigrationStateRecord:
		y, ok := b.(*ZkMigrationStateRecord)
		return ok && *x == *y
	case *ConfigRecord:
		y, ok := b.(*ConfigRecord)
		return ok && x.equal(y)
	}
	return false
}

// state is the sub-images; Image and Delta read through it.
// Invariant: all are non-nil, and never modified once another
// goroutine can see them (a Delta builds new ones).
type state struct {
	cluster *clusterImage
	topics  *topicsImage
	pids    *producerIDsImage
	keys    *keysImage // idempotency keys (idempotency.go)
	// mig is the migration state (migration.go), nil before any
	// migration record; never modified once set (a record replaces it).
	mig *ZkMigrationStateRecord
	cfg *configsImage // set configs of topics and brokers (configs.go)
}

// clusterImage holds the brokers.
type clusterImage struct {
	brokers pmap[int32, *RegisterBrokerRecord] // values never modified
	sorted  lazy[[]*RegisterBrokerRecord]      // by id
}

// topicsImage holds the topics and, inside each, its partitions. The name
// index lives here too, so it cannot drift from the topics.
type topicsImage struct {
	byName pmap[string, string]      // name -> topic UUID
	byKey  pmap[string, string]      // TopicCollisionKey(name) -> name
	byUUID pmap[string, *topicImage] // UUID -> topic
	sorted lazy[[]*topicImage]       // by name
}

// topicImage is one topic. Immutable: a change makes a new one.
type topicImage struct {
	rec    TopicRecord
	parts  pmap[int32, *partState] // by partition id; values never modified
	sorted lazy[[]partRef]         // by id
}

// producerIDsImage holds the producer-id blocks. Blocks never overlap and
// all have ProducerIDBlockSize ids, so at most one block starts in each
// aligned window [k*size, (k+1)*size): blocks is keyed by that k, and the
// blocks a new one could overlap are found in the windows k-1, k and k+1.
type producerIDsImage struct {
	next   int64
	blocks pmap[int64, ProducerIdsRecord] // key: ProducerID / ProducerIDBlockSize
	sorted lazy[[]ProducerIdsRecord]      // by ProducerID
}

// lazy computes a value once, on first use, safely for concurrent readers.
type lazy[T any] struct {
	once sync.Once
	v    T
}

func (l *lazy[T]) get(f func() T) T {
	l.once.Do(func() { l.v = f() })
	return l.v
}

func (c *clusterImage) sortedBrokers() []*RegisterBrokerRecord {
	return c.sorted.get(func() []*RegisterBrokerRecord {
		out := make([]*RegisterBrokerRecord, 0, c.brokers.Len())
		c.brokers.each(func(_ int32, b *RegisterBrokerRecord) { out = append(out, b) })
		slices.SortFunc(out, func(a, b *RegisterBrokerRecord) int { return cmp.Compare(a.BrokerID, b.BrokerID) })
		return out
	})
}

func (t *topicsImage) sortedTopics() []*topicImage {
	return t.sorted.get(func() []*topicImage {
		out := make([]*topicImage, 0, t.byUUID.Len())
		t.byUUID.each(func(_ string, ti *topicImage) { out = append(out, ti) })
		slices.SortFunc(out, func(a, b *topicImage) int { return cmp.Compare(a.rec.Name, b.rec.Name) })
		return out
	})
}

func (p *producerIDsImage) sortedBlocks() []ProducerIdsRecord {
	return p.sorted.get(func() []ProducerIdsRecord {
		out := make([]ProducerIdsRecord, 0, p.blocks.Len())
		p.blocks.each(func(_ int64, b ProducerIdsRecord) { out = append(out, b) })
		slices.SortFunc(out, func(a, b ProducerIdsRecord) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
		return out
	})
}

func (s *state) broker(id int32) (RegisterBrokerRecord, bool) {
	b, ok := s.cluster.brokers.get(hashInt(int64(id)), id)
	if !ok {
		return RegisterBrokerRecord{}, false
	}
	return *b, true
}

func (s *state) brokerList() []RegisterBrokerRecord {
	sorted := s.cluster.sortedBrokers()
	out := make([]RegisterBrokerRecord, len(sorted))
	for i, b := range sorted {
		out[i] = *b
	}
	return out
}

func (s *state) topicImage(uuid string) (*topicImage, bool) {
	return s.topics.byUUID.get(hashString(uuid), uuid)
}

func (s *state) topicImageByName(name string) (*topicImage, bool) {
	uuid, ok := s.topics.byName.get(hashString(name), name)
	if !ok {
		return nil, false
	}
	return s.topicImage(uuid)
}

// collidingTopic returns the existing topic whose name differs from name
// only by '.' against '_' (see TopicCollisionKey), not name itself.
func (s *state) collidingTopic(name string) (string, bool) {
	key := TopicCollisionKey(name)
	other, ok := s.topics.byKey.get(hashString(key), key)
	if !ok || other == name {
		return "", false
	}
	return other, true
}

func (s *state) topic(name string) (TopicRecord, bool) {
	t, ok := s.topicImageByName(name)
	if !ok {
		return TopicRecord{}, false
	}
	return t.rec, true
}

func (s *state) topicByUUID(uuid string) (TopicRecord, bool) {
	t, ok := s.topicImage(uuid)
	if !ok {
		return TopicRecord{}, false
	}
	return t.rec, true
}

func (s *state) topicList() []TopicRecord {
	sorted := s.topics.sortedTopics()
	out := make([]TopicRecord, len(sorted))
	for i, t := range sorted {
		out[i] = t.rec
	}
	return out
}

func (s *state) partState(topicUUID string, id int32) (*partState, bool) {
	t, ok := s.topicImage(topicUUID)
	if !ok {
		return nil, false
	}
	return t.parts.get(hashInt(int64(id)), id)
}

func (s *state) partition(topicUUID string, id int32) (PartitionRecord, bool) {
	t, ok := s.topicImage(topicUUID)
	if !ok {
		return PartitionRecord{}, false
	}
	p, ok := t.parts.get(hashInt(int64(id)), id)
	if !ok {
		return PartitionRecord{}, false
	}
	return p.record(id, t.rec.TopicUUID).clone(), true
}

func (s *state) partitionList(topicUUID string) []PartitionRecord {
	t, ok := s.topicImage(topicUUID)
	if !ok {
		return nil
	}
	return t.appendPartitions(make([]PartitionRecord, 0, t.parts.Len()))
}

func (s *state) partitionCount(topicUUID string) int {
	t, ok := s.topicImage(topicUUID)
	if !ok {
		return 0
	}
	return t.parts.Len()
}

func (s *state) producerIDs() ProducerIDsState {
	return ProducerIDsState{NextProducerID: s.pids.next, Blocks: slices.Clone(s.pids.sortedBlocks())}
}
