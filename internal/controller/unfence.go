package controller

import (
	"context"
	"errors"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// registrationOffset is the offset of broker id's newest RegisterBrokerRecord
// as far as this node can tell: found in the retained tail, or, when the
// tail no longer reaches it, the offset the tail starts after (everything
// before is in the snapshot the broker must have loaded).
func (c *Controller) registrationOffset(id int32) int64 {
	return c.state.Tail().LastRegistration(id)
}

// maybeUnfence unfences a FENCED broker that heartbeats with a fetch
// offset that has reached its registration: ALIVE, epoch + 1, and every
// offline partition whose ISR holds it gets it back as leader, in the
// same atomic batch when they fit one (MaxPartitionsPerRequest), else the
// rest in follow-up batches that the next liveness check commits
// (settlePending). It runs on the leader from a BrokerMgmt fetch.
func (c *Controller) maybeUnfence(ctx context.Context, id int32, fetchOffset *int64) error {
	if !c.node.IsLeader() || fetchOffset == nil {
		return nil
	}
	if b, ok := c.state.Image().Broker(id); !ok || b.BrokerStatus != metadata.StatusFenced {
		return nil
	}
	if *fetchOffset < c.registrationOffset(id) {
		return nil // not caught up with its own registration yet
	}
	if metadata.MigrationZkAuthoritative(migrationPhase(c.state.Image())) {
		// ZooKeeper decides who is fenced until cutover: the broker stays
		// FENCED and its fetch is answered all the same.
		return nil
	}
	// Only the first batch is the heartbeat's business: a broker that
	// regains more partitions than one batch holds gets the rest from the
	// next liveness check, so its heartbeat stays quick.
	_, _, more, err := c.firstBrokerBatch(ctx, func(img *metadata.Image) ([]metadata.Record, bool, error) {
		return buildUnfence(img, id, MaxPartitionsPerRequest)
	}, nil)
	if err == nil {
		c.log.Info("unfenced broker: heartbeating and caught up", "broker", id, "moreBatches", more)
		if more {
			c.live.addPending(id)
		}
	}
	if errors.Is(err, errNotFenced) || CodeOf(err) == contract.CodeMigrationInProgress {
		return nil // fenced meanwhile, or a migration started meanwhile
	}
	return err
}

// buildUnfence is the unfencing batch: the registration change and up to
// limit offline partitions regained; more reports partitions left for the
// follow-up batches (buildSettle), so unfencing is never refused for its
// size.
func buildUnfence(img metadata.Reader, id int32, limit int) ([]metadata.Record, bool, error) {
	cur, ok := img.Broker(id)
	if !ok || cur.BrokerStatus != metadata.StatusFenced {
		return nil, false, errNotFenced
	}
	change := brokerChange(cur)
	change.BrokerStatus = metadata.StatusAlive
	parts, more := regainRecords(img, id, limit)
	return append([]metadata.Record{{Body: change}}, parts...), more, nil
}

var errNotFenced = contract.Errorf(contract.CodeBrokerNotActive, "broker is not FENCED")
