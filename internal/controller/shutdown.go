package controller

import (
	"context"

	"github.com/yakt/yakt/internal/metadata"
)

// ShutdownResponse is POST /v1/brokers/{brokerId}/shutdown's answer.
type ShutdownResponse struct {
	PartitionsMoved int `json:"partitionsMoved"`
}

// ControlledShutdown prepares broker id to stop (Kafka's controlled
// shutdown): it becomes FENCED (epoch + 1) and, in the same atomic batch,
// leaves every ISR that keeps another member and passes the leadership of
// every partition it leads to the first other ALIVE ISR member in replica
// order (departure.go). Where it is the last ISR member the partition goes
// offline (leader -1) and keeps it in the ISR, so it leads again when it
// returns. partitionsMoved counts the partitions whose leadership passed
// to another broker.
func (c *Controller) ControlledShutdown(ctx context.Context, id int32) (ShutdownResponse, int64, error) {
	moved := 0
	applied, err := c.depart(ctx, id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
		return buildBrokerDeparture(img, id, metadata.StatusFenced, MaxPartitionsPerRequest)
	}, func(before *metadata.Image, recs []metadata.Record) {
		moved += movedLeaders(before, recs, id)
	})
	if err != nil {
		return ShutdownResponse{}, 0, err
	}
	return ShutdownResponse{PartitionsMoved: moved}, applied[0].Offset, nil
}

// movedLeaders counts the partitions that id led in before and another
// broker leads after recs.
func movedLeaders(before metadata.Reader, recs []metadata.Record, id int32) int {
	n := 0
	for _, r := range recs {
		p, ok := r.Body.(*metadata.PartitionRecord)
		if !ok || p.Leader == metadata.NoLeader {
			continue
		}
		if old, ok := before.Partition(p.TopicUUID, p.PartitionID); ok && old.Leader == id {
			n++
		}
	}
	return n
}
