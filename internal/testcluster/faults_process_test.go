package testcluster_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/lincheck"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// processFaults runs the workload against real `yakt server` processes
// while nodes — the leader half the time — are killed with SIGKILL and
// frozen with SIGSTOP, and checks the history, the invariants, the gate
// and that the faults replaced leaders. It returns the definite answers
// checked.
func processFaults(t *testing.T, name string, seed int64, nodes int, size runSize) int {
	t.Logf("%s: schedule seed %d", name, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	// The in-process schedules' election timeout (see faultTick).
	election := faultTick * faultElectionTicks
	p := testcluster.StartProcesses(t, testcluster.BuildYakt(t), nodes, "--broker-session-timeout", "1h",
		"--heartbeat-interval", faultTick.String(), "--election-timeout", election.String())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	acks := testcluster.NewAcks()
	setupFixtures(t, p.Client, p.URL(1)) // followers forward to the leader
	w := &testcluster.Workload{
		Targets:   p.URLs,
		PIDBroker: pidBroker, EpochTopic: epochsTopic, MoveBroker: moveBroker,
		Seed: seed, History: lincheck.NewRecorder(), Acks: acks,
	}
	mon := p.StartMonitor(epochsTopic)

	t.Cleanup(func() { mon.Stop() }) // when a fault step fails the test
	runCtx := runLength(t, w, size)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(runCtx) }()
	pace := func(lo, hi time.Duration) bool { return testcluster.PaceBetween(runCtx, rng, lo, hi) }
	var faults testcluster.FaultCounts
	// Membership changes are among the faults: a follower loses its disk
	// and is replaced (removed, rejoined with --join as a new member,
	// promoted) while the workload runs — once at a random early step,
	// then at most once more.
	members := &memberOps{t: t, p: p, rng: rng, acks: acks, members: map[uint64]bool{}}
	for _, id := range p.IDs() {
		members.members[id] = true
	}
	api := members.api()
	replaceAt, replaced := 1+rng.IntN(4), 0
	for step := 1; pace(300*time.Millisecond, 900*time.Millisecond); step++ {
		if step == replaceAt || (replaced == 1 && rng.IntN(8) == 0) {
			replaced++
			start := time.Now()
			f := members.replace(members.ctx(), api, false, false)
			acks.Fault("replace a wiped follower")
			t.Logf("step %d: replaced wiped node %d in %v", step, f, time.Since(start).Round(time.Millisecond))
			continue
		}
		id, lead := p.IDs()[rng.IntN(nodes)], false
		if rng.IntN(2) == 0 {
			if l := processLeaderNow(runCtx, p); l != 0 {
				id, lead = l, true
			}
		}
		kind := "random node"
		if lead {
			kind = "leader"
		}
		if rng.IntN(2) == 0 {
			p.Kill9(id)
			acks.Fault("kill -9 " + kind)
			if lead {
				faults.LeaderEnding++
			}
			pace(100*time.Millisecond, 600*time.Millisecond)
			p.Start(id)
		} else {
			p.Pause(id)
			acks.Fault("SIGSTOP " + kind)
			// A leader is frozen for several election timeouts, so the
			// others replace it; a random node for any time.
			lo, hi := 200*time.Millisecond, 1500*time.Millisecond
			if lead {
				lo, hi = 3*election, 5*election
			}
			if pace(lo, hi) && lead {
				faults.LeaderEnding++
			}
			p.Resume(id)
		}
	}
	<-done

	for _, id := range p.IDs() {
		p.Resume(id)
		if !p.Running(id) {
			p.Start(id)
		}
	}
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	lead := processLeader(t, p)
	views, blocks := processViews(t, p, lead)
	n := checkRun(t, w, mon, views, blocks, p.URL(lead), name, seed, size)
	proveFaults(t, seed, faults, testcluster.Evidence{Elections: mon.Elections()})
	return n
}

// processLeaderNow is the node that says it leads, asked through a random
// running node's view (0 if none is known within a second).
func processLeaderNow(ctx context.Context, p *testcluster.Processes) uint64 {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	leaderOf := func(id uint64) uint64 {
		resp, err := testcluster.Do(ctx, p.Client, p.URL(id), http.MethodGet, "/v1/quorum?stale=true", nil)
		var q struct {
			LeaderID uint64 `json:"leaderId"`
		}
		if err != nil || resp.Status != http.StatusOK || resp.JSON(&q) != nil {
			return 0
		}
		return q.LeaderID
	}
	for _, id := range p.IDs() {
		if !p.Running(id) {
			continue
		}
		if l := leaderOf(id); l != 0 && p.Running(l) && leaderOf(l) == l {
			return l
		}
	}
	return 0
}

func processLeader(t *testing.T, p *testcluster.Processes) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var lead uint64
	err := testcluster.WaitFor(ctx, func() bool {
		resp, err := testcluster.Do(ctx, p.Client, p.URL(1), http.MethodGet, "/v1/quorum", nil)
		var q struct {
			LeaderID uint64 `json:"leaderId"`
		}
		if err != nil || resp.Status != http.StatusOK || resp.JSON(&q) != nil {
			return false
		}
		lead = q.LeaderID
		return lead != 0
	})
	if err != nil {
		t.Fatalf("no leader after healing: %v", err)
	}
	return lead
}

// processViews reads every node's whole state once all have applied the
// same offset, and the producer-id blocks from the leader.
func processViews(t *testing.T, p *testcluster.Processes, lead uint64) (map[uint64][]byte, [][2]int64) {
	t.Helper()
	return processViewsOf(t, p, p.IDs(), lead)
}

// processViewsOf is processViews over the given members only.
func processViewsOf(t *testing.T, p *testcluster.Processes, members []uint64, lead uint64) (map[uint64][]byte, [][2]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	views := map[uint64][]byte{}
	err := testcluster.WaitFor(ctx, func() bool {
		offsets := map[int64]bool{}
		for _, id := range members {
			resp, err := testcluster.Do(ctx, p.Client, p.URL(id), http.MethodGet, "/v1/metadata", nil)
			var m struct {
				Snapshot json.RawMessage `json:"snapshot"`
				HW       int64           `json:"highWatermark"`
			}
			if err != nil || resp.Status != http.StatusOK || resp.JSON(&m) != nil {
				return false
			}
			views[id], offsets[m.HW] = m.Snapshot, true
		}
		return len(offsets) == 1
	})
	if err != nil {
		t.Fatalf("nodes do not converge: %v", err)
	}
	resp, err := testcluster.Do(ctx, p.Client, p.URL(lead), http.MethodPost, "/v1/metadata/fetch", map[string]any{"brokerId": pidBroker})
	var f struct {
		Snapshot struct {
			ProducerIDs struct {
				Blocks []struct {
					ProducerID int64 `json:"producerId"`
				} `json:"blocks"`
			} `json:"producerIds"`
		} `json:"snapshot"`
	}
	if err != nil || resp.Status != http.StatusOK || resp.JSON(&f) != nil {
		t.Fatalf("fetch producer ids: %v %+v", err, resp)
	}
	var blocks [][2]int64
	for _, b := range f.Snapshot.ProducerIDs.Blocks {
		blocks = append(blocks, [2]int64{b.ProducerID, metadata.ProducerIDBlockSize})
	}
	return views, blocks
}

// processRun is the process schedule's size: the same gate as each
// in-process schedule.
var processRun = ciRun

func TestLinearizableProcessesUnderKill9AndSIGSTOP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	processFaults(t, "kill9-sigstop", baseSeed(t)+100, 3, processRun)
}
