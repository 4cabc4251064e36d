package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/raftnode"
)

// TestMembershipErrorCodes: each of the raft node's membership errors,
// wrapped as the node may wrap them, answers its contract code; the
// node's other errors keep the codes writes answer.
func TestMembershipErrorCodes(t *testing.T) {
	tests := []struct {
		err  error
		want contract.Code
	}{
		{raftnode.ErrChangeInProgress, contract.CodeMembershipChangeInProgress},
		{raftnode.ErrUnknownMember, contract.CodeMemberNotFound},
		{raftnode.ErrMemberExists, contract.CodeMemberExists},
		{raftnode.ErrNotCaughtUp, contract.CodeNotCaughtUp},
		{raftnode.ErrLastVoter, contract.CodeLastVoter},
		{raftnode.ErrNotLeader, contract.CodeNoLeader},
		{raftnode.ErrNoLeader, contract.CodeNoLeader},
		{raftnode.ErrStopped, contract.CodeNotReady},
		{context.DeadlineExceeded, contract.CodeTimeout},
		{errors.New("disk on fire"), contract.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("promote node 4: %w", tt.err)
			if got := CodeOf(membershipError(wrapped, 4)); got != tt.want {
				t.Errorf("code %s, want %s", got, tt.want)
			}
		})
	}
	// The statuses the codes answer with are part of the contract.
	for code, status := range map[contract.Code]int{
		contract.CodeMembershipChangeInProgress: 409, contract.CodeNotCaughtUp: 409, contract.CodeMemberNotFound: 404,
		contract.CodeMemberExists: 409, contract.CodeLastVoter: 409,
	} {
		if code.Status() != status {
			t.Errorf("%s answers %d, want %d", code, code.Status(), status)
		}
	}
}

// TestParseQuorumMember: what an added member must be, each refusal an
// INVALID_REQUEST naming the field.
func TestParseQuorumMember(t *testing.T) {
	const dir = "AQEBAQEBAQEBAQEBAQEBAQ"
	good := contract.QuorumMember{NodeID: 4, DirectoryID: dir, PeerAddress: "10.0.0.4:7001", HTTPAddress: "10.0.0.4:8001"}
	m, err := ParseQuorumMember(good)
	if err != nil {
		t.Fatal(err)
	}
	if m.NodeID != 4 || m.DirectoryID.String() != dir || m.PeerAddr != good.PeerAddress || m.HTTPAddr != good.HTTPAddress || m.Voter {
		t.Fatalf("parsed %+v from %+v", m, good)
	}
	for _, ok := range []string{"node-4.example:7001", "[::1]:7001", "127.0.0.1:1"} {
		req := good
		req.PeerAddress = ok
		if _, err := ParseQuorumMember(req); err != nil {
			t.Errorf("peer address %q refused: %v", ok, err)
		}
	}
	bad := []struct {
		name  string
		edit  func(*contract.QuorumMember)
		field string
	}{
		{"node id 0", func(m *contract.QuorumMember) { m.NodeID = 0 }, "nodeId"},
		{"no directory id", func(m *contract.QuorumMember) { m.DirectoryID = "" }, "directoryId"},
		{"short directory id", func(m *contract.QuorumMember) { m.DirectoryID = "AQEB" }, "directoryId"},
		{"directory id not base64url", func(m *contract.QuorumMember) { m.DirectoryID = "AQEBAQEBAQEBAQEBAQEB+Q" }, "directoryId"},
		{"no peer address", func(m *contract.QuorumMember) { m.PeerAddress = "" }, "peerAddress"},
		{"peer address without port", func(m *contract.QuorumMember) { m.PeerAddress = "10.0.0.4" }, "peerAddress"},
		{"peer address port 0", func(m *contract.QuorumMember) { m.PeerAddress = "10.0.0.4:0" }, "peerAddress"},
		{"peer address port too big", func(m *contract.QuorumMember) { m.PeerAddress = "10.0.0.4:70000" }, "peerAddress"},
		{"peer address without host", func(m *contract.QuorumMember) { m.PeerAddress = ":7001" }, "peerAddress"},
		{"peer address wildcard", func(m *contract.QuorumMember) { m.PeerAddress = "0.0.0.0:7001" }, "peerAddress"},
		{"peer address v6 wildcard", func(m *contract.QuorumMember) { m.PeerAddress = "[::]:7001" }, "peerAddress"},
		{"http address without port", func(m *contract.QuorumMember) { m.HTTPAddress = "http://10.0.0.4" }, "httpAddress"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.edit(&req)
			_, err := ParseQuorumMember(req)
			ce, ok := APIError(err)
			if !ok || ce.Code != contract.CodeInvalidRequest {
				t.Fatalf("%+v: %v, want INVALID_REQUEST", req, err)
			}
			if want := fmt.Sprintf("%q", tt.field); !strings.Contains(ce.Message, want) {
				t.Errorf("message %q does not name %s", ce.Message, want)
			}
		})
	}
}
