package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/yakt/yakt/internal/metadata"
)

// A broker leaves service when it is fenced (session timeout or PATCH
// brokerStatus FENCED), unregistered (CLOSED) or shut down (controlled
// shutdown, which ends FENCED). Kafka's controller then takes it out of
// every ISR it is in, not only those of the partitions it leads; YAKt
// follows Kafka without eligible leader replicas (KIP-966 off):
//
//   - it leaves the ISR of every partition whose ISR keeps another member;
//   - where it is the last ISR member, the ISR stays as it is: it still
//     holds every committed record, so when it comes back (unfenced or
//     re-registered) it leads again without an unclean election;
//   - where it led, leadership passes to the first other ALIVE ISR member
//     in replica order, or to no one (leader -1);
//   - every partition it changes gets partitionEpoch + 1.
//
// The registration change and the partition changes are one atomic record
// batch when they fit one: MaxPartitionsPerRequest partition changes.
// A broker in more ISRs than that leaves them in several batches (see
// brokerWrite), each atomic, the registration change in the first; so a
// departure is never refused for its size, and between its batches a
// reader may see the broker FENCED or CLOSED while it still follows (or
// leads, beyond the first batch's leaders) some partitions. A return
// (unfencing, PATCH ALIVE, registering a CLOSED id again) regains
// offline partitions in batches the same way.

// leaveService returns p's next state once broker id is out of service,
// and whether anything changed. eligible says which brokers may lead; it
// is never asked about id.
func leaveService(p metadata.PartitionRecord, id int32, eligible func(int32) bool) (metadata.PartitionRecord, bool) {
	leads := p.Leader == id
	shrink := slices.Contains(p.ISR, id) && len(p.ISR) > 1
	if !leads && !shrink {
		return p, false
	}
	next := clonePartition(p)
	if shrink {
		next.ISR = remove(next.ISR, id)
	}
	if leads {
		next.Leader = electLeader(next.Replicas, next.ISR, func(b int32) bool { return b != id && eligible(b) })
	}
	next.PartitionEpoch++
	return next, true
}

// departureRecords returns the partition changes that take broker id out
// of service, at most limit of them, those of the partitions it leads
// first (leadership is what clients wait for), then those where it only
// follows; more reports that further partitions still need a change. The
// order is the image's (topics by name, partitions by id), so the result
// is deterministic.
func departureRecords(img metadata.Reader, id int32, limit int) (recs []metadata.Record, more bool) {
	// NB: id must not count as ALIVE; in img it may still be.
	eligible := func(b int32) bool { return b != id && isAlive(img, b) }
	for _, leaders := range []bool{true, false} {
		for _, t := range img.Topics() {
			for _, p := range img.Partitions(t.TopicUUID) {
				if (p.Leader == id) != leaders {
					continue
				}
				next, changed := leaveService(p, id, eligible)
				if !changed {
					continue
				}
				if len(recs) == limit {
					return recs, true
				}
				recs = append(recs, metadata.Record{Body: &next})
			}
		}
	}
	return recs, false
}

// buildBrokerDeparture is the first batch that takes broker id out of
// service with status (FENCED or CLOSED): its registration change, epoch
// + 1, then up to limit partition changes. more reports partitions left
// for the follow-up batches (buildSettle). BROKER_NOT_FOUND or BROKER_NOT_ACTIVE (CLOSED)
// if id cannot leave.
func buildBrokerDeparture(img metadata.Reader, id int32, status string, limit int) (recs []metadata.Record, more bool, err error) {
	cur, err := activeBroker(img, id)
	if err != nil {
		return nil, false, err
	}
	change := brokerChange(cur)
	change.BrokerStatus = status
	parts, more := departureRecords(img, id, limit)
	return append([]metadata.Record{{Body: change}}, parts...), more, nil
}

// errSettled ends a broker's follow-up batches: nothing is left to change.
var errSettled = errors.New("controller: broker settled")

// buildSettle is a follow-up batch for broker id, chosen by its status
// now: out of service (FENCED or CLOSED), the next limit partition
// changes of its departure; ALIVE, the next limit offline partitions it
// regains. A broker that changed status between batches (unfenced while
// it was leaving, fenced while it was returning) thus gets the batches
// its current status calls for. errSettled when nothing is left, or when
// id is not registered.
func buildSettle(img metadata.Reader, id int32, limit int) ([]metadata.Record, bool, error) {
	b, ok := img.Broker(id)
	if !ok {
		return nil, false, errSettled
	}
	var recs []metadata.Record
	var more bool
	if b.BrokerStatus == metadata.StatusAlive {
		recs, more = regainRecords(img, id, limit)
	} else {
		recs, more = departureRecords(img, id, limit)
	}
	if len(recs) == 0 {
		return nil, false, errSettled
	}
	return recs, more, nil
}

// departureRaces are the codes a departure batch rebuilds on: a racing
// write changed the broker or one of its partitions first.
var departureRaces = []metadata.Reason{metadata.ReasonStaleBrokerEpoch, metadata.ReasonStalePartitionEpoch}

// brokerWrite commits the batch first builds (a broker's registration
// change and as many of its partition changes as fit) and, while it
// reports more, the follow-up batches buildSettle makes. Kafka's
// controller splits such a change into several batches the same way; the
// order here is: the registration change first (so no racing write can
// still choose a departing broker as leader or ISR member, nor refuse a
// returning one as not ALIVE), then the partitions it leads (what clients
// wait for), then those it only follows, each in image order.
//
// It returns the first batch as applied, with the answer bytes answer
// (if not nil) computed from the first batch and the image it was built
// from: they are stored with the request's idempotency key, so a replay
// returns them again. Only the first batch carries the key; a follow-up
// batch is the controller's own continuation. Should this node stop
// leading between batches, the broker has changed status and some
// partitions still wait for their change: a retry with the same key,
// the next departure-like write, or the next leader's liveness check
// (which sweeps the image once per term, see settlePending) finishes them.
func (c *Controller) brokerWrite(ctx context.Context, id int32, first func(img *metadata.Image) ([]metadata.Record, bool, error), answer func(*metadata.Image, []metadata.Record) []byte) ([]metadata.Record, []byte, error) {
	applied, ans, more, err := c.firstBrokerBatch(ctx, first, answer)
	if err != nil {
		return nil, nil, err
	}
	if more {
		if err := c.settle(withoutIdempotency(ctx), id); err != nil {
			c.live.addPending(id)
			return nil, nil, err
		}
	}
	return applied, ans, nil
}

// firstBrokerBatch commits brokerWrite's first batch; more reports that
// follow-up batches may be needed.
func (c *Controller) firstBrokerBatch(ctx context.Context, first func(img *metadata.Image) ([]metadata.Record, bool, error), answer func(*metadata.Image, []metadata.Record) []byte) (applied []metadata.Record, ans []byte, more bool, err error) {
	var built bool
	applied, ans, err = c.writeAnswer(ctx, func(img *metadata.Image) ([]metadata.Record, []byte, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, nil, err
		}
		recs, m, err := first(img)
		more, built = m, true
		if err != nil || answer == nil {
			return recs, nil, err
		}
		return recs, answer(img, recs), nil
	}, departureRaces...)
	if err != nil {
		return nil, nil, false, err
	}
	if !built {
		// A replay of the key's first answer: the change it began may have
		// stopped after its first batch (a leader change between batches),
		// so finish whatever is left before answering.
		more = true
	}
	return applied, ans, more, nil
}

// settle commits follow-up batches for broker id until buildSettle finds
// nothing left to change.
func (c *Controller) settle(ctx context.Context, id int32) error {
	for {
		_, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
			if err := refuseWhileZkAuthoritative(img); err != nil {
				return nil, err
			}
			recs, _, err := buildSettle(img, id, MaxPartitionsPerRequest)
			return recs, err
		}, departureRaces...)
		if errors.Is(err, errSettled) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("settle broker %d: %w", id, err)
		}
	}
}

// regainRecords returns, for broker id coming back into service (ALIVE in
// the same or an earlier batch), a change for every offline partition
// whose ISR holds it, at most limit of them, in image order: it leads
// again, partitionEpoch + 1. more reports that further partitions still
// need a change (buildSettle makes the follow-up batches).
func regainRecords(img metadata.Reader, id int32, limit int) (recs []metadata.Record, more bool) {
	for _, t := range img.Topics() {
		for _, p := range img.Partitions(t.TopicUUID) {
			if p.Leader != metadata.NoLeader || !slices.Contains(p.ISR, id) {
				continue
			}
			if len(recs) == limit {
				return recs, true
			}
			next := clonePartition(p)
			next.Leader = id
			next.PartitionEpoch++
			recs = append(recs, metadata.Record{Body: &next})
		}
	}
	return recs, false
}
