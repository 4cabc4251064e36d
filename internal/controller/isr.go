package controller

import (
	"context"
	"slices"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// AlterISR proposes the partition's next state with the leader's ISR,
// partitionEpoch + 1. Only the current leader may send it, at the current
// epoch (409 NOT_PARTITION_LEADER / STALE_PARTITION_EPOCH: the broker must
// refresh its metadata first). The ISR must be non-empty, distinct, within
// the replicas, hold the leader and no FENCED or CLOSED broker (400
// INVALID_REPLICA_ASSIGNMENT). When the new ISR holds every target
// replica of a reassignment in progress, the same record completes it
// (completeReassignment): the removed replicas leave, and a leader being
// removed hands leadership to the first target replica in the ISR.
//
// Unlike the other partition writes this one is not retried on a race:
// the epoch is the caller's, and a stale one must reach the caller.
func (c *Controller) AlterISR(ctx context.Context, topic string, partition int32, req contract.AlterISRRequest) (metadata.Record, int64, error) {
	switch {
	case req.BrokerID == nil:
		return metadata.Record{}, 0, contract.Errorf(contract.CodeInvalidRequest, "brokerId is required")
	case req.PartitionEpoch == nil:
		return metadata.Record{}, 0, contract.Errorf(contract.CodeInvalidRequest, "partitionEpoch is required")
	case req.ISR == nil:
		return metadata.Record{}, 0, contract.Errorf(contract.CodeInvalidRequest, "ISR is required")
	}
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		return buildAlterISR(img, topic, partition, *req.BrokerID, *req.PartitionEpoch, req.ISR)
	})
	if err != nil {
		return metadata.Record{}, 0, err
	}
	return applied[0], applied[0].Offset, nil
}

func buildAlterISR(img metadata.Reader, topic string, partition, broker int32, epoch int64, isr []int32) ([]metadata.Record, error) {
	p, err := lookupPartition(img, topic, partition)
	if err != nil {
		return nil, err
	}
	if p.Leader != broker {
		return nil, contract.Errorf(contract.CodeNotPartitionLeader, "broker %d does not lead partition %d of %q (leader %d)", broker, partition, topic, p.Leader)
	}
	if epoch != p.PartitionEpoch {
		return nil, contract.Errorf(contract.CodeStalePartitionEpoch, "partitionEpoch %d is stale: partition %d of %q is at %d", epoch, partition, topic, p.PartitionEpoch)
	}
	if len(isr) == 0 {
		return nil, invalidAssignment("ISR must not be empty")
	}
	if !slices.Contains(isr, broker) {
		return nil, invalidAssignment("ISR %v must hold the leader %d", isr, broker)
	}
	for i, id := range isr {
		if slices.Contains(isr[:i], id) {
			return nil, invalidAssignment("ISR %v repeats broker %d", isr, id)
		}
		if !slices.Contains(p.Replicas, id) {
			return nil, invalidAssignment("ISR member %d is not a replica %v", id, p.Replicas)
		}
		if b, ok := img.Broker(id); !ok || b.BrokerStatus != metadata.StatusAlive {
			return nil, invalidAssignment("ISR member %d is not ALIVE", id)
		}
	}
	next := clonePartition(p)
	next.ISR = slices.Clone(isr)
	// Kafka completes a reassignment where the leader reports its ISR:
	// the change that brings every target replica in sync completes it
	// (reassignments.go).
	completeReassignment(&next, func(id int32) bool { return isAlive(img, id) })
	next.PartitionEpoch++
	return []metadata.Record{{Body: &next}}, nil
}

func allIn(ids, set []int32) bool {
	for _, id := range ids {
		if !slices.Contains(set, id) {
			return false
		}
	}
	return true
}
