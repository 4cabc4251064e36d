package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/contract"
)

// AlterPartitionReassignments (45) and ListPartitionReassignments (46),
// KIP-455: target replica lists per partition (null cancels), and the
// reassignments in progress.

func init() {
	register(&api{key: 45, minVersion: 0, maxVersion: 1, controller: true, serve: serveAlterReassignments})
	register(&api{key: 46, minVersion: 0, maxVersion: 0, controller: true, serve: serveListReassignments})
}

func serveAlterReassignments(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	// One result slot per partition asked for, in request order; those
	// refused here never reach the controller.
	type slot struct{ t, p int }
	var creq contract.ReassignRequest
	var sent []slot
	for ti, t := range r.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
			if p.Replicas != nil && len(p.Replicas) == 0 {
				msg := "the target replica list is empty; send null to cancel a reassignment"
				rt.Partitions[pi].ErrorCode, rt.Partitions[pi].ErrorMessage = errInvalidReplicaAssignment, &msg
				continue
			}
			if p.Replicas != nil && !r.AllowReplicationFactorChange {
				if code, msg := keepsReplicationFactor(ctx, s, t.Topic, p.Partition, len(p.Replicas)); code != errNone {
					rt.Partitions[pi].ErrorCode, rt.Partitions[pi].ErrorMessage = code, msg
					continue
				}
			}
			creq.Partitions = append(creq.Partitions, contract.PartitionReassignment{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas})
			sent = append(sent, slot{ti, pi})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(creq.Partitions) == 0 {
		return resp, nil
	}
	out, err := s.ctrl.AlterReassignments(ctx, creq)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorMessage(err)
		for _, sl := range sent {
			resp.Topics[sl.t].Partitions[sl.p].ErrorCode, resp.Topics[sl.t].Partitions[sl.p].ErrorMessage = resp.ErrorCode, resp.ErrorMessage
		}
		return resp, nil
	}
	// The controller answers one result per partition, in request order;
	// match by topic and partition all the same.
	type tp struct {
		topic string
		p     int32
	}
	results := make(map[tp]contract.PartitionResult, len(out.Results))
	for _, res := range out.Results {
		results[tp{res.Topic, res.Partition}] = res
	}
	for _, sl := range sent {
		rp := &resp.Topics[sl.t].Partitions[sl.p]
		res, ok := results[tp{resp.Topics[sl.t].Topic, rp.Partition}]
		if !ok {
			msg := "the controller gave no result for this partition"
			rp.ErrorCode, rp.ErrorMessage = errUnknownServerError, &msg
			continue
		}
		rp.ErrorCode, rp.ErrorMessage = detailCode(res.Error)
	}
	return resp, nil
}

// keepsReplicationFactor refuses (v1's AllowReplicationFactorChange
// false, KIP-860) a target whose length differs from the partition's
// replication factor: its replicas without those a reassignment in
// progress is adding.
func keepsReplicationFactor(ctx context.Context, s *Server, topic string, partition int32, target int) (int16, *string) {
	p, err := s.ctrl.Partition(ctx, topic, partition, false)
	if err != nil {
		return errorMessage(err)
	}
	if rf := len(p.Replicas) - len(p.AddingReplicas); rf != target {
		msg := fmt.Sprintf("the target has %d replicas, the partition's replication factor is %d, and the request does not allow changing it", target, rf)
		return errInvalidReplicationFactor, &msg
	}
	return errNone, nil
}

func serveListReassignments(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ListPartitionReassignmentsRequest)
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var filter []contract.TopicPartitions
	if r.Topics != nil {
		filter = []contract.TopicPartitions{}
		for _, t := range r.Topics {
			// Kafka names partitions one by one; a topic with none names
			// none (in YAKt's contract it would name all of them).
			if len(t.Partitions) > 0 {
				filter = append(filter, contract.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		if len(filter) == 0 {
			return resp, nil
		}
	}
	list, err := s.ctrl.ListReassignments(ctx, filter, false)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorMessage(err)
		return resp, nil
	}
	byTopic := map[string]int{}
	for _, ra := range list.Reassignments {
		i, ok := byTopic[ra.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[ra.Topic] = i
			t := kmsg.NewListPartitionReassignmentsResponseTopic()
			t.Topic = ra.Topic
			resp.Topics = append(resp.Topics, t)
		}
		p := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		p.Partition = ra.Partition
		p.Replicas, p.AddingReplicas, p.RemovingReplicas = nonNil(ra.Replicas), nonNil(ra.AddingReplicas), nonNil(ra.RemovingReplicas)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
	}
	return resp, nil
}
