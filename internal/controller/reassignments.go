package controller

import (
	"context"

	"github.com/yakt/yakt/contract"
)

// AlterReassignments starts, changes or cancels partition reassignments
// (KIP-455): per partition, a target replica list or a cancel.
func (c *Controller) AlterReassignments(ctx context.Context, req contract.ReassignRequest) (contract.ReassignResponse, error) {
	return contract.ReassignResponse{}, contract.Errorf(contract.CodeInternal, "reassignments are not implemented yet")
}

// ListReassignments lists the reassignments in progress, of the partitions
// named (all when filter is nil).
func (c *Controller) ListReassignments(ctx context.Context, filter []contract.TopicPartitions, stale bool) (contract.ReassignmentList, error) {
	return contract.ReassignmentList{}, contract.Errorf(contract.CodeInternal, "reassignments are not implemented yet")
}
