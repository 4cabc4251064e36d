package controller

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/yakt/yakt/internal/metadata"
)

// ShutdownResponse is POST /v1/brokers/{brokerId}/shutdown's answer.
type ShutdownResponse struct {
	PartitionsMoved int `json:"partitionsMoved"`
}

// ControlledShutdown prepares broker id to stop (Kafka's controlled
// shutdown), in one atomic batch: every partition it leads passes to the
// first other ALIVE ISR member in replica order, it leaves every ISR that
// keeps another member, and it becomes FENCED (epoch + 1). A partition
// with no one else to lead keeps it as leader, so a shutdown never takes a
// partition offline that was not going to be. partitionsMoved counts the
// partitions whose leadership moved.
func (c *Controller) ControlledShutdown(ctx context.Context, id int32) (ShutdownResponse, int64, error) {
	// partitionsMoved is not visible in the records (a partition the
	// broker only followed changes too), so it travels as the batch's
	// answer, for a replay to return the same count.
	applied, answer, err := c.writeAnswer(ctx, func(img *metadata.Image) ([]metadata.Record, []byte, error) {
		recs, n, err := buildControlledShutdown(img, id)
		return recs, binary.AppendUvarint(nil, uint64(n)), err
	}, metadata.CodeStaleBrokerEpoch, metadata.CodeStalePartitionEpoch)
	if err != nil {
		return ShutdownResponse{}, 0, err
	}
	moved, n := binary.Uvarint(answer)
	if n <= 0 {
		return ShutdownResponse{}, 0, fmt.Errorf("controller: shutdown of broker %d at offset %d: bad stored answer %x", id, applied[0].Offset, answer)
	}
	return ShutdownResponse{PartitionsMoved: int(moved)}, applied[0].Offset, nil
}

func buildControlledShutdown(img metadata.Reader, id int32) ([]metadata.Record, int, error) {
	cur, err := activeBroker(img, id)
	if err != nil {
		return nil, 0, err
	}
	change := brokerChange(cur)
	change.BrokerStatus = metadata.StatusFenced
	recs := []metadata.Record{{Body: change}}
	eligible := func(b int32) bool { return b != id && isAlive(img, b) }
	moved := 0
	for _, t := range img.Topics() {
		for _, p := range img.Partitions(t.TopicUUID) {
			if !slices.Contains(p.ISR, id) {
				continue
			}
			next := clonePartition(p)
			if p.Leader == id {
				if next.Leader = electLeader(p.Replicas, p.ISR, eligible); next.Leader == metadata.NoLeader {
					continue // no one else can take over: keep leading
				}
				moved++
			} else if len(p.ISR) == 1 {
				continue // its last ISR member stays
			}
			next.ISR = remove(next.ISR, id)
			next.PartitionEpoch++
			recs = append(recs, metadata.Record{Body: &next})
			if len(recs) > MaxPartitionsPerRequest+1 {
				return nil, 0, metadata.Errorf(metadata.CodePayloadTooLarge,
					"broker %d is in sync for more than %d partitions; controlled shutdown in batches is not supported yet", id, MaxPartitionsPerRequest)
			}
		}
	}
	return recs, moved, nil
}
