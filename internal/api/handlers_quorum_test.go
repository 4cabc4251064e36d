package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A relayed answer keeps this node's X-Yakt-Leader, except the answer to
// a membership change: that names the leader after the change, which
// this node may not have heard of yet.
func TestRelayLeaderHeaderOfMembershipChanges(t *testing.T) {
	ans := forwarded{status: http.StatusOK, header: http.Header{HeaderLeader: {"3"}, HeaderNode: {"2"}}, body: []byte("{}")}
	for _, tc := range []struct {
		moved bool
		want  string
	}{{false, "1"}, {true, "3"}} {
		w := httptest.NewRecorder()
		w.Header().Set(HeaderLeader, "1")
		w.Header().Set(HeaderNode, "1")
		ans.relay(w, tc.moved)
		if got := w.Header().Get(HeaderLeader); got != tc.want {
			t.Errorf("leader moved %v: X-Yakt-Leader %q, want %q", tc.moved, got, tc.want)
		}
		if got := w.Header().Get(HeaderNode); got != "1" {
			t.Errorf("X-Yakt-Node %q: must stay the relaying node's", got)
		}
	}
	for p := range membershipPatterns {
		found := false
		for _, rt := range routes {
			if rt.pattern == p {
				found = rt.write
			}
		}
		if !found {
			t.Errorf("membership pattern %q is not a write route", p)
		}
	}
}
