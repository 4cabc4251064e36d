package testcluster

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// CreateTopic creates a topic through any running node, retrying on
// unavailability (503, 504, connection errors; see outcomeOf) across nodes
// until ctx ends.
// It returns nil once the topic is known to exist: a 201, or a 409 after an
// earlier attempt whose outcome was unknown (that attempt committed).
func (c *Cluster) CreateTopic(ctx context.Context, name string) error {
	ambiguous := false
	for attempt := 0; ; attempt++ {
		ids := c.IDs()
		id := ids[attempt%len(ids)]
		if c.Server(id) != nil {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			resp, err := c.Do(rctx, id, http.MethodPost, "/v1/topics", map[string]any{"name": name})
			cancel()
			switch o := outcomeOf(true, resp, err); {
			case o == unknown:
				ambiguous = true
			case o == failed:
				// Definitely not applied: try again.
			case resp.Status == http.StatusCreated:
				return nil
			case resp.Status == http.StatusConflict && ambiguous:
				return nil
			default:
				return fmt.Errorf("create topic %q on node %d: %d %s", name, id, resp.Status, resp.Body)
			}
		}
		if err := waitTick(ctx); err != nil {
			return fmt.Errorf("create topic %q: %w", name, err)
		}
	}
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
