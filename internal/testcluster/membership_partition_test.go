package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/testcluster"
)

// isolatePromotion adds node 4 (a spare) as an observer, cuts it off
// from every peer with the fault network, and moves the log more than
// the promotion threshold ahead of it: a promotion asked without waiting
// is refused with NOT_CAUGHT_UP, one asked to wait is still waiting while
// the cluster commits more, and succeeds once the network heals. Every
// member then reports the four voters.
func isolatePromotion(ctx context.Context, r *faultRun) {
	t, c := r.t, r.c
	const id = 4
	sctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c.StartJoining(id)
	api := c.API()
	if err := testcluster.WaitFor(sctx, func() bool {
		q, err := api.Quorum(sctx)
		return err == nil && slices.ContainsFunc(q.Observers, func(v client.Voter) bool { return v.NodeID == id })
	}); err != nil {
		t.Fatalf("node %d never became an observer: %v", id, err)
	}
	c.Net.Isolate(id)
	r.acks.Fault("isolate the new observer during its promotion")
	r.faults.Blackholes++

	// behind is how far the observer's log is behind the leader's commit,
	// in the leader's view (its progress stays where the cut left it).
	behind := func() int64 {
		q, err := api.Quorum(sctx)
		if err != nil {
			return -1
		}
		for _, v := range q.Observers {
			if v.NodeID == id && v.LogEndOffset != nil {
				return q.HighWatermark - *v.LogEndOffset
			}
		}
		return -1
	}
	writeUntil := func(cond func() bool) error {
		wctx, stop := context.WithCancel(sctx)
		var wg sync.WaitGroup
		defer func() { stop(); wg.Wait() }()
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lead := uint64(1 + w%3)
				for n := 0; wctx.Err() == nil; n++ {
					_, _ = c.Do(wctx, lead, http.MethodPatch, fmt.Sprintf("/v1/brokers/%d", 101+w%2),
						map[string]any{"brokerHost": fmt.Sprintf("cut-%d-%d", w, n)})
				}
			}()
		}
		return testcluster.WaitFor(sctx, cond)
	}
	var lag int64
	if err := writeUntil(func() bool { lag = behind(); return lag > raftnode.PromoteLagEntries+100 }); err != nil {
		t.Fatalf("the cut-off observer never fell %d entries behind (%d): %v", raftnode.PromoteLagEntries, lag, err)
	}
	if _, _, err := api.PromoteVoter(sctx, client.PromoteVoterRequest{NodeID: id, WaitMs: 300}); !errors.Is(err, client.ErrNotCaughtUp) {
		t.Fatalf("promoting the cut-off observer %d entries behind: %v, want NOT_CAUGHT_UP", lag, err)
	}

	// A promotion that may wait does, while the cut lasts: it answers
	// only when the cut heals or its window ends. The window is bounded
	// by the server's request timeout (the cluster's default 5 s, less
	// the commit's grace), which on a loaded machine can end before the
	// writes below are done: then it must have waited that window out and
	// answered NOT_CAUGHT_UP, and the promotion is asked again after the
	// heal.
	type answer struct {
		err     error
		elapsed time.Duration
	}
	promote := func() <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			start := time.Now()
			_, _, err := api.PromoteVoter(sctx, client.PromoteVoterRequest{NodeID: id, WaitMs: 30_000})
			ch <- answer{err, time.Since(start)}
		}()
		return ch
	}
	promoted := promote()
	hw := func() int64 {
		q, err := api.Quorum(sctx)
		if err != nil {
			return -1
		}
		return q.HighWatermark
	}
	from := hw()
	var early *answer
	if err := writeUntil(func() bool {
		select {
		case a := <-promoted:
			early = &a
		default:
		}
		return early != nil || hw() > from+200
	}); err != nil {
		t.Fatalf("the cluster stopped committing while the observer was cut off: %v", err)
	}
	if early == nil {
		select {
		case a := <-promoted:
			early = &a
		default:
		}
	}
	const minWindow = 2 * time.Second // 5 s request timeout, less twice the 1 s commit grace, less slack
	if early != nil {
		if !errors.Is(early.err, client.ErrNotCaughtUp) || early.elapsed < minWindow {
			t.Fatalf("the promotion of the cut-off observer answered after %v, before the cut healed: %v (want NOT_CAUGHT_UP, and only after waiting at least %v)",
				early.elapsed, early.err, minWindow)
		}
		t.Logf("the promotion waited %v, its whole window, and answered NOT_CAUGHT_UP; asking again after the heal", early.elapsed)
	}
	c.Net.HealAll()
	for {
		if early != nil {
			promoted = promote()
		}
		a := <-promoted
		if a.err == nil {
			break
		}
		if !errors.Is(a.err, client.ErrNotCaughtUp) || sctx.Err() != nil {
			t.Fatalf("promote the observer after the cut healed: %v", a.err)
		}
		early = &a // still catching up: its window ended first; again
	}
	// Every member's own view converges on the four voters.
	var views []string
	if err := testcluster.WaitFor(sctx, func() bool {
		views = views[:0]
		for _, n := range c.IDs() {
			q, _, err := c.API().QuorumAt(sctx, c.URL(n))
			if err != nil {
				views = append(views, fmt.Sprintf("%d: %v", n, err))
				continue
			}
			views = append(views, fmt.Sprintf("%d: voters %v observers %v", n, voterIDs(q.Voters), voterIDs(q.Observers)))
			if !slices.Equal(voterIDs(q.Voters), []uint64{1, 2, 3, 4}) || len(q.Observers) != 0 {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("the members never agreed on voters 1-4: %v; %v", err, views)
	}
}

func voterIDs(vs []client.Voter) []uint64 {
	var out []uint64
	for _, v := range vs {
		out = append(out, v.NodeID)
	}
	slices.Sort(out)
	return out
}

// TestPromotionWaitsOutAPartition runs isolatePromotion under the checked
// workload, in process: cutting one node off from all its peers takes
// the fault network, which the processes lack (there the new node is
// frozen instead, see TestMembershipChangesOnProcessesUnderWorkload).
func TestPromotionWaitsOutAPartition(t *testing.T) {
	seed := baseSeed(t) + 400
	size := runSize{Min: 3 * time.Second, Max: 40 * time.Second, Target: 1500, Definite: 300, Writes: 100}
	runFaults(t, "promotion-partition", seed, 3, size, isolatePromotion,
		testcluster.Options{Network: true, NetworkSeed: seed, Spares: 1})
}
