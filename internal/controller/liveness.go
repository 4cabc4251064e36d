package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/yakt/yakt/internal/metadata"
)

// DefaultBrokerSessionTimeout is Kafka's broker.session.timeout.ms.
const DefaultBrokerSessionTimeout = 9 * time.Second

// liveness is the leader's soft state of broker heartbeats: never in the
// log, rebuilt when this node starts a new term as leader. Guarded by mu.
type liveness struct {
	mu       sync.Mutex
	term     uint64              // the term lastSeen belongs to; 0: none yet
	lastSeen map[int32]time.Time // broker id -> last heartbeat (clock time)
}

// Heartbeat records that broker id was heard from now. Only the leader's
// record matters; followers forward BrokerMgmt fetches to it.
func (c *Controller) Heartbeat(id int32) {
	if !c.node.IsLeader() {
		return
	}
	now := c.clock.Now()
	c.live.mu.Lock()
	defer c.live.mu.Unlock()
	c.resetLivenessLocked(now)
	c.live.lastSeen[id] = now
}

// resetLivenessLocked starts a fresh session table when this node leads a
// new term: every broker is treated as heard from now, so a failover
// never fences brokers that were heartbeating the old leader.
func (c *Controller) resetLivenessLocked(now time.Time) {
	term := c.node.Term()
	if c.live.term == term && c.live.lastSeen != nil {
		return
	}
	c.live.term = term
	c.live.lastSeen = map[int32]time.Time{}
	for _, b := range c.state.Image().Brokers() {
		c.live.lastSeen[b.BrokerID] = now
	}
}

var errNotAlive = errors.New("controller: broker no longer ALIVE")

// FenceExpired fences every ALIVE broker not heard from for longer than
// the session timeout: per broker one atomic batch of its registration
// change (FENCED, epoch + 1) and the new state of every partition it led
// or was in sync for (departure.go).
// It does nothing on a follower. It returns the brokers it fenced.
func (c *Controller) FenceExpired(ctx context.Context) ([]int32, error) {
	if !c.node.IsLeader() {
		return nil, nil
	}
	// Candidates come from the applied image without a read barrier: each
	// fencing write passes its own barrier and re-checks the broker is
	// still ALIVE, so a check that finds no one costs no raft round.
	img := c.state.Image()
	now := c.clock.Now()
	var expired []int32
	c.live.mu.Lock()
	c.resetLivenessLocked(now)
	for _, b := range img.Brokers() {
		if b.BrokerStatus != metadata.StatusAlive {
			continue
		}
		seen, ok := c.live.lastSeen[b.BrokerID]
		if !ok { // registered since the table was built
			c.live.lastSeen[b.BrokerID] = now
			continue
		}
		if now.Sub(seen) > c.sessionTimeout {
			expired = append(expired, b.BrokerID)
		}
	}
	c.live.mu.Unlock()

	var fenced []int32
	for _, id := range expired {
		_, _, err := c.depart(ctx, id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
			if !isAlive(img, id) {
				return nil, false, errNotAlive // fenced or closed meanwhile
			}
			return buildBrokerDeparture(img, id, metadata.StatusFenced, MaxPartitionsPerRequest)
		}, nil)
		if errors.Is(err, errNotAlive) {
			continue
		}
		if err != nil {
			return fenced, err
		}
		c.log.Warn("fenced broker: no heartbeat within the session timeout", "broker", id, "timeout", c.sessionTimeout)
		fenced = append(fenced, id)
	}
	return fenced, nil
}

// RunLiveness checks broker sessions every interval until ctx ends. Its
// decisions use the controller's Clock; the ticker only schedules them.
func (c *Controller) RunLiveness(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.FenceExpired(ctx); err != nil && ctx.Err() == nil {
				c.log.Debug("liveness check", slog.Any("err", err))
			}
		}
	}
}
