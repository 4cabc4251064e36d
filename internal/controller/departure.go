package controller

import (
	"context"
	"errors"
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
// batch, so no reader sees a FENCED or CLOSED broker leading or in sync
// with others. One batch holds at most MaxPartitionsPerRequest partition
// changes; a broker in more ISRs than that leaves them in several batches
// (see depart), and a departure is never refused for its size.

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
// for buildDepartureRest. BROKER_NOT_FOUND or BROKER_NOT_ACTIVE (CLOSED)
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

// errDeparted ends a departure: broker id has left every ISR it can, or is
// ALIVE again (unfenced or re-registered meanwhile, so it belongs in ISRs).
var errDeparted = errors.New("controller: departure complete")

// buildDepartureRest is a follow-up batch of a departure that did not fit
// one batch: the next limit partition changes for broker id, which is no
// longer ALIVE. errDeparted when nothing is left to change.
func buildDepartureRest(img metadata.Reader, id int32, limit int) ([]metadata.Record, bool, error) {
	if b, ok := img.Broker(id); !ok || b.BrokerStatus == metadata.StatusAlive {
		return nil, false, errDeparted
	}
	recs, more := departureRecords(img, id, limit)
	if len(recs) == 0 {
		return nil, false, errDeparted
	}
	return recs, more, nil
}

// departureRaces are the codes a departure batch rebuilds on: a racing
// write changed the broker or one of its partitions first.
var departureRaces = []metadata.Code{metadata.CodeStaleBrokerEpoch, metadata.CodeStalePartitionEpoch}

// depart commits the batch first builds and, while it reports more, the
// follow-up batches that move broker id out of the remaining ISRs. It
// returns the first batch as applied, with the answer bytes answer (if not
// nil) computed from the first batch and the image it was built from:
// they are stored with the request's idempotency key, so a replay returns
// them again. Only the first batch carries the key; a follow-up batch is
// the controller's own continuation. An error after the first batch
// committed leaves the broker out of service and in some ISRs still; a
// retry with the same key, or the next departure-like write (another
// PATCH FENCED, or DELETE), finishes the job.
func (c *Controller) depart(ctx context.Context, id int32, first func(img *metadata.Image) ([]metadata.Record, bool, error), answer func(*metadata.Image, []metadata.Record) []byte) ([]metadata.Record, []byte, error) {
	var more, built bool
	applied, ans, err := c.writeAnswer(ctx, func(img *metadata.Image) ([]metadata.Record, []byte, error) {
		recs, m, err := first(img)
		more, built = m, true
		if err != nil || answer == nil {
			return recs, nil, err
		}
		return recs, answer(img, recs), nil
	}, departureRaces...)
	if err != nil {
		return nil, nil, err
	}
	if !built {
		// A replay of the key's first answer: the departure it began may
		// have stopped after its first batch (a leader change between
		// batches), so finish whatever is left before answering.
		more = true
	}
	rest := withoutIdempotency(ctx)
	for more {
		_, err := c.write(rest, func(img *metadata.Image) ([]metadata.Record, error) {
			recs, m, err := buildDepartureRest(img, id, MaxPartitionsPerRequest)
			more = m
			return recs, err
		}, departureRaces...)
		if errors.Is(err, errDeparted) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return applied, ans, nil
}

// regainRecords returns, for broker id coming back into service (ALIVE in
// the same batch), a change for every offline partition whose ISR holds
// it: it leads again, partitionEpoch + 1. PAYLOAD_TOO_LARGE beyond limit.
func regainRecords(img metadata.Reader, id int32, limit int) ([]metadata.Record, error) {
	var recs []metadata.Record
	for _, t := range img.Topics() {
		for _, p := range img.Partitions(t.TopicUUID) {
			if p.Leader != metadata.NoLeader || !slices.Contains(p.ISR, id) {
				continue
			}
			if len(recs) == limit {
				return nil, metadata.Errorf(metadata.CodePayloadTooLarge, "broker %d would regain more than %d partitions in one batch", id, limit)
			}
			next := clonePartition(p)
			next.Leader = id
			next.PartitionEpoch++
			recs = append(recs, metadata.Record{Body: &next})
		}
	}
	return recs, nil
}
