package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// allowedMigration is the design's transition table, written out on its
// own so a change to MigrationTransitionAllowed has to change it too.
var allowedMigration = map[[2]string]bool{
	{MigrationNone, MigrationImporting}:      true,
	{MigrationImporting, MigrationImporting}: true,
	{MigrationImporting, MigrationFollowing}: true,
	{MigrationImporting, MigrationAborted}:   true,
	{MigrationImporting, MigrationFailed}:    true,
	{MigrationFollowing, MigrationFollowing}: true,
	{MigrationFollowing, MigrationDualWrite}: true,
	{MigrationFollowing, MigrationAborted}:   true,
	{MigrationDualWrite, MigrationDualWrite}: true,
	{MigrationDualWrite, MigrationFollowing}: true, // rollback
	{MigrationDualWrite, MigrationFinalized}: true,
	{MigrationAborted, MigrationImporting}:   true, // start again
	{MigrationFailed, MigrationImporting}:    true,
}

var migrationPhases = []string{MigrationImporting, MigrationFollowing, MigrationDualWrite, MigrationFinalized, MigrationAborted, MigrationFailed}

// migrationPath is a history of allowed records that ends in phase.
func migrationPath(phase string) []Body {
	path := map[string][]string{
		MigrationNone:      nil,
		MigrationImporting: {MigrationImporting},
		MigrationFollowing: {MigrationImporting, MigrationFollowing},
		MigrationDualWrite: {MigrationImporting, MigrationFollowing, MigrationDualWrite},
		MigrationFinalized: {MigrationImporting, MigrationFollowing, MigrationDualWrite, MigrationFinalized},
		MigrationAborted:   {MigrationImporting, MigrationAborted},
		MigrationFailed:    {MigrationImporting, MigrationFailed},
	}[phase]
	var out []Body
	for i, p := range path {
		out = append(out, mig(p, int64(10+i), 0))
	}
	return out
}

// Every (from, to) pair: replay applies exactly the design's transitions;
// a refused one is MIGRATION_PHASE and changes nothing.
func TestReplayMigrationTransitions(t *testing.T) {
	for _, from := range append([]string{MigrationNone}, migrationPhases...) {
		for _, to := range migrationPhases {
			name := from + "->" + to
			if from == MigrationNone {
				name = "none->" + to
			}
			t.Run(name, func(t *testing.T) {
				want := allowedMigration[[2]string{from, to}]
				if got := MigrationTransitionAllowed(from, to); got != want {
					t.Fatalf("MigrationTransitionAllowed = %v, want %v", got, want)
				}
				before := build(t, append([]Body{brk(1, 0, StatusAlive)}, migrationPath(from)...)...)
				if got, ok := before.Migration(); ok != (from != MigrationNone) || got.Phase != from {
					t.Fatalf("setup: Migration() = %+v, %v", got, ok)
				}
				d := NewDelta(before)
				rec := mig(to, 99, 0)
				rec.Error = "e"
				err := d.Replay(Record{Offset: 50, Timestamp: t0, Body: rec})
				after := d.Apply(50)
				if !want {
					if ReasonOf(err) != ReasonMigrationPhase {
						t.Fatalf("Replay = %v, want MIGRATION_PHASE", err)
					}
					if after.mig != before.mig || after.pids != before.pids || diffImages(before, after.withOffset(before.Offset())) != "" {
						t.Errorf("a refused transition changed the image")
					}
					return
				}
				if err != nil {
					t.Fatalf("Replay: %v", err)
				}
				if got, ok := after.Migration(); !ok || got != *rec {
					t.Errorf("Migration() = %+v, %v; want %+v", got, ok, *rec)
				}
			})
		}
	}
}

// withOffset is im restamped, for comparing content across offsets.
func (im *Image) withOffset(off int64) *Image {
	c := *im
	c.offset = off
	return &c
}

// NextProducerID: a migration raises it and keeps the highest value it
// was raised to as a floor; blocks below the floor are refused, as ids
// ZooKeeper gave out; it survives records carrying 0 and a snapshot.
func TestMigrationProducerIDFloor(t *testing.T) {
	im := build(t, brk(1, 0, StatusAlive), pid(1, 0, 0), mig(MigrationImporting, 1, 50_000))
	if got := im.ProducerIDs(); got.NextProducerID != 50_000 || len(got.Blocks) != 1 {
		t.Fatalf("ProducerIDs = %+v, want next 50000 and the one block", got)
	}
	// Later states without (or with a lower) NextProducerID keep the floor.
	d := NewDelta(im)
	for _, r := range []Body{mig(MigrationImporting, 2, 0), mig(MigrationFollowing, 3, 20_000)} {
		if err := d.Replay(Record{Timestamp: t0, Body: r}); err != nil {
			t.Fatal(err)
		}
	}
	im = d.Apply(10)
	if got, _ := im.Migration(); got.NextProducerID != 50_000 || got.Zxid != 3 {
		t.Fatalf("Migration() = %+v, want zxid 3 and NextProducerID 50000", got)
	}
	if got := im.ProducerIDs().NextProducerID; got != 50_000 {
		t.Fatalf("NextProducerID = %d, want 50000", got)
	}
	for _, tt := range []struct {
		first int64
		want  Reason
	}{
		{1000, ReasonProducerIDAlreadyAllocated},   // free in YAKt, but ZooKeeper gave it out
		{49_999, ReasonProducerIDAlreadyAllocated}, // straddles the floor
		{50_000, ReasonNone},
		{70_000, ReasonNone}, // a chosen block past the floor
	} {
		d := NewDelta(im)
		err := d.Replay(Record{Timestamp: t0, Body: pid(1, 0, tt.first)})
		if ReasonOf(err) != tt.want || (tt.want != ReasonNone && err == nil) {
			t.Errorf("block at %d: %v, want %v", tt.first, err, tt.want)
		}
		if tt.want != ReasonNone && d.Apply(im.Offset()).pids != im.pids {
			t.Errorf("refused block at %d changed the producer ids", tt.first)
		}
	}
	// A raise above the blocks survives a snapshot and Records().
	for name, back := range map[string]func() (*Image, error){
		"snapshot":         func() (*Image, error) { return DecodeSnapshot(EncodeSnapshot(im)) },
		"ImageFromRecords": func() (*Image, error) { return ImageFromRecords(im.Records(), im.Offset()) },
		"snapshot of those": func() (*Image, error) {
			i, _ := ImageFromRecords(im.Records(), im.Offset())
			return DecodeSnapshot(EncodeSnapshot(i))
		},
	} {
		got, err := back()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diffImages(im, got); d != "" {
			t.Errorf("%s differs:\n%s", name, d)
		}
		if err := NewDelta(got).Replay(Record{Timestamp: t0, Body: pid(1, 0, 1000)}); ReasonOf(err) != ReasonProducerIDAlreadyAllocated {
			t.Errorf("%s: block below the floor = %v, want PRODUCER_ID_ALREADY_ALLOCATED", name, err)
		}
	}
}

// The binary form omits zero fields, so each state has one encoding.
func TestZkMigrationStateCanonical(t *testing.T) {
	var w fieldWriter
	if typ := w.body(&ZkMigrationStateRecord{Phase: MigrationImporting}); typ != typeZkMigrationState {
		t.Fatalf("type id %d, want %d", typ, typeZkMigrationState)
	}
	if want := "\x0a\x09IMPORTING"; string(w.b) != want {
		t.Errorf("fields = %q, want %q", w.b, want)
	}
	full := mig(MigrationDualWrite, 300, 5000)
	full.Error = "x"
	b := EncodeRecords([]Record{{Timestamp: t0, Body: full}})
	got, err := DecodeRecords(b)
	if err != nil || len(got) != 1 || *got[0].Body.(*ZkMigrationStateRecord) != *full {
		t.Fatalf("DecodeRecords = %+v, %v", got, err)
	}
	if again := EncodeRecords(got); !bytes.Equal(again, b) {
		t.Errorf("re-encoding differs: %x, want %x", again, b)
	}
}

// Equal tells images apart by their migration state alone.
func TestImageEqualMigration(t *testing.T) {
	a := build(t, brk(1, 0, StatusAlive), mig(MigrationImporting, 1, 0))
	b := build(t, brk(1, 0, StatusAlive), mig(MigrationImporting, 2, 0))
	c := build(t, brk(1, 0, StatusAlive), mig(MigrationImporting, 1, 0))
	none := build(t, brk(1, 0, StatusAlive), brk(2, 0, StatusAlive)).withOffset(2)
	if !a.Equal(c) || a.Equal(b) || b.Equal(a) || a.Equal(none) || none.Equal(a) {
		t.Errorf("Equal: a=c %v, a=b %v, b=a %v, a=none %v, none=a %v", a.Equal(c), a.Equal(b), b.Equal(a), a.Equal(none), none.Equal(a))
	}
}

// The snapshot keeps the migration state in its header; an image without
// one writes no tag (so its bytes are what they were before the tag
// existed), and bad state in the tag is corruption.
func TestSnapshotMigrationState(t *testing.T) {
	plain := base(t)
	withMig := func(rs ...*ZkMigrationStateRecord) *Image {
		d := NewDelta(plain)
		for _, r := range rs {
			if err := d.Replay(Record{Timestamp: t0, Body: r}); err != nil {
				t.Fatal(err)
			}
		}
		return d.Apply(plain.Offset() + 1)
	}
	importing := withMig(&ZkMigrationStateRecord{Phase: MigrationImporting, ZkConnect: "zk:2181", ZkClusterID: "c", Zxid: 1, NextProducerID: 7777,
		TopicsImported: 0, TopicsTotal: 1000})
	failed := withMig(mig(MigrationImporting, 1, 0), &ZkMigrationStateRecord{Phase: MigrationFailed, Zxid: 1 << 50, Error: "/brokers/topics/a: malformed JSON"})
	for name, im := range map[string]*Image{"importing": importing, "failed": failed} {
		t.Run(name, func(t *testing.T) {
			b := EncodeSnapshot(im)
			got, err := DecodeSnapshot(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffImages(im, got); d != "" {
				t.Fatalf("round trip:\n%s", d)
			}
			if again := EncodeSnapshot(got); !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs")
			}
		})
	}
	if got, _ := DecodeSnapshot(EncodeSnapshot(importing)); got.ProducerIDs().NextProducerID != 7777 {
		t.Errorf("NextProducerID after a round trip = %d, want 7777", got.ProducerIDs().NextProducerID)
	}
	// No migration: no tag 7, nothing else changed in the header.
	if h := snapshotHeaderFields(t, EncodeSnapshot(plain)); h[tagSnap2Migration] {
		t.Errorf("an image without a migration wrote header tag %d", tagSnap2Migration)
	}
	if h := snapshotHeaderFields(t, EncodeSnapshot(importing)); !h[tagSnap2Migration] {
		t.Errorf("migration state not in the header")
	}

	// Hand-made headers: the tag's content is checked as replay would.
	for _, tt := range []struct {
		name string
		mig  []byte
	}{
		{"unknown phase", fields(func(w *fieldWriter) { w.str(tagZMPhase, "DONE") })},
		{"no phase", fields(func(w *fieldWriter) { w.int(tagZMZxid, 3) })},
		{"negative zxid", fields(func(w *fieldWriter) { w.str(tagZMPhase, MigrationFollowing); w.int(tagZMZxid, -3) })},
		{"truncated field", []byte{tagZMPhase<<3 | wireBytes, 9, 'F'}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := snapshotWithHeaderTag(plain, tt.mig)
			if _, err := DecodeSnapshot(b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("DecodeSnapshot = %v, want ErrCorrupt", err)
			}
		})
	}
	// Valid content in a hand-made tag loads (the writer's own form is
	// tested above): a phase reached by any history is accepted.
	ok := snapshotWithHeaderTag(plain, fields(func(w *fieldWriter) { w.str(tagZMPhase, MigrationFinalized); w.int(tagZMNextProducerID, 9000) }))
	got, err := DecodeSnapshot(ok)
	if err != nil {
		t.Fatal(err)
	}
	if m, has := got.Migration(); !has || m.Phase != MigrationFinalized || got.ProducerIDs().NextProducerID != 9000 {
		t.Errorf("Migration() = %+v, %v; NextProducerID %d", m, has, got.ProducerIDs().NextProducerID)
	}
}

// snapshotHeader splits a one-block snapshot's payload into its header
// fields and the items after them.
func snapshotHeader(b []byte) (header, rest []byte) {
	p := payloadOf(b)
	n, sz := uvarintAt(p, 0)
	return p[sz : sz+int(n)], p[sz+int(n):]
}

// snapshotHeaderFields returns the tags of a one-block snapshot's header.
func snapshotHeaderFields(t *testing.T, b []byte) map[uint64]bool {
	t.Helper()
	hb, _ := snapshotHeader(b)
	tags := map[uint64]bool{}
	f := fieldReader{name: "header", r: reader{b: hb}}
	for f.next() {
		tags[f.tag] = true
		f.skip()
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
	return tags
}

// snapshotWithHeaderTag is im's (one-block) snapshot with a migration
// tag of the given content added to its header, checksums rebuilt.
func snapshotWithHeaderTag(im *Image, mig []byte) []byte {
	hb, rest := snapshotHeader(EncodeSnapshot(im))
	h := fieldWriter{b: bytes.Clone(hb)}
	h.key(tagSnap2Migration, wireBytes)
	h.b = binary.AppendUvarint(h.b, uint64(len(mig)))
	h.b = append(h.b, mig...)
	payload := binary.AppendUvarint(nil, uint64(len(h.b)))
	payload = append(append(payload, h.b...), rest...)
	return oneBlock(payload)
}
