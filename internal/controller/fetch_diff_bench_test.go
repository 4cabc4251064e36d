package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/metadata"
)

// heartbeatTail is a state machine whose tail holds what the heartbeat
// benchmark's brokers follow: clients creating and deleting
// one-partition topics (a TopicRecord and a PartitionRecord at one
// offset, a RemoveTopicRecord at the next), recs records of it. It
// returns the offset a broker that is diffRecords records behind sends.
func heartbeatTail(recs, diffRecords int) (*StateMachine, int64) {
	sm := NewStateMachine(defaults.TailRecords)
	ts := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	var all []metadata.Record
	off := int64(1000)
	for i := 0; len(all) < recs; i++ {
		off++
		uuid := fmt.Sprintf("%08x-7d1c-4b6e-9a3f-%012x", i*2654435761, i)
		at := ts.Add(time.Duration(off) * time.Millisecond)
		if i%2 == 0 {
			lead := int32(i % 1000)
			reps := []int32{lead, (lead + 1) % 1000, (lead + 2) % 1000}
			all = append(all,
				metadata.Record{Offset: off, Timestamp: at, Body: &metadata.TopicRecord{TopicUUID: uuid, Name: fmt.Sprintf("bench-topic-%06d", i)}},
				metadata.Record{Offset: off, Timestamp: at, Body: &metadata.PartitionRecord{TopicUUID: uuid, Replicas: reps, ISR: reps,
					RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: lead}})
		} else {
			all = append(all, metadata.Record{Offset: off, Timestamp: at, Body: &metadata.RemoveTopicRecord{TopicUUID: uuid, Name: fmt.Sprintf("bench-topic-%06d", i-1)}})
		}
	}
	for i := 0; i < len(all); i += 64 { // as the apply loop appends: a few entries at a time
		sm.Tail().Append(all[i:min(i+64, len(all))])
	}
	return sm, all[len(all)-diffRecords-1].Offset
}

// BenchmarkHeartbeatFetchDiff is the serving node's work for one
// BrokerMgmt heartbeat fetch that is about 200 records behind: Fetch
// from the tail, then the answer's JSON. Every iteration fetches the
// same records, as the brokers that heartbeat between two commits do
// ("cached"); "uncached" encodes the same answer's records afresh, as
// the first fetch after their commit does.
func BenchmarkHeartbeatFetchDiff(b *testing.B) {
	sm, from := heartbeatTail(20_000, 200)
	c := New(Config{State: sm})
	ctx := context.Background()
	for _, mode := range []string{"cached", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			var buf []byte
			var n int
			for b.Loop() {
				out, err := c.Fetch(ctx, FetchRequest{Offset: &from, Stale: true})
				if err != nil {
					b.Fatal(err)
				}
				if mode == "uncached" {
					out = FetchResponse{Mode: out.Mode, HighWatermark: out.HighWatermark, recs: out.Records()}
				}
				n = len(out.Records())
				if buf, err = out.AppendDiffJSON(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "records/op")
			b.ReportMetric(float64(len(buf)), "bytes/answer")
		})
	}
}
