package controller

import (
	"context"

	"github.com/yakt/yakt/contract"
)

// DescribeConfigs returns res's effective configs: those set on it, then
// inherited ones and YAKt's defaults; names limits the answer (nil: all).
func (c *Controller) DescribeConfigs(ctx context.Context, res contract.ConfigResource, names []string, stale bool) (contract.ResourceConfigs, error) {
	return contract.ResourceConfigs{}, contract.Errorf(contract.CodeInternal, "configs are not implemented yet")
}

// AlterConfigs applies req's ops to res in one atomic batch (or only
// validates them) and returns the configs after it and its log offset.
func (c *Controller) AlterConfigs(ctx context.Context, res contract.ConfigResource, req contract.AlterConfigsRequest) (contract.ResourceConfigs, int64, error) {
	return contract.ResourceConfigs{}, 0, contract.Errorf(contract.CodeInternal, "configs are not implemented yet")
}
