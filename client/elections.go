package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/yakt/yakt/contract"
)

// Leader elections and partition reassignments (docs/api.md, "Configs,
// elections and reassignments"). Both writes answer a result per
// partition: a partition's own failure is in its result (ResultError),
// not in the returned error, which only says the request as a whole
// failed. Retry-safe like the other writes (Idempotency-Key).

// Election and reassignment types, aliases of the contract's.
type (
	ElectLeadersRequest   = contract.ElectLeadersRequest
	ElectLeadersResponse  = contract.ElectLeadersResponse
	TopicPartitions       = contract.TopicPartitions
	PartitionResult       = contract.PartitionResult
	ReassignRequest       = contract.ReassignRequest
	ReassignResponse      = contract.ReassignResponse
	PartitionReassignment = contract.PartitionReassignment
	Reassignment          = contract.Reassignment
	ReassignmentList      = contract.ReassignmentList
)

// Election types.
const (
	ElectionPreferred = contract.ElectionPreferred
	ElectionUnclean   = contract.ElectionUnclean
)

// Per-partition error codes of elections and reassignments, for
// errors.Is on ResultError's error.
var (
	ErrElectionNotNeeded           = &Error{Code: contract.CodeElectionNotNeeded}
	ErrPreferredLeaderNotAvailable = &Error{Code: contract.CodePreferredLeaderNotAvailable}
	ErrEligibleLeadersNotAvailable = &Error{Code: contract.CodeEligibleLeadersNotAvailable}
	ErrNoReassignmentInProgress    = &Error{Code: contract.CodeNoReassignmentInProgress}
)

// ResultError is r's error as an *Error (nil when the partition
// succeeded), so errors.Is matches it like any other API error.
func ResultError(r PartitionResult) error {
	if r.Error == nil {
		return nil
	}
	return &Error{Status: r.Error.Code.Status(), Code: r.Error.Code, Message: r.Error.Message}
}

// ElectLeaders runs a preferred or unclean election (ElectionPreferred,
// ElectionUnclean) on the partitions named, or on every partition when
// req.Partitions is nil.
func (c *Client) ElectLeaders(ctx context.Context, req ElectLeadersRequest) (ElectLeadersResponse, Meta, error) {
	var out ElectLeadersResponse
	meta, err := c.do(ctx, http.MethodPost, "/v1/elections", req, &out)
	return out, meta, err
}

// AlterReassignments starts, changes or cancels (Replicas nil)
// partition reassignments.
func (c *Client) AlterReassignments(ctx context.Context, req ReassignRequest) (ReassignResponse, Meta, error) {
	if req.Partitions == nil {
		req.Partitions = []PartitionReassignment{}
	}
	var out ReassignResponse
	meta, err := c.do(ctx, http.MethodPost, "/v1/reassignments", req, &out)
	return out, meta, err
}

// ListReassignments lists the reassignments in progress, of one topic
// when topic is not "".
func (c *Client) ListReassignments(ctx context.Context, topic string) (ReassignmentList, error) {
	path := "/v1/reassignments"
	if topic != "" {
		path += "?" + url.Values{"topic": {topic}}.Encode()
	}
	var out ReassignmentList
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}
