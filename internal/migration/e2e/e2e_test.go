// Package e2e_test proves the migration from ZooKeeper end to end: a
// real ZooKeeper server (zktest) holding what a ZooKeeper-mode Kafka 3.x
// cluster writes, real YAKt clusters (testcluster: in-process nodes, and
// real processes for kill -9), driven only through the Go client as an
// operator would. One ZooKeeper server serves every test, each in its own
// chroot, to save the JVM starts.
package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zktest"
)

// TestMigration runs the migration's end-to-end tests against one
// ZooKeeper server. They run one after the other: some restart or stop
// that server, which the others would see as a fault of their own.
func TestMigration(t *testing.T) {
	zk := zktest.Start(t)
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, zk) })
	t.Run("ImportFollow", func(t *testing.T) { testImportFollow(t, zk) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, zk) })
	t.Run("CrashDuringFollow", func(t *testing.T) { testCrashDuringFollow(t, zk) })
}

// testContext is a context that ends with the test or after d.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newCluster starts an in-process YAKt cluster of n nodes whose log is
// not compacted during the test (the checks read it from the start), and
// waits until it has a leader.
func newCluster(t testing.TB, n int) *testcluster.Cluster {
	c := testcluster.New(t, testcluster.Options{Nodes: n, SnapshotEntries: 1 << 30, CompactionMargin: 1 << 30})
	c.MustLeader()
	return c
}
