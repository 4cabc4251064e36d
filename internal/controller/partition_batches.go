package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Multi-partition operations (elections, reassignments) decide each
// partition on its own: a partition either gets a change record, or an
// error of its own in the answer, or neither (a no-op success). Their
// changes are committed in as few atomic batches as the batch limit
// allows, MaxPartitionsPerRequest changes each, in the order the
// partitions were asked for; a change whose partition moved meanwhile is
// decided again against the new state (the write's race retry).

// partitionRef names one partition an operation works on.
type partitionRef struct {
	topic     string
	partition int32
}

// partitionDecision is one partition's outcome: next is its change (nil
// for none); result is what the answer says about it.
type partitionDecision struct {
	next   *metadata.PartitionRecord
	result contract.PartitionResult
}

// decideFunc decides one partition against img.
type decideFunc func(img metadata.Reader, ref partitionRef) partitionDecision

// partitionBatchAnswer is one batch's share of the answer, stored with
// the request's idempotency key (first batch only), so a replay answers
// what the first attempt answered.
type partitionBatchAnswer struct {
	Results  []contract.PartitionResult `json:"results"`
	Consumed int                        `json:"consumed"` // refs the batch decided
}

// errNoPartitionChange ends a batch build whose partitions all need no
// record: nothing is proposed, and the write confirms the decisions on
// the committed state (a read barrier) before they are answered.
var errNoPartitionChange = errors.New("controller: no partition changes")

// partitionWrites decides refs in order with decide and commits the
// changes, at most limit per batch. It returns every partition's result
// and the offset of the last batch committed (or, when none was, of the
// committed state the answer was decided on). The first batch carries
// the request's idempotency key; the following ones are the
// controller's own continuation, as brokerWrite's are.
func (c *Controller) partitionWrites(ctx context.Context, refs []partitionRef, limit int, decide decideFunc) ([]contract.PartitionResult, int64, error) {
	var (
		results []contract.PartitionResult
		offset  int64
	)
	first := true
	for len(refs) > 0 || first {
		bctx := ctx
		if !first {
			bctx = withoutIdempotency(ctx)
		}
		first = false
		// Filled by the last build run: the one proposed, or the one
		// on committed state that confirmed there was nothing to write.
		var (
			last    partitionBatchAnswer
			builtAt int64
		)
		applied, ans, err := c.writeAnswer(bctx, func(img *metadata.Image) ([]metadata.Record, []byte, error) {
			if err := refuseWhileZkAuthoritative(img); err != nil {
				return nil, nil, err
			}
			var recs []metadata.Record
			last, builtAt = partitionBatchAnswer{Results: []contract.PartitionResult{}}, img.Offset()
			for _, ref := range refs {
				if len(recs) == limit {
					break
				}
				d := decide(img, ref)
				last.Consumed++
				last.Results = append(last.Results, d.result)
				if d.next != nil {
					recs = append(recs, metadata.Record{Body: d.next})
				}
			}
			if len(recs) == 0 {
				return nil, nil, errNoPartitionChange
			}
			answer, err := json.Marshal(last)
			if err != nil {
				return nil, nil, fmt.Errorf("encode the batch's answer: %w", err)
			}
			return recs, answer, nil
		}, metadata.ReasonStalePartitionEpoch)
		switch {
		case errors.Is(err, errNoPartitionChange):
			offset = max(offset, builtAt)
		case err != nil:
			return nil, 0, err
		default:
			if err := json.Unmarshal(ans, &last); err != nil {
				return nil, 0, fmt.Errorf("decode the batch's answer: %w", err)
			}
			if len(applied) > 0 {
				offset = applied[len(applied)-1].Offset
			}
		}
		if last.Consumed == 0 {
			break // no refs at all
		}
		results = append(results, last.Results...)
		refs = refs[min(last.Consumed, len(refs)):]
	}
	if results == nil {
		results = []contract.PartitionResult{}
	}
	return results, offset, nil
}

// resultError is a partition result carrying err's code and message.
func resultError(ref partitionRef, err error) contract.PartitionResult {
	r := contract.PartitionResult{Topic: ref.topic, Partition: ref.partition}
	ce, ok := APIError(err)
	if !ok {
		ce = &contract.Error{Code: contract.CodeInternal, Message: err.Error()}
	}
	r.Error = &contract.ErrorDetail{Code: ce.Code, Message: ce.Message}
	return r
}

// dedupRefs drops repeated partitions, keeping the first of each.
func dedupRefs(refs []partitionRef) []partitionRef {
	seen := make(map[partitionRef]bool, len(refs))
	out := refs[:0:0]
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
