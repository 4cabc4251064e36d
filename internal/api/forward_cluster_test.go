package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

func followerOf(c *testcluster.Cluster, lead uint64) uint64 {
	for _, id := range c.IDs() {
		if id != lead && c.Server(id) != nil {
			return id
		}
	}
	return 0
}

// A follower that has a kept-alive connection to a leader that is then
// killed sends the next write to whichever node leads next, instead of
// failing on the dead connection or the refused dial.
func TestForwardAfterLeaderKilledReachesNewLeader(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{RequestTimeout: 15 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lead := c.MustLeader()
	f := followerOf(c, lead)
	resp, err := c.Do(ctx, f, http.MethodPost, "/v1/topics", map[string]any{"name": "before"})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("write through follower %d: %v %+v", f, err, resp)
	}

	c.Kill(lead)
	resp, err = c.Do(ctx, f, http.MethodPost, "/v1/topics", map[string]any{"name": "after"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusCreated {
		t.Fatalf("write through follower %d after leader %d was killed: %d %s", f, lead, resp.Status, resp.Body)
	}
	if got := resp.Header.Get("X-Yakt-Node"); got != fmt.Sprint(f) {
		t.Errorf("X-Yakt-Node = %q, want the follower %d", got, f)
	}
	if resp.Header.Get("X-Yakt-Offset") == "" {
		t.Error("no X-Yakt-Offset relayed from the leader")
	}
}

// A follower left alone (its leader and the third node dead) answers a
// write NO_LEADER by the request deadline instead of hanging on it.
func TestForwardWithoutQuorumAnswersNoLeaderByDeadline(t *testing.T) {
	const timeout = time.Second
	c := testcluster.New(t, testcluster.Options{RequestTimeout: timeout})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lead := c.MustLeader()
	f := followerOf(c, lead)
	for _, id := range c.IDs() {
		if id != f {
			c.Kill(id)
		}
	}
	start := time.Now()
	resp, err := c.Do(ctx, f, http.MethodPost, "/v1/topics", map[string]any{"name": "no-quorum"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "NO_LEADER" {
		t.Fatalf("write without a quorum: %d %s, want 503 NO_LEADER", resp.Status, resp.Body)
	}
	if took := time.Since(start); took > timeout+3*time.Second {
		t.Errorf("answered after %v, want by the %v request timeout", took, timeout)
	}
}
