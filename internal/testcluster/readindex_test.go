package testcluster_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestLostReadIndexIsRetried: a follower's read-index request lost on a
// broken link is asked again, so the linearizable read completes once the
// link heals rather than waiting out the request timeout.
func TestLostReadIndexIsRetried(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Network: true, RequestTimeout: time.Minute})
	lead := c.MustLeader()
	ok(c.NodeAPI(lead).CreateTopic(apiCtx(t), contract.CreateTopicRequest{Name: "a"})).must(t)
	f := c.IDs()[0]
	if f == lead {
		f = c.IDs()[1]
	}
	c.Net.OneWay(f, lead) // the follower's MsgReadIndex goes nowhere
	type answer struct {
		resp *testcluster.Response
		err  error
	}
	got := make(chan answer, 1)
	// Raw, one attempt: a client's retry would send a new read index and
	// hide a lost one that is never asked again.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		resp, err := c.Do(ctx, f, http.MethodGet, "/v1/topics/a", nil)
		got <- answer{resp, err}
	}()
	// Let the request reach the follower and its read index get lost.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testcluster.WaitFor(ctx, func() bool { return c.Net.LinkStats(f, lead).BytesBlackholed > 0 }); err != nil {
		t.Fatalf("nothing sent on the dropped link: %v", err)
	}
	c.Net.Heal(f, lead)
	select {
	case a := <-got:
		if a.err != nil || a.resp.Status != http.StatusOK {
			t.Fatalf("read after heal: %v %+v", a.err, a.resp)
		}
	case <-ctx.Done():
		t.Fatal("the read did not complete within 10 s of the heal (request timeout is 1 min): the lost read index was not asked again")
	}
}
