package controller

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// CreateTopic proposes a TopicRecord and, when partitions are asked for,
// PartitionRecords placed over the ALIVE brokers, then a ConfigRecord per
// config asked for, all in one batch.
func (c *Controller) CreateTopic(ctx context.Context, req contract.CreateTopicRequest) (contract.TopicDetail, int64, error) {
	return c.CreateTopicWith(ctx, req, TopicOptions{})
}

// CreateTopicWith is CreateTopic with what Kafka's CreateTopics may ask
// beyond the HTTP API's request (kafka.go).
func (c *Controller) CreateTopicWith(ctx context.Context, req contract.CreateTopicRequest, opts TopicOptions) (contract.TopicDetail, int64, error) {
	if err := metadata.ValidateTopicName(req.Name); err != nil {
		return contract.TopicDetail{}, 0, err
	}
	configs, err := topicConfigRecords(req.Name, req.Configs)
	if err != nil {
		return contract.TopicDetail{}, 0, err
	}
	if strings.HasPrefix(req.Name, metadata.ReservedTopicPrefix) {
		// Replay accepts such names (a future internal topic is one); only
		// clients are refused.
		return contract.TopicDetail{}, 0, contract.Errorf(contract.CodeInvalidTopicName,
			"topic name %q is reserved: names starting with %q are for internal topics", req.Name, metadata.ReservedTopicPrefix)
	}
	build := func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		if _, ok := img.Topic(req.Name); ok {
			return nil, contract.Errorf(contract.CodeTopicAlreadyExists, "topic %q already exists", req.Name)
		}
		if other, ok := img.CollidingTopic(req.Name); ok {
			return nil, metadata.CollisionError(req.Name, other)
		}
		topic := &metadata.TopicRecord{TopicUUID: c.newUUID(), Name: req.Name}
		recs := []metadata.Record{{Body: topic}}
		if opts.Assignment != nil {
			recs, err := assignedPartitions(img, recs, topic.TopicUUID, opts.Assignment)
			if err != nil {
				return nil, err
			}
			return append(recs, configs...), nil
		}
		if req.Partitions != nil || req.ReplicationFactor != nil {
			parts, err := placePartitions(c.placements.of(img), topic.TopicUUID, req.Partitions, req.ReplicationFactor)
			if err != nil {
				return nil, err
			}
			for _, p := range parts {
				recs = append(recs, metadata.Record{Body: p})
			}
		}
		return append(recs, configs...), nil
	}
	if opts.ValidateOnly {
		return c.validateOnly(ctx, build)
	}
	applied, err := c.write(ctx, build)
	if err != nil {
		return contract.TopicDetail{}, 0, err
	}
	return topicDetail(applied), applied[0].Offset, nil
}

// topicDetail is CreateTopic's answer from its applied batch (a
// TopicRecord, then its PartitionRecords, then its ConfigRecords).
func topicDetail(applied []metadata.Record) contract.TopicDetail {
	out := contract.TopicDetail{Topic: *applied[0].Body.(*metadata.TopicRecord), Partitions: []metadata.PartitionRecord{}}
	for _, r := range applied[1:] {
		if p, ok := r.Body.(*metadata.PartitionRecord); ok {
			out.Partitions = append(out.Partitions, *p)
		}
	}
	return out
}

// Topic returns one topic and its partitions.
func (c *Controller) Topic(ctx context.Context, name string, stale bool) (contract.TopicDetail, error) {
	img, err := c.Image(ctx, stale)
	if err != nil {
		return contract.TopicDetail{}, err
	}
	t, ok := img.Topic(name)
	if !ok {
		return contract.TopicDetail{}, contract.Errorf(contract.CodeTopicNotFound, "topic %q not found", clip(name))
	}
	parts := img.Partitions(t.TopicUUID)
	if parts == nil {
		parts = []metadata.PartitionRecord{}
	}
	return contract.TopicDetail{Topic: t, Partitions: parts}, nil
}

// placePartitions places replicas over the ALIVE brokers of pl (rack-aware
// round robin); the first replica leads and the ISR is all replicas.
// replicationFactor defaults to min(3, ALIVE).
func placePartitions(pl *placement, topicUUID string, partitions, replicationFactor *int32) ([]*metadata.PartitionRecord, error) {
	n := int32(1)
	if partitions != nil {
		n = *partitions
	}
	if n < 1 || n > MaxPartitionsPerRequest {
		return nil, contract.Errorf(contract.CodeInvalidRequest, "partitions must be 1..%d, got %d", MaxPartitionsPerRequest, n)
	}
	alive := pl.brokers()
	rf := int32(min(3, alive))
	if replicationFactor != nil {
		rf = *replicationFactor
	}
	if rf < 1 {
		return nil, contract.Errorf(contract.CodeInvalidReplicaAssignment, "replicationFactor must be >= 1 and there must be ALIVE brokers (have %d)", alive)
	}
	if int(rf) > alive {
		return nil, contract.Errorf(contract.CodeInvalidReplicaAssignment, "replicationFactor %d exceeds the %d ALIVE brokers", rf, alive)
	}
	out := make([]*metadata.PartitionRecord, n)
	for p, replicas := range pl.assign(int(n), int(rf)) {
		out[p] = &metadata.PartitionRecord{
			PartitionID: int32(p), TopicUUID: topicUUID,
			Replicas: replicas, ISR: append([]int32(nil), replicas...),
			RemovingReplicas: []int32{}, AddingReplicas: []int32{},
			Leader: replicas[0],
		}
	}
	return out, nil
}

// ListTopics lists the topics of page (list_page.go) with their partition
// counts, sorted by name.
func (c *Controller) ListTopics(ctx context.Context, stale bool, page TopicPage) (contract.TopicList, error) {
	if page.Limit < 0 || page.Limit > contract.MaxListLimit {
		return contract.TopicList{}, contract.Errorf(contract.CodeInvalidRequest, "limit must be 1..%d", contract.MaxListLimit)
	}
	img, err := c.Image(ctx, stale)
	if err != nil {
		return contract.TopicList{}, err
	}
	return topicPage(img, page), nil
}

func listTopics(img *metadata.Image) contract.TopicList { return topicPage(img, TopicPage{}) }

// DeleteTopic proposes a RemoveTopicRecord; the topic's partitions go with
// it. It returns the applied record and its offset. TOPIC_NOT_FOUND if no
// topic has that name (also when a racing delete won).
func (c *Controller) DeleteTopic(ctx context.Context, name string) (metadata.Record, int64, error) {
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		return buildDeleteTopic(img, name)
	})
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

func buildDeleteTopic(img metadata.Reader, name string) ([]metadata.Record, error) {
	t, ok := img.Topic(name)
	if !ok {
		return nil, topicNotFound(name)
	}
	return []metadata.Record{{Body: &metadata.RemoveTopicRecord{TopicUUID: t.TopicUUID, Name: t.Name}}}, nil
}

func topicNotFound(name string) *contract.Error {
	return contract.Errorf(contract.CodeTopicNotFound, "topic %q not found", clip(name))
}

// maxRaceRetries bounds how often write tries a request again after
// its forecast proved wrong (see write); the request deadline bounds the
// loop as well.
const maxRaceRetries = 32

// write is the body of every write: build validates the request against
// the leader's forecast (speculation), chooses every server-set value and
// returns the records, which are proposed as one atomic batch; apply
// validates them again, and its verdict is the answer.
//
// The forecast holds every batch proposed before, so two writes never
// choose the same server-set value (the next partition epoch, broker epoch
// or partition id, producer-id block) unless a batch the forecast held did
// not apply as forecast. Replay then rejects the later batch and nothing
// of it applies. When its code is in raced, that rejection means "a value
// we chose was taken", not "your request is wrong": write runs build
// again on the rebuilt forecast, which either chooses afresh or now fails
// validation with the answer the request deserves. Only codes that mean
// exactly that belong in raced; build's own errors are returned once the
// committed state confirms them (confirmRefusal).
//
// A request whose idempotency key is already known is answered with that
// key's records from the committed state (knownAnswer).
func (c *Controller) write(ctx context.Context, build func(img *metadata.Image) ([]metadata.Record, error), raced ...metadata.Reason) ([]metadata.Record, error) {
	applied, _, err := c.writeAnswer(ctx, func(img *metadata.Image) ([]metadata.Record, []byte, error) {
		recs, err := build(img)
		return recs, nil, err
	}, raced...)
	return applied, err
}

// writeAnswer is write for operations whose answer needs more than their
// records: build also returns answer bytes, which are stored with the
// request's idempotency key and returned again on a replay.
func (c *Controller) writeAnswer(ctx context.Context, build func(img *metadata.Image) ([]metadata.Record, []byte, error), raced ...metadata.Reason) ([]metadata.Record, []byte, error) {
	for attempt := 0; ; attempt++ {
		sp, err := c.speculate(ctx, build)
		if err != nil {
			return nil, nil, err
		}
		if sp.p == nil {
			applied, answer, ok, err := c.confirmRefusal(ctx, sp.last, build)
			if ok {
				return applied, answer, err
			}
			if attempt == maxRaceRetries {
				return nil, nil, errContended
			}
			c.log.Debug("forecast refused a write that committed state accepts; again", "attempt", attempt+1)
			continue
		}
		res, err := sp.p.Wait(ctx)
		applied, answer, replayed, err := c.outcome(ctx, res, err, sp.answer)
		c.settleProposal(sp, err == nil && !replayed)
		var me *metadata.Error
		if err == nil || attempt == maxRaceRetries || !errors.As(err, &me) || !slices.Contains(raced, me.Reason) {
			return applied, answer, err
		}
		c.log.Debug("write raced; rebuilding", "reason", me.Reason, "attempt", attempt+1)
	}
}
