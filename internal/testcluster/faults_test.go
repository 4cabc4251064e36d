package testcluster_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/yakt/yakt/internal/lincheck"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

var (
	seedFlag = flag.Int64("seed", 0, "seed of the fault schedules (0: a new one; the test prints it)")
	soakFlag = flag.Duration("soak", 0, "run TestSoak for this long on 5 nodes (0: skip it)")
)

// baseSeed is the seed every schedule of the test derives its own from;
// it prints how to replay them.
func baseSeed(t *testing.T) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	t.Logf("base seed %d (replay: go test ./internal/testcluster -run '^%s$' -seed %d)", seed, t.Name(), seed)
	return seed
}

// faultRun is one workload under one fault schedule on an in-process
// cluster.
type faultRun struct {
	t      *testing.T
	c      *testcluster.Cluster
	rng    *rand.Rand
	acks   *testcluster.Acks
	faults testcluster.FaultCounts // what must leave a trace; see proveFaults
}

// fault notes one injected fault of kind; leaderEnding says it ended the
// leader's leadership (see testcluster.FaultCounts).
func (r *faultRun) fault(kind string, leaderEnding bool) {
	r.acks.Fault(kind)
	if leaderEnding {
		r.faults.LeaderEnding++
	}
}

// powerCut cuts node id's power, tearing its last unsynced write half the
// time, and notes whether the cut discarded anything.
func (r *faultRun) powerCut(id uint64) {
	r.c.PowerCut(id, r.rng.IntN(2) == 0, r.rng)
	r.faults.PowerCuts++
	if lost := r.c.Disk(id).Lost(); lost.Writes+lost.Names > 0 {
		r.faults.PowerCutsLost++
	}
}

const (
	pidBroker   = 100
	moveBroker  = 103
	epochsTopic = "epochs"
)

// setupFixtures registers, through base, the brokers the workload leaves
// alone (producer ids are allocated to pidBroker) and the topic whose
// partition epochs the monitor watches.
func setupFixtures(t *testing.T, client *http.Client, base string) {
	t.Helper()
	post := func(path string, body any) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := testcluster.Do(ctx, client, base, http.MethodPost, path, body)
		if err != nil || resp.Status != http.StatusCreated {
			t.Fatalf("POST %s: %v %+v", path, err, resp)
		}
	}
	for id := int32(pidBroker); id <= moveBroker; id++ {
		post("/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "fixed", "brokerPort": "9092", "securityProtocol": "PLAINTEXT", "rackId": "r1"})
	}
	post("/v1/topics", map[string]any{"name": epochsTopic, "partitions": 4, "replicationFactor": 2})
}

// healAndCheck restarts every node, waits for convergence and checks the
// invariants, the history, the gate and that the faults took effect. It
// returns the number of definite answers checked.
func (r *faultRun) healAndCheck(w *testcluster.Workload, mon *testcluster.Monitor, name string, seed int64, size runSize) int {
	for _, id := range r.c.IDs() {
		if r.c.Server(id) == nil {
			r.c.Start(id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.c.WaitConverged(ctx); err != nil {
		r.t.Fatalf("seed %d: no convergence after healing: %v", seed, err)
	}
	lead := r.c.MustLeader()
	// A new leader's first entry may still be committing: give the views
	// a moment to agree; checkRun reports them if they never do.
	views := map[uint64][]byte{}
	_ = testcluster.WaitFor(ctx, func() bool {
		same := true
		for _, id := range r.c.IDs() {
			b, err := json.Marshal(r.c.Server(id).State.Image().View(true))
			if err != nil {
				r.t.Fatal(err)
			}
			views[id] = b
			same = same && string(b) == string(views[1])
		}
		return same
	})
	var blocks [][2]int64
	for _, b := range r.c.Server(lead).State.Image().ProducerIDs().Blocks {
		blocks = append(blocks, [2]int64{b.ProducerID, metadata.ProducerIDBlockSize})
	}
	n := checkRun(r.t, w, mon, views, blocks, r.c.URL(lead), name, seed, size)
	proveFaults(r.t, seed, r.faults, testcluster.Evidence{Elections: mon.Elections(), Links: testcluster.NetworkEvidence(r.c.Net)})
	return n
}

// proveFaults fails the test unless every fault of the schedule left its
// trace (see testcluster.ProveFaults).
func proveFaults(t *testing.T, seed int64, f testcluster.FaultCounts, e testcluster.Evidence) {
	t.Helper()
	t.Logf("fault proof: %+v; %d elections observed", f, e.Elections)
	for _, b := range testcluster.ProveFaults(f, e) {
		t.Errorf("seed %d: a fault did not take effect: %s", seed, b)
	}
}

// checkRun checks what must hold after a run: every node's state equal,
// acknowledged producer-id blocks present and disjoint, no violation seen
// by the monitor, no unexpected answer, a linearizable history (including
// a final read of every key through lead), and the gate: at least
// size.Definite definite answers, size.Writes of them acknowledged writes.
// It returns the number of definite answers.
func checkRun(t *testing.T, w *testcluster.Workload, mon *testcluster.Monitor,
	views map[uint64][]byte, blocks [][2]int64, lead, name string, seed int64, size runSize) int {
	t.Helper()
	acks := w.Acks
	violations, polls := mon.Stop()
	// Compared with the lowest id's: node 1 may have been removed.
	first := slices.Min(slices.Collect(maps.Keys(views)))
	for id, v := range views {
		if string(v) != string(views[first]) {
			violations = append(violations, fmt.Sprintf("node %d's state differs from node %d's:\n%s\n---\n%s", id, first, v, views[first]))
		}
	}
	violations = append(violations, testcluster.CheckProducerIDBlocks(acks.PIDBlocks, blocks)...)
	violations = append(violations, acks.Errors...)

	// The gate counts what the faults ran against, not the final reads.
	definite, writes := definiteAnswers(w), acks.Acknowledged()
	w.FinalReads(lead)
	stats := w.History.Stats()
	res, err := w.History.Check(2*time.Minute, visualizationPath(t, name, seed))
	t.Logf("%s (seed %d): %s; porcupine %s; %d acknowledged writes; faults %v; %d monitor observations, %d terms",
		name, seed, stats, res, acks.Writes, acks.Faults, polls, mon.Terms())
	if err != nil {
		t.Errorf("seed %d: %v", seed, err)
	}
	for _, v := range violations {
		t.Errorf("seed %d: invariant violated: %s", seed, v)
	}
	if definite < size.Definite || writes < size.Writes {
		t.Errorf("seed %d: the run checked too little: %d definite answers (want %d), %d of them acknowledged writes (want %d)",
			seed, definite, size.Definite, writes, size.Writes)
	}
	return definite
}

// definiteAnswers counts the calls recorded with a definite answer: an
// unknown outcome constrains nothing, so it proves nothing either.
func definiteAnswers(w *testcluster.Workload) int {
	st := w.History.Stats()
	return st.Ops - st.Unknown
}

// visualizationPath is where porcupine's HTML goes on a failure: beside
// the test output, in lincheck-out/ of this package (git-ignored).
func visualizationPath(t *testing.T, name string, seed int64) string {
	dir, err := filepath.Abs("lincheck-out")
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Logf("no directory for the visualization: %v", err)
		return ""
	}
	return filepath.Join(dir, fmt.Sprintf("%s-seed%d.html", strings.ReplaceAll(name, "/", "_"), seed))
}

// nemesis injects faults on the test goroutine until ctx ends.
type nemesis func(ctx context.Context, r *faultRun)

// pause waits a random time in [lo, hi): the pace of a fault schedule.
func (r *faultRun) pause(ctx context.Context, lo, hi time.Duration) bool {
	return testcluster.PaceBetween(ctx, r.rng, lo, hi)
}

// leaderOrAny is the current leader (lead true), or a random node when
// none is agreed.
func (r *faultRun) leaderOrAny(ctx context.Context) (id uint64, lead bool) {
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if id, err := r.c.Leader(lctx); err == nil {
		return id, true
	}
	ids := r.c.IDs()
	return ids[r.rng.IntN(len(ids))], false
}

// cutOff waits long enough for a leader cut off from the majority to be
// replaced: several election timeouts. It reports whether it waited that
// long (ctx may end first).
func (r *faultRun) cutOff(ctx context.Context) bool {
	e := r.c.ElectionTimeout()
	return r.pause(ctx, 3*e, 5*e)
}

// crashLeader kills the leader (or a random node), then restarts it.
func crashLeader(ctx context.Context, r *faultRun) {
	for r.pause(ctx, 300*time.Millisecond, 900*time.Millisecond) {
		id, lead := r.leaderOrAny(ctx)
		r.c.Kill(id)
		r.fault("crash", lead)
		r.pause(ctx, 100*time.Millisecond, 700*time.Millisecond)
		r.c.Start(id)
	}
}

// others are the ids other than id.
func (r *faultRun) others(id uint64) []uint64 {
	var out []uint64
	for _, o := range r.c.IDs() {
		if o != id {
			out = append(out, o)
		}
	}
	return out
}

// powerCuts cuts the power of the leader, a random node or the whole
// cluster: every write not fsynced is lost (the last one sometimes torn),
// then the nodes restart from what their disks kept.
func powerCuts(ctx context.Context, r *faultRun) {
	// Cuts come under a steady write load: some must hit a write before
	// its fsync, or they tested nothing a crash does not.
	r.faults.RequirePowerCutLoss = true
	for r.pause(ctx, 300*time.Millisecond, 900*time.Millisecond) {
		var ids []uint64
		switch r.rng.IntN(3) {
		case 0:
			id, lead := r.leaderOrAny(ctx)
			ids = []uint64{id}
			r.fault("power cut: leader", lead)
		case 1:
			ids = []uint64{r.c.IDs()[r.rng.IntN(len(r.c.IDs()))]}
			r.fault("power cut: random node", false)
		case 2:
			ids = r.c.IDs()
			r.fault("power cut: whole cluster", true)
		}
		for _, id := range ids {
			r.powerCut(id)
		}
		r.pause(ctx, 50*time.Millisecond, 500*time.Millisecond)
		for _, id := range ids {
			r.c.Start(id)
		}
	}
}

// partitions cuts the network in one of several shapes around the leader
// for several election timeouts, then heals it.
func partitions(ctx context.Context, r *faultRun) {
	for r.pause(ctx, 200*time.Millisecond, 700*time.Millisecond) {
		lead, known := r.leaderOrAny(ctx)
		rest := r.others(lead)
		f := rest[r.rng.IntN(len(rest))]
		kind, ending := "", false // ending: the leader loses the majority
		switch r.rng.IntN(5) {
		case 0:
			r.c.Net.Isolate(lead)
			kind, ending = "isolate leader", true
		case 1:
			// The leader keeps a minority; the majority elects anew.
			k := (len(r.c.IDs())-1)/2 - 1
			r.c.Net.Partition(append([]uint64{lead}, rest[:k]...), rest[k:])
			kind, ending = "partition minority/majority", true
		case 2:
			k := (len(r.c.IDs())-1)/2 - 1
			r.c.Net.Bridge(append([]uint64{lead}, rest[:k]...), rest[k:len(rest)-1], rest[len(rest)-1])
			kind = "bridge"
		case 3:
			r.c.Net.OneWay(lead, f)
			kind = "one-way leader→follower"
		case 4:
			r.c.Net.OneWay(f, lead)
			kind = "one-way follower→leader"
		}
		full := r.cutOff(ctx)
		r.c.Net.HealAll()
		// A cut that ctx shortened may have left no trace.
		if full {
			r.fault(kind, ending && known)
			r.faults.Blackholes++
		} else {
			r.acks.Fault(kind + " (cut short)")
		}
	}
	r.c.Net.HealAll()
}

// flakyNetwork changes delay, jitter and loss on every link now and then;
// the first period has both, so every run shows their traces.
func flakyNetwork(ctx context.Context, r *faultRun) {
	for first := true; r.pause(ctx, 500*time.Millisecond, 2*time.Second); first = false {
		d := time.Duration(r.rng.IntN(30)) * time.Millisecond
		loss := float64(r.rng.IntN(4)) / 100
		if first {
			d, loss = max(d, 5*time.Millisecond), max(loss, 0.01)
		}
		r.c.Net.SetAllDelay(d, d/2)
		r.c.Net.SetAllLoss(loss)
		r.acks.Fault("delay+loss change")
		// The first period begins within 2 s of a run of at least 10 s
		// (runSize.Min), so it runs its course and must leave a trace.
		if first {
			r.faults.Delays++
			r.faults.Losses++
		}
	}
	r.c.Net.SetAllDelay(0, 0)
	r.c.Net.SetAllLoss(0)
}

// mixed draws each fault from all of the above.
func mixed(ctx context.Context, r *faultRun) {
	for r.pause(ctx, 200*time.Millisecond, 800*time.Millisecond) {
		lead, known := r.leaderOrAny(ctx)
		switch r.rng.IntN(4) {
		case 0:
			r.c.Kill(lead)
			r.fault("crash", known)
			r.pause(ctx, 100*time.Millisecond, 500*time.Millisecond)
			r.c.Start(lead)
		case 1:
			r.c.Net.Isolate(lead)
			full := r.cutOff(ctx)
			r.c.Net.HealAll()
			r.fault("isolate leader", known && full)
			if full {
				r.faults.Blackholes++
			}
		case 2:
			f := r.others(lead)[r.rng.IntN(len(r.c.IDs())-1)]
			r.c.Net.SetDelay(lead, f, 50*time.Millisecond, 20*time.Millisecond)
			r.c.Net.SetLoss(f, lead, 0.05)
			r.fault("slow lossy link", false)
			if r.pause(ctx, 300*time.Millisecond, 1200*time.Millisecond) {
				r.faults.Delays++
				r.faults.Losses++
			}
			r.c.Net.SetDelay(lead, f, 0, 0)
			r.c.Net.SetLoss(f, lead, 0)
		case 3:
			id := r.c.IDs()[r.rng.IntN(len(r.c.IDs()))]
			r.powerCut(id)
			r.fault("power cut", false)
			r.pause(ctx, 100*time.Millisecond, 500*time.Millisecond)
			r.c.Start(id)
		}
	}
	r.c.Net.HealAll()
}

// runSize is how long a schedule runs and its gate. It runs at least Min,
// then until the history holds Target calls with a definite answer, at
// most Max. It fails (checkRun) with fewer than Definite definite answers
// or fewer than Writes acknowledged writes among them: it checked too
// little to prove anything. Only definite answers count: a call of
// unknown outcome constrains nothing, and faults that time every call out
// must not pass for a busy run. Counting answers rather than seconds
// keeps what a run checks steady on slower machines; the gate is set low
// enough for a loaded one to reach within Max, and a run that has not
// reached it by then goes on until it does, for at most Grace more (an
// overloaded machine gathers the same evidence, only slower).
type runSize struct {
	Min, Max time.Duration
	Grace    time.Duration
	Target   int
	Definite int
	Writes   int
}

// ciRun is the size of each schedule in the regular test run: on an idle
// machine each checks about Target definite answers, 30,000 for the five
// in-process schedules together; on a loaded one it stops at Max, short
// of Target, and must still clear the gate.
var ciRun = runSize{Min: 10 * time.Second, Max: 40 * time.Second, Grace: 20 * time.Second, Target: 6000, Definite: 800, Writes: 200}

// tlsRun is the size of the schedule that repeats one of the others with
// TLS on: it stops at a smaller target, as the suite's time is bounded,
// but has the same gate and the same time to clear it on a loaded
// machine.
var tlsRun = runSize{Min: 6 * time.Second, Max: ciRun.Max, Grace: ciRun.Grace, Target: 1200, Definite: ciRun.Definite, Writes: ciRun.Writes}

// runLength returns a context that ends when the run is long enough.
func runLength(t *testing.T, w *testcluster.Workload, size runSize) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), size.Max+size.Grace)
	t.Cleanup(cancel)
	start := time.Now()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				target := size.Target
				if time.Since(start) >= size.Max {
					target = size.Definite // past Max: only the gate is still wanted
				}
				if time.Since(start) >= size.Min && definiteAnswers(w) >= target && w.Acks.Acknowledged() >= size.Writes {
					cancel()
					return
				}
			}
		}
	}()
	return ctx
}

// Fault schedules want elections, and their checks hold whoever leads, so
// their nodes time out sooner than other tests' (300 ms, randomised up to
// 600 ms): a fault costs less waiting, and cutting a leader off for a
// second (cutOff) reliably replaces it.
const (
	faultTick          = 30 * time.Millisecond
	faultElectionTicks = 10
)

// runFaults runs one schedule of the given size and returns the definite
// answers checked.
func runFaults(t *testing.T, name string, seed int64, nodes int, size runSize, nem nemesis, opts testcluster.Options) int {
	t.Logf("%s: schedule seed %d", name, seed)
	opts.Nodes = nodes
	opts.CrashableDisks = true
	opts.TickInterval, opts.ElectionTicks = faultTick, faultElectionTicks
	c := testcluster.New(t, opts)
	r := &faultRun{t: t, c: c, rng: rand.New(rand.NewPCG(uint64(seed), 1)), acks: testcluster.NewAcks()}
	setupFixtures(t, c.Client, c.URL(c.MustLeader()))
	w := &testcluster.Workload{
		Targets: c.URLs, PIDBroker: pidBroker, EpochTopic: epochsTopic, MoveBroker: moveBroker,
		Seed: seed, History: lincheck.NewRecorder(), Acks: r.acks, TLS: c.ClientTLS("admin"),
	}
	mon := c.StartMonitor(epochsTopic)
	t.Cleanup(func() { mon.Stop() }) // when a fault step fails the test
	ctx := runLength(t, w, size)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	nem(ctx, r)
	<-done
	return r.healAndCheck(w, mon, name, seed, size)
}

func TestLinearizableUnderFaults(t *testing.T) {
	seed := baseSeed(t)
	schedules := []struct {
		name string
		nem  nemesis
		tls  bool
	}{
		{"crash-leader", crashLeader, false},
		{"power-cuts", powerCuts, false},
		{"partitions", partitions, false},
		{"flaky-network", flakyNetwork, false},
		{"mixed", mixed, false},
		// The same checks hold on a secure cluster: every restart is new
		// handshakes on both ports, and the workload's clients speak HTTPS.
		{"crash-leader-tls", crashLeader, true},
	}
	total := 0
	for i, s := range schedules {
		t.Run(s.name, func(t *testing.T) {
			size := ciRun
			if s.tls {
				size = tlsRun
			}
			total += runFaults(t, s.name, seed+int64(i), 3, size, s.nem, testcluster.Options{Network: true, NetworkSeed: seed + int64(i), TLS: s.tls})
		})
	}
	// Each schedule passed its own gate (checkRun), so a replay of one
	// schedule is held to the same standard as the full run.
	t.Logf("definite answers checked: %d (base seed %d)", total, seed)
}

// TestCheckerCatchesStaleReads proves the checker sees what it must: with
// the deliberate bug of answering reads from local state without the
// ReadIndex barrier, a follower that lags behind a slow link serves stale
// reads and the history is not linearizable; the same run without the bug
// is.
func TestCheckerCatchesStaleReads(t *testing.T) {
	for _, bug := range []bool{true, false} {
		t.Run(fmt.Sprintf("readsWithoutBarrier=%v", bug), func(t *testing.T) {
			c := testcluster.New(t, testcluster.Options{Network: true, UnsafeReadsWithoutBarrier: bug})
			lead := c.MustLeader()
			slow := c.IDs()[0]
			if slow == lead {
				slow = c.IDs()[1]
			}
			// Well below the 1 s election timeout: the follower stays in the
			// quorum's term but applies every commit ~100 ms late.
			c.Net.SetDelay(lead, slow, 100*time.Millisecond, 0)
			c.Net.SetDelay(slow, lead, 100*time.Millisecond, 0)
			w := &testcluster.Workload{
				Targets: func() []string { return []string{c.URL(lead), c.URL(slow)} },
				Clients: 4, Brokers: 2, Topics: 3, Seed: 1, PIDBroker: pidBroker,
				History: lincheck.NewRecorder(), Acks: testcluster.NewAcks(),
			}
			setupFixtures(t, c.Client, c.URL(lead))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			w.Run(ctx)
			name := fmt.Sprintf("stale-reads-bug-%v", bug)
			res, err := w.History.Check(time.Minute, visualizationPath(t, name, 1))
			t.Logf("%s: %s: porcupine %s", name, w.History.Stats(), res)
			if bug && res != porcupine.Illegal {
				t.Fatalf("the checker did not catch stale reads: %s, %v", res, err)
			}
			if !bug && err != nil {
				t.Fatalf("linearizable reads judged %s: %v", res, err)
			}
		})
	}
}

// TestSoak runs every schedule in turn on 5 nodes for as long as -soak
// says, each round checked on its own (see docs/testing.md):
//
//	go test ./internal/testcluster -run TestSoak -soak 10m -timeout 0
func TestSoak(t *testing.T) {
	if *soakFlag == 0 {
		t.Skip("soak runs only with -soak=<duration>")
	}
	seed := baseSeed(t)
	schedules := []struct {
		name string
		nem  nemesis
	}{
		{"crash-leader", crashLeader}, {"power-cuts", powerCuts}, {"partitions", partitions},
		{"flaky-network", flakyNetwork}, {"mixed", mixed},
	}
	end := time.Now().Add(*soakFlag)
	total := 0
	for round := 0; time.Now().Before(end); round++ {
		s := schedules[round%len(schedules)]
		rseed := seed + int64(round)
		// Each round runs its time and meets at least the regular run's
		// gate, so a short last round still checks enough.
		d := max(min(2*time.Minute, time.Until(end)), ciRun.Min)
		size := runSize{Min: d, Max: d + ciRun.Max, Definite: ciRun.Definite, Writes: ciRun.Writes}
		size.Target = size.Definite
		t.Run(fmt.Sprintf("%d-%s", round, s.name), func(t *testing.T) {
			total += runFaults(t, s.name, rseed, 5, size, s.nem,
				testcluster.Options{Network: true, NetworkSeed: rseed})
		})
		if t.Failed() {
			break
		}
	}
	t.Logf("soak: %d definite answers checked (base seed %d)", total, seed)
}
