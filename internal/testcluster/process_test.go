package testcluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestKill9AllNodesDuringLoadLosesNoAcknowledgedWrite runs real `yakt
// server` processes, SIGKILLs all of them at a random moment of a write
// load, restarts them and checks every acknowledged write is there.
func TestKill9AllNodesDuringLoadLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	bin := testcluster.BuildYakt(t)
	p := testcluster.StartProcesses(t, bin, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var acked []string
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				id := p.IDs()[(w+i)%3]
				name := fmt.Sprintf("w%d-%d", w, i)
				resp, err := testcluster.Do(loadCtx, p.Client, p.URL(id), http.MethodPost, "/v1/topics", map[string]any{"name": name})
				if err == nil && resp.Status == http.StatusCreated {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	killAfter := 300*time.Millisecond + time.Duration(rng.Int64N(int64(1200*time.Millisecond)))
	timer := time.NewTimer(killAfter)
	<-timer.C
	p.KillAll()
	stopLoad()
	wg.Wait()
	mu.Lock()
	names := append([]string(nil), acked...)
	mu.Unlock()
	t.Logf("killed all nodes after %v with %d writes acknowledged", killAfter, len(names))
	if len(names) == 0 {
		t.Fatal("no write was acknowledged before the kill; the load did not run")
	}

	for _, id := range p.IDs() {
		p.Start(id)
	}
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		id := p.IDs()[i%3]
		resp, err := testcluster.Do(ctx, p.Client, p.URL(id), http.MethodGet, "/v1/topics/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusOK {
			t.Errorf("acknowledged topic %q lost after kill -9 of all nodes: node %d says %d %s", name, id, resp.Status, resp.Body)
		}
	}
}

// TestSIGTERMHandsLeadershipOver stops the leader with SIGTERM: it must
// hand leadership to a follower before exiting cleanly, so the survivors
// have a leader without waiting for an election timeout.
func TestSIGTERMHandsLeadershipOver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := testcluster.BuildYakt(t)
	// Election timeouts are drawn from [3s, 6s): if the survivors had to
	// wait for one, the 2.5 s deadline below would pass first.
	p := testcluster.StartProcesses(t, bin, 3, "--heartbeat-interval", "50ms", "--election-timeout", "3s")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var q struct {
		LeaderID uint64 `json:"leaderId"`
	}
	resp, err := testcluster.Do(ctx, p.Client, p.URL(1), http.MethodGet, "/v1/quorum?stale=true", nil)
	if err != nil || resp.JSON(&q) != nil || q.LeaderID == 0 {
		t.Fatalf("quorum: %v %v", err, resp)
	}
	lead := q.LeaderID
	if err := p.Terminate(lead); err != nil {
		t.Fatalf("leader exited uncleanly: %v", err)
	}
	if !strings.Contains(p.Log(lead), "handed leadership over before shutdown") {
		t.Fatalf("leader did not report a hand-over; log:\n%s", p.Log(lead))
	}
	other := p.IDs()[lead%3] // a survivor
	wctx, wcancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer wcancel()
	for {
		resp, err := testcluster.Do(wctx, p.Client, p.URL(other), http.MethodPost, "/v1/topics", map[string]any{"name": "after-sigterm"})
		if err == nil && resp.Status == http.StatusCreated {
			break
		}
		if wctx.Err() != nil {
			t.Fatalf("no write committed within 2.5 s of the leader's SIGTERM: %v %v", err, resp)
		}
		time.Sleep(5 * time.Millisecond) // retry pacing
	}
}
