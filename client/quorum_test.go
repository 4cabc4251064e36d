package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestMembershipRetries: a membership change is sent without an
// Idempotency-Key; a removal or a transfer whose outcome is unknown (a
// 504) is not sent again and ends in ErrUnknownOutcome, while a
// promotion, harmless to repeat, is resent until answered. The server
// here answers 504 on purpose, which no real node does on demand.
func TestMembershipRetries(t *testing.T) {
	var (
		mu       sync.Mutex
		seen     []string
		promotes int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		key := r.Header.Get(contract.HeaderIdempotencyKey)
		first := r.URL.Path == "/v1/quorum/voters" && promotes == 0
		if r.URL.Path == "/v1/quorum/voters" {
			promotes++
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if key != "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(contract.ErrorBody{Error: contract.ErrorDetail{Code: contract.CodeInvalidRequest, Message: "unexpected key " + key}})
			return
		}
		if r.URL.Path == "/v1/quorum/voters" && !first {
			_ = json.NewEncoder(w).Encode(contract.Quorum{NodeID: 1, LeaderID: 1, Voters: []contract.Voter{{NodeID: 1}, {NodeID: 4}}})
			return
		}
		w.WriteHeader(http.StatusGatewayTimeout)
		_ = json.NewEncoder(w).Encode(contract.ErrorBody{Error: contract.ErrorDetail{Code: contract.CodeTimeout, Message: "not committed in time"}})
	}))
	defer srv.Close()
	cl, err := client.New(client.Config{Endpoints: []string{srv.URL}, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, _, err := cl.RemoveMember(ctx, 4, "AQEBAQEBAQEBAQEBAQEBAQ"); !errors.Is(err, client.ErrUnknownOutcome) || !errors.Is(err, client.ErrTimeout) {
		t.Errorf("RemoveMember after a 504: %v, want ErrUnknownOutcome", err)
	}
	if _, _, err := cl.TransferLeader(ctx, 0); !errors.Is(err, client.ErrUnknownOutcome) {
		t.Errorf("TransferLeader after a 504: %v, want ErrUnknownOutcome", err)
	}
	q, _, err := cl.PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: 4, WaitMs: 100})
	if err != nil || len(q.Voters) != 2 {
		t.Errorf("PromoteVoter after a 504: %+v, %v; want it resent and answered", q, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"DELETE /v1/quorum/members/4?directoryId=AQEBAQEBAQEBAQEBAQEBAQ", "POST /v1/quorum/leader", "POST /v1/quorum/voters", "POST /v1/quorum/voters"}
	if !slices.Equal(seen, want) {
		t.Errorf("requests %q, want %q", seen, want)
	}
}

// TestNodeAtAndRefusedMembers: NodeAt answers for the node asked, and a
// refused change is an *Error with its code, not retried.
func TestNodeAtAndRefusedMembers(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	c.MustLeader()
	cl := c.API()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, ep := range cl.Endpoints() {
		n, meta, err := cl.NodeAt(ctx, ep)
		if err != nil || n.NodeID != uint64(i+1) || meta.Node != n.NodeID || n.ClusterID != "testcluster" {
			t.Errorf("NodeAt(%s) = %+v, %+v, %v", ep, n, meta, err)
		}
	}
	bad := client.QuorumMember{NodeID: 4, DirectoryID: "short", PeerAddress: testcluster.ReserveAddr(t)}
	if _, _, err := cl.AddObserver(ctx, bad); !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("AddObserver(%+v): %v, want INVALID_REQUEST", bad, err)
	}
	if _, _, err := cl.RemoveMember(ctx, 0, ""); !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("RemoveMember(0): %v, want INVALID_REQUEST", err)
	}
}

// TestMembershipCalls goes through each call against a real cluster: an
// observer that never runs is added, refused promotion and removed, and
// the leadership moves. Needs the membership core.
func TestMembershipCalls(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	cl := c.API()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, meta, err := cl.Node(ctx)
	if err != nil || n.NodeID != meta.Node || n.Role != contract.RoleVoter || len(n.DirectoryID) != 22 {
		t.Fatalf("Node = %+v, %+v, %v", n, meta, err)
	}
	dir := storage.NewDirectoryID().String()
	m := client.QuorumMember{NodeID: 4, DirectoryID: dir, PeerAddress: testcluster.ReserveAddr(t)}
	q, _, err := cl.AddObserver(ctx, m)
	if err != nil || len(q.Observers) != 1 || q.Observers[0].NodeID != 4 || q.Observers[0].DirectoryID != dir {
		t.Fatalf("AddObserver = %+v, %v", q, err)
	}
	if _, _, err := cl.AddObserver(ctx, m); err != nil {
		t.Fatalf("AddObserver again: %v, want a no-op", err)
	}
	if _, _, err := cl.PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: 4, WaitMs: 200}); !errors.Is(err, client.ErrNotCaughtUp) {
		t.Fatalf("PromoteVoter of an observer that never ran: %v, want NOT_CAUGHT_UP", err)
	}
	if _, _, err := cl.RemoveMember(ctx, 5, ""); !errors.Is(err, client.ErrMemberNotFound) {
		t.Fatalf("RemoveMember(5): %v, want MEMBER_NOT_FOUND", err)
	}
	if q, _, err = cl.RemoveMember(ctx, 4, dir); err != nil || len(q.Observers) != 0 {
		t.Fatalf("RemoveMember(4) = %+v, %v", q, err)
	}
	q, meta, err = cl.TransferLeader(ctx, 0)
	if err != nil || q.LeaderID <= 0 || q.LeaderID == int64(lead) || meta.Leader != uint64(q.LeaderID) {
		t.Fatalf("TransferLeader(0) from %d = %+v, %+v, %v", lead, q, meta, err)
	}
}
