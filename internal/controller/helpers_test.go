package controller

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Fixture builders: short names for the records test images are made of.
// broker is the records of a broker that registered at epoch 0 and then
// changed once per epoch up to epoch, the last change setting status.
func broker(id int32, status string, epoch int64) []metadata.Body {
	if status != metadata.StatusAlive && epoch == 0 {
		epoch = 1
	}
	out := []metadata.Body{&metadata.RegisterBrokerRecord{
		InternalUUID: fmt.Sprintf("uuid-b%d", id), BrokerID: id,
		BrokerHost: fmt.Sprintf("10.0.0.%d", id), BrokerPort: "9092", SecurityProtocol: metadata.ProtocolPlaintext,
		BrokerStatus: metadata.StatusAlive, RackID: "r1",
	}}
	for e := int64(1); e <= epoch; e++ {
		st := metadata.StatusAlive
		if e == epoch {
			st = status
		}
		out = append(out, &metadata.BrokerRegistrationChangeBrokerRecord{
			BrokerID: id, BrokerHost: fmt.Sprintf("10.0.0.%d", id), BrokerPort: "9092",
			SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: st, Epoch: e,
		})
	}
	return out
}

func top(name, uuid string) *metadata.TopicRecord {
	return &metadata.TopicRecord{TopicUUID: uuid, Name: name}
}

// prt is a partition: replicas, then ISR and leader.
func prt(uuid string, id int32, epoch int64, replicas, isr []int32, leader int32) *metadata.PartitionRecord {
	return &metadata.PartitionRecord{
		PartitionID: id, TopicUUID: uuid, Replicas: replicas, ISR: isr,
		RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: leader, PartitionEpoch: epoch,
	}
}

func ids(v ...int32) []int32 {
	if v == nil {
		return []int32{}
	}
	return v
}

// imageOf replays groups of bodies, each as one record batch, into Empty.
func imageOf(t *testing.T, groups ...[]metadata.Body) *metadata.Image {
	t.Helper()
	img := metadata.Empty
	for _, g := range groups {
		recs := make([]metadata.Record, len(g))
		for i, b := range g {
			recs[i] = metadata.Record{Body: b}
		}
		img = replayOK(t, img, recs)
	}
	return img
}

func bodies(b ...metadata.Body) []metadata.Body { return b }

// replayOK replays recs as one batch over img, as every node would, and
// fails the test if replay rejects them.
func replayOK(t *testing.T, img *metadata.Image, recs []metadata.Record) *metadata.Image {
	t.Helper()
	d := metadata.NewDelta(img)
	for i := range recs {
		recs[i].Offset = img.Offset() + 1
	}
	if err := d.ReplayBatch(recs); err != nil {
		t.Fatalf("replay rejects the records: %v", err)
	}
	return d.Apply(img.Offset() + 1)
}

// diffRecords compares the bodies of got with want and returns "" or a
// -want +got report.
func diffRecords(want []metadata.Body, got []metadata.Record) string {
	gb := make([]metadata.Body, len(got))
	for i, r := range got {
		gb[i] = r.Body
	}
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(gb)
	if string(w) == string(g) {
		return ""
	}
	return fmt.Sprintf("-want %s\n+got  %s", w, g)
}

// checkResult checks a build function's outcome: wantCode, or the records
// want, which must then replay over img.
func checkResult(t *testing.T, img *metadata.Image, recs []metadata.Record, err error, wantCode contract.Code, want []metadata.Body) *metadata.Image {
	t.Helper()
	if got := CodeOf(err); got != wantCode {
		t.Fatalf("code = %q (%v), want %q", got, err, wantCode)
	}
	if wantCode != "" {
		if len(recs) != 0 {
			t.Fatalf("error %v with %d records, want none", err, len(recs))
		}
		return img
	}
	if d := diffRecords(want, recs); d != "" {
		t.Fatalf("records:\n%s", d)
	}
	return replayOK(t, img, recs)
}
