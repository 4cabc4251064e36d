package metadata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Broker statuses (RegisterBrokerRecord.BrokerStatus and
// BrokerRegistrationChangeBrokerRecord.BrokerStatus).
const (
	StatusAlive  = "ALIVE"
	StatusFenced = "FENCED"
	StatusClosed = "CLOSED"
)

// ValidStatus reports whether s is one of the broker statuses.
func ValidStatus(s string) bool {
	return s == StatusAlive || s == StatusFenced || s == StatusClosed
}

// Security protocols a broker may register with (docs/api.md); the controller
// validates them, replay does not (a protocol added later must not make old
// nodes reject the log).
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// ValidSecurityProtocol reports whether s is one of the security protocols.
func ValidSecurityProtocol(s string) bool {
	switch s {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		return true
	}
	return false
}

// ProducerIDBlockSize is the number of producer ids one ProducerIdsRecord
// allocates: [ProducerID, ProducerID+ProducerIDBlockSize). Kafka's default.
const ProducerIDBlockSize = 1000

// NodeProducerIDs is the BrokerID of a ProducerIdsRecord whose block a
// YAKt node took for the producers its Kafka listener serves
// (InitProducerId); its BrokerEpoch is that node's raft id. Replay checks
// no broker for it.
const NodeProducerIDs int32 = -1

// NoLeader is PartitionRecord.Leader for a partition without a leader.
const NoLeader int32 = -1

// MaxTopicNameLength is Kafka's limit on topic names.
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's rules: 1 to 249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..". It returns nil or an *Error with
// ReasonInvalidTopicName.
func ValidateTopicName(name string) *Error {
	switch {
	case name == "":
		return Errorf(ReasonInvalidTopicName, "topic name is empty")
	case name == "." || name == "..":
		return Errorf(ReasonInvalidTopicName, "topic name cannot be %q", name)
	case len(name) > MaxTopicNameLength:
		return Errorf(ReasonInvalidTopicName, "topic name is %d characters long; the limit is %d", len(name), MaxTopicNameLength)
	}
	// By character, not byte, so the message quotes what the client sent
	// ('ï', not the first byte of its UTF-8 encoding).
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return Errorf(ReasonInvalidTopicName, "topic name %q contains %q; allowed are ASCII letters, digits, '.', '_' and '-'", name, c)
		}
	}
	return nil
}

// TopicCollisionKey is the form two topic names must not share: Kafka
// refuses a topic whose name differs from an existing one only by '.'
// against '_' (both become '_' in metric names).
func TopicCollisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// CollisionError refuses name for colliding with the topic existing
// (INVALID_TOPIC_NAME, as Kafka's InvalidTopicException).
func CollisionError(name, existing string) *Error {
	return Errorf(ReasonInvalidTopicName, "topic name %q collides with the existing topic %q: '.' and '_' are interchangeable in topic names", name, existing)
}

// ReservedTopicPrefix starts the names of internal topics (Kafka's
// __consumer_offsets, __transaction_state); clients cannot create them.
const ReservedTopicPrefix = "__"

// Body is the content of a record: one of the eight *XRecord pointer types of
// this package. Records are values once built: code that receives a Body
// (from a Record, the Tail or a decode) must not modify it.
type Body interface {
	// RecordName is the record's name in docs/api.md ("TopicRecord", ...).
	RecordName() string
}

// RegisterBrokerRecord registers a broker. In an Image it holds the broker's
// current values (status, epoch, host, ... after later changes).
type RegisterBrokerRecord struct {
	InternalUUID     string `json:"internalUUID"`
	BrokerID         int32  `json:"brokerId"`
	BrokerHost       string `json:"brokerHost"`
	BrokerPort       string `json:"brokerPort"`
	SecurityProtocol string `json:"securityProtocol"`
	BrokerStatus     string `json:"brokerStatus"`
	RackID           string `json:"rackId"`
	Epoch            int64  `json:"epoch"`
}

// TopicRecord creates a topic.
type TopicRecord struct {
	TopicUUID string `json:"topicUUID"`
	Name      string `json:"name"`
}

// PartitionRecord creates a partition (PartitionEpoch is then usually 0) or
// replaces its whole state (PartitionEpoch > current: the controller uses
// current + 1, a migration the ZooKeeper state znode's version). In JSON
// its slices are never null: nil encodes as [].
type PartitionRecord struct {
	PartitionID      int32   `json:"partitionId"`
	TopicUUID        string  `json:"topicUUID"`
	Replicas         []int32 `json:"replicas"`
	ISR              []int32 `json:"ISR"`
	RemovingReplicas []int32 `json:"removingReplicas"`
	AddingReplicas   []int32 `json:"addingReplicas"`
	Leader           int32   `json:"leader"` // a broker id, or NoLeader
	PartitionEpoch   int64   `json:"partitionEpoch"`
}

// ProducerIdsRecord allocates the block [ProducerID,
// ProducerID+ProducerIDBlockSize) to a broker at its epoch BrokerEpoch.
type ProducerIdsRecord struct {
	BrokerID    int32 `json:"brokerId"`
	BrokerEpoch int64 `json:"brokerEpoch"`
	ProducerID  int64 `json:"producerId"`
}

// BrokerRegistrationChangeBrokerRecord changes a registered broker. It
// carries the full new values of every field it has (the controller copies
// the unchanged ones from the current state), and Epoch = current + 1.
type BrokerRegistrationChangeBrokerRecord struct {
	BrokerID         int32  `json:"brokerId"`
	BrokerHost       string `json:"brokerHost"`
	BrokerPort       string `json:"brokerPort"`
	SecurityProtocol string `json:"securityProtocol"`
	BrokerStatus     string `json:"brokerStatus"`
	Epoch            int64  `json:"epoch"`
}

// RemoveTopicRecord removes a topic and all its partitions.
type RemoveTopicRecord struct {
	TopicUUID string `json:"topicUUID"`
	Name      string `json:"name"`
}

// Record names, as RecordName returns them.
const (
	NameRegisterBrokerRecord                 = "RegisterBrokerRecord"
	NameTopicRecord                          = "TopicRecord"
	NamePartitionRecord                      = "PartitionRecord"
	NameProducerIdsRecord                    = "ProducerIdsRecord"
	NameBrokerRegistrationChangeBrokerRecord = "BrokerRegistrationChangeBrokerRecord"
	NameRemoveTopicRecord                    = "RemoveTopicRecord"
)

func (*RegisterBrokerRecord) RecordName() string { return NameRegisterBrokerRecord }
func (*TopicRecord) RecordName() string          { return NameTopicRecord }
func (*PartitionRecord) RecordName() string      { return NamePartitionRecord }
func (*ProducerIdsRecord) RecordName() string    { return NameProducerIdsRecord }
func (*BrokerRegistrationChangeBrokerRecord) RecordName() string {
	return NameBrokerRegistrationChangeBrokerRecord
}
func (*RemoveTopicRecord) RecordName() string { return NameRemoveTopicRecord }

// NewBody returns a new zero body for a record name, or nil if the name is
// unknown.
func NewBody(name string) Body {
	switch name {
	case NameRegisterBrokerRecord:
		return new(RegisterBrokerRecord)
	case NameTopicRecord:
		return new(TopicRecord)
	case NamePartitionRecord:
		return new(PartitionRecord)
	case NameProducerIdsRecord:
		return new(ProducerIdsRecord)
	case NameBrokerRegistrationChangeBrokerRecord:
		return new(BrokerRegistrationChangeBrokerRecord)
	case NameRemoveTopicRecord:
		return new(RemoveTopicRecord)
	case NameZkMigrationStateRecord:
		return new(ZkMigrationStateRecord)
	case NameConfigRecord:
		return new(ConfigRecord)
	}
	return nil
}

// Record is one entry of the metadata log: a body plus where and when it
// committed. Offset is the raft index of the entry that carried it (records
// of one entry share it); it is not part of the binary encoding. Timestamp
// is set by the leader before proposing, at millisecond precision.
type Record struct {
	Offset    int64
	Timestamp time.Time
	Body      Body
}

// timeLayout is the API's timestamp format: RFC 3339, UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as the API does: RFC 3339 in UTC with exactly three
// fractional digits ("2026-11-21T16:04:05.123Z"); finer digits are cut.
func FormatTime(t time.Time) string { return string(appendTime(make([]byte, 0, len(timeLayout)), t)) }

// appendTime appends FormatTime's form of t, digit by digit: through
// time.Format's layout interpretation it was nearly half the cost of
// encoding a record. Years Format would not write as four digits go
// through it.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3) // cut, as Format does, not rounded
	return append(b, 'Z')
}

// appendDigits appends v (0 <= v < 10^width) as exactly width digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}

// ParseTime parses an RFC 3339 timestamp (any number of fractional digits,
// any zone) and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// recordEnvelope is Record's JSON form; field order is docs/api.md's.
// AppendJSON writes it by hand; UnmarshalJSON reads it with encoding/json.
type recordEnvelope struct {
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Offset    int64           `json:"offset"`
	Timestamp string          `json:"timestamp"`
	Fields    json.RawMessage `json:"fields"`
}

// recordType is the envelope's constant "type".
const recordType = "metadata"

// MarshalJSON writes docs/api.md's envelope:
//
//	{"type":"metadata","name":"TopicRecord","offset":42,"timestamp":"2026-11-21T16:04:05.123Z","fields":{...}}
func (r Record) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 256))
}

// AppendJSON appends MarshalJSON's encoding of r to b. It is byte for
// byte what encoding/json makes of the envelope (HTML-safe escaping
// included), written without reflection: records are encoded for every
// metadata fetch and log page, and reflection plus re-compacting the
// fields was most of that cost.
func (r Record) AppendJSON(b []byte) ([]byte, error) {
	if r.Body == nil {
		return b, fmt.Errorf("metadata: marshal record at offset %d: no body", r.Offset)
	}
	orig := len(b)
	b = append(b, `{"type":"`+recordType+`","name":`...)
	b = appendString(b, r.Body.RecordName())
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":"`...)
	b = appendTime(b, r.Timestamp)
	b = append(b, `","fields":`...)
	b, err := appendBody(b, r.Body)
	if err != nil {
		return b[:orig], fmt.Errorf("metadata: marshal %s: %w", r.Body.RecordName(), err)
	}
	return append(b, '}'), nil
}

// appendBrokerAddress appends the fields both broker records carry, in
// their field order.
func appendBrokerAddress(b []byte, host, port, protocol, status string) []byte {
	b = append(b, `,"brokerHost":`...)
	b = appendString(b, host)
	b = append(b, `,"brokerPort":`...)
	b = appendString(b, port)
	b = append(b, `,"securityProtocol":`...)
	b = appendString(b, protocol)
	b = append(b, `,"brokerStatus":`...)
	return appendString(b, status)
}

// appendBody appends encoding/json's form of body (PartitionRecord's
// with MarshalJSON's [] for nil slices). A Body of another type, which
// only tests make, goes through encoding/json.
func appendBody(b []byte, body Body) ([]byte, error) {
	if v := reflect.ValueOf(body); v.Kind() == reflect.Pointer && v.IsNil() {
		return append(b, "null"...), nil // encoding/json's answer for a typed nil
	}
	switch v := body.(type) {
	case *RegisterBrokerRecord:
		b = append(b, `{"internalUUID":`...)
		b = appendString(b, v.InternalUUID)
		b = append(b, `,"brokerId":`...)
		b = strconv.AppendInt(b, int64(v.BrokerID), 10)
		b = appendBrokerAddress(b, v.BrokerHost, v.BrokerPort, v.SecurityProtocol, v.BrokerStatus)
		b = append(b, `,"rackId":`...)
		b = appendString(b, v.RackID)
		b = append(b, `,"epoch":`...)
		b = strconv.AppendInt(b, v.Epoch, 10)
		return append(b, '}'), nil
	case *TopicRecord:
		return appendTopicFields(b, v.TopicUUID, v.Name), nil
	case *PartitionRecord:
		return v.appendJSON(b), nil
	case *ProducerIdsRecord:
		b = append(b, `{"brokerId":`...)
		b = strconv.AppendInt(b, int64(v.BrokerID), 10)
		b = append(b, `,"brokerEpoch":`...)
		b = strconv.AppendInt(b, v.BrokerEpoch, 10)
		b = append(b, `,"producerId":`...)
		b = strconv.AppendInt(b, v.ProducerID, 10)
		return append(b, '}'), nil
	case *BrokerRegistrationChangeBrokerRecord:
		b = append(b, `{"brokerId":`...)
		b = strconv.AppendInt(b, int64(v.BrokerID), 10)
		b = appendBrokerAddress(b, v.BrokerHost, v.BrokerPort, v.SecurityProtocol, v.BrokerStatus)
		b = append(b, `,"epoch":`...)
		b = strconv.AppendInt(b, v.Epoch, 10)
		return append(b, '}'), nil
	case *RemoveTopicRecord:
		return appendTopicFields(b, v.TopicUUID, v.Name), nil
	case *ZkMigrationStateRecord:
		return v.appendJSON(b), nil
	case *ConfigRecord:
		return v.appendJSON(b), nil
	}
	fields, err := json.Marshal(body)
	if err != nil {
		return b, err
	}
	return append(b, fields...), nil
}

// appendTopicFields is the fields of TopicRecord and RemoveTopicRecord.
func appendTopicFields(b []byte, uuid, name string) []byte {
	b = append(b, `{"topicUUID":`...)
	b = appendString(b, uuid)
	b = append(b, `,"name":`...)
	b = appendString(b, name)
	return append(b, '}')
}

// appendString appends s as encoding/json quotes it. Strings of
// printable ASCII without the characters it escapes (every name, UUID
// and host the API accepts) are copied as they are; anything else goes
// through encoding/json, so its escaping rules stay the only ones.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// UnmarshalJSON reads the envelope MarshalJSON writes. Unknown envelope
// keys and unknown fields are ignored (a newer server may add some); an
// unknown record name, a "type" other than "metadata" or a missing
// timestamp or fields is an error.
func (r *Record) UnmarshalJSON(b []byte) error {
	var env recordEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("metadata: record: %w", err)
	}
	if env.Type != recordType {
		return fmt.Errorf("metadata: record: type is %q, want %q", env.Type, recordType)
	}
	body := NewBody(env.Name)
	if body == nil {
		return fmt.Errorf("metadata: record: unknown record name %q", env.Name)
	}
	if env.Timestamp == "" {
		return fmt.Errorf("metadata: %s: no timestamp", env.Name)
	}
	ts, err := ParseTime(env.Timestamp)
	if err != nil {
		return fmt.Errorf("metadata: %s: timestamp: %w", env.Name, err)
	}
	if len(env.Fields) == 0 || bytes.Equal(env.Fields, []byte("null")) {
		return fmt.Errorf("metadata: %s: no fields", env.Name)
	}
	if err := json.Unmarshal(env.Fields, body); err != nil {
		return fmt.Errorf("metadata: %s fields: %w", env.Name, err)
	}
	if p, ok := body.(*PartitionRecord); ok {
		*p = p.clone()
	}
	*r = Record{Offset: env.Offset, Timestamp: ts, Body: body}
	return nil
}

// MarshalJSON writes nil slices as [] rather than null.
func (p PartitionRecord) MarshalJSON() ([]byte, error) {
	return p.appendJSON(make([]byte, 0, 160)), nil
}

// appendJSON appends what encoding/json makes of p with nil slices
// as [].
func (p *PartitionRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"partitionId":`...)
	b = strconv.AppendInt(b, int64(p.PartitionID), 10)
	b = append(b, `,"topicUUID":`...)
	b = appendString(b, p.TopicUUID)
	b = append(b, `,"replicas":`...)
	b = appendInt32s(b, p.Replicas)
	b = append(b, `,"ISR":`...)
	b = appendInt32s(b, p.ISR)
	b = append(b, `,"removingReplicas":`...)
	b = appendInt32s(b, p.RemovingReplicas)
	b = append(b, `,"addingReplicas":`...)
	b = appendInt32s(b, p.AddingReplicas)
	b = append(b, `,"leader":`...)
	b = strconv.AppendInt(b, int64(p.Leader), 10)
	b = append(b, `,"partitionEpoch":`...)
	b = strconv.AppendInt(b, p.PartitionEpoch, 10)
	return append(b, '}')
}

func appendInt32s(b []byte, v []int32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// clone returns p with its own copies of the slices, never nil.
func (p PartitionRecord) clone() PartitionRecord {
	n := len(p.Replicas) + len(p.ISR) + len(p.RemovingReplicas) + len(p.AddingReplicas)
	arena := make([]int32, 0, n)
	p.Replicas, arena = carve(arena, p.Replicas)
	p.ISR, arena = carve(arena, p.ISR)
	p.RemovingReplicas, arena = carve(arena, p.RemovingReplicas)
	p.AddingReplicas, _ = carve(arena, p.AddingReplicas)
	return p
}

// carve copies src to the end of arena and returns the copy, capped so an
// append to it reallocates instead of overwriting the next slice.
func carve(arena, src []int32) (dst, rest []int32) {
	start := len(arena)
	arena = append(arena, src...)
	return arena[start:len(arena):len(arena)], arena
}

// cloneBody returns a deep copy of b.
func cloneBody(b Body) Body {
	switch v := b.(type) {
	case *RegisterBrokerRecord:
		c := *v
		return &c
	case *TopicRecord:
		c := *v
		return &c
	case *PartitionRecord:
		c := v.clone()
		return &c
	case *ProducerIdsRecord:
		c := *v
		return &c
	case *BrokerRegistrationChangeBrokerRecord:
		c := *v
		return &c
	case *RemoveTopicRecord:
		c := *v
		return &c
	case *ZkMigrationStateRecord:
		c := *v
		return &c
	case *ConfigRecord:
		return v.clone()
	}
	return b
}
