package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecordJSON(t *testing.T) {
	ts := time.Date(2026, 11, 21, 16, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"TopicRecord (docs/api.md's example)", Record{Offset: 42, Timestamp: ts, Body: top("orders", "6f1c")},
			`{"type":"metadata","name":"TopicRecord","offset":42,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"topicUUID":"6f1c","name":"orders"}}`},
		{"RegisterBrokerRecord", Record{Offset: 1, Timestamp: ts, Body: brk(1, 0, StatusAlive)},
			`{"type":"metadata","name":"RegisterBrokerRecord","offset":1,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"internalUUID":"uuid-b1-e0","brokerId":1,"brokerHost":"10.0.0.1","brokerPort":"9092","securityProtocol":"PLAINTEXT","brokerStatus":"ALIVE","rackId":"r1","epoch":0}}`},
		{"PartitionRecord", Record{Offset: 7, Timestamp: ts, Body: with(prt("6f1c", 2, 5, 1, 2, 3), func(p *PartitionRecord) { p.AddingReplicas = []int32{3} })},
			`{"type":"metadata","name":"PartitionRecord","offset":7,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"partitionId":2,"topicUUID":"6f1c","replicas":[1,2,3],"ISR":[1,2,3],"removingReplicas":[],"addingReplicas":[3],"leader":1,"partitionEpoch":5}}`},
		{"PartitionRecord with nil slices", Record{Offset: 7, Timestamp: ts, Body: &PartitionRecord{TopicUUID: "u", Leader: NoLeader}},
			`{"type":"metadata","name":"PartitionRecord","offset":7,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"partitionId":0,"topicUUID":"u","replicas":[],"ISR":[],"removingReplicas":[],"addingReplicas":[],"leader":-1,"partitionEpoch":0}}`},
		{"ProducerIdsRecord", Record{Offset: 9, Timestamp: ts, Body: pid(1, 3, 5000)},
			`{"type":"metadata","name":"ProducerIdsRecord","offset":9,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"brokerId":1,"brokerEpoch":3,"producerId":5000}}`},
		{"BrokerRegistrationChangeBrokerRecord", Record{Offset: 10, Timestamp: ts, Body: chg(2, 4, StatusFenced)},
			`{"type":"metadata","name":"BrokerRegistrationChangeBrokerRecord","offset":10,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"brokerId":2,"brokerHost":"10.0.1.2","brokerPort":"9093","securityProtocol":"SSL","brokerStatus":"FENCED","epoch":4}}`},
		{"RemoveTopicRecord in another zone", Record{Offset: 11, Timestamp: ts.In(time.FixedZone("CET", 3600)), Body: rmTop("orders", "6f1c")},
			`{"type":"metadata","name":"RemoveTopicRecord","offset":11,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"topicUUID":"6f1c","name":"orders"}}`},
		{"ZkMigrationStateRecord", Record{Offset: 12, Timestamp: ts, Body: mig(MigrationFollowing, 4294967397, 7000)},
			`{"type":"metadata","name":"ZkMigrationStateRecord","offset":12,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"phase":"FOLLOWING","zkConnect":"zk1:2181,zk2:2181/kafka","zkClusterId":"zk-cluster","zxid":4294967397,"nextProducerId":7000,"topicsImported":2,"topicsTotal":2,"error":""}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("Marshal:\n got %s\nwant %s", b, tt.want)
			}
			var back Record
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			want := tt.rec
			want.Timestamp = tt.rec.Timestamp.UTC().Truncate(time.Millisecond)
			want.Body = cloneBody(tt.rec.Body)
			if !reflect.DeepEqual(want, back) {
				t.Errorf("Unmarshal(Marshal) (-want +got):\n%s", diffJSON(want, back))
			}
		})
	}
}

func TestRecordJSONSlicesAndPointers(t *testing.T) {
	// Records inside other values marshal the same way, by value or pointer.
	r := Record{Offset: 1, Timestamp: t0, Body: top("a", "b")}
	b1, _ := json.Marshal([]Record{r})
	b2, _ := json.Marshal([]*Record{&r})
	if string(b1) != string(b2) || !strings.Contains(string(b1), `"type":"metadata"`) {
		t.Errorf("slice of values %s, of pointers %s", b1, b2)
	}
	// A PartitionRecord marshalled on its own also never writes null.
	b, _ := json.Marshal(PartitionRecord{})
	if strings.Contains(string(b), "null") {
		t.Errorf("PartitionRecord{} = %s", b)
	}
}

func TestRecordUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"not an object", `[1]`, "record"},
		{"wrong type", `{"type":"data","name":"TopicRecord","offset":1,"timestamp":"2026-11-21T16:04:05.123Z","fields":{}}`, `type is "data"`},
		{"unknown name", `{"type":"metadata","name":"FenceBrokerRecord","offset":1,"timestamp":"2026-11-21T16:04:05.123Z","fields":{}}`, "unknown record name"},
		{"no timestamp", `{"type":"metadata","name":"TopicRecord","offset":1,"fields":{}}`, "no timestamp"},
		{"bad timestamp", `{"type":"metadata","name":"TopicRecord","offset":1,"timestamp":"yesterday","fields":{}}`, "timestamp"},
		{"no fields", `{"type":"metadata","name":"TopicRecord","offset":1,"timestamp":"2026-11-21T16:04:05.123Z"}`, "no fields"},
		{"bad field type", `{"type":"metadata","name":"TopicRecord","offset":1,"timestamp":"2026-11-21T16:04:05.123Z","fields":{"name":5}}`, "fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			err := json.Unmarshal([]byte(tt.in), &r)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Unmarshal = %v, want an error mentioning %q", err, tt.wantMsg)
			}
		})
	}
	var r Record
	if _, err := json.Marshal(r); err == nil {
		t.Errorf("Marshal of a record without body succeeded")
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"milliseconds", t0, "2026-11-21T16:04:05.123Z"},
		{"whole second keeps .000", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000Z"},
		{"finer digits cut, not rounded", time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC), "2026-01-02T03:04:05.999Z"},
		{"converted to UTC", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", -5*3600)), "2026-01-02T08:04:05.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateTopicName(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		ok    bool
	}{
		{"simple", "orders", true},
		{"all allowed characters", "aZ09._-", true},
		{"one character", "a", true},
		{"249 characters", strings.Repeat("x", 249), true},
		{"dots inside", "a..b", true},
		{"three dots", "...", true},
		{"empty", "", false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"250 characters", strings.Repeat("x", 250), false},
		{"space", "a b", false},
		{"slash", "a/b", false},
		{"non-ASCII", "ordérs", false},
		{"NUL", "a\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTopicName(tt.topic)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateTopicName(%q) = %v, want ok=%v", tt.topic, err, tt.ok)
			}
			if err != nil && err.Reason != ReasonInvalidTopicName {
				t.Errorf("code = %s", err.Reason)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	e := Errorf(ReasonTopicNotFound, "topic %q not found", "x")
	wrapped := fmt.Errorf("ctx: %w", e)
	tests := []struct {
		name     string
		err      error
		wantCode Reason
		wantMsg  string
	}{
		{"nil", nil, ReasonNone, ""},
		{"coded", e, ReasonTopicNotFound, `topic "x" not found`},
		{"wrapped", wrapped, ReasonTopicNotFound, `ctx: topic "x" not found`},
		{"no message", &Error{Reason: ReasonStaleBrokerEpoch}, ReasonStaleBrokerEpoch, "STALE_BROKER_EPOCH"},
		{"plain", errors.New("boom"), ReasonNone, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReasonOf(tt.err); got != tt.wantCode {
				t.Errorf("ReasonOf = %v, want %v", got, tt.wantCode)
			}
			if tt.err != nil && tt.err.Error() != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.wantMsg)
			}
		})
	}
	seen := map[string]bool{}
	for _, r := range Reasons {
		name := r.String()
		if seen[name] || r == ReasonNone || strings.HasPrefix(name, "Reason(") {
			t.Errorf("Reasons: bad or repeated reason %v", r)
		}
		seen[name] = true
	}
}

func TestNewBody(t *testing.T) {
	for _, r := range everyType() {
		name := r.Body.RecordName()
		if got := NewBody(name); got == nil || got.RecordName() != name || reflect.TypeOf(got) != reflect.TypeOf(r.Body) {
			t.Errorf("NewBody(%q) = %T", name, got)
		}
	}
	if NewBody("Nope") != nil {
		t.Errorf("NewBody of an unknown name is not nil")
	}
}
