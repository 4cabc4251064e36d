package testcluster_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestObserverServesReads: a node that joined as an observer (it never
// votes) answers linearizable reads and metadata fetches itself, and
// forwards writes to the leader, so brokers can be spread over more
// nodes than the voters. With TLS the node joins over HTTPS with its
// node certificate, and the clients are admin over HTTPS.
func TestObserverServesReads(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) { observerServesReads(t, secure) })
	}
}

func observerServesReads(t *testing.T, secure bool) {
	c := testcluster.New(t, testcluster.Options{TLS: secure})
	c.MustLeader()
	ctx := ctxFor(t, 60*time.Second)
	c.AddNode(4)
	c.StartJoining(4)
	if err := testcluster.WaitFor(ctx, func() bool {
		q, err := c.API().Quorum(ctx)
		return err == nil && slices.ContainsFunc(q.Observers, func(v client.Voter) bool { return v.NodeID == 4 })
	}); err != nil {
		t.Fatalf("node 4 never became an observer: %v", err)
	}
	obs := c.NodeAPI(4)
	if _, _, err := obs.CreateTopic(ctx, client.CreateTopicRequest{Name: "through-the-observer"}); err != nil {
		t.Fatalf("a write sent to the observer: %v", err)
	}
	// Read at once on the observer: linearizable, so the write is there.
	if _, err := obs.Topic(ctx, "through-the-observer"); err != nil {
		t.Fatalf("read on the observer: %v", err)
	}
	resp, err := c.Do(ctx, 4, http.MethodGet, "/v1/metadata?offset=0", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("metadata fetch on the observer: %v %+v", err, resp)
	}
	if s := c.Server(4); s.Node.Self().Voter || s.Node.IsLeader() {
		t.Fatal("the observer votes or leads")
	}
}
