package controller

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// ControlledShutdown prepares broker id to stop (Kafka's controlled
// shutdown): it becomes FENCED (epoch + 1) and, in the same atomic batch,
// leaves every ISR that keeps another member and passes the leadership of
// every partition it leads to the first other ALIVE ISR member in replica
// order (departure.go). Where it is the last ISR member the partition goes
// offline (leader -1) and keeps it in the ISR, so it leads again when it
// returns. partitionsMoved counts the partitions whose leadership passed
// to another broker.
func (c *Controller) ControlledShutdown(ctx context.Context, id int32) (contract.ShutdownResponse, int64, error) {
	// partitionsMoved is not visible in the records (a partition the
	// broker only followed changes too, and a large departure spans
	// several batches), so it travels as the first batch's answer, for a
	// replay to return the same count.
	applied, answer, err := c.brokerWrite(ctx, id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
		return buildBrokerDeparture(img, id, metadata.StatusFenced, MaxPartitionsPerRequest)
	}, func(before *metadata.Image, _ []metadata.Record) []byte {
		return binary.AppendUvarint(nil, uint64(leadersToMove(before, id)))
	})
	if err != nil {
		return contract.ShutdownResponse{}, 0, err
	}
	moved, n := binary.Uvarint(answer)
	if n <= 0 {
		return contract.ShutdownResponse{}, 0, fmt.Errorf("controller: shutdown of broker %d at offset %d: bad stored answer %x", id, applied[0].Offset, answer)
	}
	return contract.ShutdownResponse{PartitionsMoved: int32(moved)}, applied[0].Offset, nil
}

// leadersToMove counts the partitions id leads in img whose leadership
// passes to another broker when it leaves service (departure.go), over
// every batch of the departure.
func leadersToMove(img metadata.Reader, id int32) int {
	eligible := func(b int32) bool { return b != id && isAlive(img, b) }
	n := 0
	for _, t := range img.Topics() {
		for _, p := range img.Partitions(t.TopicUUID) {
			if p.Leader != id {
				continue
			}
			if next, _ := leaveService(p, id, eligible); next.Leader != metadata.NoLeader {
				n++
			}
		}
	}
	return n
}
