package controller

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/raftnode"
)

var tIdem = time.Date(2026, 11, 21, 16, 4, 5, 0, time.UTC)

func keyedPayload(key, req string, bodies ...metadata.Body) []byte {
	recs := make([]metadata.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = metadata.Record{Timestamp: tIdem, Body: b}
	}
	var fp metadata.Fingerprint
	copy(fp[:], req)
	return metadata.EncodeBatch(metadata.Batch{Records: recs, Idempotency: &metadata.Idempotency{Key: key, Fingerprint: fp, Answer: []byte(req)}})
}

// The state machine applies a keyed batch once: a repeat of the key with
// the same request (a retry racing the first proposal, possibly proposed
// by another leader with other server-chosen values) applies nothing and
// returns the first answer; another request with the key is rejected.
func TestStateMachineAppliesAKeyOnce(t *testing.T) {
	sm := NewStateMachine(100)
	res, err := sm.Apply([]raftnode.Committed{
		{Index: 1, Payload: metadata.EncodeRecords([]metadata.Record{{Timestamp: tIdem, Body: broker(1, metadata.StatusAlive, 0)[0]}})},
		{Index: 2, Payload: keyedPayload("k", "create a", top("a", "ua"))},
		{Index: 3, Payload: keyedPayload("k", "create a", top("a", "ua-retry"))},
		{Index: 4, Payload: keyedPayload("k", "create b", top("b", "ub"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res[1].(Applied); !ok {
		t.Fatalf("first use: result %T, want Applied", res[1])
	}
	r, ok := res[2].(Replayed)
	if !ok || r.Entry.Offset != 2 || r.Entry.Records[0].Body.(*metadata.TopicRecord).TopicUUID != "ua" || string(r.Entry.Answer) != "create a" {
		t.Fatalf("repeat: result %#v, want Replayed of offset 2", res[2])
	}
	if me, ok := res[3].(*metadata.Error); !ok || me.Reason != metadata.ReasonIdempotencyKeyReused {
		t.Fatalf("reuse: result %#v, want IDEMPOTENCY_KEY_REUSED", res[3])
	}
	img := sm.Image()
	if got := len(img.Topics()); got != 1 {
		t.Errorf("%d topics, want 1", got)
	}
	if recs, _ := sm.Tail().Since(0, 100); len(recs) != 2 {
		t.Errorf("tail holds %d records, want 2 (the broker and the first topic only)", len(recs))
	}

	// Snapshot and restore keep the key: a repeat after a restart is
	// still a replay.
	write, err := sm.CaptureSnapshot(4)
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := write(&snap); err != nil {
		t.Fatal(err)
	}
	restored := NewStateMachine(100)
	prepared, err := restored.PrepareRestore(4, &snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.SwapIn(4, prepared); err != nil {
		t.Fatal(err)
	}
	res, err = restored.Apply([]raftnode.Committed{{Index: 5, Payload: keyedPayload("k", "create a", top("a", "ua-3"))}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res[0].(Replayed); !ok || r.Entry.Offset != 2 {
		t.Fatalf("after restore: result %#v, want Replayed of offset 2", res[0])
	}
}

func TestKnownAnswer(t *testing.T) {
	sm := NewStateMachine(100)
	if _, err := sm.Apply([]raftnode.Committed{
		{Index: 1, Payload: metadata.EncodeRecords([]metadata.Record{{Timestamp: tIdem, Body: broker(1, metadata.StatusAlive, 0)[0]}})},
		{Index: 2, Payload: keyedPayload("k", "create a", top("a", "ua"))},
	}); err != nil {
		t.Fatal(err)
	}
	fpOf := func(s string) (fp metadata.Fingerprint) { copy(fp[:], s); return fp }
	tests := []struct {
		name         string
		idem         *Idempotency
		wantOK       bool
		wantCode     contract.Code
		wantReplayed bool
	}{
		{"no key", nil, false, "", false},
		{"unknown key", &Idempotency{Key: "other", Fingerprint: fpOf("create a")}, false, "", false},
		{"same request", &Idempotency{Key: "k", Fingerprint: fpOf("create a")}, true, "", true},
		{"other request", &Idempotency{Key: "k", Fingerprint: fpOf("create b")}, false, contract.CodeIdempotencyKeyReused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := WithIdempotency(context.Background(), tt.idem)
			recs, answer, ok, err := knownAnswer(ctx, sm.Image())
			if ok != tt.wantOK || CodeOf(err) != tt.wantCode {
				t.Fatalf("knownAnswer = ok %v, err %v; want ok %v, code %q", ok, err, tt.wantOK, tt.wantCode)
			}
			if ok && (len(recs) != 1 || recs[0].Offset != 2 || string(answer) != "create a") {
				t.Errorf("answer = %v, %q", recs, answer)
			}
			if tt.idem != nil && tt.idem.Replayed() != tt.wantReplayed {
				t.Errorf("Replayed() = %v, want %v", tt.idem.Replayed(), tt.wantReplayed)
			}
		})
	}
}
