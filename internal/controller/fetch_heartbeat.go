package controller

import (
	"context"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// BrokerHeartbeat is the leader's part of a BrokerMgmt fetch: it records
// the broker's heartbeat and unfences a FENCED broker whose fetch offset
// has reached its registration (maybeUnfence). The fetch itself may be
// served by any node; only this small part needs the leader. It returns
// an offset the node serving the fetch must have applied before it
// answers, so the answer shows the unfencing: 0 when nothing changed.
//
// It costs no raft round unless it unfences: the broker was found by the
// serving node after its read barrier, so the leader only waits for its
// own apply when it has not applied that broker yet.
func (c *Controller) BrokerHeartbeat(ctx context.Context, id int32, offset *int64) (int64, error) {
	if !c.node.IsLeader() {
		return 0, contract.Errorf(contract.CodeNoLeader, "this node is not the leader")
	}
	b, ok := c.state.Image().Broker(id)
	if !ok {
		if err := c.node.WaitApplied(ctx, c.node.CommitIndex()); err != nil {
			return 0, nodeError(err)
		}
		if b, ok = c.state.Image().Broker(id); !ok {
			return 0, brokerNotFound(id)
		}
	}
	c.Heartbeat(id)
	if err := c.maybeUnfence(ctx, id, offset); err != nil {
		return 0, err
	}
	if b.BrokerStatus == metadata.StatusFenced {
		if now, ok := c.state.Image().Broker(id); ok && now.BrokerStatus != metadata.StatusFenced {
			return int64(c.node.AppliedIndex()), nil
		}
	}
	return 0, nil
}

// BrokerKnownAlive reports whether this node's image has broker id
// registered and not fenced: its BrokerHeartbeat then is a memory write
// that never waits, so a caller handling many heartbeats can run it
// inline.
func (c *Controller) BrokerKnownAlive(id int32) bool {
	b, ok := c.state.Image().Broker(id)
	return ok && b.BrokerStatus != metadata.StatusFenced
}
