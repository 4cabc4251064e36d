package controller

import (
	"context"
	"math"
	"slices"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// validate checks what needs no state: a non-negative partitionId,
// replicas non-empty, non-negative and distinct, the ISR non-empty,
// distinct and within the replicas, the leader in the ISR. It returns the
// partition with the defaults filled in (PartitionID -1 when the server
// must choose it).
func validateCreatePartition(req contract.CreatePartitionRequest) (metadata.PartitionRecord, error) {
	p := metadata.PartitionRecord{PartitionID: -1, RemovingReplicas: []int32{}, AddingReplicas: []int32{}}
	if req.PartitionID != nil {
		if *req.PartitionID < 0 {
			return p, contract.Errorf(contract.CodeInvalidRequest, "partitionId must be >= 0, got %d", *req.PartitionID)
		}
		p.PartitionID = *req.PartitionID
	}
	if len(req.Replicas) == 0 {
		return p, invalidAssignment("replicas must list at least one broker")
	}
	for _, id := range req.Replicas {
		if id < 0 {
			return p, invalidAssignment("replica %d is not a broker id", id)
		}
	}
	if dup, ok := firstDuplicate(req.Replicas); ok {
		return p, invalidAssignment("replica %d is listed twice in %v", dup, req.Replicas)
	}
	p.Replicas = slices.Clone(req.Replicas)
	p.ISR = slices.Clone(req.Replicas)
	if req.ISR != nil {
		if len(req.ISR) == 0 {
			return p, invalidAssignment("ISR is empty; omit it to use the replicas")
		}
		if dup, ok := firstDuplicate(req.ISR); ok {
			return p, invalidAssignment("ISR lists %d twice", dup)
		}
		for _, id := range req.ISR {
			if !slices.Contains(req.Replicas, id) {
				return p, invalidAssignment("ISR member %d is not a replica %v", id, req.Replicas)
			}
		}
		p.ISR = slices.Clone(req.ISR)
	}
	p.Leader = p.ISR[0]
	if req.Leader != nil {
		if !slices.Contains(p.ISR, *req.Leader) {
			return p, invalidAssignment("leader %d is not in the ISR %v", *req.Leader, p.ISR)
		}
		p.Leader = *req.Leader
	}
	return p, nil
}

func invalidAssignment(format string, args ...any) *contract.Error {
	return contract.Errorf(contract.CodeInvalidReplicaAssignment, format, args...)
}

// firstDuplicate returns an id listed twice in ids, if any.
func firstDuplicate(ids []int32) (int32, bool) {
	seen := make(map[int32]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return id, true
		}
		seen[id] = true
	}
	return 0, false
}

// CreatePartition proposes a PartitionRecord (partitionEpoch 0) for a new
// partition of topic and returns it with its offset. TOPIC_NOT_FOUND,
// PARTITION_ALREADY_EXISTS, INVALID_REPLICA_ASSIGNMENT (see validate; also
// a replica that is not a registered broker or is CLOSED).
func (c *Controller) CreatePartition(ctx context.Context, topic string, req contract.CreatePartitionRequest) (metadata.Record, int64, error) {
	p, err := validateCreatePartition(req)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	var raced []metadata.Reason
	if p.PartitionID < 0 {
		// Two requests may pick the same next free id; the later one
		// picks again rather than fail with an id it never asked for.
		raced = append(raced, metadata.ReasonPartitionAlreadyExists)
	}
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		return buildCreatePartition(img, topic, p)
	}, raced...)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

// buildCreatePartition places p (from validate) in topic, choosing its id
// when p.PartitionID is -1.
func buildCreatePartition(img metadata.Reader, topic string, p metadata.PartitionRecord) ([]metadata.Record, error) {
	t, ok := img.Topic(topic)
	if !ok {
		return nil, topicNotFound(topic)
	}
	p.TopicUUID = t.TopicUUID
	if p.PartitionID < 0 {
		id, err := nextPartitionID(img.Partitions(t.TopicUUID))
		if err != nil {
			return nil, err
		}
		p.PartitionID = id
	} else if _, ok := img.Partition(t.TopicUUID, p.PartitionID); ok {
		return nil, contract.Errorf(contract.CodePartitionAlreadyExists, "partition %d of topic %q already exists", p.PartitionID, topic)
	}
	for _, id := range p.Replicas {
		if err := checkReplicaBroker(img, id); err != nil {
			return nil, err
		}
	}
	p.PartitionEpoch = 0
	return []metadata.Record{{Body: &p}}, nil
}

// nextPartitionID is the id after the highest of parts (sorted by id), or
// 0 for none.
func nextPartitionID(parts []metadata.PartitionRecord) (int32, error) {
	if len(parts) == 0 {
		return 0, nil
	}
	last := parts[len(parts)-1].PartitionID
	if last == math.MaxInt32 {
		return 0, contract.Errorf(contract.CodeInvalidRequest, "partition ids are exhausted; give partitionId explicitly")
	}
	return last + 1, nil
}

// checkReplicaBroker: a replica must be a registered broker that is not
// CLOSED (FENCED is allowed: it may come back).
func checkReplicaBroker(img metadata.Reader, id int32) error {
	b, ok := img.Broker(id)
	switch {
	case !ok:
		return invalidAssignment("replica %d is not a registered broker", id)
	case b.BrokerStatus == metadata.StatusClosed:
		return invalidAssignment("replica %d is a CLOSED broker", id)
	}
	return nil
}

// Partition returns one partition's current state: TOPIC_NOT_FOUND or
// PARTITION_NOT_FOUND.
func (c *Controller) Partition(ctx context.Context, topic string, id int32, stale bool) (metadata.PartitionRecord, error) {
	img, err := c.Image(ctx, stale)
	if err != nil {
		return metadata.PartitionRecord{}, err
	}
	return lookupPartition(img, topic, id)
}

func lookupPartition(img metadata.Reader, topic string, id int32) (metadata.PartitionRecord, error) {
	t, ok := img.Topic(topic)
	if !ok {
		return metadata.PartitionRecord{}, topicNotFound(topic)
	}
	p, ok := img.Partition(t.TopicUUID, id)
	if !ok {
		return metadata.PartitionRecord{}, contract.Errorf(contract.CodePartitionNotFound, "partition %d of topic %q not found", id, topic)
	}
	return p, nil
}

// AddReplica proposes the partition's next state with broker added to
// replicas and addingReplicas (not the ISR: it joins when it has caught
// up), partitionEpoch + 1, and returns it with its offset.
// INVALID_REPLICA_ASSIGNMENT if the broker is already a replica, is not
// registered or is CLOSED; TOPIC_NOT_FOUND, PARTITION_NOT_FOUND.
func (c *Controller) AddReplica(ctx context.Context, topic string, partition int32, req contract.AddReplicaRequest) (metadata.Record, int64, error) {
	if req.BrokerID == nil {
		return metadata.Record{}, 0, contract.Errorf(contract.CodeInvalidRequest, "brokerId is required")
	}
	if *req.BrokerID < 0 {
		return metadata.Record{}, 0, contract.Errorf(contract.CodeInvalidRequest, "brokerId must be >= 0, got %d", *req.BrokerID)
	}
	broker := *req.BrokerID
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		return buildAddReplica(img, topic, partition, broker)
	}, metadata.ReasonStalePartitionEpoch)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

func buildAddReplica(img metadata.Reader, topic string, partition, broker int32) ([]metadata.Record, error) {
	p, err := lookupPartition(img, topic, partition)
	if err != nil {
		return nil, err
	}
	if err := checkReplicaBroker(img, broker); err != nil {
		return nil, err
	}
	next, err := withReplica(p, broker)
	if err != nil {
		return nil, err
	}
	return []metadata.Record{{Body: &next}}, nil
}

// withReplica is p's next state with broker added to replicas and
// addingReplicas.
func withReplica(p metadata.PartitionRecord, broker int32) (metadata.PartitionRecord, error) {
	if slices.Contains(p.Replicas, broker) {
		return p, invalidAssignment("broker %d is already a replica of partition %d %v", broker, p.PartitionID, p.Replicas)
	}
	p.Replicas = append(slices.Clone(p.Replicas), broker)
	p.AddingReplicas = append(slices.Clone(p.AddingReplicas), broker)
	p.PartitionEpoch++
	return p, nil
}

// RemoveReplica proposes the partition's next state without broker: it
// leaves replicas, ISR, addingReplicas and removingReplicas; if it led, the
// first remaining ISR member (in replica order) whose broker is ALIVE
// leads, or no one (-1); partitionEpoch + 1. It returns the record and its
// offset. INVALID_REPLICA_ASSIGNMENT if broker is not a replica or is the
// last one; TOPIC_NOT_FOUND, PARTITION_NOT_FOUND.
func (c *Controller) RemoveReplica(ctx context.Context, topic string, partition, broker int32) (metadata.Record, int64, error) {
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		return buildRemoveReplica(img, topic, partition, broker)
	}, metadata.ReasonStalePartitionEpoch)
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

func buildRemoveReplica(img metadata.Reader, topic string, partition, broker int32) ([]metadata.Record, error) {
	p, err := lookupPartition(img, topic, partition)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.Replicas, broker) {
		return nil, invalidAssignment("broker %d is not a replica of partition %d %v", broker, partition, p.Replicas)
	}
	if len(p.Replicas) == 1 {
		return nil, invalidAssignment("broker %d is the last replica of partition %d; a partition needs at least one", broker, partition)
	}
	next := withoutBroker(p, broker, func(b int32) bool { return isAlive(img, b) })
	next.Replicas = remove(next.Replicas, broker)
	next.AddingReplicas = remove(next.AddingReplicas, broker)
	next.RemovingReplicas = remove(next.RemovingReplicas, broker)
	return []metadata.Record{{Body: &next}}, nil
}

// withoutBroker is p's next state once broker may no longer be in sync or
// lead: it leaves the ISR and, if it led, leadership passes to
// electLeader's choice among the rest. partitionEpoch + 1. Replica lists
// are left as they are.
func withoutBroker(p metadata.PartitionRecord, broker int32, eligible func(int32) bool) metadata.PartitionRecord {
	p = clonePartition(p)
	p.ISR = remove(p.ISR, broker)
	if p.Leader == broker {
		p.Leader = electLeader(p.Replicas, p.ISR, func(b int32) bool { return b != broker && eligible(b) })
	}
	p.PartitionEpoch++
	return p
}

// electLeader returns the first replica, in replica order, that is in the
// ISR and eligible (Kafka's preferred-replica order), or NoLeader.
func electLeader(replicas, isr []int32, eligible func(int32) bool) int32 {
	for _, r := range replicas {
		if slices.Contains(isr, r) && eligible(r) {
			return r
		}
	}
	return metadata.NoLeader
}

// remove returns a new slice of ids without id, never nil.
func remove(ids []int32, id int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// clonePartition gives p slices of its own, never nil, so the next state
// can be built without touching the image's copy.
func clonePartition(p metadata.PartitionRecord) metadata.PartitionRecord {
	c := func(s []int32) []int32 { return append([]int32{}, s...) }
	p.Replicas, p.ISR, p.RemovingReplicas, p.AddingReplicas = c(p.Replicas), c(p.ISR), c(p.RemovingReplicas), c(p.AddingReplicas)
	return p
}
