package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/storage"
)

// Quorum membership: the front doors' admin calls on the raft node's
// membership (add an observer, promote it, remove a member, move the
// leadership). Each validates its input before the node sees it, so a
// bad request changes nothing, and maps the node's errors to the
// contract's codes in membershipError.

// ErrLeadershipHandedOver marks a removal of the leader itself: the node
// handed its leadership to another voter and removed nothing, so the
// front door runs the same removal on the new leader. The error also
// carries NO_LEADER for a front door that does not.
var ErrLeadershipHandedOver = errors.New("controller: this node handed over its leadership to be removed")

// promoteCommitGrace is how long a promotion may take beyond the caller's
// wait for the observer to catch up: the configuration change itself has
// to commit, one round trip to a quorum.
const promoteCommitGrace = time.Second

// Node describes this node: what an operator needs to add it to a quorum.
func (c *Controller) Node() contract.NodeIdentity {
	self := c.node.Self()
	dir := c.node.DirectoryID()
	out := contract.NodeIdentity{ClusterID: c.clusterID, NodeID: c.node.ID(), DirectoryID: dir.String(),
		PeerAddress: self.PeerAddr, HTTPAddress: self.HTTPAddr, Role: contract.RoleNone}
	if out.HTTPAddress == "" {
		out.HTTPAddress, _ = c.node.PeerHTTPAddr(c.node.ID())
	}
	switch {
	case self.Voter:
		out.Role = contract.RoleVoter
	default:
		// Self says "not a voter" both for an observer and for a node not
		// (yet, or any longer) in the membership: the members tell which.
		for _, m := range c.node.Members() {
			if m.NodeID == out.NodeID && (m.DirectoryID.IsZero() || dir.IsZero() || m.DirectoryID == dir) {
				out.Role = contract.RoleObserver
				if m.Voter {
					out.Role = contract.RoleVoter
				}
			}
		}
	}
	return out
}

// AddObserver adds req as an observer and answers the quorum once the
// change is applied here. Adding the same member again changes nothing.
func (c *Controller) AddObserver(ctx context.Context, req contract.QuorumMember) (contract.Quorum, error) {
	m, err := ParseQuorumMember(req)
	if err != nil {
		return contract.Quorum{}, err
	}
	if err := c.node.AddObserver(ctx, m); err != nil {
		return contract.Quorum{}, membershipError(err, m.NodeID)
	}
	return c.quorumAfterChange(ctx)
}

// PromoteVoter makes an observer a voter. The leader waits up to
// req.WaitMs (and at most ctx's deadline) for the observer's log to catch
// up, then NOT_CAUGHT_UP.
func (c *Controller) PromoteVoter(ctx context.Context, req contract.PromoteVoterRequest) (contract.Quorum, error) {
	if err := checkNodeID(`field "nodeId"`, req.NodeID); err != nil {
		return contract.Quorum{}, err
	}
	dir, err := parseDirectoryID(`field "directoryId"`, req.DirectoryID)
	if err != nil {
		return contract.Quorum{}, err
	}
	if req.WaitMs < 0 {
		return contract.Quorum{}, contract.Errorf(contract.CodeInvalidRequest, "field \"waitMs\" must be 0 or more, got %d", req.WaitMs)
	}
	// One context bounds both the wait for the observer and the change's
	// commit: the commit gets a grace beyond the caller's wait, and the
	// wait ends twice that before the request's deadline (the commit's
	// grace, then the answer's way back, through a follower that relays
	// it under the same deadline), so an observer that does not catch up
	// is answered NOT_CAUGHT_UP (nothing changed) rather than TIMEOUT.
	wait := time.Duration(min(req.WaitMs, int64(time.Hour/time.Millisecond))) * time.Millisecond
	if dl, ok := ctx.Deadline(); ok {
		wait = max(0, min(wait, time.Until(dl)-2*promoteCommitGrace))
	}
	pctx, cancel := context.WithTimeout(ctx, wait+promoteCommitGrace)
	defer cancel()
	if err := c.node.PromoteObserver(pctx, req.NodeID, dir); err != nil {
		return contract.Quorum{}, membershipError(err, req.NodeID)
	}
	return c.quorumAfterChange(ctx)
}

// RemoveMember removes voter or observer id (with directory id dir, ""
// for any). Removing this node, the leader, hands its leadership over
// and answers an error matching ErrLeadershipHandedOver: the removal is
// then to be run on the new leader.
func (c *Controller) RemoveMember(ctx context.Context, id uint64, dir string) (contract.Quorum, error) {
	if err := checkNodeID("the node id in the path", id); err != nil {
		return contract.Quorum{}, err
	}
	d, err := parseDirectoryID(`query parameter "directoryId"`, dir)
	if err != nil {
		return contract.Quorum{}, err
	}
	err = c.node.RemoveMember(ctx, id, d)
	if errors.Is(err, raftnode.ErrNotLeader) && id == c.node.ID() {
		return contract.Quorum{}, fmt.Errorf("%w: %w", ErrLeadershipHandedOver,
			contract.Errorf(contract.CodeNoLeader, "leader %d handed over its leadership to be removed; retry on the new leader", id))
	}
	if err != nil {
		return contract.Quorum{}, membershipError(err, id)
	}
	return c.quorumAfterChange(ctx)
}

// TransferLeader hands the leadership to voter req.NodeID (0: the most
// caught-up other voter) and returns once it leads.
func (c *Controller) TransferLeader(ctx context.Context, req contract.TransferLeaderRequest) error {
	if err := c.node.TransferLeadershipTo(ctx, req.NodeID); err != nil {
		return membershipError(err, req.NodeID)
	}
	return nil
}

// quorumDescribeTimeout bounds describing the quorum after a change.
const quorumDescribeTimeout = 2 * time.Second

// quorumAfterChange describes the quorum once a change is applied. The
// change may have used up the request's time (a promotion waits as long
// as it may), and failing now would answer TIMEOUT for a change that is
// done: the description gets a little time of its own.
func (c *Controller) quorumAfterChange(ctx context.Context) (contract.Quorum, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quorumDescribeTimeout)
	defer cancel()
	return c.Quorum(ctx)
}

// membershipError maps the node's membership errors to the contract's
// codes (id is the member the request named, for messages); others go
// through nodeError.
func membershipError(err error, id uint64) error {
	switch {
	case errors.Is(err, raftnode.ErrChangeInProgress):
		return contract.Errorf(contract.CodeMembershipChangeInProgress,
			"another quorum membership change is not applied yet; retry when it is")
	case errors.Is(err, raftnode.ErrUnknownMember):
		return contract.Errorf(contract.CodeMemberNotFound, "node %d (with that directory id) is not a quorum member", id)
	case errors.Is(err, raftnode.ErrMemberExists):
		return contract.Errorf(contract.CodeMemberExists,
			"node %d is already a quorum member with another directory id or role; remove it first", id)
	case errors.Is(err, raftnode.ErrNotCaughtUp):
		return contract.Errorf(contract.CodeNotCaughtUp,
			"node %d has not caught up with the leader's log; retry later or wait longer", id)
	case errors.Is(err, raftnode.ErrLastVoter):
		return contract.Errorf(contract.CodeLastVoter, "removing node %d would leave the quorum without a voter", id)
	}
	return nodeError(err)
}

// ParseQuorumMember validates a member to add and returns it as the raft
// node records it: a node id above 0, a directory id (GET /v1/node on
// the new node tells it), a peer address peers can dial, and an optional
// HTTP address of the same form.
func ParseQuorumMember(req contract.QuorumMember) (raftnode.Member, error) {
	if err := checkNodeID(`field "nodeId"`, req.NodeID); err != nil {
		return raftnode.Member{}, err
	}
	if req.DirectoryID == "" {
		return raftnode.Member{}, contract.Errorf(contract.CodeInvalidRequest,
			"field \"directoryId\" is required: GET /v1/node on the new node tells it")
	}
	dir, err := parseDirectoryID(`field "directoryId"`, req.DirectoryID)
	if err != nil {
		return raftnode.Member{}, err
	}
	if err := checkDialAddress(`field "peerAddress"`, req.PeerAddress, true); err != nil {
		return raftnode.Member{}, err
	}
	if err := checkDialAddress(`field "httpAddress"`, req.HTTPAddress, false); err != nil {
		return raftnode.Member{}, err
	}
	return raftnode.Member{NodeID: req.NodeID, DirectoryID: dir, PeerAddr: req.PeerAddress, HTTPAddr: req.HTTPAddress}, nil
}

// checkNodeID refuses node id 0, which raft reserves for "none".
func checkNodeID(what string, id uint64) error {
	if id == 0 {
		return contract.Errorf(contract.CodeInvalidRequest, "%s must be a node id of 1 or more", what)
	}
	return nil
}

func parseDirectoryID(what, s string) (storage.DirectoryID, error) {
	d, err := storage.ParseDirectoryID(s)
	if err != nil {
		return d, contract.Errorf(contract.CodeInvalidRequest, "%s must be 22 characters of base64url, got %q", what, clip(s))
	}
	return d, nil
}

// checkDialAddress checks that s (what, for messages) is host:port another node can dial: a
// port 1..65535 and a host that is not a wildcard address (a listener's
// 0.0.0.0 names no machine to dial). "" passes unless required.
func checkDialAddress(what, s string, required bool) error {
	if s == "" {
		if required {
			return contract.Errorf(contract.CodeInvalidRequest, "%s is required: host:port where peers reach the node", what)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return contract.Errorf(contract.CodeInvalidRequest, "%s must be host:port, got %q", what, clip(s))
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return contract.Errorf(contract.CodeInvalidRequest, "%s must have a port 1..65535, got %q", what, clip(s))
	}
	if host == "" {
		return contract.Errorf(contract.CodeInvalidRequest, "%s must name a host, got %q", what, clip(s))
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return contract.Errorf(contract.CodeInvalidRequest, "%s must be an address peers can dial, not the wildcard %q", what, clip(s))
	}
	return nil
}
