package api_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/metadata"
)

// A cutover is prepared by the leader's driver first: a refused
// preparation commits nothing, and the driver learns whether the cutover
// then committed (so that it can give ZooKeeper's controller role back
// when it did not).
func TestCutoverIsPreparedFirst(t *testing.T) {
	var (
		mu         sync.Mutex
		prepareErr error
		onPrepare  func()
		dones      []bool
	)
	var c *authCluster // the hooks run only once it is set
	c = newAuthCluster(t, accessFile(""), authClusterOptions{migration: func(id uint64) api.MigrationHooks {
		return api.MigrationHooks{
			Check: func(context.Context, string) (string, error) { return "kafka-cluster-1", nil },
			Status: func() *contract.MigrationDriverStatus {
				if !c.nodes[id].node.IsLeader() {
					return nil
				}
				return &contract.MigrationDriverStatus{NodeID: id, ZkConnected: true, Activity: "following", Problems: []contract.MigrationProblem{}}
			},
			PrepareCutover: func(ctx context.Context) (func(committed bool), error) {
				mu.Lock()
				err, hook := prepareErr, onPrepare
				mu.Unlock()
				if err != nil {
					return nil, err
				}
				if hook != nil {
					hook()
				}
				return func(committed bool) {
					mu.Lock()
					dones = append(dones, committed)
					mu.Unlock()
				}, nil
			},
		}
	}})
	set := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	const admin = "admin-token"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lead, f := c.leader(), c.follower()
	following := func() {
		t.Helper()
		c.must(f, admin, "POST", "/v1/migration", map[string]any{"zkConnect": "zk:2181"}, 200, "")
		if _, err := c.nodes[lead].ctrl.MigrationWrite(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
			cur, _ := img.Migration()
			cur.Phase = metadata.MigrationFollowing
			return []metadata.Record{{Body: &cur}}, nil
		}); err != nil {
			t.Fatalf("the driver's commit of FOLLOWING: %v", err)
		}
	}
	phase := func() string {
		t.Helper()
		st, err := c.nodes[lead].ctrl.MigrationStatus(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		return st.Phase
	}
	following()

	// The driver cannot prepare: refused with its answer, nothing committed.
	set(func() {
		prepareErr = contract.Errorf(contract.CodeZooKeeperUnavailable, "cutover refused: ZooKeeper could not be read")
	})
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 503, "ZOOKEEPER_UNAVAILABLE")
	if p := phase(); p != metadata.MigrationFollowing {
		t.Fatalf("phase after a refused preparation: %s", p)
	}

	// Prepared, but the cutover does not commit (an operator aborted
	// meanwhile): the driver is told so.
	set(func() {
		prepareErr = nil
		onPrepare = func() {
			if _, err := c.nodes[lead].ctrl.RollbackMigration(ctx); err != nil {
				t.Errorf("abort while preparing: %v", err)
			}
		}
	})
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 409, "MIGRATION_PHASE")
	set(func() { onPrepare = nil })

	// Prepared and committed.
	following()
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 200, "")
	if p := phase(); p != metadata.MigrationDualWrite {
		t.Fatalf("phase after cutover: %s", p)
	}
	// Outside FOLLOWING there is nothing to prepare.
	c.must(f, admin, "POST", "/v1/migration/cutover", nil, 409, "MIGRATION_PHASE")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(dones, []bool{false, true}) {
		t.Fatalf("the driver was told %v (committed or not), want [false true]", dones)
	}
}
