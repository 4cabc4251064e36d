package kafka

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

func init() {
	register(&api{key: kmsg.CreateTopics.Int16(), minVersion: 0, maxVersion: 7, controller: true, serve: serveCreateTopics})
	register(&api{key: kmsg.DeleteTopics.Int16(), minVersion: 0, maxVersion: 6, controller: true, serve: serveDeleteTopics})
	register(&api{key: kmsg.CreatePartitions.Int16(), minVersion: 0, maxVersion: 3, controller: true, serve: serveCreatePartitions})
}

// topicWorkers bounds the topics of one request written at once: the
// controller pipelines concurrent writes, so a request for many topics
// does not wait for each commit in turn.
const topicWorkers = 16

// each runs fn for 0..n-1 on at most topicWorkers goroutines and returns
// when all have returned.
func each(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, topicWorkers)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// duplicates returns the names (name of each item) listed more than once.
func duplicates[T any](items []T, name func(T) string) map[string]bool {
	seen := make(map[string]int, len(items))
	dup := map[string]bool{}
	for _, it := range items {
		n := name(it)
		if seen[n]++; seen[n] > 1 {
			dup[n] = true
		}
	}
	return dup
}

func strp(s string) *string { return &s }

// serveCreateTopics creates each topic with the controller's CreateTopic,
// the HTTP API's POST /v1/topics. NumPartitions -1 is Kafka's default
// num.partitions (1), ReplicationFactor -1 YAKt's default (min(3, ALIVE
// brokers)); an explicit assignment places the partitions itself. A topic
// named twice in one request is refused (INVALID_REQUEST), as Kafka does.
func serveCreateTopics(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.CreateTopicsRequest)
	resp := kmsg.NewPtrCreateTopicsResponse()
	dup := duplicates(req.Topics, func(t kmsg.CreateTopicsRequestTopic) string { return t.Topic })
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	each(len(req.Topics), func(i int) {
		t := req.Topics[i]
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		if dup[t.Topic] {
			rt.ErrorCode, rt.ErrorMessage = errInvalidRequest, strp(fmt.Sprintf("topic %q is listed more than once in the request", t.Topic))
			resp.Topics[i] = rt
			return
		}
		code, msg, detail := createTopic(ctx, s, t, req.ValidateOnly)
		rt.ErrorCode, rt.ErrorMessage = code, msg
		if code == errNone {
			rt.TopicID = topicID(detail.Topic.TopicUUID)
			rt.NumPartitions = int32(len(detail.Partitions))
			if len(detail.Partitions) > 0 {
				rt.ReplicationFactor = int16(len(detail.Partitions[0].Replicas))
			}
			rt.Configs = []kmsg.CreateTopicsResponseTopicConfig{}
		}
		resp.Topics[i] = rt
	})
	return resp, nil
}

// createTopic runs one topic of a CreateTopics and answers its error.
func createTopic(ctx context.Context, s *Server, t kmsg.CreateTopicsRequestTopic, validateOnly bool) (int16, *string, contract.TopicDetail) {
	fail := func(code int16, format string, args ...any) (int16, *string, contract.TopicDetail) {
		return code, strp(fmt.Sprintf(format, args...)), contract.TopicDetail{}
	}
	creq := contract.CreateTopicRequest{Name: t.Topic}
	opts := controller.TopicOptions{ValidateOnly: validateOnly}
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return fail(errInvalidRequest, "numPartitions and replicationFactor must be -1 with a replica assignment")
		}
		asg := append([]kmsg.CreateTopicsRequestTopicReplicaAssignment(nil), t.ReplicaAssignment...)
		sort.Slice(asg, func(i, j int) bool { return asg[i].Partition < asg[j].Partition })
		for i, a := range asg {
			if a.Partition != int32(i) {
				return fail(errInvalidReplicaAssignment, "partitions of a replica assignment must be 0 to %d, each once", len(asg)-1)
			}
			opts.Assignment = append(opts.Assignment, a.Replicas)
		}
	} else {
		switch {
		case t.NumPartitions == -1:
			creq.Partitions = contract.Int32(1) // Kafka's num.partitions
		case t.NumPartitions <= 0 || t.NumPartitions > controller.MaxPartitionsPerRequest:
			return fail(errInvalidPartitions, "number of partitions must be 1..%d, got %d", controller.MaxPartitionsPerRequest, t.NumPartitions)
		default:
			creq.Partitions = contract.Int32(t.NumPartitions)
		}
		switch {
		case t.ReplicationFactor == -1:
		case t.ReplicationFactor <= 0:
			return fail(errInvalidReplicationFactor, "replication factor must be larger than 0, got %d", t.ReplicationFactor)
		default:
			creq.ReplicationFactor = contract.Int32(int32(t.ReplicationFactor))
		}
	}
	if len(t.Configs) > 0 {
		configs := make(map[string]string, len(t.Configs))
		for _, c := range t.Configs {
			if c.Value == nil {
				return fail(errInvalidConfig, "config %q has a null value", c.Name)
			}
			configs[c.Name] = *c.Value
		}
		creq.Configs = configs // validated and stored with the topic, in its batch
	}
	detail, _, err := s.ctrl.CreateTopicWith(ctx, creq, opts)
	if err != nil {
		code, msg := errorMessage(err)
		// Without an assignment, a placement refused for lack of brokers
		// is the replication factor's fault.
		if code == errInvalidReplicaAssignment && opts.Assignment == nil {
			code = errInvalidReplicationFactor
		}
		return code, msg, contract.TopicDetail{}
	}
	return errNone, nil, detail
}

// serveDeleteTopics deletes each topic by name or, from v6, by id.
func serveDeleteTopics(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DeleteTopicsRequest)
	resp := kmsg.NewPtrDeleteTopicsResponse()
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if h.APIVersion < 6 {
		for _, n := range req.TopicNames {
			targets = append(targets, target{name: strp(n)})
		}
	} else {
		for _, t := range req.Topics {
			targets = append(targets, target{name: t.Topic, id: t.TopicID})
		}
	}
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, len(targets))
	each(len(targets), func(i int) {
		tg := targets[i]
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = tg.name, tg.id
		name := ""
		switch {
		case tg.name != nil && *tg.name != "":
			name = *tg.name
		case tg.id != [16]byte{}:
			img, err := s.ctrl.Image(ctx, false)
			if err != nil {
				rt.ErrorCode, rt.ErrorMessage = errorMessage(err)
				resp.Topics[i] = rt
				return
			}
			t, ok := img.TopicByUUID(uuid.UUID(tg.id).String())
			if !ok {
				rt.ErrorCode, rt.ErrorMessage = errUnknownTopicID, strp(fmt.Sprintf("no topic has id %s", uuid.UUID(tg.id)))
				resp.Topics[i] = rt
				return
			}
			name = t.Name
			rt.Topic = strp(name)
		default:
			rt.ErrorCode, rt.ErrorMessage = errInvalidRequest, strp("a topic to delete needs a name or an id")
			resp.Topics[i] = rt
			return
		}
		rec, _, err := s.ctrl.DeleteTopic(ctx, name)
		rt.ErrorCode, rt.ErrorMessage = errorMessage(err)
		if rm, ok := rec.Body.(*metadata.RemoveTopicRecord); ok && err == nil {
			rt.TopicID = topicID(rm.TopicUUID)
		}
		resp.Topics[i] = rt
	})
	return resp, nil
}

// serveCreatePartitions grows each topic to its new count in one batch
// (controller.AddPartitions).
func serveCreatePartitions(ctx context.Context, s *Server, h Header, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.CreatePartitionsRequest)
	resp := kmsg.NewPtrCreatePartitionsResponse()
	dup := duplicates(req.Topics, func(t kmsg.CreatePartitionsRequestTopic) string { return t.Topic })
	resp.Topics = make([]kmsg.CreatePartitionsResponseTopic, len(req.Topics))
	each(len(req.Topics), func(i int) {
		t := req.Topics[i]
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		rt.ErrorCode, rt.ErrorMessage = createPartitions(ctx, s, t, req.ValidateOnly, dup[t.Topic])
		resp.Topics[i] = rt
	})
	return resp, nil
}

func createPartitions(ctx context.Context, s *Server, t kmsg.CreatePartitionsRequestTopic, validateOnly, dup bool) (int16, *string) {
	if dup {
		return errInvalidRequest, strp(fmt.Sprintf("topic %q is listed more than once in the request", t.Topic))
	}
	// Kafka's own answers for a count that does not grow the topic.
	img, err := s.ctrl.Image(ctx, false)
	if err != nil {
		return errorMessage(err)
	}
	topic, ok := img.Topic(t.Topic)
	if !ok {
		return errUnknownTopicOrPartition, strp(fmt.Sprintf("topic %q not found", t.Topic))
	}
	cur := int32(img.PartitionCount(topic.TopicUUID))
	switch {
	case t.Count < cur:
		return errInvalidPartitions, strp(fmt.Sprintf("topic currently has %d partitions, which is higher than the requested %d", cur, t.Count))
	case t.Count == cur:
		return errInvalidPartitions, strp(fmt.Sprintf("topic already has %d partitions", cur))
	}
	var asg [][]int32
	if t.Assignment != nil {
		for _, a := range t.Assignment {
			asg = append(asg, a.Replicas)
		}
		if asg == nil {
			asg = [][]int32{}
		}
	}
	_, _, err = s.ctrl.AddPartitions(ctx, t.Topic, t.Count, asg, validateOnly)
	code, msg := errorMessage(err)
	switch {
	case code == errInvalidRequest:
		code = errInvalidPartitions // the count moved under us
	case code == errInvalidReplicaAssignment && asg == nil:
		code = errInvalidReplicationFactor
	}
	return code, msg
}
