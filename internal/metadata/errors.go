package metadata

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code from docs/api.md's table. The
// HTTP layer maps each code to its status; every other layer only picks one.
type Code string

// The codes of docs/api.md, grouped by their HTTP status.
const (
	// 400
	CodeInvalidRequest           Code = "INVALID_REQUEST"
	CodeInvalidTopicName         Code = "INVALID_TOPIC_NAME"
	CodeInvalidReplicaAssignment Code = "INVALID_REPLICA_ASSIGNMENT"
	// 404
	CodeBrokerNotFound    Code = "BROKER_NOT_FOUND"
	CodeTopicNotFound     Code = "TOPIC_NOT_FOUND"
	CodePartitionNotFound Code = "PARTITION_NOT_FOUND"
	CodeNotFound          Code = "NOT_FOUND" // no such path
	// 405: a known path with another method; the answer carries Allow.
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	// 409: a fetch offset beyond the high watermark; the answer carries
	// highWatermark.
	CodeOffsetOutOfRange Code = "OFFSET_OUT_OF_RANGE"
	// 409
	CodeBrokerAlreadyRegistered    Code = "BROKER_ALREADY_REGISTERED"
	CodeTopicAlreadyExists         Code = "TOPIC_ALREADY_EXISTS"
	CodePartitionAlreadyExists     Code = "PARTITION_ALREADY_EXISTS"
	CodeBrokerNotActive            Code = "BROKER_NOT_ACTIVE"
	CodeStaleBrokerEpoch           Code = "STALE_BROKER_EPOCH"
	CodeProducerIDAlreadyAllocated Code = "PRODUCER_ID_ALREADY_ALLOCATED"
	CodeStalePartitionEpoch        Code = "STALE_PARTITION_EPOCH"
	CodeNotPartitionLeader         Code = "NOT_PARTITION_LEADER"
	// 410
	CodeOffsetCompacted Code = "OFFSET_COMPACTED"
	// 422: an Idempotency-Key sent again with a different request.
	CodeIdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	// 413
	CodePayloadTooLarge Code = "PAYLOAD_TOO_LARGE"
	// 503
	CodeNoLeader Code = "NO_LEADER"
	CodeNotReady Code = "NOT_READY"
	// 503 with Retry-After: the node streams as many full metadata
	// answers as it is configured to; retry shortly or ask another node.
	CodeTooManyFullFetches Code = "TOO_MANY_FULL_FETCHES"
	// 503 with Retry-After: the node handles as many requests at once as
	// it is configured to; retry shortly or ask another node.
	CodeOverloaded Code = "OVERLOADED"
	// 504: not committed in time; the write may still commit.
	CodeTimeout Code = "TIMEOUT"
	// 500: never part of docs/api.md's table; the answer for anything unexpected.
	CodeInternal Code = "INTERNAL"
)

// Codes lists every Code above, in the order of docs/api.md's table followed by
// CodeInternal, so a mapping (code -> HTTP status) can be checked complete.
var Codes = []Code{
	CodeInvalidRequest, CodeInvalidTopicName, CodeInvalidReplicaAssignment,
	CodeBrokerNotFound, CodeTopicNotFound, CodePartitionNotFound, CodeNotFound,
	CodeMethodNotAllowed, CodeOffsetOutOfRange,
	CodeBrokerAlreadyRegistered, CodeTopicAlreadyExists, CodePartitionAlreadyExists,
	CodeBrokerNotActive, CodeStaleBrokerEpoch, CodeProducerIDAlreadyAllocated,
	CodeStalePartitionEpoch, CodeNotPartitionLeader,
	CodeOffsetCompacted, CodeIdempotencyKeyReused, CodePayloadTooLarge,
	CodeNoLeader, CodeNotReady, CodeTooManyFullFetches, CodeOverloaded, CodeTimeout, CodeInternal,
}

// Error is a request or record that does not fit the current state, or
// input that is invalid: the "bad input, nothing changed" class. Replay
// returns it for a record that no longer applies; every node rejects such a
// record identically, and its waiting request is answered with Code.
// Check for it with errors.As, never by message.
type Error struct {
	Code    Code
	Message string // human readable; safe to show to clients
}

// Error returns the message, or the code when there is no message.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return string(e.Code)
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of the first *Error in err's chain, "" for a nil
// err and CodeInternal for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var me *Error
	if errors.As(err, &me) {
		return me.Code
	}
	return CodeInternal
}

// ErrCorrupt is matched (errors.Is) by every error DecodeRecords and
// DecodeSnapshot return: the bytes are not a valid encoding. Committed bytes
// that do not decode are corruption or a bug, never bad user input.
var ErrCorrupt = errors.New("metadata: corrupt encoding")

// ErrOffsetCompacted is returned by Tail.Since and Tail.SinceTime when
// records the caller asked for are no longer retained; the caller must fall
// back to a snapshot (docs/api.md's 410 OFFSET_COMPACTED or snapshot mode).
var ErrOffsetCompacted = errors.New("metadata: offset compacted")

// corruptError is a decode failure; it matches ErrCorrupt and wraps its
// cause, if any.
type corruptError struct {
	msg string
	err error
}

func (e *corruptError) Error() string        { return "metadata: " + e.msg }
func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }
func (e *corruptError) Unwrap() error        { return e.err }

func corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}
