package contract

import "encoding/json"

// BrokerFetchRequest is POST /v1/metadata/fetch's body: BrokerMgmt's
// fetch, which is also the broker's heartbeat. At most one of Offset and
// Timestamp (RFC 3339) is given; MaxWaitMs makes an empty diff a long
// poll (at most 60000).
type BrokerFetchRequest struct {
	BrokerID  *int32  `json:"brokerId"`
	Offset    *int64  `json:"offset,omitempty"`
	Timestamp *string `json:"timestamp,omitempty"`
	MaxWaitMs int64   `json:"maxWaitMs,omitempty"`
}

// Fetch answer modes.
const (
	ModeDiff     = "diff"
	ModeSnapshot = "snapshot"
)

// FetchResponse is a metadata fetch's answer (POST /v1/metadata/fetch,
// GET /v1/metadata): a diff (Records, never null in a diff) or the whole
// current state (Mode "snapshot", Snapshot). The server streams it rather
// than building this value.
type FetchResponse struct {
	Mode          string          `json:"mode"`
	HighWatermark int64           `json:"highWatermark"`
	Records       []Record        `json:"records,omitempty"`
	Snapshot      json.RawMessage `json:"snapshot,omitempty"`
}

// LogPage is GET /v1/log's answer: up to limit records from fromOffset
// on, and the offset to ask for next.
type LogPage struct {
	Records    []Record `json:"records"`
	NextOffset int64    `json:"nextOffset"`
}

// HeartbeatRequest is the body of the nodes' internal
// POST /v1/internal/broker-heartbeat: the leader's part of a BrokerMgmt
// fetch served by a follower.
type HeartbeatRequest struct {
	BrokerID *int32 `json:"brokerId"`
	Offset   *int64 `json:"offset"`
}

// HeartbeatAnswer is the internal heartbeat's answer: the offset the node
// serving the fetch must have applied before it answers (0: none).
type HeartbeatAnswer struct {
	WaitForOffset int64 `json:"waitForOffset"`
}

// HeartbeatBatchRequest is the body of the nodes' internal
// POST /v1/internal/broker-heartbeats: a follower's heartbeats of one
// interval.
type HeartbeatBatchRequest struct {
	Heartbeats []HeartbeatRequest `json:"heartbeats"`
}

// HeartbeatResult is one heartbeat's answer in a batch: the offset to
// wait for, or the coded error the fetch fails with.
type HeartbeatResult struct {
	WaitForOffset int64        `json:"waitForOffset"`
	Error         *ErrorDetail `json:"error,omitempty"`
}

// HeartbeatBatchAnswer is the answer to HeartbeatBatchRequest, in its
// order.
type HeartbeatBatchAnswer struct {
	Results []HeartbeatResult `json:"results"`
}
