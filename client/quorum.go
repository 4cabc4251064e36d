package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/yakt/yakt/contract"
)

// Quorum membership (docs/api.md, "Quorum membership"). The changes run
// on the leader like other writes, but the cluster stores no answer
// under an Idempotency-Key for them, so the client sends none:
// AddObserver and PromoteVoter are resent like other writes (adding or
// promoting a member twice changes nothing), while RemoveMember and
// TransferLeader are resent only while nothing can have been applied — a
// removal repeated after it applied would answer MEMBER_NOT_FOUND, and a
// transfer repeated would move the leadership on again. When their
// outcome is unknown the error wraps ErrUnknownOutcome: read Quorum
// before retrying.

// Node returns the identity of whichever node answers (the leader, when
// the client knows it): GET /v1/node. Meta.Node names it.
func (c *Client) Node(ctx context.Context) (NodeIdentity, Meta, error) {
	var out NodeIdentity
	meta, err := c.do(ctx, http.MethodGet, "/v1/node", nil, &out)
	return out, meta, err
}

// NodeAt returns endpoint's own identity (GET /v1/node): what adding it
// to a quorum takes. One attempt, at endpoint only.
func (c *Client) NodeAt(ctx context.Context, endpoint string) (NodeIdentity, Meta, error) {
	var out NodeIdentity
	meta, _, err := c.once(ctx, endpoint, call{method: http.MethodGet, path: "/v1/node", out: &out}, nil, "")
	return out, meta, err
}

// AddObserver adds m to the quorum as an observer and returns the
// leader's quorum once the change is applied. Adding the same member
// again changes nothing.
func (c *Client) AddObserver(ctx context.Context, m QuorumMember) (Quorum, Meta, error) {
	var out Quorum
	meta, err := c.run(ctx, call{method: http.MethodPost, path: "/v1/quorum/observers", in: m, out: &out, write: true, unkeyed: true})
	return out, meta, err
}

// PromoteVoter makes an observer a voter once its log has caught up; the
// leader waits up to req.WaitMs for that (ErrNotCaughtUp after it), and
// each attempt's deadline is extended by as much.
func (c *Client) PromoteVoter(ctx context.Context, req PromoteVoterRequest) (Quorum, Meta, error) {
	var out Quorum
	cl := call{method: http.MethodPost, path: "/v1/quorum/voters", in: req, out: &out, write: true, unkeyed: true,
		maxWait: time.Duration(max(req.WaitMs, 0)) * time.Millisecond}
	meta, err := c.run(ctx, cl)
	return out, meta, err
}

// RemoveMember removes voter or observer nodeID (directoryID "" for
// whichever directory id it has) and returns the leader's quorum without
// it. Removing the leader moves the leadership first; the cluster
// completes the removal on the new leader. See above for retries.
func (c *Client) RemoveMember(ctx context.Context, nodeID uint64, directoryID string) (Quorum, Meta, error) {
	path := fmt.Sprintf("/v1/quorum/members/%d", nodeID)
	if directoryID != "" {
		path += "?" + url.Values{"directoryId": {directoryID}}.Encode()
	}
	var out Quorum
	meta, err := c.run(ctx, call{method: http.MethodDelete, path: path, out: &out, write: true, unkeyed: true, once: true})
	return out, meta, err
}

// TransferLeader hands the leadership to voter nodeID (0: the most
// caught-up other voter) and returns the new leader's quorum once it
// leads. See above for retries.
func (c *Client) TransferLeader(ctx context.Context, nodeID uint64) (Quorum, Meta, error) {
	var out Quorum
	cl := call{method: http.MethodPost, path: "/v1/quorum/leader", in: TransferLeaderRequest{NodeID: nodeID}, out: &out,
		write: true, unkeyed: true, once: true}
	meta, err := c.run(ctx, cl)
	return out, meta, err
}

// Membership error codes, for errors.Is.
var (
	ErrMemberNotFound             = &Error{Code: contract.CodeMemberNotFound}
	ErrMemberExists               = &Error{Code: contract.CodeMemberExists}
	ErrNotCaughtUp                = &Error{Code: contract.CodeNotCaughtUp}
	ErrLastVoter                  = &Error{Code: contract.CodeLastVoter}
	ErrMembershipChangeInProgress = &Error{Code: contract.CodeMembershipChangeInProgress}
)
