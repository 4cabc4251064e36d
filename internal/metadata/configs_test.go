package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestConfigReplay(t *testing.T) {
	im := build(t, top("orders", "u1"), top("audit", "u2"),
		cfg(ConfigResourceTopic, "orders", "retention.ms", "1000"),
		cfg(ConfigResourceTopic, "orders", "cleanup.policy", "compact"),
		cfg(ConfigResourceTopic, "audit", "retention.ms", "5"),
		cfg(ConfigResourceBroker, "", "min.insync.replicas", "2"),
		cfg(ConfigResourceBroker, "42", "log.retention.hours", "1"), // never registered: allowed
		cfg(ConfigResourceTopic, "orders", "retention.ms", "2000"),  // replaces
		unset(ConfigResourceTopic, "orders", "cleanup.policy"),
		unset(ConfigResourceTopic, "orders", "segment.ms"), // not set: changes nothing
	)
	if got := im.Configs(ConfigResourceTopic, "orders"); !maps.Equal(got, map[string]string{"retention.ms": "2000"}) {
		t.Errorf("orders: %v", got)
	}
	if got := im.Configs(ConfigResourceBroker, "42"); got["log.retention.hours"] != "1" {
		t.Errorf("broker 42: %v", got)
	}
	wantRes := []ConfigResourceRef{{"broker", ""}, {"broker", "42"}, {"topic", "audit"}, {"topic", "orders"}}
	if got := im.ConfigResources(); !slices.Equal(got, wantRes) {
		t.Errorf("resources %v, want %v", got, wantRes)
	}
	// The caller's map is a copy.
	im.Configs(ConfigResourceTopic, "orders")["retention.ms"] = "x"
	if im.Configs(ConfigResourceTopic, "orders")["retention.ms"] != "2000" {
		t.Error("Configs returned the image's own map")
	}

	for _, tt := range []struct {
		name string
		rec  *ConfigRecord
		want Reason
	}{
		{"unknown topic", cfg(ConfigResourceTopic, "nope", "retention.ms", "1"), ReasonTopicNotFound},
		{"unknown topic, removal", unset(ConfigResourceTopic, "nope", "retention.ms"), ReasonTopicNotFound},
		{"resource type", cfg("group", "g", "x", "1"), ReasonInvalid},
		{"negative broker", cfg(ConfigResourceBroker, "-1", "x", "1"), ReasonInvalid},
		{"broker with a leading zero", cfg(ConfigResourceBroker, "07", "x", "1"), ReasonInvalid},
		{"broker not a number", cfg(ConfigResourceBroker, "b1", "x", "1"), ReasonInvalid},
		{"no name", cfg(ConfigResourceBroker, "", "", "1"), ReasonInvalid},
		{"long value", cfg(ConfigResourceBroker, "", "x", strings.Repeat("v", MaxConfigValueLength+1)), ReasonInvalid},
	} {
		err := NewDelta(im).Replay(Record{Offset: 20, Body: tt.rec})
		if ReasonOf(err) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.want)
		}
	}

	// A topic's removal drops its configs; a topic re-created under the
	// name starts without them; other resources keep theirs.
	d := NewDelta(im)
	for _, b := range []Body{rmTop("orders", "u1"), top("orders", "u3")} {
		if err := d.Replay(Record{Offset: 30, Body: b}); err != nil {
			t.Fatal(err)
		}
	}
	after := d.Apply(30)
	if got := after.Configs(ConfigResourceTopic, "orders"); len(got) != 0 {
		t.Errorf("re-created topic has %v", got)
	}
	if got := after.Configs(ConfigResourceTopic, "audit"); got["retention.ms"] != "5" {
		t.Errorf("audit lost its configs: %v", got)
	}
	if im.Configs(ConfigResourceTopic, "orders")["retention.ms"] != "2000" {
		t.Error("the base image changed")
	}

	// A batch with a bad record applies none of its configs.
	d = NewDelta(im)
	err := d.ReplayBatch([]Record{{Offset: 40, Body: cfg(ConfigResourceTopic, "audit", "retention.ms", "9")},
		{Offset: 40, Body: cfg(ConfigResourceTopic, "gone", "retention.ms", "9")}})
	if ReasonOf(err) != ReasonTopicNotFound || d.Apply(40).Configs(ConfigResourceTopic, "audit")["retention.ms"] != "5" {
		t.Errorf("bad batch: %v, audit %v", err, d.Apply(40).Configs(ConfigResourceTopic, "audit"))
	}
}

// A null value and an empty one are different records, each with one
// encoding; a null marker with a value is corrupt.
func TestConfigCodecNullAndEmpty(t *testing.T) {
	empty := cfg(ConfigResourceBroker, "", "x", "")
	null := unset(ConfigResourceBroker, "", "x")
	be, bn := EncodeRecords([]Record{{Timestamp: t0, Body: empty}}), EncodeRecords([]Record{{Timestamp: t0, Body: null}})
	if bytes.Equal(be, bn) {
		t.Fatal("null and empty encode alike")
	}
	for _, b := range [][]byte{be, bn} {
		got, err := DecodeRecords(b)
		if err != nil {
			t.Fatal(err)
		}
		if again := EncodeRecords(got); !bytes.Equal(again, b) {
			t.Errorf("re-encoding differs")
		}
	}
	if got, _ := DecodeRecords(bn); got[0].Body.(*ConfigRecord).Value != nil {
		t.Error("null decoded with a value")
	}
	if got, _ := DecodeRecords(be); got[0].Body.(*ConfigRecord).Value == nil {
		t.Error("empty decoded as null")
	}
	for name, fs := range map[string][]byte{
		"null and value": fields(func(w *fieldWriter) { w.str(tagCName, "x"); w.int(tagCValueNull, 1); w.str(tagCValue, "v") }),
		"null marker 2":  fields(func(w *fieldWriter) { w.str(tagCName, "x"); w.int(tagCValueNull, 2) }),
	} {
		if _, err := DecodeRecords(rawRecord(typeConfig, 0, fs)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	// A later field is skipped.
	got, err := DecodeRecords(rawRecord(typeConfig, 0, fields(func(w *fieldWriter) {
		w.str(tagCResourceType, ConfigResourceTopic)
		w.str(tagCName, "retention.ms")
		w.str(tagCValue, "5")
		w.int(9, 1)
	})))
	if err != nil || *got[0].Body.(*ConfigRecord).Value != "5" {
		t.Errorf("unknown tag: %+v, %v", got, err)
	}
}

// Snapshots keep configs in header tag 8 (none without configs, so such
// images write what they did before the tag); the records form keeps them
// too; bad tag content is corruption; a snapshot whose tag 8 is dropped
// (what a reader from before the tag sees) loads without them.
func TestConfigSnapshot(t *testing.T) {
	plain := base(t)
	d := NewDelta(plain)
	for _, b := range []Body{
		cfg(ConfigResourceTopic, plain.Topics()[0].Name, "retention.ms", "1000"),
		cfg(ConfigResourceTopic, plain.Topics()[0].Name, "cleanup.policy", "compact,delete"),
		cfg(ConfigResourceBroker, "", "log.retention.hours", ""),
		cfg(ConfigResourceBroker, "3", "min.insync.replicas", "2"),
	} {
		if err := d.Replay(Record{Timestamp: t0, Body: b}); err != nil {
			t.Fatal(err)
		}
	}
	im := d.Apply(plain.Offset() + 1)
	b := EncodeSnapshot(im)
	got, err := DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffImages(im, got); diff != "" {
		t.Fatalf("round trip:\n%s", diff)
	}
	if again := EncodeSnapshot(got); !bytes.Equal(again, b) {
		t.Error("re-encoding differs")
	}
	if im.Equal(plain.withOffset(im.Offset())) {
		t.Error("Equal ignores configs")
	}
	if fromRecs, err := ImageFromRecords(im.Records(), im.Offset()); err != nil || diffImages(im, fromRecs) != "" {
		t.Errorf("ImageFromRecords(Records()): %v %s", err, diffImages(im, fromRecs))
	}
	if h := snapshotHeaderFields(t, EncodeSnapshot(plain)); h[tagSnap2Config] {
		t.Error("an image without configs wrote tag 8")
	}
	if h := snapshotHeaderFields(t, b); !h[tagSnap2Config] {
		t.Error("configs not in the header")
	}

	// Without tag 8, the rest still loads: the image without configs.
	hb, rest := snapshotHeader(b)
	var kept fieldWriter
	f := fieldReader{name: "header", r: reader{b: hb}}
	for f.next() {
		start := f.r.off
		f.skip()
		if f.tag != tagSnap2Config {
			kept.key(f.tag, f.wire)
			kept.b = append(kept.b, hb[start:f.r.off]...)
		}
	}
	payload := binary.AppendUvarint(nil, uint64(len(kept.b)))
	stripped, err := DecodeSnapshot(oneBlock(append(append(payload, kept.b...), rest...)))
	if err != nil || len(stripped.ConfigResources()) != 0 || diffImages(plain.withOffset(im.Offset()), stripped) != "" {
		t.Errorf("without tag 8: %v", err)
	}

	withTags := func(recs ...*ConfigRecord) []byte {
		hb, rest := snapshotHeader(EncodeSnapshot(plain))
		h := fieldWriter{b: bytes.Clone(hb)}
		for _, r := range recs {
			var w fieldWriter
			w.body(r)
			h.key(tagSnap2Config, wireBytes)
			h.b = binary.AppendUvarint(h.b, uint64(len(w.b)))
			h.b = append(h.b, w.b...)
		}
		payload := binary.AppendUvarint(nil, uint64(len(h.b)))
		return oneBlock(append(append(payload, h.b...), rest...))
	}
	topic := plain.Topics()[0].Name
	if _, err := DecodeSnapshot(withTags(cfg("topic", topic, "a", "1"), cfg("topic", topic, "b", "2"))); err != nil {
		t.Errorf("hand-made valid tags: %v", err)
	}
	for name, snap := range map[string][]byte{
		"unknown topic":  withTags(cfg("topic", "nope", "a", "1")),
		"null value":     withTags(unset("broker", "", "a")),
		"duplicate":      withTags(cfg("broker", "", "a", "1"), cfg("broker", "", "a", "2")),
		"out of order":   withTags(cfg("topic", topic, "a", "1"), cfg("broker", "", "a", "1")),
		"bad broker":     withTags(cfg("broker", "x", "a", "1")),
		"truncated body": append([]byte(nil), withTags(cfg("broker", "", "a", "1"))[:20]...),
	} {
		if _, err := DecodeSnapshot(snap); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// The key tables: sorted (lookups search them), every default in its own
// canonical form, every synonym a broker config.
func TestConfigKeyTables(t *testing.T) {
	for _, typ := range []string{ConfigResourceTopic, ConfigResourceBroker} {
		keys := ConfigKeys(typ)
		if !slices.IsSortedFunc(keys, func(a, b ConfigKey) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("%s keys are not sorted", typ)
		}
		for _, k := range keys {
			if k.HasDefault {
				if v, err := k.Normalize(k.Default); err != nil || v != k.Default {
					t.Errorf("%s default %q normalizes to %q, %v", k.Name, k.Default, v, err)
				}
			}
			for _, s := range k.Synonyms {
				if _, ok := LookupConfigKey(ConfigResourceBroker, s.Name); !ok || typ != ConfigResourceTopic {
					t.Errorf("%s %s: synonym %s is not a broker config", typ, k.Name, s.Name)
				}
			}
			if k.Doc == "" || k.Accepts() == "nothing" {
				t.Errorf("%s: no doc or type", k.Name)
			}
		}
	}
	if _, ok := LookupConfigKey("group", "x"); ok {
		t.Error("a group key")
	}
}

func TestConfigNormalize(t *testing.T) {
	key := func(name string) ConfigKey {
		k, ok := LookupConfigKey(ConfigResourceTopic, name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return k
	}
	for _, tt := range []struct{ name, in, want string }{
		{"retention.ms", " -1 ", "-1"}, {"retention.ms", "+0100", "100"}, {"unclean.leader.election.enable", "True", "true"},
		{"min.cleanable.dirty.ratio", "0.50", "0.5"}, {"min.cleanable.dirty.ratio", "1", "1"},
		{"cleanup.policy", " compact , delete", "compact,delete"}, {"compression.type", "zstd", "zstd"},
		{"message.timestamp.type", "LogAppendTime", "LogAppendTime"}, {"segment.bytes", "2147483647", "2147483647"},
	} {
		if got, err := key(tt.name).Normalize(tt.in); err != nil || got != tt.want {
			t.Errorf("%s %q = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ name, in, says string }{
		{"retention.ms", "-2", ">= -1"}, {"retention.ms", "1h", "a long"}, {"segment.bytes", "2147483648", "an integer >= 14"},
		{"min.insync.replicas", "0", ">= 1"}, {"unclean.leader.election.enable", "yes", "true or false"},
		{"min.cleanable.dirty.ratio", "NaN", "from 0 to 1"}, {"min.cleanable.dirty.ratio", "1.5", "from 0 to 1"},
		{"cleanup.policy", "", "delete, compact"}, {"cleanup.policy", "delete,delete", "twice"}, {"cleanup.policy", "compress", "delete, compact"},
		{"compression.type", "ZSTD", "uncompressed, zstd"}, {"message.timestamp.type", "createtime", "CreateTime, LogAppendTime"},
	} {
		_, err := key(tt.name).Normalize(tt.in)
		if err == nil || err.Reason != ReasonInvalidConfig || !strings.Contains(err.Message, tt.name) || !strings.Contains(err.Message, tt.says) {
			t.Errorf("%s %q: %v; want INVALID_CONFIG naming the key and %q", tt.name, tt.in, err, tt.says)
		}
	}
	cp := key("cleanup.policy")
	if v, err := cp.AppendList("delete", "compact,delete"); err != nil || v != "delete,compact" {
		t.Errorf("append: %q %v", v, err)
	}
	if v, err := cp.SubtractList("delete,compact", "delete,compact-not"); err == nil {
		t.Errorf("subtract of a bad item: %q", v)
	}
	if v, err := cp.SubtractList("delete,compact", "delete"); err != nil || v != "compact" {
		t.Errorf("subtract: %q %v", v, err)
	}
	if err := UnknownConfigError(ConfigResourceTopic, "retention.msx"); !strings.Contains(err.Message, "retention.msx") || !strings.Contains(err.Message, "segment.ms") {
		t.Errorf("unknown: %v", err)
	}
}

// Inheritance scales a broker unit to the topic's and keeps "no limit".
func TestEffectiveConfigValue(t *testing.T) {
	im := build(t, top("orders", "u1"), cfg(ConfigResourceBroker, "", "log.retention.minutes", "3"), cfg(ConfigResourceBroker, "", "log.roll.hours", "-1"))
	for _, tt := range []struct{ typ, res, name, want string }{
		{ConfigResourceTopic, "orders", "retention.ms", "180000"},
		{ConfigResourceTopic, "orders", "segment.ms", "-1"},
		{ConfigResourceTopic, "orders", "cleanup.policy", "delete"},
		{ConfigResourceBroker, "1", "log.retention.minutes", "3"},
	} {
		if got, ok := EffectiveConfigValue(im, tt.typ, tt.res, tt.name); !ok || got != tt.want {
			t.Errorf("%s %s: %q %v, want %q", tt.res, tt.name, got, ok, tt.want)
		}
	}
	if _, ok := EffectiveConfigValue(im, ConfigResourceBroker, "1", "log.retention.ms"); ok {
		t.Error("log.retention.ms has a value")
	}
}
