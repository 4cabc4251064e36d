package contract

import (
	"encoding/json"
	"strconv"
)

// Port is a TCP port as docs/api.md lets clients send it: a JSON string
// ("9092") or a JSON number (9092). Decoding accepts any JSON value and
// keeps it, so the server can say what is wrong with a bad one (naming
// the field) rather than fail on a type error. The zero Port (field absent
// or null) is unset. PortOf and PortNumber make one in Go.
type Port struct {
	text string // a string's content or a number's literal
	raw  string // the JSON as sent, for messages; "" when unset
}

// PortOf is the port sent as the JSON string s.
func PortOf(s string) Port {
	raw, _ := json.Marshal(s) // a string always marshals
	return Port{text: s, raw: string(raw)}
}

// PortNumber is the port sent as the JSON number n.
func PortNumber(n int) Port {
	s := strconv.Itoa(n)
	return Port{text: s, raw: s}
}

// UnmarshalJSON implements json.Unmarshaler; it fails only on a JSON
// string it cannot unquote.
func (p *Port) UnmarshalJSON(b []byte) error {
	raw := string(b)
	if raw == "null" {
		*p = Port{}
		return nil
	}
	text := raw
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	}
	*p = Port{text: text, raw: raw}
	return nil
}

// MarshalJSON writes the port as it was given (null when unset).
func (p Port) MarshalJSON() ([]byte, error) {
	if p.raw == "" {
		return []byte("null"), nil
	}
	return []byte(p.raw), nil
}

// IsSet reports whether the port was given.
func (p Port) IsSet() bool { return p.raw != "" }

// Text is the port's text: a string's content or a number's literal.
func (p Port) Text() string { return p.text }

// Raw is the port's JSON as sent ("" when unset).
func (p Port) Raw() string { return p.raw }

// RegisterBrokerRequest is POST /v1/brokers. SecurityProtocol defaults to
// PLAINTEXT when absent or empty; RackID may be empty. BrokerID is
// required.
type RegisterBrokerRequest struct {
	BrokerID         *int32 `json:"brokerId"`
	BrokerHost       string `json:"brokerHost"`
	BrokerPort       Port   `json:"brokerPort"`
	SecurityProtocol string `json:"securityProtocol,omitempty"`
	RackID           string `json:"rackId,omitempty"`
}

// PatchBrokerRequest is PATCH /v1/brokers/{brokerId}: any non-empty subset
// of the fields; absent (nil) ones keep their values. BrokerStatus may be
// ALIVE or FENCED (CLOSED is DELETE's job).
type PatchBrokerRequest struct {
	BrokerHost       *string `json:"brokerHost,omitempty"`
	BrokerPort       *Port   `json:"brokerPort,omitempty"`
	SecurityProtocol *string `json:"securityProtocol,omitempty"`
	BrokerStatus     *string `json:"brokerStatus,omitempty"`
}

// BrokerList is GET /v1/brokers: brokers with their current values, by
// id, and the cursor (?after=) of the next page when the answer is a page
// with more after it.
type BrokerList struct {
	Brokers []Broker `json:"brokers"`
	Next    *int32   `json:"next,omitempty"`
}

// BrokersAll is GET /v1/brokers' ?status= that selects every broker.
const BrokersAll = "all"

// ShutdownResponse is POST /v1/brokers/{brokerId}/shutdown's answer: how
// many partitions' leadership passed to another broker.
type ShutdownResponse struct {
	PartitionsMoved int32 `json:"partitionsMoved"`
}

// AllocateProducerIDsRequest is POST /v1/producer-ids. Without ProducerID
// the next free block is given; with it, the block starting there.
type AllocateProducerIDsRequest struct {
	BrokerID   *int32 `json:"brokerId"`
	ProducerID *int64 `json:"producerId,omitempty"`
}

// ProducerIDsResponse is POST /v1/producer-ids's answer.
type ProducerIDsResponse struct {
	Record          Record `json:"record"` // the ProducerIdsRecord
	FirstProducerID int64  `json:"firstProducerId"`
	Size            int64  `json:"size"`
}

// Int32 returns a pointer to v, for optional request fields.
func Int32(v int32) *int32 { return &v }

// Int64 returns a pointer to v, for optional request fields.
func Int64(v int64) *int64 { return &v }
