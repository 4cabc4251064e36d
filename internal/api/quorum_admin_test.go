package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/testcluster"
)

// quorumOf is node id's answer to GET /v1/quorum.
func quorumOf(t *testing.T, c *testcluster.Cluster, id uint64) contract.Quorum {
	t.Helper()
	var q contract.Quorum
	if err := c.Must(t, id, http.MethodGet, "/v1/quorum", nil, http.StatusOK, "").JSON(&q); err != nil {
		t.Fatal(err)
	}
	return q
}

func memberIDs(vs []contract.Voter) []uint64 {
	out := []uint64{}
	for _, v := range vs {
		out = append(out, v.NodeID)
	}
	return out
}

// TestQuorumAdminRefusesBadInput: every malformed membership request is
// 400 INVALID_REQUEST, through the leader and through a follower (which
// forwards it), and changes nothing; the routes answer other methods 405.
func TestQuorumAdminRefusesBadInput(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	before := quorumOf(t, c, lead)
	dir := storage.NewDirectoryID().String()
	peer := testcluster.ReserveAddr(t)
	bad := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 0, "directoryId": dir, "peerAddress": peer}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": -4, "directoryId": dir, "peerAddress": peer}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": "4", "directoryId": dir, "peerAddress": peer}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "peerAddress": peer}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "directoryId": "not-a-directory-id", "peerAddress": peer}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "directoryId": dir}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "directoryId": dir, "peerAddress": "no-port"}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "directoryId": dir, "peerAddress": "0.0.0.0:7004"}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "directoryId": dir, "peerAddress": peer, "httpAddress": "x"}},
		{"POST", "/v1/quorum/observers", map[string]any{"nodeId": 4, "directoryId": dir, "peerAddress": peer, "voter": true}},
		{"POST", "/v1/quorum/observers", "[]"},
		{"POST", "/v1/quorum/observers", ""},
		{"POST", "/v1/quorum/voters", map[string]any{"nodeId": 0}},
		{"POST", "/v1/quorum/voters", map[string]any{"nodeId": 2, "directoryId": "AQEB"}},
		{"POST", "/v1/quorum/voters", map[string]any{"nodeId": 2, "waitMs": -1}},
		{"POST", "/v1/quorum/voters", map[string]any{"nodeId": 2, "waitMs": 1.5}},
		{"POST", "/v1/quorum/leader", map[string]any{"nodeId": "2"}},
		{"POST", "/v1/quorum/leader", "null"},
		{"DELETE", "/v1/quorum/members/0", nil},
		{"DELETE", "/v1/quorum/members/abc", nil},
		{"DELETE", "/v1/quorum/members/-1", nil},
		{"DELETE", "/v1/quorum/members/18446744073709551616", nil},
		{"DELETE", "/v1/quorum/members/2?directoryId=AQEB", nil},
		{"DELETE", "/v1/quorum/members/2?directoryId=", nil},
		{"DELETE", "/v1/quorum/members/2?dirId=" + dir, nil},
		{"DELETE", "/v1/quorum/members/2?directoryId=" + dir + "&directoryId=" + dir, nil},
		{"GET", "/v1/node?stale=true", nil},
	}
	for _, id := range []uint64{lead, followerOf(c, lead)} {
		for _, b := range bad {
			resp := c.Must(t, id, b.method, b.path, b.body, http.StatusBadRequest, "INVALID_REQUEST")
			var eb contract.ErrorBody
			if err := resp.JSON(&eb); err != nil || eb.Error.Message == "" {
				t.Errorf("%s %s %v: no message in %s", b.method, b.path, b.body, resp.Body)
			}
		}
	}
	after := quorumOf(t, c, lead)
	if !slices.Equal(memberIDs(after.Voters), memberIDs(before.Voters)) || len(after.Observers) != 0 || after.LeaderID != before.LeaderID {
		t.Fatalf("refused requests changed the quorum: before %+v, after %+v", before, after)
	}

	for _, m := range []struct{ method, path, allow string }{
		{"GET", "/v1/quorum/members/2", "DELETE"},
		{"PUT", "/v1/quorum/observers", "POST"},
		{"GET", "/v1/quorum/voters", "POST"},
		{"DELETE", "/v1/quorum/leader", "POST"},
		{"POST", "/v1/node", "GET, HEAD"},
	} {
		resp := c.Must(t, lead, m.method, m.path, nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		if got := resp.Header.Get("Allow"); got != m.allow {
			t.Errorf("%s %s: Allow %q, want %q", m.method, m.path, got, m.allow)
		}
	}
	c.Must(t, lead, "DELETE", "/v1/quorum/members", nil, http.StatusNotFound, "NOT_FOUND")
}

// TestNodeIdentity: GET /v1/node tells who the answering node is, from
// its own state. Needs the membership core (directory ids and roles).
func TestNodeIdentity(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	c.MustLeader()
	dirs := map[string]bool{}
	for _, id := range c.IDs() {
		var n contract.NodeIdentity
		resp := c.Must(t, id, http.MethodGet, "/v1/node", nil, http.StatusOK, "")
		if err := resp.JSON(&n); err != nil {
			t.Fatal(err)
		}
		if n.NodeID != id || n.ClusterID != "testcluster" || n.PeerAddress == "" || n.HTTPAddress == "" || n.Role != contract.RoleVoter {
			t.Errorf("node %d: %+v", id, n)
		}
		if _, err := storage.ParseDirectoryID(n.DirectoryID); err != nil || len(n.DirectoryID) != 22 || dirs[n.DirectoryID] {
			t.Errorf("node %d: directory id %q (err %v), seen before %v", id, n.DirectoryID, err, dirs[n.DirectoryID])
		}
		dirs[n.DirectoryID] = true
	}
}

// TestQuorumMembershipChanges walks a 3-node cluster through each change
// and its refusals: an observer (one that never runs, so it never
// catches up) is added, added again, refused promotion and removed; the
// leadership moves to a named voter; the leader is removed by asking it
// (the removal runs on the next leader without the caller retrying);
// then a follower; and the last voter cannot be removed. Needs the
// membership core.
func TestQuorumMembershipChanges(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 10 * time.Second})
	lead := c.MustLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitDirectoryIDs(ctx); err != nil {
		t.Fatal(err)
	}
	f := followerOf(c, lead)
	dir := storage.NewDirectoryID().String()
	peer := testcluster.ReserveAddr(t)
	obs := map[string]any{"nodeId": 4, "directoryId": dir, "peerAddress": peer}

	var q contract.Quorum
	if err := c.Must(t, f, "POST", "/v1/quorum/observers", obs, http.StatusOK, "").JSON(&q); err != nil {
		t.Fatal(err)
	}
	if len(q.Observers) != 1 || q.Observers[0].NodeID != 4 || q.Observers[0].DirectoryID != dir || q.Observers[0].PeerAddress != peer ||
		!slices.Equal(memberIDs(q.Voters), []uint64{1, 2, 3}) || q.Stale {
		t.Fatalf("after adding observer 4 through follower %d: %+v", f, q)
	}
	for _, v := range q.Voters {
		if len(v.DirectoryID) != 22 {
			t.Errorf("voter %d has directory id %q", v.NodeID, v.DirectoryID)
		}
	}
	c.Must(t, lead, "POST", "/v1/quorum/observers", obs, http.StatusOK, "") // the same member again: a no-op
	other := map[string]any{"nodeId": 4, "directoryId": storage.NewDirectoryID().String(), "peerAddress": peer}
	c.Must(t, lead, "POST", "/v1/quorum/observers", other, http.StatusConflict, "MEMBER_EXISTS")
	voter2 := map[string]any{"nodeId": 2, "directoryId": storage.NewDirectoryID().String(), "peerAddress": peer}
	c.Must(t, lead, "POST", "/v1/quorum/observers", voter2, http.StatusConflict, "MEMBER_EXISTS")

	start := time.Now()
	c.Must(t, f, "POST", "/v1/quorum/voters", map[string]any{"nodeId": 4, "waitMs": 300}, http.StatusConflict, "NOT_CAUGHT_UP")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("NOT_CAUGHT_UP after %v for a 300 ms wait", took)
	}
	c.Must(t, lead, "POST", "/v1/quorum/voters", map[string]any{"nodeId": 5}, http.StatusNotFound, "MEMBER_NOT_FOUND")
	if q := quorumOf(t, c, lead); len(q.Observers) != 1 || len(q.Voters) != 3 {
		t.Fatalf("a refused promotion changed the quorum: %+v", q)
	}
	c.Must(t, lead, "DELETE", "/v1/quorum/members/4?directoryId="+storage.NewDirectoryID().String(), nil, http.StatusNotFound, "MEMBER_NOT_FOUND")
	c.Must(t, lead, "DELETE", "/v1/quorum/members/99", nil, http.StatusNotFound, "MEMBER_NOT_FOUND")
	if err := c.Must(t, f, "DELETE", "/v1/quorum/members/4?directoryId="+dir, nil, http.StatusOK, "").JSON(&q); err != nil {
		t.Fatal(err)
	}
	if len(q.Observers) != 0 || len(q.Voters) != 3 {
		t.Fatalf("after removing observer 4: %+v", q)
	}

	// Move the leadership to a named follower, asking the other one.
	to := f
	via := uint64(0)
	for _, id := range c.IDs() {
		if id != lead && id != to {
			via = id
		}
	}
	resp := c.Must(t, via, "POST", "/v1/quorum/leader", map[string]any{"nodeId": to}, http.StatusOK, "")
	if err := resp.JSON(&q); err != nil {
		t.Fatal(err)
	}
	if q.LeaderID != int64(to) || resp.Header.Get("X-Yakt-Leader") != strconv.FormatUint(to, 10) {
		t.Fatalf("transfer to %d: leader %d, X-Yakt-Leader %q", to, q.LeaderID, resp.Header.Get("X-Yakt-Leader"))
	}
	lead = to

	// Remove the leader by asking it.
	if err := c.Must(t, lead, "DELETE", fmt.Sprintf("/v1/quorum/members/%d", lead), nil, http.StatusOK, "").JSON(&q); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(memberIDs(q.Voters), lead) || len(q.Voters) != 2 || q.LeaderID == int64(lead) || q.LeaderID <= 0 {
		t.Fatalf("after removing leader %d: %+v", lead, q)
	}
	lead = uint64(q.LeaderID)
	var rest uint64
	for _, v := range q.Voters {
		if v.NodeID != lead {
			rest = v.NodeID
		}
	}
	c.Must(t, lead, "DELETE", fmt.Sprintf("/v1/quorum/members/%d", rest), nil, http.StatusOK, "")
	c.Must(t, lead, "DELETE", fmt.Sprintf("/v1/quorum/members/%d", lead), nil, http.StatusConflict, "LAST_VOTER")
	q = quorumOf(t, c, lead)
	if !slices.Equal(memberIDs(q.Voters), []uint64{lead}) {
		t.Fatalf("one voter should be left, %d: %+v", lead, q)
	}
	// The one-voter cluster still takes writes.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := c.Do(ctx, lead, "POST", "/v1/topics", map[string]any{"name": "after-shrinking"})
	if err != nil || w.Status != http.StatusCreated {
		t.Fatalf("write on the one-voter cluster: %v %+v", err, w)
	}
}
