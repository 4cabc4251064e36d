package migration_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
	"github.com/yakt/yakt/internal/zktest"
)

// zkController is /controller as ZooKeeper holds it; ok false when none.
func (k *kafka) zkController() (c zkformat.Controller, ok bool) {
	k.t.Helper()
	data, _, err := k.conn.Get(zkformat.PathController)
	if err != nil {
		return zkformat.Controller{}, false
	}
	c, err = zkformat.ParseController(data)
	k.must(err)
	return c, true
}

// A cutover right after ZooKeeper changed, before YAKt shows it: the
// change is in YAKt and still in ZooKeeper after the cutover, and
// ZooKeeper's controller is fenced.
func TestCutoverKeepsZooKeepersLastChanges(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 2, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	leader := f.c.MustLeader()

	// A big topic keeps the follow loop busy for a while, and an ISR
	// change comes last: the cutover is asked for at once.
	f.k.must(f.k.kz.CreateTopic("late", topicID(500), assignment(0, 1000, 3)))
	f.k.isr("t000", 0, 2, []int32{2})
	f.c.Must(t, leader, "POST", "/v1/migration/cutover", nil, 200, "")

	img := f.leaderImage()
	if st, _ := img.Migration(); st.Phase != metadata.MigrationDualWrite {
		t.Fatalf("phase after cutover %s", st.Phase)
	}
	lt, ok := img.Topic("late")
	if !ok || img.PartitionCount(lt.TopicUUID) != 1000 {
		t.Fatalf("the topic ZooKeeper created right before the cutover is not (whole) in YAKt: %+v %v", lt, ok)
	}
	t0, _ := img.Topic("t000")
	if p, _ := img.Partition(t0.TopicUUID, 0); p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) {
		t.Fatalf("t000-0 after cutover: %+v, want leader 2, ISR [2] as ZooKeeper changed it", p)
	}

	// Once a YAKt topic reaches ZooKeeper the dual writer has reconciled
	// ZooKeeper to YAKt: the changes made before the cutover are there.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := int32(1)
	if _, _, err := f.c.Server(leader).Controller.CreateTopic(ctx, contract.CreateTopicRequest{Name: "from-yakt", Partitions: &n}); err != nil {
		t.Fatal(err)
	}
	f.k.waitZnode(zkformat.PartitionStatePath("from-yakt", 0), 10*time.Second)
	if d := f.k.diff(f.leaderImage()); d != "" {
		t.Fatalf("ZooKeeper and YAKt differ after the cutover:\n%s", d)
	}
	c, ok := f.k.zkController()
	term, _ := f.c.Server(leader).Controller.MigrationLeader()
	if !ok || c.BrokerID != int32(leader) || c.KRaftControllerEpoch != int32(term) {
		t.Fatalf("/controller after cutover: %+v %v, want node %d at KRaft epoch %d", c, ok, leader, term)
	}
	// ZooKeeper's controller is fenced: its writes check
	// /controller_epoch's version.
	if _, err := f.k.kz.SetLeaderAndISR("t001", 0, 0, []int32{0}); !errors.Is(err, zktest.ErrControllerMoved) {
		t.Fatalf("a ZooKeeper-mode controller write after the cutover: %v, want ErrControllerMoved", err)
	}
}

// A prepared cutover that does not commit gives ZooKeeper's controller
// role back: a ZooKeeper-mode controller is elected again and its
// changes are followed.
func TestPreparedCutoverNotCommittedReleasesTheController(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 2, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	leader := f.c.MustLeader()
	srv := f.c.Server(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.waitStatus(10*time.Second, "the driver following", func(ds *contract.MigrationDriverStatus) bool { return ds.Activity == "following" })

	f.k.isr("t000", 1, 0, []int32{0})
	done, err := srv.Migration.PrepareCutover(ctx)
	if err != nil {
		t.Fatalf("prepare cutover: %v", err)
	}
	// Prepared: fenced, and YAKt has ZooKeeper's last change.
	if c, ok := f.k.zkController(); !ok || c.BrokerID != int32(leader) || c.KRaftControllerEpoch < 0 {
		t.Fatalf("/controller once prepared: %+v %v", c, ok)
	}
	if _, err := f.k.kz.SetLeaderAndISR("t001", 0, 1, []int32{1}); !errors.Is(err, zktest.ErrControllerMoved) {
		t.Fatalf("a ZooKeeper-mode controller write once prepared: %v, want ErrControllerMoved", err)
	}
	if d := f.equalToZK(f.leaderImage()); d != "" {
		t.Fatalf("prepared, YAKt lacks ZooKeeper's changes:\n%s", d)
	}
	// A second cutover waits for the first to be done.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := srv.Migration.PrepareCutover(short); err == nil {
		t.Fatal("a second cutover was prepared while the first was not done")
	}
	cancelShort()

	done(false)
	if c, ok := f.k.zkController(); ok {
		t.Fatalf("/controller after a cutover that did not commit: %+v", c)
	}
	if st, _ := f.leaderImage().Migration(); st.Phase != metadata.MigrationFollowing {
		t.Fatalf("phase %s", st.Phase)
	}
	f.k.must(f.k.kz.ElectController(1))
	f.k.isr("t001", 0, 1, []int32{1, 2})
	f.waitFor(10*time.Second, "following the new ZooKeeper-mode controller", f.equalToZK)
}

// A cutover whose final pass finds a znode it cannot apply is refused,
// and leaves FOLLOWING and ZooKeeper's controller free.
func TestCutoverRefusedWhenTheLastPassHasProblems(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 2, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	leader := f.c.MustLeader()

	// Refused either by the final pass or, had the follow loop seen it
	// first, by the problem it reports: either way nothing changes.
	f.k.must(f.k.kz.CreateTopic("late", topicID(501), assignment(0, 500, 3)))
	f.k.must(f.k.kz.CreateTopic("on-ghost", topicID(502), map[int32][]int32{0: {0, 1, 9}}))
	f.c.Must(t, leader, "POST", "/v1/migration/cutover", nil, 409, "MIGRATION_PHASE")
	if st, _ := f.leaderImage().Migration(); st.Phase != metadata.MigrationFollowing {
		t.Fatalf("phase after a refused cutover %s", st.Phase)
	}
	if c, ok := f.k.zkController(); ok && c.KRaftControllerEpoch >= 0 {
		t.Fatalf("/controller after a refused cutover: %+v", c)
	}
	// ZooKeeper-mode brokers elect a controller again (the one before
	// may have been fenced), and the broker's registration lets the
	// waiting topic in.
	f.k.must(f.k.kz.ElectController(1))
	f.k.broker(9, 9092)
	f.waitFor(10*time.Second, "the waiting topic", f.equalToZK)
}

// A prepared cutover whose leader loses leadership before it commits:
// the run that fenced ZooKeeper's controller is gone with its session,
// and the release still gives the role back.
func TestPreparedCutoverReleasedAfterLeadershipMoved(t *testing.T) {
	f := newFixture(t, 3)
	f.k.populate(3, 2, 2)
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	f.waitStatus(10*time.Second, "the driver following", func(ds *contract.MigrationDriverStatus) bool { return ds.Activity == "following" })
	old := f.c.MustLeader()
	srv := f.c.Server(old)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done, err := srv.Migration.PrepareCutover(ctx)
	if err != nil {
		t.Fatalf("prepare cutover: %v", err)
	}
	if c, ok := f.k.zkController(); !ok || c.BrokerID != int32(old) {
		t.Fatalf("/controller once prepared: %+v %v", c, ok)
	}
	if err := srv.Node.TransferLeadership(ctx); err != nil {
		t.Fatal(err)
	}
	// The old leader's run stops once it no longer leads.
	for srv.Migration.Status() != nil {
		if err := ctx.Err(); err != nil {
			t.Fatal("the old leader's migration run did not stop")
		}
		time.Sleep(10 * time.Millisecond) // a status, nothing to wait on
	}
	done(false)
	if c, ok := f.k.zkController(); ok {
		t.Fatalf("/controller after a cutover that did not commit on a former leader: %+v", c)
	}
	f.k.must(f.k.kz.ElectController(1))
	f.k.isr("t001", 0, 1, []int32{1, 2})
	f.waitFor(20*time.Second, "following on the new leader", func(img *metadata.Image) string {
		if f.c.MustLeader() == old {
			return "leadership not moved yet"
		}
		return f.equalToZK(img)
	})
}

// A /controller that a former YAKt leader left (its release failed) is
// released by the next leader once it follows ZooKeeper: ZooKeeper is
// the authority, and its brokers need a controller of their own.
func TestFollowReleasesAControllerAFormerLeaderLeft(t *testing.T) {
	f := newFixture(t, 1)
	f.k.populate(3, 2, 2)
	_, st, err := f.k.conn.Get(zkformat.PathController)
	f.k.must(err)
	f.k.must(f.k.conn.Delete(zkformat.PathController, st.Version))
	f.k.create(zkformat.PathController, zkformat.EncodeController(zkformat.Controller{Version: 2, BrokerID: 7, Timestamp: 1, KRaftControllerEpoch: 0}))
	f.k.create(zkformat.PathMigration, zkformat.EncodeMigration(zkformat.Migration{KRaftControllerID: 7, KRaftControllerEpoch: 0, KRaftMetadataOffset: -1}))
	f.start()
	f.waitFor(20*time.Second, "import", f.equalToZK)
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		ok, _, ch, err := f.k.conn.ExistsW(zkformat.PathController)
		f.k.must(err)
		if !ok {
			break
		}
		select {
		case <-ch:
		case <-deadline.C:
			c, _ := f.k.zkController()
			t.Fatalf("the former leader's /controller is still there: %+v", c)
		}
	}
	f.k.must(f.k.kz.ElectController(0))
	f.k.isr("t000", 0, 1, []int32{1})
	f.waitFor(10*time.Second, "following the new ZooKeeper-mode controller", f.equalToZK)
}
