package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// base is the image the replay rows start from: brokers 1 (ALIVE, epoch
// 2), 2 (FENCED), 3 (CLOSED at epoch 1); topic "orders" with partition 0
// at epoch 1; one producer-id block [1000, 2000) for broker 1.
func base(t testing.TB) *Image {
	return build(t,
		brk(1, 0, StatusAlive), chg(1, 1, StatusFenced), chg(1, 2, StatusAlive),
		brk(2, 0, StatusAlive), chg(2, 1, StatusFenced),
		brk(3, 0, StatusAlive), chg(3, 1, StatusClosed),
		top("orders", "u-orders"),
		prt("u-orders", 0, 0, 1, 2),
		with(prt("u-orders", 0, 1, 1, 2), func(r *PartitionRecord) { r.ISR = []int32{1} }),
		pid(1, 2, 1000),
	)
}

func TestReplayRules(t *testing.T) {
	const uo = "u-orders"
	p0 := func(epoch int64) *PartitionRecord { return prt(uo, 0, epoch, 1, 2) }
	tests := []struct {
		name     string
		rec      Body
		wantCode Reason                        // ReasonNone when the record applies
		check    func(t *testing.T, im *Image) // state after a successful replay
	}{
		// RegisterBrokerRecord
		{name: "register new broker", rec: brk(7, 0, StatusAlive), check: func(t *testing.T, im *Image) {
			if got, ok := im.Broker(7); !ok || *brk(7, 0, StatusAlive) != got {
				t.Errorf("Broker(7) = %+v, %v", got, ok)
			}
		}},
		{name: "register ALIVE id again", rec: brk(1, 3, StatusAlive), wantCode: ReasonBrokerAlreadyRegistered},
		{name: "register FENCED id again", rec: brk(2, 2, StatusAlive), wantCode: ReasonBrokerAlreadyRegistered},
		{name: "re-register CLOSED id at old epoch", rec: brk(3, 1, StatusAlive), wantCode: ReasonStaleBrokerEpoch},
		{name: "re-register CLOSED id below old epoch", rec: brk(3, 0, StatusAlive), wantCode: ReasonStaleBrokerEpoch},
		{name: "re-register CLOSED id at higher epoch", rec: brk(3, 2, StatusAlive), check: func(t *testing.T, im *Image) {
			if got, _ := im.Broker(3); got != *brk(3, 2, StatusAlive) {
				t.Errorf("Broker(3) = %+v", got)
			}
		}},
		{name: "register with bad status", rec: brk(8, 0, "DEAD"), wantCode: ReasonInvalid},
		{name: "register negative id", rec: brk(-1, 0, StatusAlive), wantCode: ReasonInvalid},

		// BrokerRegistrationChangeBrokerRecord
		{name: "change unknown broker", rec: chg(9, 1, StatusAlive), wantCode: ReasonBrokerNotFound},
		{name: "change CLOSED broker", rec: chg(3, 2, StatusAlive), wantCode: ReasonBrokerNotActive},
		{name: "change at current epoch", rec: chg(1, 2, StatusFenced), wantCode: ReasonStaleBrokerEpoch},
		{name: "change skipping an epoch", rec: chg(1, 4, StatusFenced), wantCode: ReasonStaleBrokerEpoch},
		{name: "change to bad status", rec: chg(1, 3, "SLEEPING"), wantCode: ReasonInvalid},
		{name: "change updates every field", rec: chg(2, 2, StatusAlive), check: func(t *testing.T, im *Image) {
			want := *brk(2, 0, StatusAlive)
			want.BrokerHost, want.BrokerPort, want.SecurityProtocol, want.Epoch = "10.0.1.2", "9093", ProtocolSSL, 2
			if got, _ := im.Broker(2); got != want {
				t.Errorf("Broker(2):\n%s", diffJSON(want, got))
			}
		}},
		{name: "change to CLOSED", rec: chg(1, 3, StatusClosed), check: func(t *testing.T, im *Image) {
			if got, _ := im.Broker(1); got.BrokerStatus != StatusClosed || got.Epoch != 3 {
				t.Errorf("Broker(1) = %+v", got)
			}
		}},

		// TopicRecord
		{name: "create topic", rec: top("payments", "u-pay"), check: func(t *testing.T, im *Image) {
			got, ok := im.Topic("payments")
			byID, ok2 := im.TopicByUUID("u-pay")
			if !ok || !ok2 || got != *top("payments", "u-pay") || byID != got {
				t.Errorf("Topic = %+v %v, TopicByUUID = %+v %v", got, ok, byID, ok2)
			}
			if ps := im.Partitions("u-pay"); ps == nil || len(ps) != 0 {
				t.Errorf("Partitions of a new topic = %#v, want empty", ps)
			}
		}},
		{name: "create topic with existing name", rec: top("orders", "u-other"), wantCode: ReasonTopicAlreadyExists},
		{name: "create topic with existing UUID", rec: top("other", uo), wantCode: ReasonTopicAlreadyExists},
		{name: "create topic named ..", rec: top("..", "u-x"), wantCode: ReasonInvalidTopicName},
		{name: "create topic with a slash", rec: top("a/b", "u-x"), wantCode: ReasonInvalidTopicName},
		{name: "create topic with empty name", rec: top("", "u-x"), wantCode: ReasonInvalidTopicName},
		{name: "create topic with 250 chars", rec: top(strings.Repeat("a", 250), "u-x"), wantCode: ReasonInvalidTopicName},
		{name: "create topic without UUID", rec: top("x", ""), wantCode: ReasonInvalid},

		// PartitionRecord
		{name: "partition of unknown topic", rec: prt("u-none", 0, 0, 1), wantCode: ReasonTopicNotFound},
		{name: "create partition", rec: prt(uo, 1, 0, 2, 1), check: func(t *testing.T, im *Image) {
			got, ok := im.Partition(uo, 1)
			if d := diffJSON(prt(uo, 1, 0, 2, 1), got); !ok || d != "" {
				t.Errorf("Partition(1) ok=%v:\n%s", ok, d)
			}
		}},
		{name: "create partition at epoch 3 (snapshot style)", rec: prt(uo, 5, 3, 1), check: func(t *testing.T, im *Image) {
			if got, _ := im.Partition(uo, 5); got.PartitionEpoch != 3 {
				t.Errorf("epoch = %d", got.PartitionEpoch)
			}
		}},
		{name: "create partition at negative epoch", rec: prt(uo, 5, -1, 1), wantCode: ReasonInvalid},
		{name: "create existing partition", rec: p0(0), wantCode: ReasonPartitionAlreadyExists},
		{name: "change partition at current epoch", rec: p0(1), wantCode: ReasonStalePartitionEpoch},
		{name: "change partition skipping epochs (a migrated znode version)", rec: p0(7), check: func(t *testing.T, im *Image) {
			if got, _ := im.Partition(uo, 0); got.PartitionEpoch != 7 {
				t.Errorf("epoch = %d, want 7", got.PartitionEpoch)
			}
		}},
		{name: "change partition at epoch 0", rec: with(p0(0), func(r *PartitionRecord) { r.ISR = []int32{2} }), wantCode: ReasonPartitionAlreadyExists},
		{name: "change partition below its epoch", rec: p0(-1), wantCode: ReasonStalePartitionEpoch},
		{name: "change partition", rec: with(p0(2), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{2}, 2 }), check: func(t *testing.T, im *Image) {
			want := with(p0(2), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{2}, 2 })
			if got, _ := im.Partition(uo, 0); diffJSON(want, got) != "" {
				t.Errorf("Partition(0):\n%s", diffJSON(want, got))
			}
		}},
		{name: "change partition with bad assignment", rec: with(p0(2), func(r *PartitionRecord) { r.Leader = 9 }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "no replicas", rec: prt(uo, 1, 0), wantCode: ReasonInvalidReplicaAssignment},
		{name: "duplicate replicas", rec: prt(uo, 1, 0, 1, 2, 1), wantCode: ReasonInvalidReplicaAssignment},
		{name: "negative replica", rec: prt(uo, 1, 0, -1), wantCode: ReasonInvalidReplicaAssignment},
		{name: "negative partition id", rec: prt(uo, -1, 0, 1), wantCode: ReasonInvalidReplicaAssignment},
		{name: "ISR not within replicas", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.ISR = []int32{1, 3} }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "duplicate in ISR", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.ISR = []int32{1, 1} }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "leader not in ISR", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.ISR = []int32{1}; r.Leader = 2 }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "no leader is allowed", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{}, NoLeader }), check: func(t *testing.T, im *Image) {
			if got, _ := im.Partition(uo, 1); got.Leader != NoLeader {
				t.Errorf("leader = %d", got.Leader)
			}
		}},
		{name: "adding not within replicas", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.AddingReplicas = []int32{3} }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "removing not within replicas", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.RemovingReplicas = []int32{3} }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "adding and removing the same", rec: with(prt(uo, 1, 0, 1, 2), func(r *PartitionRecord) { r.AddingReplicas, r.RemovingReplicas = []int32{2}, []int32{2} }), wantCode: ReasonInvalidReplicaAssignment},
		{name: "reassignment in progress", rec: with(prt(uo, 1, 0, 1, 2, 3, 4), func(r *PartitionRecord) {
			r.ISR, r.AddingReplicas, r.RemovingReplicas = []int32{1, 2}, []int32{3, 4}, []int32{1, 2}
		}), check: func(t *testing.T, im *Image) {
			if got, _ := im.Partition(uo, 1); len(got.AddingReplicas) != 2 || len(got.RemovingReplicas) != 2 {
				t.Errorf("Partition(1) = %+v", got)
			}
		}},
		{name: "many replicas (map path)", rec: prt(uo, 1, 0, seq(0, 40)...), check: func(t *testing.T, im *Image) {
			if got, _ := im.Partition(uo, 1); len(got.Replicas) != 40 {
				t.Errorf("replicas = %v", got.Replicas)
			}
		}},
		{name: "many replicas with a duplicate (map path)", rec: prt(uo, 1, 0, append(seq(0, 40), 39)...), wantCode: ReasonInvalidReplicaAssignment},

		// ProducerIdsRecord
		{name: "producer ids for unknown broker", rec: pid(9, 0, 5000), wantCode: ReasonBrokerNotFound},
		{name: "producer ids for FENCED broker", rec: pid(2, 1, 5000), wantCode: ReasonBrokerNotActive},
		{name: "producer ids for CLOSED broker", rec: pid(3, 1, 5000), wantCode: ReasonBrokerNotActive},
		{name: "producer ids at old broker epoch", rec: pid(1, 1, 5000), wantCode: ReasonStaleBrokerEpoch},
		{name: "producer ids at future broker epoch", rec: pid(1, 3, 5000), wantCode: ReasonStaleBrokerEpoch},
		{name: "producer ids same block", rec: pid(1, 2, 1000), wantCode: ReasonProducerIDAlreadyAllocated},
		{name: "producer ids overlapping below", rec: pid(1, 2, 1), wantCode: ReasonProducerIDAlreadyAllocated},
		{name: "producer ids overlapping above", rec: pid(1, 2, 1999), wantCode: ReasonProducerIDAlreadyAllocated},
		{name: "producer ids negative", rec: pid(1, 2, -1000), wantCode: ReasonProducerIDAlreadyAllocated},
		{name: "producer ids past the int64 range", rec: pid(1, 2, 1<<63-1000), wantCode: ReasonProducerIDAlreadyAllocated},
		{name: "producer ids touching below", rec: pid(1, 2, 0), check: func(t *testing.T, im *Image) {
			want := ProducerIDsState{NextProducerID: 2000, Blocks: []ProducerIdsRecord{*pid(1, 2, 0), *pid(1, 2, 1000)}}
			if d := diffJSON(want, im.ProducerIDs()); d != "" {
				t.Errorf("ProducerIDs:\n%s", d)
			}
		}},
		{name: "producer ids with a gap", rec: pid(1, 2, 7777), check: func(t *testing.T, im *Image) {
			want := ProducerIDsState{NextProducerID: 8777, Blocks: []ProducerIdsRecord{*pid(1, 2, 1000), *pid(1, 2, 7777)}}
			if d := diffJSON(want, im.ProducerIDs()); d != "" {
				t.Errorf("ProducerIDs:\n%s", d)
			}
		}},
		{name: "producer ids at the top of the range", rec: pid(1, 2, 1<<63-1-1000), check: func(t *testing.T, im *Image) {
			if got := im.ProducerIDs().NextProducerID; got != 1<<63-1 {
				t.Errorf("NextProducerID = %d", got)
			}
		}},

		// ZkMigrationStateRecord (transitions: TestReplayMigrationTransitions)
		{name: "migration starts", rec: mig(MigrationImporting, 5, 0), check: func(t *testing.T, im *Image) {
			if got, ok := im.Migration(); !ok || got != *mig(MigrationImporting, 5, 0) {
				t.Errorf("Migration() = %+v, %v", got, ok)
			}
			if got := im.ProducerIDs(); got.NextProducerID != 2000 || len(got.Blocks) != 1 {
				t.Errorf("ProducerIDs = %+v, want unchanged", got)
			}
		}},
		{name: "migration raises NextProducerID", rec: mig(MigrationImporting, 5, 123456), check: func(t *testing.T, im *Image) {
			want := ProducerIDsState{NextProducerID: 123456, Blocks: []ProducerIdsRecord{*pid(1, 2, 1000)}}
			if d := diffJSON(want, im.ProducerIDs()); d != "" {
				t.Errorf("ProducerIDs:\n%s", d)
			}
		}},
		{name: "migration NextProducerID below the blocks' end", rec: mig(MigrationImporting, 5, 1500), check: func(t *testing.T, im *Image) {
			if got := im.ProducerIDs().NextProducerID; got != 2000 {
				t.Errorf("NextProducerID = %d, want 2000 (never lowered)", got)
			}
			if got, _ := im.Migration(); got.NextProducerID != 1500 {
				t.Errorf("Migration().NextProducerID = %d, want 1500", got.NextProducerID)
			}
		}},
		{name: "migration starting in FOLLOWING", rec: mig(MigrationFollowing, 5, 0), wantCode: ReasonMigrationPhase},
		{name: "migration starting FINALIZED", rec: mig(MigrationFinalized, 5, 0), wantCode: ReasonMigrationPhase},
		{name: "migration with no phase", rec: mig(MigrationNone, 5, 0), wantCode: ReasonInvalid},
		{name: "migration with unknown phase", rec: mig("importing", 5, 0), wantCode: ReasonInvalid},
		{name: "migration with negative zxid", rec: mig(MigrationImporting, -1, 0), wantCode: ReasonInvalid},
		{name: "migration with negative NextProducerID", rec: mig(MigrationImporting, 5, -1), wantCode: ReasonInvalid},
		{name: "migration with NextProducerID past the range", rec: mig(MigrationImporting, 5, 1<<63-999), wantCode: ReasonInvalid},
		{name: "migration with negative progress", rec: withMig(mig(MigrationImporting, 5, 0), func(r *ZkMigrationStateRecord) { r.TopicsImported = -1 }), wantCode: ReasonInvalid},

		// RemoveTopicRecord
		{name: "remove unknown topic", rec: rmTop("none", "u-none"), wantCode: ReasonTopicNotFound},
		{name: "remove with mismatched name", rec: rmTop("other", uo), wantCode: ReasonTopicNotFound},
		{name: "remove topic", rec: rmTop("orders", uo), check: func(t *testing.T, im *Image) {
			_, ok := im.Topic("orders")
			_, ok2 := im.TopicByUUID(uo)
			_, ok3 := im.Partition(uo, 0)
			if ok || ok2 || ok3 || im.Partitions(uo) != nil || len(im.Topics()) != 0 || len(im.View(false).Partitions) != 0 {
				t.Errorf("topic still visible: %s", viewJSON(im))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := base(t)
			d := NewDelta(before)
			err := d.Replay(Record{Offset: 100, Timestamp: t0, Body: tt.rec})
			after := d.Apply(before.Offset())
			if got := ReasonOf(err); got != tt.wantCode {
				t.Fatalf("Replay(%s) code = %q, want %q (err: %v)", tt.rec.RecordName(), got, tt.wantCode, err)
			}
			if tt.wantCode != ReasonNone {
				var me *Error
				if !errors.As(err, &me) || me.Message == "" {
					t.Errorf("error %v is not an *Error with a message", err)
				}
				if diff := diffImages(before, after); diff != "" {
					t.Errorf("a rejected record changed the image (-before +after):\n%s", diff)
				}
				if after.cluster != before.cluster || after.topics != before.topics || after.pids != before.pids || after.mig != before.mig {
					t.Errorf("a rejected record replaced a sub-image")
				}
				return
			}
			tt.check(t, after)
			// Replay must not keep the caller's slices.
			if p, ok := tt.rec.(*PartitionRecord); ok && len(p.Replicas) > 0 {
				want := viewJSON(after)
				p.Replicas[0] = 99
				if got := viewJSON(after); got != want {
					t.Errorf("changing the replayed record changed the image:\n%s", lineDiff(want, got))
				}
			}
		})
	}
}

func seq(from, to int32) []int32 {
	var out []int32
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestReplayUntouchedSubImagesShared(t *testing.T) {
	before := base(t)
	tests := []struct {
		name                    string
		rec                     Body
		cluster, topics, pidsOK bool // whether each sub-image is shared
	}{
		{"broker", brk(7, 0, StatusAlive), false, true, true},
		{"topic", top("x", "u-x"), true, false, true},
		{"partition", prt("u-orders", 3, 0, 1), true, false, true},
		{"producer ids", pid(1, 2, 5000), true, true, false},
		{"migration state", mig(MigrationImporting, 1, 0), true, true, true},
		{"migration state below the blocks' end", mig(MigrationImporting, 1, 1500), true, true, true},
		{"migration state raising NextProducerID", mig(MigrationImporting, 1, 5000), true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDelta(before)
			if err := d.Replay(Record{Offset: 50, Body: tt.rec}); err != nil {
				t.Fatal(err)
			}
			after := d.Apply(50)
			got := [3]bool{after.cluster == before.cluster, after.topics == before.topics, after.pids == before.pids}
			if want := [3]bool{tt.cluster, tt.topics, tt.pidsOK}; got != want {
				t.Errorf("shared (cluster, topics, pids) = %v, want %v", got, want)
			}
			if after.Offset() != 50 {
				t.Errorf("Offset() = %d, want 50", after.Offset())
			}
		})
	}
}

func TestReplayBatchAtomic(t *testing.T) {
	tests := []struct {
		name     string
		batch    []Body
		wantCode Reason
	}{
		{"third record fails: duplicate topic", []Body{top("a", "u-a"), prt("u-a", 0, 0, 1), top("a", "u-a2"), prt("u-a", 1, 0, 1)}, ReasonTopicAlreadyExists},
		{"third record fails: partition of removed topic", []Body{brk(5, 0, StatusAlive), rmTop("orders", "u-orders"), prt("u-orders", 1, 0, 1)}, ReasonTopicNotFound},
		{"third record fails: overlapping block", []Body{pid(1, 2, 10000), pid(1, 2, 20000), pid(1, 2, 10500)}, ReasonProducerIDAlreadyAllocated},
		{"third record fails: stale epoch after change", []Body{chg(1, 3, StatusAlive), chg(1, 4, StatusAlive), chg(1, 4, StatusAlive)}, ReasonStaleBrokerEpoch},
		{"third record fails: a migration batch without its end", []Body{mig(MigrationImporting, 1, 90000), top("zk", "u-zk"), prt("u-zk", 0, 0, 9, 9)}, ReasonInvalidReplicaAssignment},
		{"third record fails: migration phase", []Body{mig(MigrationImporting, 1, 0), mig(MigrationFollowing, 2, 0), mig(MigrationFailed, 3, 0)}, ReasonMigrationPhase},
		{"last of many fails", []Body{top("b", "u-b"), prt("u-b", 0, 0, 1), prt("u-b", 1, 0, 2), prt("u-b", 2, 0, 1, 2), prt("u-b", 2, 0, 1)}, ReasonPartitionAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := base(t)
			want := replayAll(t, before, recsAt(20, top("kept", "u-kept"), prt("u-kept", 0, 0, 1)), 1)
			d := NewDelta(before)
			// Records replayed before the batch (no Apply in between) must
			// survive its failure.
			for _, rec := range recsAt(20, top("kept", "u-kept"), prt("u-kept", 0, 0, 1)) {
				if err := d.Replay(rec); err != nil {
					t.Fatal(err)
				}
			}
			err := d.ReplayBatch(recsAt(22, tt.batch...))
			if got := ReasonOf(err); got != tt.wantCode {
				t.Fatalf("ReplayBatch code = %q, want %q (err: %v)", got, tt.wantCode, err)
			}
			if !strings.Contains(err.Error(), "record ") {
				t.Errorf("error %q does not name the failing record", err)
			}
			got := d.Apply(21)
			if diff := diffImages(want, got); diff != "" {
				t.Errorf("failed batch changed the delta (-want +got):\n%s", diff)
			}
			if got.MaxTimestamp() != want.MaxTimestamp() {
				t.Errorf("MaxTimestamp = %v, want %v", got.MaxTimestamp(), want.MaxTimestamp())
			}
			// And the delta still works afterwards.
			if err := d.ReplayBatch(recsAt(30, tt.batch[:2]...)); err != nil {
				t.Errorf("replaying the good prefix after the failure: %v", err)
			}
		})
	}
}

func TestReplayBadBody(t *testing.T) {
	tests := []struct {
		name string
		body Body
	}{
		{"nil body", nil},
		{"foreign body", foreignBody{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDelta(nil)
			err := d.Replay(Record{Offset: 3, Body: tt.body})
			var me *Error
			if err == nil || errors.As(err, &me) {
				t.Errorf("Replay = %v, want a plain (non-*Error) error", err)
			}
		})
	}
}

type foreignBody struct{}

func (foreignBody) RecordName() string { return "ForeignRecord" }

func TestDeltaReadsReplayedRecords(t *testing.T) {
	before := base(t)
	d := NewDelta(before)
	recs := recsAt(20,
		top("new", "u-new"), prt("u-new", 1, 0, 1), prt("u-new", 0, 0, 2, 1),
		brk(5, 0, StatusAlive), pid(5, 0, 3000), rmTop("orders", "u-orders"),
	)
	if err := d.ReplayBatch(recs); err != nil {
		t.Fatal(err)
	}
	var r Reader = d
	if _, ok := r.Topic("new"); !ok {
		t.Errorf("delta does not see topic new")
	}
	if _, ok := r.Topic("orders"); ok {
		t.Errorf("delta still sees removed topic orders")
	}
	if got := r.Partitions("u-new"); len(got) != 2 || got[0].PartitionID != 0 || got[1].PartitionID != 1 {
		t.Errorf("Partitions(u-new) = %+v, want ids 0, 1", got)
	}
	if got := r.PartitionCount("u-new"); got != 2 {
		t.Errorf("PartitionCount = %d", got)
	}
	if b, ok := r.Broker(5); !ok || b.BrokerStatus != StatusAlive {
		t.Errorf("Broker(5) = %+v, %v", b, ok)
	}
	if got := r.ProducerIDs().NextProducerID; got != 4000 {
		t.Errorf("NextProducerID = %d, want 4000", got)
	}
	if got := len(r.Brokers()); got != 4 {
		t.Errorf("len(Brokers()) = %d", got)
	}
	if got := r.Topics(); len(got) != 1 || got[0].Name != "new" {
		t.Errorf("Topics() = %+v", got)
	}
	// The base is untouched.
	if _, ok := before.Topic("new"); ok {
		t.Errorf("base image sees the delta's topic")
	}
	// Apply then keep replaying: the applied image must not change.
	im := d.Apply(25)
	snap := viewJSON(im)
	more := recsAt(26, prt("u-new", 2, 0, 1), with(prt("u-new", 0, 1, 2, 1), func(p *PartitionRecord) { p.ISR = []int32{2} }), top("later", "u-later"))
	for _, rec := range more {
		if err := d.Replay(rec); err != nil {
			t.Fatal(err)
		}
	}
	if got := viewJSON(im); got != snap {
		t.Errorf("replaying after Apply changed the applied image:\n%s", lineDiff(snap, got))
	}
	// Point reads bypass the image's cached listings.
	if _, ok := im.Partition("u-new", 2); ok || im.PartitionCount("u-new") != 2 {
		t.Errorf("applied image sees partition u-new/2 replayed after Apply")
	}
	if p, _ := im.Partition("u-new", 0); p.PartitionEpoch != 0 {
		t.Errorf("applied image sees partition u-new/0 at epoch %d", p.PartitionEpoch)
	}
	if _, ok := im.TopicByUUID("u-later"); ok {
		t.Errorf("applied image sees topic later replayed after Apply")
	}
	if got := d.PartitionCount("u-new"); got != 3 {
		t.Errorf("PartitionCount after more = %d", got)
	}
}

// One-record batches replay in place under one edit token: a refused one
// changes nothing, a View shows each change, and neither the base nor an
// image Apply returned ever changes under later replays.
func TestOneRecordBatchesReplayInPlace(t *testing.T) {
	before := base(t)
	wantBase := cloneImage(t, before)
	d := NewDelta(before)
	for i := range 200 {
		name := fmt.Sprintf("t-%03d", i)
		if err := d.ReplayBatch(recsAt(int64(100+i), top(name, "u-"+name))); err != nil {
			t.Fatal(err)
		}
		if _, ok := d.View(int64(100 + i)).Topic(name); !ok {
			t.Fatalf("view after %s: topic missing", name)
		}
	}
	applied := d.Apply(299)
	wantApplied := cloneImage(t, applied)

	// Refused: an existing name, as a one-record batch.
	if err := d.ReplayBatch(recsAt(300, top("t-007", "u-other"))); ReasonOf(err) != ReasonTopicAlreadyExists {
		t.Fatalf("duplicate topic: %v", err)
	}
	for i := range 200 {
		name := fmt.Sprintf("more-%03d", i)
		if err := d.ReplayBatch(recsAt(int64(301+i), top(name, "u-"+name))); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.View(500).Topics(); len(got) != len(wantApplied.Topics())+200 {
		t.Fatalf("view holds %d topics, want %d", len(got), len(wantApplied.Topics())+200)
	}
	if t2, ok := d.View(500).Topic("t-007"); !ok || t2.TopicUUID != "u-t-007" {
		t.Fatalf("refused batch changed t-007: %+v %v", t2, ok)
	}
	if diff := diffImages(wantBase, before); diff != "" {
		t.Errorf("the base changed under in-place replays (-want +got):\n%s", diff)
	}
	if diff := diffImages(wantApplied, applied); diff != "" {
		t.Errorf("an applied image changed under later in-place replays (-want +got):\n%s", diff)
	}
}

// cloneImage is an independent copy of im, through a snapshot.
func cloneImage(t *testing.T, im *Image) *Image {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, im); err != nil {
		t.Fatal(err)
	}
	c, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
