package testcluster

import (
	"context"
	"fmt"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/server"
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
// commit index, read once the leader has applied its own first entry of
// the term: before that, a leader elected after a restart may know a
// commit index older than writes acknowledged before it.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	var commit uint64
	err := WaitFor(ctx, func() bool {
		s := c.leaderServer(ctx)
		if s == nil {
			return false
		}
		if _, ready := s.Node.LeaderReady(); !ready {
			return false
		}
		commit = s.Node.CommitIndex()
		return true
	})
	if err != nil {
		return fmt.Errorf("no leader that applied its term's first entry: %w", err)
	}
	return c.WaitApplied(ctx, commit)
}

// WaitDirectoryIDs waits until the leader's membership records every
// member's directory id (the leader records them as the members'
// connections present them, moments after the cluster starts).
func (c *Cluster) WaitDirectoryIDs(ctx context.Context) error {
	return WaitFor(ctx, func() bool {
		s := c.leaderServer(ctx)
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

// leaderServer is the running server of the node that leads now, or nil
// when none is known (or it is down).
func (c *Cluster) leaderServer(ctx context.Context) *server.Server {
	lead, err := c.Leader(ctx)
	if err != nil {
		return nil
	}
	return c.Server(lead)
}
