package e2e_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zktest"
)

// testCrashDuringFollow kills -9 the YAKt leader while the migration
// follows a load, then restarts ZooKeeper under it, and checks that no
// change was lost or applied twice: the states are equal (partition
// epochs equal to the state znodes' versions) and the log holds each
// topic creation once.
func testCrashDuringFollow(t *testing.T, srv *zktest.Server) {
	ctx := testContext(t, 4*time.Minute)
	zk := newKafkaZK(t, srv, "/kafka-crash")
	zk.populate(ctx, t, layout{
		ClusterID: "crash-cluster-000000001", Brokers: 12, Topics: 100, Partitions: 4, RF: 3,
		ProducerBlockEnd: 2_999, Reassigning: 11, ISRChanges: 5,
	})
	bin := testcluster.BuildYakt(t)
	procs := testcluster.StartProcesses(t, bin, 3)
	if err := procs.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(client.Config{Endpoints: procs.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)

	if _, err := startMigration(ctx, cl, zk.connect()); err != nil {
		t.Fatalf("start the migration: %v", err)
	}
	waitPhase(ctx, t, cl, metadata.MigrationFollowing, time.Minute)
	checkEqual(ctx, t, zk, cl, 30*time.Second)

	model, err := zk.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ld := &load{zk: zk, model: model, rng: rand.New(rand.NewPCG(4, uint64(time.Now().UnixNano()))), prefix: "crash"}
	// The first part of the load also measures the follow latency of
	// real processes (built without the race detector), for comparison
	// with the in-process cluster's.
	w := startWatcher(ctx, t, cl)
	var changes []*change
	changes = append(changes, ld.run(ctx, t, 40, 2*time.Second)...)
	p50, p99, maxLat := percentiles(waitSeen(ctx, t, cl, w, changes, 20*time.Second))
	t.Logf("follow latency of yakt processes (100 topics x 4 partitions, %d changes): p50 %v, p99 %v, max %v", len(changes), p50, p99, maxLat)

	// kill -9 the leader in the middle of the load; the load goes on while
	// the others elect a new one, which resumes from the log's state.
	leader := processLeader(ctx, t, cl)
	procs.Kill9(leader)
	t.Logf("killed the leader, node %d, with SIGKILL after %d changes", leader, len(changes))
	changes = append(changes, ld.run(ctx, t, 40, 2*time.Second)...)
	procs.Start(leader)

	// ZooKeeper restarts under the follow: sessions survive, watches are
	// set again, nothing in between may be missed.
	changes = append(changes, ld.run(ctx, t, 20, time.Second)...)
	srv.Restart(t)
	zk.waitSession(ctx, t)
	t.Logf("restarted ZooKeeper after %d changes", len(changes))
	changes = append(changes, ld.run(ctx, t, 40, 2*time.Second)...)

	checkEqual(ctx, t, zk, cl, 60*time.Second)
	st, err := migrationStatus(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != metadata.MigrationFollowing {
		t.Errorf("after the crash and the ZooKeeper restart: %s, want FOLLOWING", statusText(st))
	}
	// Every change the load made is in YAKt's log once.
	recs, err := readLogFrom(ctx, cl, 1)
	if err != nil {
		t.Fatal(err)
	}
	created, removed := map[string]int{}, map[string]int{}
	for _, r := range recs {
		switch b := r.Body.(type) {
		case *metadata.TopicRecord:
			created[b.Name]++
		case *metadata.RemoveTopicRecord:
			removed[b.Name]++
		}
	}
	// A topic the load created and still has is in the log once. One it
	// created and deleted again may be missing altogether (the migration
	// applies ZooKeeper's state: a topic that came and went while YAKt
	// had no leader leaves nothing), but if it was created it was removed.
	for name := range ld.createdNames() {
		_, exists := ld.model.Topics[name]
		switch {
		case exists && created[name] != 1:
			t.Errorf("topic %s, created in ZooKeeper by the load: %d TopicRecords in YAKt's log, want 1", name, created[name])
		case !exists && created[name] != removed[name]:
			t.Errorf("topic %s, created and deleted in ZooKeeper by the load: %d TopicRecords and %d RemoveTopicRecords in YAKt's log", name, created[name], removed[name])
		}
	}
	checkAppliedOnce(ctx, t, cl, 1)
	t.Logf("%d changes under a leader kill and a ZooKeeper restart: states equal, log holds each of %d topic creations once", len(changes), len(created))
}

// processLeader is the YAKt leader's node id.
func processLeader(ctx context.Context, t testing.TB, cl *client.Client) uint64 {
	t.Helper()
	var leader uint64
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := testcluster.WaitFor(ctx, func() bool {
		q, err := cl.Quorum(ctx)
		if err != nil || q.Stale || q.LeaderID <= 0 {
			return false
		}
		leader = uint64(q.LeaderID)
		return true
	})
	if err != nil {
		t.Fatalf("no YAKt leader: %v", err)
	}
	return leader
}
