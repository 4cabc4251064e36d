package controller

import (
	"context"

	"github.com/yakt/yakt/contract"
)

// ElectLeaders runs a preferred or unclean leader election on the
// partitions asked for (all when none are named).
func (c *Controller) ElectLeaders(ctx context.Context, req contract.ElectLeadersRequest) (contract.ElectLeadersResponse, error) {
	return contract.ElectLeadersResponse{}, contract.Errorf(contract.CodeInternal, "elections are not implemented yet")
}
