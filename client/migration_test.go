package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestMigrationCalls: the migration calls against a real node, their
// errors matched with errors.Is. ZooKeeper is nowhere here: a start
// through the API is ZOOKEEPER_UNAVAILABLE at once (not retried: no node
// would answer otherwise), and the migration the test needs is started
// on the leader's controller with a check that answers.
func TestMigrationCalls(t *testing.T) {
	tc := testcluster.New(t, testcluster.Options{Nodes: 1})
	lead := tc.MustLeader()
	c, err := client.New(client.Config{Endpoints: tc.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	st, err := c.MigrationStatus(ctx)
	if err != nil || st.Phase != client.MigrationPhaseNone {
		t.Fatalf("MigrationStatus: %+v, %v; want NONE", st, err)
	}
	if _, _, err := c.StartMigration(ctx, "no port"); !errors.Is(err, client.ErrInvalidRequest) {
		t.Fatalf("StartMigration with a bad connect string: %v", err)
	}
	nowhere := testcluster.ReserveAddr(t) // nothing listens there
	t0 := time.Now()
	if _, _, err := c.StartMigration(ctx, nowhere); !errors.Is(err, client.ErrZooKeeperUnavailable) {
		t.Fatalf("StartMigration without ZooKeeper: %v", err)
	} else if time.Since(t0) > 20*time.Second {
		t.Errorf("StartMigration without ZooKeeper took %v: retried?", time.Since(t0))
	}
	for name, op := range map[string]func(context.Context) (client.MigrationStatus, client.Meta, error){
		"cutover": c.CutoverMigration, "finalize": c.FinalizeMigration, "rollback": c.RollbackMigration,
	} {
		if _, _, err := op(ctx); !errors.Is(err, client.ErrMigrationPhase) {
			t.Errorf("%s without a migration: %v, want ErrMigrationPhase", name, err)
		}
	}

	ctrl := tc.Server(lead).Controller
	if _, err := ctrl.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: nowhere},
		func(context.Context, string) (string, error) { return "kafka-1", nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateTopic(ctx, client.CreateTopicRequest{Name: "during"}); !errors.Is(err, client.ErrMigrationInProgress) {
		t.Fatalf("CreateTopic while ZooKeeper is the authority: %v, want ErrMigrationInProgress", err)
	}
	st, err = c.MigrationStatus(ctx)
	if err != nil || st.ZkConnect != nowhere || st.ZkClusterID != "kafka-1" {
		t.Fatalf("MigrationStatus of a started migration: %+v, %v", st, err)
	}
	if _, _, err := c.StartMigration(ctx, nowhere); !errors.Is(err, client.ErrMigrationPhase) {
		t.Fatalf("a second StartMigration: %v, want ErrMigrationPhase", err)
	}
	st, meta, err := c.RollbackMigration(ctx)
	if err != nil || st.Phase != "ABORTED" || meta.Offset != st.Offset || meta.Replayed {
		t.Fatalf("RollbackMigration: %+v %+v, %v; want ABORTED at X-Yakt-Offset", st, meta, err)
	}
	if _, _, err := c.CreateTopic(ctx, client.CreateTopicRequest{Name: "after"}); err != nil {
		t.Fatalf("CreateTopic after the migration stopped: %v", err)
	}
}
