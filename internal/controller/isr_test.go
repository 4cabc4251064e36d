package controller

import (
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func TestBuildAlterISR(t *testing.T) {
	// Partition 0 of "t": replicas 1 2 3 4, leader 1 at epoch 5, 4 being
	// added and 3 removed. Partition 1: plain, at epoch 2.
	reassigning := prt("ut", 0, 5, ids(1, 2, 3, 4), ids(1, 2, 3), 1)
	reassigning.AddingReplicas, reassigning.RemovingReplicas = ids(4), ids(3)
	img := imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusAlive, 0), broker(5, metadata.StatusFenced, 1),
		bodies(top("t", "ut"), reassigning, prt("ut", 1, 2, ids(1, 2, 5), ids(1, 2), 1)),
	)
	next := func(id int32, epoch int64, f func(p *metadata.PartitionRecord)) []metadata.Body {
		p := prt("ut", id, epoch, nil, nil, 1)
		f(p)
		return bodies(p)
	}
	tests := []struct {
		name      string
		partition int32
		broker    int32
		epoch     int64
		isr       []int32
		wantCode  contract.Code
		want      []metadata.Body
	}{
		{name: "shrink", partition: 1, broker: 1, epoch: 2, isr: ids(1),
			want: next(1, 3, func(p *metadata.PartitionRecord) { p.Replicas, p.ISR = ids(1, 2, 5), ids(1) })},
		{name: "expand without finishing the reassignment", partition: 0, broker: 1, epoch: 5, isr: ids(1, 2),
			want: next(0, 6, func(p *metadata.PartitionRecord) {
				p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas = ids(1, 2, 3, 4), ids(1, 2), ids(4), ids(3)
			})},
		{name: "adding replica in sync completes the reassignment", partition: 0, broker: 1, epoch: 5, isr: ids(1, 2, 3, 4),
			want: next(0, 6, func(p *metadata.PartitionRecord) {
				p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas = ids(1, 2, 4), ids(1, 2, 4), ids(), ids()
			})},
		{name: "not the leader", partition: 1, broker: 2, epoch: 2, isr: ids(1, 2), wantCode: contract.CodeNotPartitionLeader},
		{name: "stale epoch", partition: 1, broker: 1, epoch: 1, isr: ids(1, 2), wantCode: contract.CodeStalePartitionEpoch},
		{name: "future epoch", partition: 1, broker: 1, epoch: 3, isr: ids(1, 2), wantCode: contract.CodeStalePartitionEpoch},
		{name: "FENCED member", partition: 1, broker: 1, epoch: 2, isr: ids(1, 5), wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "not a replica", partition: 1, broker: 1, epoch: 2, isr: ids(1, 3), wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "without the leader", partition: 1, broker: 1, epoch: 2, isr: ids(2), wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "repeated member", partition: 1, broker: 1, epoch: 2, isr: ids(1, 1), wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "empty", partition: 1, broker: 1, epoch: 2, isr: ids(), wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "unknown partition", partition: 9, broker: 1, epoch: 0, isr: ids(1), wantCode: contract.CodePartitionNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := buildAlterISR(img, "t", tt.partition, tt.broker, tt.epoch, tt.isr)
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
		})
	}
}
