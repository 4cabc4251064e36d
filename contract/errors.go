package contract

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, machine-readable error code from docs/api.md's table.
// Every error answer carries one in ErrorBody.
type Code string

// The codes of docs/api.md, grouped by their HTTP status (Code.Status).
const (
	// 400
	CodeInvalidRequest           Code = "INVALID_REQUEST"
	CodeInvalidTopicName         Code = "INVALID_TOPIC_NAME"
	CodeInvalidReplicaAssignment Code = "INVALID_REPLICA_ASSIGNMENT"
	// 401: no credential, or one not accepted (the answer carries
	// WWW-Authenticate: Bearer). Nothing changed.
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	// 403: the principal's roles do not allow the request. Nothing changed.
	CodeForbidden Code = "FORBIDDEN"
	// 404
	CodeBrokerNotFound    Code = "BROKER_NOT_FOUND"
	CodeTopicNotFound     Code = "TOPIC_NOT_FOUND"
	CodePartitionNotFound Code = "PARTITION_NOT_FOUND"
	CodeMemberNotFound    Code = "MEMBER_NOT_FOUND" // no quorum member with that node (and directory) id
	CodeNotFound          Code = "NOT_FOUND"        // no such path
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
	// 409: quorum membership (docs/api.md, "Quorum membership").
	CodeMembershipChangeInProgress Code = "MEMBERSHIP_CHANGE_IN_PROGRESS"
	CodeNotCaughtUp                Code = "NOT_CAUGHT_UP"
	CodeMemberExists               Code = "MEMBER_EXISTS"
	CodeLastVoter                  Code = "LAST_VOTER"
	// 409: migration from ZooKeeper (docs/migration.md).
	CodeMigrationInProgress Code = "MIGRATION_IN_PROGRESS" // ZooKeeper is the authority until cutover: YAKt's own metadata writes are refused
	CodeMigrationPhase      Code = "MIGRATION_PHASE"       // the operation does not apply in the migration's current phase

	CodeInvalidConfig               Code = "INVALID_CONFIG"                 // an unknown config name, or a value its config does not take
	CodeElectionNotNeeded           Code = "ELECTION_NOT_NEEDED"            // the partition already has the leader the election would pick
	CodePreferredLeaderNotAvailable Code = "PREFERRED_LEADER_NOT_AVAILABLE" // the first replica is not alive or not in the ISR
	CodeEligibleLeadersNotAvailable Code = "ELIGIBLE_LEADERS_NOT_AVAILABLE" // no replica may lead (none alive in the ISR; for unclean: none alive)
	CodeNoReassignmentInProgress    Code = "NO_REASSIGNMENT_IN_PROGRESS"    // a cancel for a partition that is not being reassigned
	// 410: the answer carries snapshotOffset.
	CodeOffsetCompacted Code = "OFFSET_COMPACTED"
	// 422: an Idempotency-Key sent again with a different request.
	CodeIdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	// 413
	CodePayloadTooLarge Code = "PAYLOAD_TOO_LARGE"
	// 429 with Retry-After: the node holds as many long polls (fetches
	// waiting for records, dashboard streams) as it is configured to.
	CodeTooManyLongPolls Code = "TOO_MANY_LONG_POLLS"
	// 503
	CodeNoLeader Code = "NO_LEADER"
	CodeNotReady Code = "NOT_READY"
	// 503 with Retry-After: the node streams as many full metadata
	// answers as it is configured to; retry shortly or ask another node.
	CodeTooManyFullFetches Code = "TOO_MANY_FULL_FETCHES"
	// 503 with Retry-After: the node handles as many requests at once as
	// it is configured to; retry shortly or ask another node.
	CodeOverloaded Code = "OVERLOADED"
	// 503 with Retry-After and Connection: close: the listener holds as
	// many connections as it is configured to; this one is closed after
	// the answer.
	CodeConnectionLimit Code = "CONNECTION_LIMIT"
	// 503: the leader cannot reach ZooKeeper (starting a migration, or a
	// cutover/rollback that must write to it). Nothing changed.
	CodeZooKeeperUnavailable Code = "ZOOKEEPER_UNAVAILABLE"
	// 504: not committed in time; the write may still commit.
	CodeTimeout Code = "TIMEOUT"
	// 500: never part of docs/api.md's table; the answer for anything
	// unexpected.
	CodeInternal Code = "INTERNAL"
)

// Codes lists every Code above, in the order of docs/api.md's table
// followed by CodeInternal.
var Codes = []Code{
	CodeInvalidRequest, CodeInvalidTopicName, CodeInvalidReplicaAssignment,
	CodeUnauthenticated, CodeForbidden,
	CodeBrokerNotFound, CodeTopicNotFound, CodePartitionNotFound, CodeMemberNotFound, CodeNotFound,
	CodeMethodNotAllowed, CodeOffsetOutOfRange,
	CodeBrokerAlreadyRegistered, CodeTopicAlreadyExists, CodePartitionAlreadyExists,
	CodeBrokerNotActive, CodeStaleBrokerEpoch, CodeProducerIDAlreadyAllocated,
	CodeStalePartitionEpoch, CodeNotPartitionLeader,
	CodeMembershipChangeInProgress, CodeNotCaughtUp, CodeMemberExists, CodeLastVoter,
	CodeMigrationInProgress, CodeMigrationPhase,
	CodeInvalidConfig, CodeElectionNotNeeded, CodePreferredLeaderNotAvailable, CodeEligibleLeadersNotAvailable, CodeNoReassignmentInProgress,
	CodeOffsetCompacted, CodeIdempotencyKeyReused, CodePayloadTooLarge, CodeTooManyLongPolls,
	CodeNoLeader, CodeNotReady, CodeTooManyFullFetches, CodeOverloaded, CodeConnectionLimit, CodeZooKeeperUnavailable, CodeTimeout, CodeInternal,
}

// Status is the HTTP status docs/api.md answers code with; 500 for
// CodeInternal and for codes this version does not know.
func (c Code) Status() int {
	switch c {
	case CodeInvalidRequest, CodeInvalidTopicName, CodeInvalidReplicaAssignment, CodeInvalidConfig:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeBrokerNotFound, CodeTopicNotFound, CodePartitionNotFound, CodeMemberNotFound, CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeOffsetOutOfRange, CodeBrokerAlreadyRegistered, CodeTopicAlreadyExists, CodePartitionAlreadyExists,
		CodeBrokerNotActive, CodeStaleBrokerEpoch, CodeProducerIDAlreadyAllocated, CodeStalePartitionEpoch,
		CodeNotPartitionLeader, CodeMembershipChangeInProgress, CodeNotCaughtUp, CodeMemberExists, CodeLastVoter,
		CodeMigrationInProgress, CodeMigrationPhase,
		CodeElectionNotNeeded, CodePreferredLeaderNotAvailable, CodeEligibleLeadersNotAvailable, CodeNoReassignmentInProgress:
		return http.StatusConflict
	case CodeOffsetCompacted:
		return http.StatusGone
	case CodeIdempotencyKeyReused:
		return http.StatusUnprocessableEntity
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeTooManyLongPolls:
		return http.StatusTooManyRequests
	case CodeNoLeader, CodeNotReady, CodeTooManyFullFetches, CodeOverloaded, CodeConnectionLimit, CodeZooKeeperUnavailable:
		return http.StatusServiceUnavailable
	case CodeTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Error is an error with its code: what the server answers as ErrorBody.
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
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternal
}

// ErrorBody is every error answer's body.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
	// SnapshotOffset accompanies OFFSET_COMPACTED: the offset of the
	// snapshot that holds the compacted records' effect.
	SnapshotOffset *int64 `json:"snapshotOffset,omitempty"`
	// HighWatermark accompanies OFFSET_OUT_OF_RANGE: the newest offset the
	// fetch could have asked for.
	HighWatermark *int64 `json:"highWatermark,omitempty"`
}

// ErrorDetail is ErrorBody's error.
type ErrorDetail struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"` // on 500 INTERNAL: the id the server logged it under
}
