package controller

import (
	"context"
	"sync/atomic"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Idempotency is a write's Idempotency-Key and the fingerprint of the
// request that came with it. The front door attaches it to the request's
// context (WithIdempotency); every write that proposes records then
// carries the key in its batch, and a key already in the committed state
// answers from the stored first answer instead of running the write again
// (see metadata.Delta.ReplayEntry for the rules replay applies).
type Idempotency struct {
	Key         string
	Fingerprint metadata.Fingerprint

	replayed atomic.Bool
}

// Replayed reports whether the write was answered from the first answer
// of its key (nothing applied this time). Read it after the write
// returned.
func (i *Idempotency) Replayed() bool { return i.replayed.Load() }

type idempotencyKey struct{}

// WithIdempotency returns ctx carrying idem for the writes run with it.
// A nil idem (no key) returns ctx unchanged.
func WithIdempotency(ctx context.Context, idem *Idempotency) context.Context {
	if idem == nil {
		return ctx
	}
	return context.WithValue(ctx, idempotencyKey{}, idem)
}

// withoutIdempotency is ctx without its request's key, for the further
// batches a controller operation commits on its own after the keyed one.
func withoutIdempotency(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, (*Idempotency)(nil))
}

func idempotencyFrom(ctx context.Context) *Idempotency {
	idem, _ := ctx.Value(idempotencyKey{}).(*Idempotency)
	return idem
}

// stamp is the batch header for a proposal made under ctx, nil without a
// key.
func stamp(ctx context.Context, answer []byte) *metadata.Idempotency {
	idem := idempotencyFrom(ctx)
	if idem == nil {
		return nil
	}
	return &metadata.Idempotency{Key: idem.Key, Fingerprint: idem.Fingerprint, Answer: answer}
}

// knownAnswer looks the request's key up in img (the committed state after
// the write barrier), before the request is validated: a retried write
// must get its first answer, not the error its own first success would
// now cause (a retried topic creation is not TOPIC_ALREADY_EXISTS). ok is
// false when the request has no key or the key is unknown; err is
// IDEMPOTENCY_KEY_REUSED when the key came with another request.
func knownAnswer(ctx context.Context, img *metadata.Image) (recs []metadata.Record, answer []byte, ok bool, err error) {
	idem := idempotencyFrom(ctx)
	if idem == nil {
		return nil, nil, false, nil
	}
	e, found := img.Idempotency(idem.Key)
	if !found {
		return nil, nil, false, nil
	}
	if e.Fingerprint != idem.Fingerprint {
		return nil, nil, false, contract.Errorf(contract.CodeIdempotencyKeyReused,
			"Idempotency-Key %q was first used at offset %d for a different request", idem.Key, e.Offset)
	}
	idem.replayed.Store(true)
	return e.Records, e.Answer, true, nil
}

// markReplayed records on ctx's Idempotency that the answer is a replay.
func markReplayed(ctx context.Context) {
	if idem := idempotencyFrom(ctx); idem != nil {
		idem.replayed.Store(true)
	}
}
