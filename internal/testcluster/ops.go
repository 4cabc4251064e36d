package testcluster

import (
	"context"
	"fmt"

	"github.com/yakt/yakt/contract"
)

// CreateTopic creates a topic through the cluster's client (API), which
// retries across nodes under one idempotency key until an answer settles
// it or ctx ends: nil means the topic was created by this call.
func (c *Cluster) CreateTopic(ctx context.Context, name string) error {
	if _, _, err := c.API().CreateTopic(ctx, contract.CreateTopicRequest{Name: name}); err != nil {
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	return nil
}

// TopicNames lists the topics node id holds in its local (stale) state.
func (c *Cluster) TopicNames(id uint64) map[string]bool {
	s := c.Server(id)
	if s == nil {
		return nil
	}
	out := map[string]bool{}
	for _, t := range s.State.Image().Topics() {
		out[t.Name] = true
	}
	return out
}

// WaitConverged waits until every running node has applied the leader's
// commit index.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	lead, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	return c.WaitApplied(ctx, c.Server(lead).Node.CommitIndex())
}

// WaitDirectoryIDs waits until the leader's membership records every
// member's directory id (the leader records them as the members'
// connections present them, moments after the cluster starts).
func (c *Cluster) WaitDirectoryIDs(ctx context.Context) error {
	return WaitFor(ctx, func() bool {
		lead, err := c.Leader(ctx)
		if err != nil {
			return false
		}
		s := c.Server(lead)
		if s == nil {
			return false
		}
		for _, m := range s.Node.Members() {
			if m.DirectoryID.IsZero() {
				return false
			}
		}
		return true
	})
}
