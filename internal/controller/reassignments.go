package controller

import (
	"context"
	"slices"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Partition reassignments (KIP-455). A partition with replicas C asked to
// move to the target replicas R gets, in one PartitionRecord:
//
//	replicas = R + (C - R)   (the target first, so its first replica is preferred)
//	addingReplicas = R - C, removingReplicas = C - R
//
// ISR and leader stay. The reassignment completes when the ISR holds
// every replica being added (R - C) and some replica of R (Kafka's rule:
// the new replicas have caught up; an original replica out of sync stays
// out of the ISR as it would anyway). Then, in the same record as the
// change that brought the ISR there (or at once when it already is):
// replicas = R, adding and removing are
// empty, ISR = ISR ∩ R, and the leader stays if it is in R, else the
// first of R in the ISR that is alive leads. The leader reports its ISR
// through AlterISR (Kafka's AlterPartition), which is where most
// reassignments complete.
//
// While one is in progress, the original replicas are C = replicas -
// addingReplicas (in their order): a new target is computed from C, and
// a cancel goes back to C (ISR ∩ C, the leader kept if in C, else the
// first of C in the ISR that is alive). A broker fenced or unregistered
// meanwhile leaves the ISR and leadership as always; the reassignment
// stays in progress until its target is in sync or it is changed.

// maxReassignTargetReplicas bounds one target replica list.
const maxReassignTargetReplicas = 1024

// AlterReassignments starts, changes or cancels partition reassignments
// (KIP-455): per partition, a target replica list or a cancel (replicas
// null). Each partition is validated and decided on its own (results in
// request order); the changes commit in as few atomic batches as the
// batch limit allows. Per partition: INVALID_REPLICA_ASSIGNMENT (empty,
// negative or repeated ids, a broker not registered or CLOSED),
// TOPIC_NOT_FOUND, PARTITION_NOT_FOUND, NO_REASSIGNMENT_IN_PROGRESS (a
// cancel of a partition not being reassigned). A target equal to the
// current replicas with nothing in progress succeeds without a change.
// Refused as a whole with MIGRATION_IN_PROGRESS while ZooKeeper is the
// authority.
func (c *Controller) AlterReassignments(ctx context.Context, req contract.ReassignRequest) (contract.ReassignResponse, error) {
	if len(req.Partitions) > MaxPartitionsPerRequest {
		return contract.ReassignResponse{}, contract.Errorf(contract.CodeInvalidRequest,
			"at most %d partitions per request, got %d", MaxPartitionsPerRequest, len(req.Partitions))
	}
	refs := make([]partitionRef, 0, len(req.Partitions))
	targets := make(map[partitionRef][]int32, len(req.Partitions))
	for _, pr := range req.Partitions {
		if pr.Topic == "" {
			return contract.ReassignResponse{}, contract.Errorf(contract.CodeInvalidRequest, "every entry of partitions needs a topic")
		}
		ref := partitionRef{pr.Topic, pr.Partition}
		if _, dup := targets[ref]; dup {
			return contract.ReassignResponse{}, contract.Errorf(contract.CodeInvalidRequest,
				"partition %d of topic %q is listed twice", pr.Partition, clip(pr.Topic))
		}
		targets[ref] = pr.Replicas
		refs = append(refs, ref)
	}
	results, offset, err := c.partitionWrites(ctx, refs, MaxPartitionsPerRequest, func(img metadata.Reader, ref partitionRef) partitionDecision {
		next, err := buildReassignment(img, ref, targets[ref])
		if err != nil {
			return partitionDecision{result: resultError(ref, err)}
		}
		return partitionDecision{next: next, result: contract.PartitionResult{Topic: ref.topic, Partition: ref.partition}}
	})
	if err != nil {
		return contract.ReassignResponse{}, err
	}
	return contract.ReassignResponse{Results: results, Offset: offset}, nil
}

// buildReassignment is one partition's change for target (nil: cancel);
// nil without an error when nothing needs to change.
func buildReassignment(img metadata.Reader, ref partitionRef, target []int32) (*metadata.PartitionRecord, error) {
	if target != nil {
		if err := validateTarget(img, target); err != nil {
			return nil, err
		}
	}
	p, err := lookupPartition(img, ref.topic, ref.partition)
	if err != nil {
		return nil, err
	}
	inProgress := reassigning(p)
	original := originalReplicas(p)
	alive := func(id int32) bool { return isAlive(img, id) }
	if target == nil {
		if !inProgress {
			return nil, contract.Errorf(contract.CodeNoReassignmentInProgress, "partition %d of topic %q is not being reassigned", ref.partition, clip(ref.topic))
		}
		target = original
	}
	if !inProgress && slices.Equal(target, p.Replicas) {
		return nil, nil
	}
	next := clonePartition(p)
	next.Replicas = slices.Clone(target)
	next.AddingReplicas, next.RemovingReplicas = []int32{}, []int32{}
	for _, id := range target {
		if !slices.Contains(original, id) {
			next.AddingReplicas = append(next.AddingReplicas, id)
		}
	}
	for _, id := range original {
		if !slices.Contains(target, id) {
			next.Replicas = append(next.Replicas, id)
			next.RemovingReplicas = append(next.RemovingReplicas, id)
		}
	}
	// ISR members that were being added and are no longer wanted leave
	// with the change: they are no replicas any more.
	next.ISR = slices.DeleteFunc(next.ISR, func(id int32) bool { return !slices.Contains(next.Replicas, id) })
	if next.Leader != metadata.NoLeader && !slices.Contains(next.ISR, next.Leader) {
		next.Leader = electLeader(target, next.ISR, alive)
	}
	if len(next.ISR) == 0 {
		return nil, invalidAssignment("partition %d of topic %q: no in-sync replica would be left %v; wait until one of %v is in sync, or elect an unclean leader first",
			ref.partition, clip(ref.topic), p.ISR, target)
	}
	completeReassignment(&next, alive)
	next.PartitionEpoch++
	return &next, nil
}

// validateTarget checks a target replica list: non-empty, distinct,
// registered brokers that are not CLOSED.
func validateTarget(img metadata.Reader, target []int32) error {
	switch {
	case len(target) == 0:
		return invalidAssignment("replicas must list at least one broker (null cancels a reassignment)")
	case len(target) > maxReassignTargetReplicas:
		return invalidAssignment("replicas lists %d brokers; the limit is %d", len(target), maxReassignTargetReplicas)
	}
	if dup, ok := firstDuplicate(target); ok {
		return invalidAssignment("replica %d is listed twice in %v", dup, target)
	}
	for _, id := range target {
		if id < 0 {
			return invalidAssignment("replica %d is not a broker id", id)
		}
		if err := checkReplicaBroker(img, id); err != nil {
			return err
		}
	}
	return nil
}

// reassigning reports whether p has a reassignment in progress.
func reassigning(p metadata.PartitionRecord) bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// originalReplicas are p's replicas before its reassignment: replicas
// without those being added, in replica order.
func originalReplicas(p metadata.PartitionRecord) []int32 {
	out := make([]int32, 0, len(p.Replicas))
	for _, id := range p.Replicas {
		if !slices.Contains(p.AddingReplicas, id) {
			out = append(out, id)
		}
	}
	return out
}

// targetReplicas are the replicas p's reassignment moves to: replicas
// without those being removed, in replica order.
func targetReplicas(p metadata.PartitionRecord) []int32 {
	out := make([]int32, 0, len(p.Replicas))
	for _, id := range p.Replicas {
		if !slices.Contains(p.RemovingReplicas, id) {
			out = append(out, id)
		}
	}
	return out
}

// completeReassignment completes p's reassignment in place when its ISR
// holds every replica being added and at least one target replica (as
// Kafka's controller does; a reassignment that only removes replicas
// thus completes at once): replicas = the target, adding and removing
// empty, ISR ∩ target, and a leader being removed hands over to the
// first target replica in the ISR that is alive. It reports whether it
// did. The caller sets the partition epoch.
func completeReassignment(p *metadata.PartitionRecord, alive func(int32) bool) bool {
	if !reassigning(*p) {
		return false
	}
	target := targetReplicas(*p)
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !slices.Contains(target, id) })
	if len(isr) == 0 || !allIn(p.AddingReplicas, isr) {
		return false
	}
	p.Replicas, p.ISR = target, isr
	p.AddingReplicas, p.RemovingReplicas = []int32{}, []int32{}
	if !slices.Contains(p.ISR, p.Leader) {
		p.Leader = electLeader(target, p.ISR, alive)
	}
	return true
}

// ListReassignments lists the reassignments in progress, of the partitions
// named (all when filter is nil; a topic without partitions is all of
// its partitions; names that do not exist list nothing), in image order.
func (c *Controller) ListReassignments(ctx context.Context, filter []contract.TopicPartitions, stale bool) (contract.ReassignmentList, error) {
	img, err := c.Image(ctx, stale)
	if err != nil {
		return contract.ReassignmentList{}, err
	}
	out := contract.ReassignmentList{Reassignments: []contract.Reassignment{}, Offset: img.Offset()}
	add := func(name string, p metadata.PartitionRecord) {
		if reassigning(p) {
			out.Reassignments = append(out.Reassignments, contract.Reassignment{
				Topic: name, Partition: p.PartitionID, Replicas: slices.Clone(p.Replicas),
				AddingReplicas: slices.Clone(p.AddingReplicas), RemovingReplicas: slices.Clone(p.RemovingReplicas),
			})
		}
	}
	if filter == nil {
		for _, t := range img.Topics() {
			for _, p := range img.Partitions(t.TopicUUID) {
				add(t.Name, p)
			}
		}
		return out, nil
	}
	seen := map[partitionRef]bool{}
	for _, tp := range filter {
		t, ok := img.Topic(tp.Topic)
		if !ok {
			continue
		}
		for _, p := range img.Partitions(t.TopicUUID) {
			ref := partitionRef{t.Name, p.PartitionID}
			if seen[ref] || tp.Partitions != nil && !slices.Contains(tp.Partitions, p.PartitionID) {
				continue
			}
			seen[ref] = true
			add(t.Name, p)
		}
	}
	return out, nil
}
