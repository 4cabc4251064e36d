package testcluster_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestWipedVoterCannotElectALaggingLeaderOnProcesses is the scenario a
// static voter set allowed, on real processes: a topic is acknowledged by
// the leader and follower C while follower B is down; the leader dies and
// C loses its data directory, and C's unit restarts it with the flags it
// always had (--voters, --cluster-id), so it bootstraps an empty log.
// Were C to vote as its old self, B — without the topic — could be
// elected and the acknowledged write lost. C's new directory id makes B
// refuse it: over several election timeouts (B's refused-connection
// counter growing all along) neither leads, and once the old leader
// returns the topic is there and C's new directory is no member.
func TestWipedVoterCannotElectALaggingLeaderOnProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	election := faultTick * faultElectionTicks
	p := testcluster.StartProcesses(t, testcluster.BuildYakt(t), 3,
		"--heartbeat-interval", faultTick.String(), "--election-timeout", election.String())
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The leader records each voter's directory id as its connection
	// presents it; the refusal below rests on that record.
	var q contract.Quorum
	if err := testcluster.WaitFor(ctx, func() bool {
		lead := processLeaderNow(ctx, p)
		if lead == 0 {
			return false
		}
		var err error
		if q, err = p.Quorum(ctx, lead, false); err != nil || q.Stale || len(q.Voters) != 3 {
			return false
		}
		for _, v := range q.Voters {
			if v.DirectoryID == "" {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("the voters' directory ids were never recorded: %v; last quorum %+v", err, q)
	}
	lead := uint64(q.LeaderID)
	var lagging, wiped uint64
	oldDir := map[uint64]string{}
	for _, v := range q.Voters {
		oldDir[v.NodeID] = v.DirectoryID
		switch {
		case v.NodeID == lead:
		case lagging == 0:
			lagging = v.NodeID
		default:
			wiped = v.NodeID
		}
	}
	// Every node must have the directory ids applied before B goes down,
	// or B could not tell C's new directory from its old one.
	if err := testcluster.WaitFor(ctx, func() bool {
		bq, err := p.Quorum(ctx, lagging, true)
		if err != nil {
			return false
		}
		for _, v := range bq.Voters {
			if v.DirectoryID != oldDir[v.NodeID] {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("node %d never applied the directory ids: %v", lagging, err)
	}

	p.Kill9(lagging)
	resp, err := testcluster.Do(ctx, p.Client, p.URL(lead), http.MethodPost, "/v1/topics", map[string]any{"name": "acknowledged"})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create a topic with node %d down: %v %+v", lagging, err, resp)
	}
	p.Kill9(lead)
	p.Kill9(wiped)
	p.WipeDataDir(wiped)
	p.Start(wiped) // the bootstrap flags it always had: a new directory, an empty log
	p.Start(lagging)
	start := time.Now()

	base, err := p.Metric(ctx, lagging, "yakt_peer_connections_refused_total")
	if err != nil {
		t.Fatal(err)
	}
	// Watch both nodes' own views until B has refused C several times and
	// several election timeouts have passed: B campaigns after each, and a
	// leader known to either at any moment fails the test.
	var refused float64
	window := 5 * election
	err = testcluster.WaitFor(ctx, func() bool {
		for _, id := range []uint64{lagging, wiped} {
			v, err := p.Quorum(ctx, id, true)
			if err != nil {
				t.Fatalf("node %d: %v", id, err)
			}
			if v.LeaderID > 0 {
				t.Fatalf("node %d knows leader %d in term %d, elected without the acknowledged topic "+
					"(lagging %d, wiped %d, old leader %d down)", id, v.LeaderID, v.LeaderEpoch, lagging, wiped, lead)
			}
		}
		if refused, err = p.Metric(ctx, lagging, "yakt_peer_connections_refused_total"); err != nil {
			t.Fatal(err)
		}
		return refused >= base+3 && time.Since(start) >= window
	})
	if err != nil {
		t.Fatalf("node %d refused %v connections of the wiped node in %v: %v", lagging, refused-base, time.Since(start), err)
	}
	t.Logf("no leader among nodes %d and %d for %v (%d election timeouts); node %d refused %v connections",
		lagging, wiped, time.Since(start).Round(time.Millisecond), time.Since(start)/election, lagging, refused-base)

	// The old leader returns: it has the topic, so it (or B, caught up
	// from it) leads, and the topic is read back through B.
	p.Start(lead)
	var got *testcluster.Response
	if err := testcluster.WaitFor(ctx, func() bool {
		got, err = testcluster.Do(ctx, p.Client, p.URL(lagging), http.MethodGet, "/v1/topics/acknowledged", nil)
		return err == nil && got.Status != http.StatusServiceUnavailable && got.Status != http.StatusGatewayTimeout
	}); err != nil {
		t.Fatalf("no read through node %d after the old leader returned: %v", lagging, err)
	}
	if got.Status != http.StatusOK {
		t.Fatalf("the acknowledged topic is lost: GET through node %d = %d %s", lagging, got.Status, got.Body)
	}
	lq, err := p.Quorum(ctx, lagging, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range lq.Voters {
		if v.NodeID == wiped && v.DirectoryID != oldDir[wiped] {
			t.Fatalf("the wiped node's new directory %s became a voter without an operator", v.DirectoryID)
		}
	}
}
