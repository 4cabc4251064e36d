package metadata

import (
	"errors"
	"fmt"
)

// Reason says why replay refused a record (or why a check replay shares
// with the controller refused its input). Every node refuses a record
// identically, so the reason is part of the replicated state machine's
// behaviour; the controller maps each to the API's error code.
type Reason uint8

// The reasons. ReasonNone is no replay error at all.
const (
	ReasonNone                       Reason = iota
	ReasonInvalid                           // malformed record or request
	ReasonInvalidTopicName                  // Kafka's topic name rules
	ReasonInvalidReplicaAssignment          // replicas, ISR or leader do not fit together
	ReasonBrokerNotFound                    // the broker id was never registered
	ReasonTopicNotFound                     // no such topic (name or id)
	ReasonBrokerAlreadyRegistered           // the id is registered and not CLOSED
	ReasonTopicAlreadyExists                // the name or id is taken
	ReasonPartitionAlreadyExists            // the partition id is taken
	ReasonBrokerNotActive                   // the broker is CLOSED, or not ALIVE where it must be
	ReasonStaleBrokerEpoch                  // the broker epoch is not the one expected
	ReasonProducerIDAlreadyAllocated        // the producer-id block overlaps one given before
	ReasonStalePartitionEpoch               // the partition epoch is not the one expected
	ReasonIdempotencyKeyReused              // the key came with another request first
	ReasonMigrationPhase                    // the migration's phase does not allow that transition
	ReasonInvalidConfig                     // an unknown config name, or a value its config does not take
)

var reasonNames = [...]string{
	ReasonNone: "NONE", ReasonInvalid: "INVALID", ReasonInvalidTopicName: "INVALID_TOPIC_NAME",
	ReasonInvalidReplicaAssignment: "INVALID_REPLICA_ASSIGNMENT", ReasonBrokerNotFound: "BROKER_NOT_FOUND",
	ReasonTopicNotFound: "TOPIC_NOT_FOUND", ReasonBrokerAlreadyRegistered: "BROKER_ALREADY_REGISTERED",
	ReasonTopicAlreadyExists: "TOPIC_ALREADY_EXISTS", ReasonPartitionAlreadyExists: "PARTITION_ALREADY_EXISTS",
	ReasonBrokerNotActive: "BROKER_NOT_ACTIVE", ReasonStaleBrokerEpoch: "STALE_BROKER_EPOCH",
	ReasonProducerIDAlreadyAllocated: "PRODUCER_ID_ALREADY_ALLOCATED", ReasonStalePartitionEpoch: "STALE_PARTITION_EPOCH",
	ReasonIdempotencyKeyReused: "IDEMPOTENCY_KEY_REUSED", ReasonMigrationPhase: "MIGRATION_PHASE",
	ReasonInvalidConfig: "INVALID_CONFIG",
}

// Reasons lists every reason but ReasonNone, so a mapping can be checked
// complete.
var Reasons = []Reason{
	ReasonInvalid, ReasonInvalidTopicName, ReasonInvalidReplicaAssignment, ReasonBrokerNotFound,
	ReasonTopicNotFound, ReasonBrokerAlreadyRegistered, ReasonTopicAlreadyExists, ReasonPartitionAlreadyExists,
	ReasonBrokerNotActive, ReasonStaleBrokerEpoch, ReasonProducerIDAlreadyAllocated, ReasonStalePartitionEpoch,
	ReasonIdempotencyKeyReused, ReasonMigrationPhase, ReasonInvalidConfig,
}

// String is the reason's name, for logs and tests.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// Error is a record or input that does not fit the current state, or is
// invalid: the "bad input, nothing changed" class. Replay returns it for a
// record that no longer applies; every node rejects such a record
// identically, and its waiting request is answered with the API code of
// Reason. Check for it with errors.As, never by message.
type Error struct {
	Reason  Reason
	Message string // human readable; safe to show to clients
}

// Error returns the message, or the reason when there is no message.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Reason.String()
}

// Errorf returns an *Error with reason and a formatted message.
func Errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of the first *Error in err's chain, and
// ReasonNone for a nil err or any other error.
func ReasonOf(err error) Reason {
	if me, ok := errors.AsType[*Error](err); ok {
		return me.Reason
	}
	return ReasonNone
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
