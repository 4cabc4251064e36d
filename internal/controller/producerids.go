package controller

import (
	"context"
	"math"
	"sort"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// maxFirstProducerID is the highest first id of a whole block.
const maxFirstProducerID = math.MaxInt64 - metadata.ProducerIDBlockSize

// AllocateProducerIDs proposes a ProducerIdsRecord giving a block of
// metadata.ProducerIDBlockSize ids to an ALIVE broker at its current
// epoch, and returns it with its offset. BROKER_NOT_FOUND, BROKER_NOT_ACTIVE
// (not ALIVE), PRODUCER_ID_ALREADY_ALLOCATED (a chosen block overlaps one
// given before).
//
// Concurrent requests for the next free block get disjoint blocks: each
// is validated against a forecast holding the blocks proposed before it.
func (c *Controller) AllocateProducerIDs(ctx context.Context, req contract.AllocateProducerIDsRequest) (contract.ProducerIDsResponse, int64, error) {
	switch {
	case req.BrokerID == nil:
		return contract.ProducerIDsResponse{}, 0, contract.Errorf(contract.CodeInvalidRequest, "brokerId is required")
	case *req.BrokerID < 0:
		return contract.ProducerIDsResponse{}, 0, contract.Errorf(contract.CodeInvalidRequest, "brokerId must be >= 0, got %d", *req.BrokerID)
	case req.ProducerID != nil && (*req.ProducerID < 0 || *req.ProducerID > maxFirstProducerID):
		return contract.ProducerIDsResponse{}, 0, contract.Errorf(contract.CodeInvalidRequest, "producerId must be 0..%d, got %d", int64(maxFirstProducerID), *req.ProducerID)
	}
	broker := *req.BrokerID
	// A broker epoch that moved on is always a race (the broker re-asks at
	// its new epoch); a taken block is one only when the server chose it.
	raced := []metadata.Reason{metadata.ReasonStaleBrokerEpoch}
	if req.ProducerID == nil {
		raced = append(raced, metadata.ReasonProducerIDAlreadyAllocated)
	}
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := refuseWhileZkAuthoritative(img); err != nil {
			return nil, err
		}
		return buildAllocateProducerIDs(img, broker, req.ProducerID, nextFreeBlock)
	}, raced...)
	if err != nil {
		return contract.ProducerIDsResponse{}, 0, err
	}
	rec := applied[0]
	return contract.ProducerIDsResponse{
		Record: rec, FirstProducerID: rec.Body.(*metadata.ProducerIdsRecord).ProducerID, Size: metadata.ProducerIDBlockSize,
	}, rec.Offset, nil
}

// buildAllocateProducerIDs gives broker the block at first or, when first
// is nil, the block nextFree chooses given the image's NextProducerID.
func buildAllocateProducerIDs(img metadata.Reader, broker int32, first *int64, nextFree func(imageNext int64) (int64, error)) ([]metadata.Record, error) {
	b, err := activeBroker(img, broker)
	if err != nil {
		return nil, err
	}
	if b.BrokerStatus != metadata.StatusAlive {
		return nil, contract.Errorf(contract.CodeBrokerNotActive, "broker %d is %s; producer ids go to ALIVE brokers", broker, b.BrokerStatus)
	}
	var start int64
	if first != nil {
		start = *first
		if o, ok := overlappingBlock(img.ProducerIDs().Blocks, start); ok {
			return nil, contract.Errorf(contract.CodeProducerIDAlreadyAllocated, "producer ids [%d, %d) overlap [%d, %d), given to broker %d",
				start, start+metadata.ProducerIDBlockSize, o.ProducerID, o.ProducerID+metadata.ProducerIDBlockSize, o.BrokerID)
		}
	} else if start, err = nextFree(img.ProducerIDs().NextProducerID); err != nil {
		return nil, err
	}
	return []metadata.Record{{Body: &metadata.ProducerIdsRecord{BrokerID: broker, BrokerEpoch: b.Epoch, ProducerID: start}}}, nil
}

// overlappingBlock returns a block of blocks (sorted by ProducerID, each
// ProducerIDBlockSize long, none overlapping) that overlaps the block
// starting at first, if any.
func overlappingBlock(blocks []metadata.ProducerIdsRecord, first int64) (metadata.ProducerIdsRecord, bool) {
	const size = metadata.ProducerIDBlockSize
	// Equal sizes: sorted by start is sorted by end. Find the first block
	// ending after first; it overlaps iff it starts before first's end.
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].ProducerID+size > first })
	if i < len(blocks) && blocks[i].ProducerID < first+size {
		return blocks[i], true
	}
	return metadata.ProducerIdsRecord{}, false
}

// nextFreeBlock is the next free block after the image's: the forecast
// a write validates against holds every block proposed before it, so
// concurrent requests get disjoint blocks. PRODUCER_ID_ALREADY_ALLOCATED
// once the id space is exhausted.
func nextFreeBlock(imageNext int64) (int64, error) {
	if imageNext > maxFirstProducerID {
		return 0, contract.Errorf(contract.CodeProducerIDAlreadyAllocated, "producer ids are exhausted")
	}
	return imageNext, nil
}
