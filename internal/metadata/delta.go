package metadata

import (
	"fmt"
	"math"
	"time"
)

// Delta folds records into a base image: the only road to a new Image.
// Replay and ReplayBatch check each record against the state as of the
// records before it (the rules are in doc.go); a record that no longer
// applies is rejected with an *Error and changes nothing. Apply returns the
// image as of everything replayed so far.
//
// A Delta also reads: Broker, Topics, Partition, ... (the Reader interface)
// answer as of the records replayed so far, so the controller can validate
// a request against committed state plus proposed-but-uncommitted records.
// Apply is O(1) too, for callers that would rather hold an *Image.
//
// Cost: a record copies the O(log32 n) persistent-map nodes on its path
// (within one batch each node at most once) and allocates a few small
// structs; nothing is proportional to the number of brokers, topics or
// partitions. Sorted listings (Brokers, Topics, Partitions) sort the touched
// domain on first use after a change.
//
// A Delta is not safe for concurrent use; the images it returns are.
type Delta struct {
	cur     state
	maxTime time.Time
	// ed owns the map nodes created since the last batch start or Apply;
	// only those may be changed in place. Invariant: no node owned by ed
	// is reachable from an image Apply returned or from the state a
	// failing ReplayBatch restores.
	ed *edit
	// snapshot relaxes the producer-id rules for loading an image's
	// Records(): a block keeps the broker epoch it was given at, and its
	// broker may since have been fenced, closed or re-registered.
	snapshot bool
	// limits bound the idempotency-key table (ReplayEntry).
	limits idempotencyLimits
}

// NewDelta starts a delta over base (nil means Empty).
func NewDelta(base *Image) *Delta {
	if base == nil {
		base = Empty
	}
	return &Delta{cur: base.state, maxTime: base.maxTime, ed: new(edit), limits: defaultIdempotencyLimits}
}

// Replay folds one record into the delta. A record that no longer applies
// returns an *Error (CodeXxx per doc.go) and changes nothing. A record
// without a Body, or with a Body type not from this package, returns a
// plain error: that is a bug, not a rejection.
func (d *Delta) Replay(rec Record) error {
	if err := d.replay(rec); err != nil {
		return err
	}
	if rec.Timestamp.After(d.maxTime) {
		d.maxTime = rec.Timestamp
	}
	return nil
}

// ReplayBatch replays recs atomically: either all apply, or the delta is
// left exactly as it was and the first failure is returned, wrapped with
// its position (errors.As finds the *Error).
func (d *Delta) ReplayBatch(recs []Record) error {
	if len(recs) > 1 {
		// A fresh token: nodes reachable from saved are no longer changed
		// in place, so restoring saved undoes the batch. A lone record
		// needs none (replay checks it fully before changing anything),
		// so a run of one-record batches copies each node once, not once
		// per batch.
		d.ed = new(edit)
	}
	saved, savedTime := d.cur, d.maxTime
	for i, rec := range recs {
		if err := d.Replay(rec); err != nil {
			d.cur, d.maxTime = saved, savedTime
			name := "record"
			if rec.Body != nil {
				name = rec.Body.RecordName()
			}
			return fmt.Errorf("metadata: replay batch: record %d of %d (%s): %w", i, len(recs), name, err)
		}
	}
	return nil
}

// Apply returns the image as of every record replayed so far, stamped with
// offset (the last offset it contains). Sub-images no record touched are
// the base's own. O(1). The delta stays usable: later records build on the
// returned image without changing it.
func (d *Delta) Apply(offset int64) *Image {
	im := &Image{offset: offset, maxTime: d.maxTime, state: d.cur}
	d.ed = new(edit) // NB: before any further change, or it would show in im
	return im
}

// View returns the state replayed so far as an image stamped with offset,
// without retiring the delta's edit token: later replays may change what
// it shows, in place. It is for a caller that reads the view only until
// its next replay and never hands it on (the leader's forecast, read
// under one lock); Apply returns an image that never changes.
func (d *Delta) View(offset int64) *Image {
	return &Image{offset: offset, maxTime: d.maxTime, state: d.cur}
}

// Broker is Image.Broker as of the records replayed so far.
func (d *Delta) Broker(id int32) (RegisterBrokerRecord, bool) { return d.cur.broker(id) }

// Brokers is Image.Brokers as of the records replayed so far.
func (d *Delta) Brokers() []RegisterBrokerRecord { return d.cur.brokerList() }

// Topic is Image.Topic as of the records replayed so far.
func (d *Delta) Topic(name string) (TopicRecord, bool) { return d.cur.topic(name) }

// TopicByUUID is Image.TopicByUUID as of the records replayed so far.
func (d *Delta) TopicByUUID(uuid string) (TopicRecord, bool) { return d.cur.topicByUUID(uuid) }

// Topics is Image.Topics as of the records replayed so far.
func (d *Delta) Topics() []TopicRecord { return d.cur.topicList() }

// Partition is Image.Partition as of the records replayed so far.
func (d *Delta) Partition(topicUUID string, id int32) (PartitionRecord, bool) {
	return d.cur.partition(topicUUID, id)
}

// Partitions is Image.Partitions as of the records replayed so far.
func (d *Delta) Partitions(topicUUID string) []PartitionRecord {
	return d.cur.partitionList(topicUUID)
}

// PartitionCount is Image.PartitionCount as of the records replayed so far.
func (d *Delta) PartitionCount(topicUUID string) int { return d.cur.partitionCount(topicUUID) }

// ProducerIDs is Image.ProducerIDs as of the records replayed so far.
func (d *Delta) ProducerIDs() ProducerIDsState { return d.cur.producerIDs() }

// replay checks rec and, only if it applies, changes d.cur. Every handler
// finishes all its checks before its first change.
func (d *Delta) replay(rec Record) error {
	switch r := rec.Body.(type) {
	case *RegisterBrokerRecord:
		return d.registerBroker(r)
	case *BrokerRegistrationChangeBrokerRecord:
		return d.changeBroker(r)
	case *TopicRecord:
		return d.createTopic(r)
	case *PartitionRecord:
		return d.partition(r)
	case *ProducerIdsRecord:
		return d.producerIDs(r)
	case *RemoveTopicRecord:
		return d.removeTopic(r)
	case *ZkMigrationStateRecord:
		return d.migrationState(r)
	case *ConfigRecord:
		return d.config(r)
	case nil:
		return fmt.Errorf("metadata: replay: record at offset %d has no body", rec.Offset)
	default:
		return fmt.Errorf("metadata: replay: record at offset %d has unknown body %T", rec.Offset, rec.Body)
	}
}

func (d *Delta) setBroker(b *RegisterBrokerRecord) {
	d.cur.cluster = &clusterImage{brokers: d.cur.cluster.brokers.set(d.ed, hashInt(int64(b.BrokerID)), b.BrokerID, b)}
}

func (d *Delta) registerBroker(r *RegisterBrokerRecord) error {
	if r.BrokerID < 0 {
		return Errorf(ReasonInvalid, "broker id %d is negative", r.BrokerID)
	}
	if !ValidStatus(r.BrokerStatus) {
		return Errorf(ReasonInvalid, "broker %d: status %q is not ALIVE, FENCED or CLOSED", r.BrokerID, r.BrokerStatus)
	}
	if old, ok := d.cur.cluster.brokers.get(hashInt(int64(r.BrokerID)), r.BrokerID); ok {
		if old.BrokerStatus != StatusClosed {
			return Errorf(ReasonBrokerAlreadyRegistered, "broker %d is already registered (%s)", r.BrokerID, old.BrokerStatus)
		}
		if r.Epoch <= old.Epoch {
			return Errorf(ReasonStaleBrokerEpoch, "broker %d re-registers at epoch %d; it was closed at epoch %d", r.BrokerID, r.Epoch, old.Epoch)
		}
	}
	b := *r
	d.setBroker(&b)
	return nil
}

func (d *Delta) changeBroker(r *BrokerRegistrationChangeBrokerRecord) error {
	old, ok := d.cur.cluster.brokers.get(hashInt(int64(r.BrokerID)), r.BrokerID)
	switch {
	case !ok:
		return Errorf(ReasonBrokerNotFound, "broker %d is not registered", r.BrokerID)
	case old.BrokerStatus == StatusClosed:
		return Errorf(ReasonBrokerNotActive, "broker %d is CLOSED", r.BrokerID)
	case old.Epoch == math.MaxInt64 || r.Epoch != old.Epoch+1:
		return Errorf(ReasonStaleBrokerEpoch, "broker %d: change at epoch %d, want %d", r.BrokerID, r.Epoch, old.Epoch+1)
	case !ValidStatus(r.BrokerStatus):
		return Errorf(ReasonInvalid, "broker %d: status %q is not ALIVE, FENCED or CLOSED", r.BrokerID, r.BrokerStatus)
	}
	b := *old
	b.BrokerHost, b.BrokerPort, b.SecurityProtocol = r.BrokerHost, r.BrokerPort, r.SecurityProtocol
	b.BrokerStatus, b.Epoch = r.BrokerStatus, r.Epoch
	d.setBroker(&b)
	return nil
}

func (d *Delta) createTopic(r *TopicRecord) error {
	if err := ValidateTopicName(r.Name); err != nil {
		return err
	}
	if r.TopicUUID == "" {
		return Errorf(ReasonInvalid, "topic %q has no topicUUID", r.Name)
	}
	topics := d.cur.topics
	hn, hu := hashString(r.Name), hashString(r.TopicUUID)
	if _, ok := topics.byName.get(hn, r.Name); ok {
		return Errorf(ReasonTopicAlreadyExists, "topic %q already exists", r.Name)
	}
	key := TopicCollisionKey(r.Name)
	hk := hashString(key)
	if other, ok := topics.byKey.get(hk, key); ok {
		return CollisionError(r.Name, other)
	}
	if t, ok := topics.byUUID.get(hu, r.TopicUUID); ok {
		return Errorf(ReasonTopicAlreadyExists, "topic id %s already exists (topic %q)", r.TopicUUID, t.rec.Name)
	}
	d.cur.topics = &topicsImage{
		byName: topics.byName.set(d.ed, hn, r.Name, r.TopicUUID),
		byKey:  topics.byKey.set(d.ed, hk, key, r.Name),
		byUUID: topics.byUUID.set(d.ed, hu, r.TopicUUID, &topicImage{rec: *r}),
	}
	return nil
}

func (d *Delta) removeTopic(r *RemoveTopicRecord) error {
	topics := d.cur.topics
	hu := hashString(r.TopicUUID)
	t, ok := topics.byUUID.get(hu, r.TopicUUID)
	if !ok || t.rec.Name != r.Name {
		return Errorf(ReasonTopicNotFound, "topic %q with id %s not found", r.Name, r.TopicUUID)
	}
	d.cur.topics = &topicsImage{
		byName: topics.byName.del(d.ed, hashString(r.Name), r.Name),
		byKey:  topics.byKey.del(d.ed, hashString(TopicCollisionKey(r.Name)), TopicCollisionKey(r.Name)),
		byUUID: topics.byUUID.del(d.ed, hu, r.TopicUUID),
	}
	d.dropTopicConfigs(r.Name)
	return nil
}

func (d *Delta) partition(r *PartitionRecord) error {
	topics := d.cur.topics
	hu := hashString(r.TopicUUID)
	t, ok := topics.byUUID.get(hu, r.TopicUUID)
	if !ok {
		return Errorf(ReasonTopicNotFound, "partition %d: topic id %s not found", r.PartitionID, r.TopicUUID)
	}
	hp := hashInt(int64(r.PartitionID))
	if old, ok := t.parts.get(hp, r.PartitionID); ok {
		if r.PartitionEpoch == 0 {
			return Errorf(ReasonPartitionAlreadyExists, "partition %d of topic %q already exists", r.PartitionID, t.rec.Name)
		}
		// Greater, not exactly one more: a partition migrated from
		// ZooKeeper carries its state znode's version, which can jump.
		// Two changes built from the same state both carry current+1, so
		// the second of a race is still refused.
		if r.PartitionEpoch <= old.epoch {
			return Errorf(ReasonStalePartitionEpoch, "partition %d of topic %q: change at epoch %d, want more than %d",
				r.PartitionID, t.rec.Name, r.PartitionEpoch, old.epoch)
		}
	} else if r.PartitionEpoch < 0 {
		return Errorf(ReasonInvalid, "partition %d of topic %q: negative partition epoch %d", r.PartitionID, t.rec.Name, r.PartitionEpoch)
	}
	if err := checkAssignment(r); err != nil {
		return Errorf(ReasonInvalidReplicaAssignment, "partition %d of topic %q: %s", r.PartitionID, t.rec.Name, err)
	}
	nt := &topicImage{rec: t.rec, parts: t.parts.set(d.ed, hp, r.PartitionID, newPartState(r))}
	d.cur.topics = &topicsImage{byName: topics.byName, byKey: topics.byKey, byUUID: topics.byUUID.set(d.ed, hu, r.TopicUUID, nt)}
	return nil
}

// checkAssignment is the structural check of a partition's state.
func checkAssignment(r *PartitionRecord) error {
	switch {
	case r.PartitionID < 0:
		return fmt.Errorf("negative partition id")
	case len(r.Replicas) == 0:
		return fmt.Errorf("no replicas")
	}
	for _, id := range r.Replicas {
		if id < 0 {
			return fmt.Errorf("replica %d is not a broker id", id)
		}
	}
	if dup, ok := duplicate(r.Replicas); ok {
		return fmt.Errorf("replica %d listed twice in %v", dup, r.Replicas)
	}
	replicas := newIDSet(r.Replicas)
	for _, l := range []struct {
		name string
		ids  []int32
	}{{"ISR", r.ISR}, {"addingReplicas", r.AddingReplicas}, {"removingReplicas", r.RemovingReplicas}} {
		if dup, ok := duplicate(l.ids); ok {
			return fmt.Errorf("%s lists %d twice", l.name, dup)
		}
		for _, id := range l.ids {
			if !replicas.has(id) {
				return fmt.Errorf("%s member %d is not a replica %v", l.name, id, r.Replicas)
			}
		}
	}
	adding := newIDSet(r.AddingReplicas)
	for _, id := range r.RemovingReplicas {
		if adding.has(id) {
			return fmt.Errorf("replica %d is both being added and removed", id)
		}
	}
	if r.Leader != NoLeader && !newIDSet(r.ISR).has(r.Leader) {
		return fmt.Errorf("leader %d is not in the ISR %v", r.Leader, r.ISR)
	}
	return nil
}

// idSet is a set of broker ids: a scan for the short lists replica sets
// are, a map beyond.
type idSet struct {
	ids []int32
	m   map[int32]struct{}
}

const idSetScanMax = 32

func newIDSet(ids []int32) idSet {
	if len(ids) <= idSetScanMax {
		return idSet{ids: ids}
	}
	m := make(map[int32]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return idSet{m: m}
}

func (s idSet) has(id int32) bool {
	if s.m != nil {
		_, ok := s.m[id]
		return ok
	}
	for _, x := range s.ids {
		if x == id {
			return true
		}
	}
	return false
}

// duplicate returns an id that appears twice in ids, if any.
func duplicate(ids []int32) (int32, bool) {
	if len(ids) <= idSetScanMax {
		for i := range ids {
			for j := range i {
				if ids[i] == ids[j] {
					return ids[i], true
				}
			}
		}
		return 0, false
	}
	seen := make(map[int32]struct{}, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			return id, true
		}
		seen[id] = struct{}{}
	}
	return 0, false
}

func (d *Delta) producerIDs(r *ProducerIdsRecord) error {
	b, ok := d.cur.cluster.brokers.get(hashInt(int64(r.BrokerID)), r.BrokerID)
	switch {
	case r.BrokerID == NodeProducerIDs:
		if r.BrokerEpoch <= 0 {
			return Errorf(ReasonInvalid, "producer ids for a node: node id %d is not positive", r.BrokerEpoch)
		}
	case !ok:
		return Errorf(ReasonBrokerNotFound, "producer ids for broker %d: broker is not registered", r.BrokerID)
	}
	if !d.snapshot && r.BrokerID != NodeProducerIDs {
		if b.BrokerStatus != StatusAlive {
			return Errorf(ReasonBrokerNotActive, "producer ids for broker %d: broker is %s", r.BrokerID, b.BrokerStatus)
		}
		if r.BrokerEpoch != b.Epoch {
			return Errorf(ReasonStaleBrokerEpoch, "producer ids for broker %d at epoch %d: broker is at epoch %d", r.BrokerID, r.BrokerEpoch, b.Epoch)
		}
	}
	const size = ProducerIDBlockSize
	if r.ProducerID < 0 || r.ProducerID > math.MaxInt64-size {
		return Errorf(ReasonProducerIDAlreadyAllocated, "producer id %d is outside [0, %d]", r.ProducerID, int64(math.MaxInt64-size))
	}
	if floor := d.cur.producerIDFloor(); r.ProducerID < floor {
		return Errorf(ReasonProducerIDAlreadyAllocated, "producer id %d is below %d: ZooKeeper gave out the ids before it", r.ProducerID, floor)
	}
	pids := d.cur.pids
	k := r.ProducerID / size
	for w := k - 1; w <= k+1; w++ {
		o, ok := pids.blocks.get(hashInt(w), w)
		if ok && o.ProducerID < r.ProducerID+size && r.ProducerID < o.ProducerID+size {
			return Errorf(ReasonProducerIDAlreadyAllocated, "producer ids [%d, %d) overlap [%d, %d), given to broker %d",
				r.ProducerID, r.ProducerID+size, o.ProducerID, o.ProducerID+size, o.BrokerID)
		}
	}
	d.cur.pids = &producerIDsImage{
		next:   max(pids.next, r.ProducerID+size),
		blocks: pids.blocks.set(d.ed, hashInt(k), k, *r),
	}
	return nil
}
