package metadata

import (
	"encoding/json"
	"testing"
	"time"
)

// partitionRecordJSON has PartitionRecord's fields without its methods:
// what encoding/json makes of a partition by reflection.
type partitionRecordJSON PartitionRecord

// reflectJSON is the encoding Record.MarshalJSON had when it went
// through encoding/json: the body by reflection (a partition's nil
// slices as []), then the envelope around it.
func reflectJSON(t *testing.T, r Record) string {
	t.Helper()
	var body any = r.Body
	if p, ok := r.Body.(*PartitionRecord); ok {
		body = partitionRecordJSON(p.clone())
	}
	fields, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(recordEnvelope{Type: recordType, Name: r.Body.RecordName(), Offset: r.Offset,
		Timestamp: FormatTime(r.Timestamp), Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	return string(env)
}

// awkward holds strings encoding/json escapes: quotes, backslashes,
// HTML characters, control characters, line and paragraph separators,
// non-ASCII, invalid UTF-8, DEL.
var awkward = []string{"", "plain", `q"uote`, `back\slash`, "<b>&amp;</b>", "<", ">", "&", "tab\there\nnl\r\x00\x1f\b\f",
	"line\u2028para\u2029", "caf\u00e9 \U0001F600", "bad\xffutf8", "del\x7f"}

// The hand-written encoding is byte for byte encoding/json's, for every
// record type, every string it escapes, extreme numbers and timestamps
// in other zones and with finer digits than milliseconds.
func TestRecordAppendJSONMatchesEncodingJSON(t *testing.T) {
	var recs []Record
	recs = append(recs, scenario()...)
	ts := []time.Time{t0, {}, time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", -5*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}
	for i, s := range awkward {
		at := ts[i%len(ts)]
		off := []int64{0, 1, -1, 1 << 62, -1 << 63}[i%5]
		n32 := []int32{0, -1, 1 << 30, -1 << 31, 1<<31 - 1}[i%5]
		n64 := []int64{0, -7, 1<<63 - 1, -1 << 63, 42}[i%5]
		for _, b := range []Body{
			&RegisterBrokerRecord{InternalUUID: s, BrokerID: n32, BrokerHost: s, BrokerPort: s, SecurityProtocol: s, BrokerStatus: s, RackID: s, Epoch: n64},
			&TopicRecord{TopicUUID: s, Name: s},
			&PartitionRecord{PartitionID: n32, TopicUUID: s, Leader: n32, PartitionEpoch: n64},
			&PartitionRecord{TopicUUID: s, Replicas: []int32{n32, 0, 5}, ISR: []int32{}, AddingReplicas: []int32{n32}},
			&ProducerIdsRecord{BrokerID: n32, BrokerEpoch: n64, ProducerID: n64},
			&BrokerRegistrationChangeBrokerRecord{BrokerID: n32, BrokerHost: s, BrokerPort: s, SecurityProtocol: s, BrokerStatus: s, Epoch: n64},
			&RemoveTopicRecord{TopicUUID: s, Name: s},
			&ZkMigrationStateRecord{Phase: s, ZkConnect: s, ZkClusterID: s, Zxid: n64, NextProducerID: n64, TopicsImported: n64, TopicsTotal: n64, Error: s},
			cfg(s, s, s, s),
			&ConfigRecord{ResourceType: s, ResourceName: s, Name: s},
		} {
			recs = append(recs, Record{Offset: off, Timestamp: at, Body: b})
		}
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Body.RecordName()] = true
		want := reflectJSON(t, r)
		got, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("MarshalJSON of %T %+v\n got %s\nwant %s", r.Body, r.Body, got, want)
		}
		// Appending keeps what is there; json.Marshal of a record is the same.
		app, err := r.AppendJSON([]byte("x"))
		if err != nil || string(app) != "x"+want {
			t.Errorf("AppendJSON = %s, %v; want x%s", app, err, want)
		}
		if viaJSON, err := json.Marshal(r); err != nil || string(viaJSON) != want {
			t.Errorf("json.Marshal = %s, %v; want %s", viaJSON, err, want)
		}
		if p, ok := r.Body.(*PartitionRecord); ok {
			got, _ := json.Marshal(p)
			if w, _ := json.Marshal(partitionRecordJSON(p.clone())); string(got) != string(w) {
				t.Errorf("PartitionRecord.MarshalJSON\n got %s\nwant %s", got, w)
			}
		}
	}
	for _, name := range []string{NameRegisterBrokerRecord, NameTopicRecord, NamePartitionRecord, NameProducerIdsRecord,
		NameBrokerRegistrationChangeBrokerRecord, NameRemoveTopicRecord, NameZkMigrationStateRecord, NameConfigRecord} {
		if !seen[name] || NewBody(name) == nil {
			t.Errorf("record type %s not covered", name)
		}
	}
}

// A Body of a type this package does not know still encodes, through
// encoding/json.
func TestRecordAppendJSONForeignBody(t *testing.T) {
	r := Record{Offset: 3, Timestamp: t0, Body: foreignBody{}}
	got, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := reflectJSON(t, r); string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// A typed nil body (a programming error) encodes as encoding/json did,
// "fields":null, instead of panicking; a failed append leaves b as it was.
func TestRecordAppendJSONTypedNilAndErrors(t *testing.T) {
	r := Record{Offset: 4, Timestamp: t0, Body: (*TopicRecord)(nil)}
	got, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"metadata","name":"TopicRecord","offset":4,"timestamp":"` + FormatTime(t0) + `","fields":null}`; string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	prefix := []byte("kept,")
	out, err := Record{Offset: 5, Timestamp: t0, Body: unmarshalable{}}.AppendJSON(prefix)
	if err == nil || string(out) != "kept," {
		t.Fatalf("AppendJSON of a body encoding/json refuses = %q, %v; want the prefix alone and an error", out, err)
	}
}

// unmarshalable is a Body encoding/json cannot encode (a channel field).
type unmarshalable struct{ C chan int }

func (unmarshalable) RecordName() string { return "Unmarshalable" }

func BenchmarkRecordMarshalJSON(b *testing.B) {
	recs := scenario()
	n := 0
	for b.Loop() {
		for _, r := range recs {
			buf, err := r.MarshalJSON()
			if err != nil {
				b.Fatal(err)
			}
			n += len(buf)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// FormatTime writes what time.Format makes of the API's layout, for
// every kind of instant: zones, sub-millisecond digits, leap days, the
// ends of the four-digit years and beyond them.
func TestFormatTimeMatchesTimeFormat(t *testing.T) {
	times := []time.Time{{}, t0, time.Unix(0, 0), time.Unix(0, 999_999),
		time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.FixedZone("Y", 13*3600)),
		time.Date(0, 1, 1, 0, 0, 0, 1e6, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(999, 3, 4, 5, 6, 7, 80e6, time.FixedZone("Z", -90*60))}
	for i := range 2000 { // spread over 1970-2100 with every millisecond digit
		times = append(times, time.Unix(int64(i)*2_063_829, int64(i)*7_654_321%1e9))
	}
	for _, ts := range times {
		if got, want := FormatTime(ts), ts.UTC().Format(timeLayout); got != want {
			t.Errorf("FormatTime(%v) = %q, want %q", ts, got, want)
		}
	}
}
