package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/lincheck"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/testcluster"
)

// memberOps changes the membership of a cluster of processes while a
// workload runs, and waits until every member agrees on the outcome.
// Every change is retried until the quorum shows it: a crash in the
// middle leaves its outcome unknown, and each change is harmless to ask
// again (adding and promoting are idempotent, a repeated removal answers
// MEMBER_NOT_FOUND).
type memberOps struct {
	t    *testing.T
	p    *testcluster.Processes
	rng  *rand.Rand
	acks *testcluster.Acks
	// members are the voters and observers now; removed nodes are
	// stopped, as the operator's procedure says.
	members map[uint64]bool
}

// api is a client of every node, down ones included (it moves on).
func (m *memberOps) api() *client.Client {
	cl, err := client.New(client.Config{Endpoints: m.p.URLs()})
	if err != nil {
		m.t.Fatalf("client: %v", err)
	}
	m.t.Cleanup(cl.Close)
	return cl
}

// ctx is one change's deadline: generous, as a -race build on a loaded
// machine may need several elections and a snapshot for it.
func (m *memberOps) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	m.t.Cleanup(cancel)
	return ctx
}

func ids(set map[uint64]bool) []uint64 {
	var out []uint64
	for id, ok := range set {
		if ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func memberIDs(vs []contract.Voter) []uint64 {
	var out []uint64
	for _, v := range vs {
		out = append(out, v.NodeID)
	}
	slices.Sort(out)
	return out
}

// leader is the node that leads now, as it says itself.
func (m *memberOps) leader(ctx context.Context) uint64 {
	m.t.Helper()
	var lead uint64
	if err := testcluster.WaitFor(ctx, func() bool {
		lead = processLeaderNow(ctx, m.p)
		return lead != 0
	}); err != nil {
		m.t.Fatalf("no leader: %v", err)
	}
	return lead
}

// leaderQuorum is the leader's view of the quorum (zero value when no
// leader answers).
func (m *memberOps) leaderQuorum(ctx context.Context) (contract.Quorum, bool) {
	for _, id := range ids(m.members) {
		if !m.p.Running(id) {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		q, err := m.p.Quorum(qctx, id, false)
		cancel()
		if err == nil && !q.Stale {
			return q, true
		}
	}
	return contract.Quorum{}, false
}

// member finds node id among the leader's voters or observers.
func member(q contract.Quorum, id uint64) (contract.Voter, string) {
	for _, v := range q.Voters {
		if v.NodeID == id {
			return v, contract.RoleVoter
		}
	}
	for _, v := range q.Observers {
		if v.NodeID == id {
			return v, contract.RoleObserver
		}
	}
	return contract.Voter{}, contract.RoleNone
}

// waitRole waits until the leader lists node id in role (its directory id
// other than notDir, when given) and returns its record.
func (m *memberOps) waitRole(ctx context.Context, id uint64, role, notDir string) contract.Voter {
	m.t.Helper()
	var v contract.Voter
	var last contract.Quorum
	err := testcluster.WaitFor(ctx, func() bool {
		q, ok := m.leaderQuorum(ctx)
		if !ok {
			return false
		}
		last = q
		var r string
		v, r = member(q, id)
		return r == role && (notDir == "" || v.DirectoryID != notDir)
	})
	if err != nil {
		m.t.Fatalf("node %d never became %s: %v; last quorum %+v", id, role, err, last)
	}
	return v
}

// waitAgree waits until every member reports, in its own view (GET
// /v1/quorum?stale=true, never forwarded), exactly the members' voters
// and observers.
func (m *memberOps) waitAgree(ctx context.Context, voters, observers []uint64) {
	m.t.Helper()
	views := map[uint64]string{}
	err := testcluster.WaitFor(ctx, func() bool {
		ok := true
		for _, id := range ids(m.members) {
			q, err := m.p.Quorum(ctx, id, true)
			if err != nil {
				views[id] = err.Error()
				ok = false
				continue
			}
			views[id] = fmt.Sprintf("voters %v observers %v", memberIDs(q.Voters), memberIDs(q.Observers))
			ok = ok && slices.Equal(memberIDs(q.Voters), voters) && slices.Equal(memberIDs(q.Observers), observers)
		}
		return ok
	})
	if err != nil {
		m.t.Fatalf("the members never agreed on voters %v observers %v: %v; their views: %v", voters, observers, err, views)
	}
}

// promote promotes node id until the leader lists it as a voter.
func (m *memberOps) promote(ctx context.Context, cl *client.Client, id uint64, dir string) {
	m.t.Helper()
	var lastErr error
	err := testcluster.WaitFor(ctx, func() bool {
		q, _, err := cl.PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: id, DirectoryID: dir, WaitMs: 20_000})
		if err == nil {
			_, role := member(q, id)
			return role == contract.RoleVoter
		}
		lastErr = err
		return false
	})
	if err != nil {
		m.t.Fatalf("promote node %d: %v (last: %v)", id, err, lastErr)
	}
}

// remove removes (id, dir) until the leader no longer lists it, then
// stops the node.
func (m *memberOps) remove(ctx context.Context, cl *client.Client, id uint64, dir string) {
	m.t.Helper()
	var lastErr error
	err := testcluster.WaitFor(ctx, func() bool {
		if q, ok := m.leaderQuorum(ctx); ok {
			if v, role := member(q, id); role == contract.RoleNone || (dir != "" && v.DirectoryID != dir) {
				return true
			}
		}
		_, _, err := cl.RemoveMember(ctx, id, dir)
		lastErr = err
		return false
	})
	if err != nil {
		m.t.Fatalf("remove node %d: %v (last: %v)", id, err, lastErr)
	}
	m.members[id] = false
	m.p.Kill9(id)
}

// send sends one request to node id in the background and returns once
// the request is written (or failed), for a crash to follow at once;
// wait waits for its answer (ignored: the crash leaves its outcome
// unknown, and the caller settles the change).
func (m *memberOps) send(id uint64, method, path string, body any) (wait func()) {
	done, wrote := make(chan struct{}), make(chan struct{})
	var once sync.Once
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(wrote) }) }}
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), 30*time.Second)
		defer cancel()
		_, _ = testcluster.Do(ctx, m.p.Client, m.p.URL(id), method, path, body)
	}()
	select {
	case <-wrote:
	case <-done:
	}
	return func() { <-done }
}

// crash SIGKILLs the nodes and starts them again.
func (m *memberOps) crash(kind string, nodes ...uint64) {
	for _, id := range nodes {
		m.p.Kill9(id)
		m.acks.Fault(kind)
	}
	for _, id := range nodes {
		m.p.Start(id)
	}
}

// join starts node id with --join and waits until it is an observer
// (with a directory id other than notDir) and returns its record. With
// crash, the node is SIGKILLed as soon as it answers (it asks to join as
// it starts) and started again.
func (m *memberOps) join(ctx context.Context, id uint64, notDir string, crash bool) contract.Voter {
	m.t.Helper()
	m.p.StartJoining(id)
	if crash {
		m.crash("kill -9 the joining node right after it asks to join", id)
	}
	v := m.waitRole(ctx, id, contract.RoleObserver, notDir)
	m.members[id] = true
	return v
}

// replace replaces a follower voter as if its disk were lost: it is
// killed and wiped, the old (node id, directory id) removed, and it
// rejoins with --join as a new member; when isolate is set it is frozen
// (SIGSTOP) while the cluster moves more than the promotion threshold
// ahead, the promotion must be refused with NOT_CAUGHT_UP, and once
// resumed it is promoted. With crash, the new node is SIGKILLed right
// after it asks to join. It returns the replaced node.
func (m *memberOps) replace(ctx context.Context, cl *client.Client, isolate, crash bool) uint64 {
	m.t.Helper()
	lead := m.leader(ctx)
	var followers []uint64
	q, ok := m.leaderQuorum(ctx)
	if !ok {
		m.t.Fatal("no leader's quorum")
	}
	for _, v := range q.Voters {
		if v.NodeID != lead && v.DirectoryID != "" {
			followers = append(followers, v.NodeID)
		}
	}
	if len(followers) == 0 {
		m.t.Fatalf("no follower with a recorded directory id: %+v", q.Voters)
	}
	f := followers[m.rng.IntN(len(followers))]
	old, _ := member(q, f)
	m.p.Kill9(f)
	m.p.WipeDataDir(f)
	m.acks.Fault("wipe a follower's data directory")
	m.remove(ctx, cl, f, old.DirectoryID)
	v := m.join(ctx, f, old.DirectoryID, crash)
	if isolate {
		m.isolateDuringPromotion(ctx, cl, f, v.DirectoryID)
	}
	m.promote(ctx, cl, f, v.DirectoryID)
	return f
}

// isolateDuringPromotion freezes observer id, writes until the leader's
// log is more than the promotion threshold ahead of it, checks that the
// promotion is refused with NOT_CAUGHT_UP, and resumes it. (The processes
// run on one host without a fault network: SIGSTOP is what cuts a process
// off from every peer.)
func (m *memberOps) isolateDuringPromotion(ctx context.Context, cl *client.Client, id uint64, dir string) {
	m.t.Helper()
	m.p.Pause(id)
	m.acks.Fault("SIGSTOP the new observer during its promotion")
	defer m.p.Resume(id)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Brokers 101 and 102 are fixtures the workload leaves alone.
			path := "/v1/brokers/" + strconv.Itoa(101+w%2)
			targets := ids(m.members)
			for n := 0; wctx.Err() == nil; n++ {
				target := targets[n%len(targets)]
				if target == id || !m.p.Running(target) {
					continue
				}
				_, _ = testcluster.Do(wctx, m.p.Client, m.p.URL(target), http.MethodPatch, path,
					map[string]any{"brokerHost": fmt.Sprintf("iso-%d-%d", w, n)})
			}
		}()
	}
	var behind int64
	err := testcluster.WaitFor(ctx, func() bool {
		q, ok := m.leaderQuorum(ctx)
		if !ok {
			return false
		}
		v, _ := member(q, id)
		if v.LogEndOffset == nil {
			return false
		}
		behind = q.HighWatermark - *v.LogEndOffset
		return behind > raftnode.PromoteLagEntries+100
	})
	stop()
	wg.Wait()
	if err != nil {
		m.t.Fatalf("the frozen observer %d never fell %d entries behind (%d): %v", id, raftnode.PromoteLagEntries, behind, err)
	}
	_, _, err = cl.PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: id, DirectoryID: dir, WaitMs: 500})
	if !errors.Is(err, client.ErrNotCaughtUp) {
		m.t.Fatalf("promoting observer %d while it is cut off and %d entries behind: %v, want NOT_CAUGHT_UP", id, behind, err)
	}
}

// TestMembershipChangesOnProcessesUnderWorkload changes the membership of
// real processes while the checked workload runs and the monitor watches:
// it grows 3 to 5 (the joining node and the leader SIGKILLed between the
// add and the promotion; the leader and the joining node right after the
// promotion is asked), replaces a node whose data directory was wiped
// (the new member SIGKILLed right after it asks to join, then frozen
// during its promotion, which is refused until it is back), and shrinks 5 to 3 by removing the leader (which hands over
// first) and a follower (the leader SIGKILLed right after the removal is
// asked). Every member's view of the voters converges after each change;
// the history is linearizable, every acknowledged write is in the final
// state and no term had two leaders.
func TestMembershipChangesOnProcessesUnderWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	seed := baseSeed(t) + 300
	election := faultTick * faultElectionTicks
	p := testcluster.StartProcesses(t, testcluster.BuildYakt(t), 3, "--broker-session-timeout", "1h",
		"--heartbeat-interval", faultTick.String(), "--election-timeout", election.String())
	m := &memberOps{t: t, p: p, rng: rand.New(rand.NewPCG(uint64(seed), 3)), acks: testcluster.NewAcks(),
		members: map[uint64]bool{1: true, 2: true, 3: true}}
	ctx := m.ctx() // the start; each change below has its own deadline
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	setupFixtures(t, p.Client, p.URL(1))
	p.AddNode(4)
	p.AddNode(5)
	w := &testcluster.Workload{
		Targets:   p.URLs, // joining and removed nodes too: the workload must not care
		PIDBroker: pidBroker, EpochTopic: epochsTopic, MoveBroker: moveBroker,
		Seed: seed, History: lincheck.NewRecorder(), Acks: m.acks,
	}
	mon := p.StartMonitor(epochsTopic)
	t.Cleanup(func() { mon.Stop() })
	runCtx, stopRun := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(runCtx) }()
	t.Cleanup(func() { stopRun(); <-done })
	cl := m.api()

	// Grow to 4: node 4 joins; it and the leader crash before the promotion.
	m.join(m.ctx(), 4, "", false)
	m.crash("kill -9 the joining node and the leader between add and promote", 4, m.leader(m.ctx()))
	m.promote(m.ctx(), cl, 4, "")
	m.waitAgree(m.ctx(), []uint64{1, 2, 3, 4}, nil)

	// Grow to 5: the leader and node 5 crash right after the promotion is asked.
	m.join(m.ctx(), 5, "", false)
	lead := m.leader(m.ctx())
	wait := m.send(lead, http.MethodPost, "/v1/quorum/voters", map[string]any{"nodeId": 5, "waitMs": 20_000})
	m.crash("kill -9 the leader and the joining node right after the promotion is asked", lead, 5)
	wait()
	m.promote(m.ctx(), cl, 5, "")
	m.waitAgree(m.ctx(), []uint64{1, 2, 3, 4, 5}, nil)

	// Replace a wiped follower, isolated during its promotion.
	replaced := m.replace(m.ctx(), cl, true, true)
	m.waitAgree(m.ctx(), []uint64{1, 2, 3, 4, 5}, nil)
	t.Logf("replaced node %d", replaced)

	// Shrink to 4: remove the leader, which hands over first.
	lead = m.leader(m.ctx())
	m.remove(m.ctx(), cl, lead, "")
	m.waitAgree(m.ctx(), ids(m.members), nil)
	// Shrink to 3: remove a follower; the new leader crashes right after
	// the removal is asked.
	lead = m.leader(m.ctx())
	var followers []uint64
	for _, id := range ids(m.members) {
		if id != lead {
			followers = append(followers, id)
		}
	}
	f := followers[m.rng.IntN(len(followers))]
	wait = m.send(lead, http.MethodDelete, "/v1/quorum/members/"+strconv.FormatUint(f, 10), nil)
	m.crash("kill -9 the leader right after a removal is asked", lead)
	wait()
	m.remove(m.ctx(), cl, f, "")
	if n := len(ids(m.members)); n != 3 {
		t.Fatalf("%d members left, want 3", n)
	}
	m.waitAgree(m.ctx(), ids(m.members), nil)

	stopRun()
	<-done
	lead = m.leader(m.ctx())
	views, blocks := processViewsOf(t, p, ids(m.members), lead)
	checkRun(t, w, mon, views, blocks, p.URL(lead), "membership", seed, runSize{Definite: 300, Writes: 100})
}
