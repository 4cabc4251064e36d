package testcluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
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
