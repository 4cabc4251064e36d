package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func fp(s string) Fingerprint {
	var f Fingerprint
	copy(f[:], s)
	return f
}

// keyed is a batch of bodies at time ts carrying key with fingerprint fp(req).
func keyed(key, req string, ts time.Time, bodies ...Body) Batch {
	recs := make([]Record, len(bodies))
	for i, b := range bodies {
		recs[i] = Record{Timestamp: ts, Body: cloneBody(b)}
	}
	b := Batch{Records: recs}
	if key != "" {
		b.Idempotency = &Idempotency{Key: key, Fingerprint: fp(req), Answer: []byte("answer-" + req)}
	}
	return b
}

// entryStep is one committed entry of a test log.
type entryStep struct {
	offset int64
	batch  Batch
}

// replayEntries replays steps through ReplayEntry with limits, through the
// codec (as the state machine gets them), applying after each.
func replayEntries(t *testing.T, base *Image, lim idempotencyLimits, steps []entryStep) *Image {
	t.Helper()
	d := NewDelta(base)
	d.limits = lim
	im := base
	for _, s := range steps {
		b, err := DecodeBatch(EncodeBatch(s.batch))
		if err != nil {
			t.Fatalf("decode batch at %d: %v", s.offset, err)
		}
		if _, err := d.ReplayEntry(s.offset, b); err != nil && ReasonOf(err) == ReasonNone {
			t.Fatalf("replay entry at %d: %v", s.offset, err)
		}
		im = d.Apply(s.offset)
	}
	return im
}

func TestReplayEntryKeyRules(t *testing.T) {
	d := NewDelta(build(t, brk(1, 0, StatusAlive)))
	first := keyed("k1", "create a", t0, top("a", "ua"))
	if got, err := d.ReplayEntry(10, first); err != nil || got != nil {
		t.Fatalf("first use: replayed %v, err %v; want applied", got, err)
	}
	e, ok := d.Idempotency("k1")
	if !ok || e.Offset != 10 || e.Fingerprint != fp("create a") || string(e.Answer) != "answer-create a" ||
		len(e.Records) != 1 || e.Records[0].Offset != 10 || !e.Timestamp.Equal(t0) {
		t.Fatalf("remembered entry = %+v, %v", e, ok)
	}

	// The same request again, even with other server-chosen values (a
	// racing duplicate validated before the first committed): nothing
	// applies, the first answer comes back.
	before := d.Apply(10)
	again := keyed("k1", "create a", t0.Add(time.Second), top("a", "ua-2"))
	got, err := d.ReplayEntry(11, again)
	if err != nil || got == nil || got.Offset != 10 || got.Records[0].Body.(*TopicRecord).TopicUUID != "ua" {
		t.Fatalf("repeat: replayed %+v, err %v; want the entry of offset 10", got, err)
	}
	if after := d.Apply(11); !equalContent(before, after) {
		t.Errorf("a replayed batch changed the image")
	}

	// Another request with the key: rejected, nothing applied.
	got, err = d.ReplayEntry(12, keyed("k1", "create b", t0, top("b", "ub")))
	if got != nil || ReasonOf(err) != ReasonIdempotencyKeyReused {
		t.Fatalf("reuse: replayed %v, err %v; want IDEMPOTENCY_KEY_REUSED", got, err)
	}
	if _, ok := d.Topic("b"); ok {
		t.Errorf("a batch with a reused key applied")
	}

	// A batch that is rejected remembers nothing: its key stays free.
	if _, err := d.ReplayEntry(13, keyed("k2", "dup", t0, top("a", "ux"))); ReasonOf(err) != ReasonTopicAlreadyExists {
		t.Fatalf("duplicate topic: err %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if _, ok := d.Idempotency("k2"); ok {
		t.Errorf("a rejected batch remembered its key")
	}
	if got, err := d.ReplayEntry(14, keyed("k2", "other", t0, top("c", "uc"))); err != nil || got != nil {
		t.Errorf("key of a rejected batch, reused: replayed %v, err %v; want applied", got, err)
	}
}

// equalContent compares images ignoring their offsets.
func equalContent(a, b *Image) bool {
	c := *b
	c.offset = a.offset
	return a.Equal(&c)
}

func TestBatchCodec(t *testing.T) {
	recs := recsAt(1, brk(1, 0, StatusAlive), top("a", "ua"), prt("ua", 0, 0, 1))
	t.Run("no key is version 1", func(t *testing.T) {
		if got := EncodeBatch(Batch{Records: recs}); !bytes.Equal(got, EncodeRecords(recs)) {
			t.Fatalf("EncodeBatch without a key differs from EncodeRecords")
		}
		b, err := DecodeBatch(EncodeRecords(recs))
		if err != nil || b.Idempotency != nil || len(b.Records) != 3 {
			t.Fatalf("DecodeBatch(version 1) = %+v, %v", b, err)
		}
	})
	t.Run("key round trip", func(t *testing.T) {
		in := Batch{Records: recs, Idempotency: &Idempotency{Key: "k-1", Fingerprint: fp("x"), Answer: []byte{7}}}
		enc := EncodeBatch(in)
		b, err := DecodeBatch(enc)
		if err != nil {
			t.Fatal(err)
		}
		if b.Idempotency == nil || b.Idempotency.Key != "k-1" || b.Idempotency.Fingerprint != fp("x") || !bytes.Equal(b.Idempotency.Answer, []byte{7}) {
			t.Errorf("idempotency = %+v", b.Idempotency)
		}
		if !bytes.Equal(EncodeBatch(b), enc) {
			t.Errorf("re-encoding differs")
		}
		if got, err := DecodeRecords(enc); err != nil || len(got) != 3 {
			t.Errorf("DecodeRecords(keyed batch) = %d records, %v", len(got), err)
		}
		for i := range len(enc) {
			if _, err := DecodeBatch(enc[:i]); err == nil {
				t.Errorf("keyed batch truncated to %d of %d bytes decoded", i, len(enc))
			} else if !errors.Is(err, ErrCorrupt) {
				t.Errorf("truncated to %d: error %v does not match ErrCorrupt", i, err)
			}
		}
	})
	t.Run("header without key", func(t *testing.T) {
		_, err := DecodeBatch([]byte{batchVersionKeyed, 0, 0})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "key") {
			t.Errorf("err = %v", err)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(keyed("k", "r", t0, top("a", "ua"), prt("ua", 0, 0, 1))))
	f.Add(EncodeBatch(keyed("", "", t0, top("a", "ua"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		batch, err := DecodeBatch(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if _, err := DecodeBatch(EncodeBatch(batch)); err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
	})
}

// keyLog is n keyed topic creations, one per offset from 2, a second of
// log time apart, after a broker registration at offset 1.
func keyLog(n int) []entryStep {
	steps := []entryStep{{1, keyed("", "", t0, brk(1, 0, StatusAlive))}}
	for i := range n {
		name := fmt.Sprintf("t%03d", i)
		steps = append(steps, entryStep{int64(i + 2), keyed("key-"+name, name, t0.Add(time.Duration(i)*time.Second), top(name, "u-"+name))})
	}
	return steps
}

func keysOf(im *Image) []string {
	var out []string
	for _, e := range im.keys.entries() {
		out = append(out, e.Key)
	}
	return out
}

func TestIdempotencyEviction(t *testing.T) {
	big := idempotencyLimits{window: time.Hour, maxKeys: 1 << 30, maxBytes: 1 << 40}
	tests := []struct {
		name     string
		lim      idempotencyLimits
		n        int
		wantKeys []string
	}{
		{"by count", idempotencyLimits{window: time.Hour, maxKeys: 3, maxBytes: 1 << 40}, 10, []string{"key-t007", "key-t008", "key-t009"}},
		// The newest record is at t0+9s; a window of 2.5s keeps 7, 8 and 9.
		{"by time", idempotencyLimits{window: 2500 * time.Millisecond, maxKeys: 1 << 30, maxBytes: 1 << 40}, 10, []string{"key-t007", "key-t008", "key-t009"}},
		{"by bytes", idempotencyLimits{window: time.Hour, maxKeys: 1 << 30, maxBytes: 2 * entrySize(t)}, 10, []string{"key-t008", "key-t009"}},
		{"within limits", big, 4, []string{"key-t000", "key-t001", "key-t002", "key-t003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := keyLog(tt.n)
			a := replayEntries(t, Empty, tt.lim, steps)
			if got := keysOf(a); strings.Join(got, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("keys = %v, want %v", got, tt.wantKeys)
			}
			// Deterministic: a second replay, and a replay cut by a
			// snapshot at every offset, give equal images.
			if b := replayEntries(t, Empty, tt.lim, steps); !a.Equal(b) {
				t.Errorf("two replays of the same log differ")
			}
			for cut := 1; cut < len(steps); cut++ {
				mid := replayEntries(t, Empty, tt.lim, steps[:cut])
				restored, err := DecodeSnapshot(EncodeSnapshot(mid))
				if err != nil {
					t.Fatalf("snapshot at step %d: %v", cut, err)
				}
				if !restored.Equal(mid) {
					t.Fatalf("snapshot at step %d does not restore the key table: %v, want %v", cut, keysOf(restored), keysOf(mid))
				}
				if got := replayEntries(t, restored, tt.lim, steps[cut:]); !got.Equal(a) {
					t.Errorf("replay resumed from a snapshot at step %d: keys %v, want %v", cut, keysOf(got), keysOf(a))
				}
			}
		})
	}
}

// entrySize is what one keyLog entry counts for the byte bound.
func entrySize(t *testing.T) int64 {
	im := replayEntries(t, Empty, defaultIdempotencyLimits, keyLog(1))
	return im.keys.bytes
}

// Leaders' clocks may disagree: an entry with an earlier log time behind a
// newer one is evicted only once the newer one ahead of it is.
func TestIdempotencyEvictionKeepsOrderWhenClocksDisagree(t *testing.T) {
	lim := idempotencyLimits{window: 10 * time.Second, maxKeys: 100, maxBytes: 1 << 40}
	steps := []entryStep{
		{1, keyed("", "", t0, brk(1, 0, StatusAlive))},
		{2, keyed("a", "a", t0.Add(5*time.Second), top("a", "ua"))},
		{3, keyed("b", "b", t0, top("b", "ub"))}, // a leader whose clock is behind
		{4, keyed("c", "c", t0.Add(14*time.Second), top("c", "uc"))},
	}
	im := replayEntries(t, Empty, lim, steps)
	if got := strings.Join(keysOf(im), ","); got != "a,b,c" {
		t.Errorf("keys = %s, want a,b,c (a is within the window and b waits behind it)", got)
	}
	steps = append(steps, entryStep{5, keyed("d", "d", t0.Add(16*time.Second), top("d", "ud"))})
	if got := strings.Join(keysOf(replayEntries(t, Empty, lim, steps)), ","); got != "c,d" {
		t.Errorf("keys = %s, want c,d", got)
	}
}

func TestSnapshotWithoutKeysRestoresEmptyTable(t *testing.T) {
	// A snapshot written before keys existed has no tag 3 in its header.
	im := replayAll(t, Empty, scenario(), 0)
	got, err := DecodeSnapshot(EncodeSnapshot(im))
	if err != nil {
		t.Fatal(err)
	}
	if got.IdempotencyKeys() != 0 || !got.Equal(im) {
		t.Errorf("restored %d keys; equal %v", got.IdempotencyKeys(), got.Equal(im))
	}
}
