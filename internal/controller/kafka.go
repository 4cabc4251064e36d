package controller

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/transport"
)

// KafkaMethod is the transport.Request Method of a Kafka request a
// follower forwards to the leader: its Body is the request frame (header
// and body, without the size), the answer's Body the response body. Such
// requests reach only the handler ServeForwardedKafka sets, never the
// HTTP API, which has no route for that method either.
const KafkaMethod = "KAFKA"

// forwardedHandlers dispatches the requests peers forward here by kind:
// Kafka requests to the Kafka listener, every other one to the HTTP API.
// The node holds one handler; each front door sets and clears its own.
type forwardedHandlers struct {
	mu          sync.Mutex
	http, kafka transport.RequestHandler
}

func (f *forwardedHandlers) set(node *raftnode.Node, slot *transport.RequestHandler, h transport.RequestHandler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*slot = h
	if f.http == nil && f.kafka == nil {
		node.ServeForwarded(nil)
		return
	}
	node.ServeForwarded(f.serve)
}

func (f *forwardedHandlers) serve(ctx context.Context, from uint64, req *transport.Request) (*transport.Response, error) {
	f.mu.Lock()
	h := f.http
	if req.Method == KafkaMethod {
		h = f.kafka
	}
	f.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("%w: %s requests", transport.ErrNotServed, req.Method)
	}
	return h(ctx, from, req)
}

// ServeForwardedKafka sets the handler of the Kafka requests peers
// forward here (Method KafkaMethod); nil refuses them unrun.
func (c *Controller) ServeForwardedKafka(h transport.RequestHandler) {
	c.forwarded.set(c.node, &c.forwarded.kafka, h)
}

// PeerKafkaAddr is the Kafka address node id advertised (this node's
// own for its id); ok is false when it has no Kafka listener or has not
// connected to this node yet.
func (c *Controller) PeerKafkaAddr(id uint64) (string, bool) { return c.node.PeerKafkaAddr(id) }

// KafkaNode is a quorum member with a Kafka listener.
type KafkaNode struct {
	ID   uint64
	Addr string // advertised host:port
}

// KafkaNodes lists the quorum's members (voters and observers) whose
// Kafka address this node knows, by id: the brokers of Kafka's Metadata.
func (c *Controller) KafkaNodes() []KafkaNode {
	var out []KafkaNode
	seen := map[uint64]bool{}
	add := func(id uint64) {
		if seen[id] {
			return
		}
		seen[id] = true
		if addr, ok := c.node.PeerKafkaAddr(id); ok {
			out = append(out, KafkaNode{ID: id, Addr: addr})
		}
	}
	add(c.node.ID())
	for _, m := range c.node.Members() {
		add(m.NodeID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TopicOptions are what Kafka's CreateTopics may ask beyond the HTTP
// API's CreateTopicRequest.
type TopicOptions struct {
	// Assignment places the partitions explicitly: partition i gets
	// replicas Assignment[i], the first of which leads, and the ISR is all
	// of them. Every partition must have as many replicas; the request's
	// Partitions and ReplicationFactor are then ignored.
	Assignment [][]int32
	// ValidateOnly checks the request against the committed state on the
	// leader and proposes nothing; the answer is what would be created
	// (offset 0).
	ValidateOnly bool
}

// assignedPartitions appends to recs the partitions of topicUUID placed
// as assignment says. INVALID_REPLICA_ASSIGNMENT for an empty assignment,
// replica lists of different lengths, or any replica a partition of the
// HTTP API's CreatePartition would refuse.
func assignedPartitions(img *metadata.Image, recs []metadata.Record, topicUUID string, assignment [][]int32) ([]metadata.Record, error) {
	if len(assignment) == 0 || len(assignment) > MaxPartitionsPerRequest {
		return nil, invalidAssignment("the assignment must place 1..%d partitions, got %d", MaxPartitionsPerRequest, len(assignment))
	}
	for i, replicas := range assignment {
		if len(replicas) != len(assignment[0]) {
			return nil, invalidAssignment("partition %d has %d replicas, partition 0 has %d: every partition must have as many", i, len(replicas), len(assignment[0]))
		}
		p, err := validateCreatePartition(contract.CreatePartitionRequest{Replicas: replicas})
		if err != nil {
			return nil, err
		}
		for _, id := range replicas {
			if err := checkReplicaBroker(img, id); err != nil {
				return nil, err
			}
		}
		p.PartitionID, p.TopicUUID = int32(i), topicUUID
		recs = append(recs, metadata.Record{Body: &p})
	}
	return recs, nil
}

// validateOnly runs build against the committed state after a read
// barrier, on the leader only (as the write would run), and answers
// what it would create.
func (c *Controller) validateOnly(ctx context.Context, build func(img *metadata.Image) ([]metadata.Record, error)) (contract.TopicDetail, int64, error) {
	if !c.IsLeader() {
		return contract.TopicDetail{}, 0, contract.Errorf(contract.CodeNoLeader, "this node is not the leader")
	}
	img, err := c.linearizableImage(ctx)
	if err != nil {
		return contract.TopicDetail{}, 0, err
	}
	recs, err := build(img)
	if err != nil {
		return contract.TopicDetail{}, 0, err
	}
	return topicDetail(recs), 0, nil
}

// AddPartitions grows topic to count partitions in one batch (Kafka's
// CreatePartitions): the new ones are placed as assignment says (one
// replica list per new partition) or, without one, over the ALIVE
// brokers with the replication factor of the topic's first partition
// (min(3, ALIVE) for a topic without partitions). With validateOnly it
// proposes nothing and answers what it would add. TOPIC_NOT_FOUND;
// INVALID_REQUEST when count is not above the current count or adds more
// than MaxPartitionsPerRequest; INVALID_REPLICA_ASSIGNMENT as
// CreatePartition, or for an assignment of the wrong length, or more
// replicas than ALIVE brokers.
func (c *Controller) AddPartitions(ctx context.Context, topic string, count int32, assignment [][]int32, validateOnly bool) ([]metadata.PartitionRecord, int64, error) {
	build := func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		t, ok := img.Topic(topic)
		if !ok {
			return nil, topicNotFound(topic)
		}
		parts := img.Partitions(t.TopicUUID)
		cur := int32(len(parts))
		if count <= cur {
			return nil, contract.Errorf(contract.CodeInvalidRequest, "topic %q has %d partitions; the new count %d must be higher", topic, cur, count)
		}
		n := count - cur
		if n > MaxPartitionsPerRequest {
			return nil, contract.Errorf(contract.CodeInvalidRequest, "at most %d partitions can be added at once, asked for %d", MaxPartitionsPerRequest, n)
		}
		first, err := nextPartitionID(parts)
		if err != nil {
			return nil, err
		}
		asg := assignment
		if asg == nil {
			pl := c.placements.of(img)
			rf := min(3, pl.brokers())
			if len(parts) > 0 {
				rf = len(parts[0].Replicas)
			}
			if rf < 1 || rf > pl.brokers() {
				return nil, invalidAssignment("replication factor %d needs as many ALIVE brokers; there are %d", rf, pl.brokers())
			}
			asg = pl.assign(int(n), rf)
		} else if int32(len(asg)) != n {
			return nil, invalidAssignment("the assignment places %d partitions; %d are added", len(asg), n)
		}
		recs, err := assignedPartitions(img, nil, t.TopicUUID, asg)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			r.Body.(*metadata.PartitionRecord).PartitionID += first
		}
		return recs, nil
	}
	var recs []metadata.Record
	var err error
	if validateOnly {
		if !c.IsLeader() {
			return nil, 0, contract.Errorf(contract.CodeNoLeader, "this node is not the leader")
		}
		img, ierr := c.linearizableImage(ctx)
		if ierr != nil {
			return nil, 0, ierr
		}
		recs, err = build(img)
	} else {
		recs, err = c.write(ctx, build, metadata.ReasonPartitionAlreadyExists)
	}
	if err != nil {
		return nil, 0, err
	}
	out := make([]metadata.PartitionRecord, len(recs))
	for i, r := range recs {
		out[i] = *r.Body.(*metadata.PartitionRecord)
	}
	return out, recs[0].Offset, nil
}

// AllocateNodeProducerIDs takes the next free block of
// metadata.ProducerIDBlockSize producer ids for this node (a
// ProducerIdsRecord of broker metadata.NodeProducerIDs and epoch the
// node's id) and returns its first id. The Kafka listener hands its ids
// out to InitProducerId; only the leader runs it (a follower forwards
// InitProducerId), so no block waits on a broker registration.
func (c *Controller) AllocateNodeProducerIDs(ctx context.Context) (int64, error) {
	self := int64(c.node.ID())
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		start, err := nextFreeBlock(img.ProducerIDs().NextProducerID)
		if err != nil {
			return nil, err
		}
		return []metadata.Record{{Body: &metadata.ProducerIdsRecord{BrokerID: metadata.NodeProducerIDs, BrokerEpoch: self, ProducerID: start}}}, nil
	}, metadata.ReasonProducerIDAlreadyAllocated)
	if err != nil {
		return 0, err
	}
	return applied[0].Body.(*metadata.ProducerIdsRecord).ProducerID, nil
}
