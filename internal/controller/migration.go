package controller

import (
	"context"
	"errors"

	"github.com/yakt/yakt/contract"
)

// The admin side of a migration from ZooKeeper (docs/migration.md): each
// operation validates the phase on the leader and commits a
// ZkMigrationStateRecord; the migration driver (internal/migration) on
// the leader does the work each phase asks for.

var errMigrationStub = errors.New("migration: not implemented yet")

// StartMigration commits phase IMPORTING for req.ZkConnect, after checking
// that ZooKeeper answers at that address (check is called on the leader
// with the connect string; it returns Kafka's cluster id from /cluster/id
// or an error). Allowed when no migration runs, or after ABORTED/FAILED.
func (c *Controller) StartMigration(ctx context.Context, req contract.MigrationStartRequest, check func(ctx context.Context, zkConnect string) (clusterID string, err error)) (contract.MigrationStatus, error) {
	return contract.MigrationStatus{}, errMigrationStub
}

// CutoverMigration makes YAKt the authority: FOLLOWING → DUAL_WRITE.
func (c *Controller) CutoverMigration(ctx context.Context) (contract.MigrationStatus, error) {
	return contract.MigrationStatus{}, errMigrationStub
}

// FinalizeMigration stops the dual write: DUAL_WRITE → FINALIZED.
func (c *Controller) FinalizeMigration(ctx context.Context) (contract.MigrationStatus, error) {
	return contract.MigrationStatus{}, errMigrationStub
}

// RollbackMigration hands authority back to ZooKeeper: DUAL_WRITE →
// FOLLOWING, or stops a migration before cutover: IMPORTING/FOLLOWING →
// ABORTED.
func (c *Controller) RollbackMigration(ctx context.Context) (contract.MigrationStatus, error) {
	return contract.MigrationStatus{}, errMigrationStub
}

// MigrationStatus reads the migration state (linearizable unless stale).
func (c *Controller) MigrationStatus(ctx context.Context, stale bool) (contract.MigrationStatus, error) {
	return contract.MigrationStatus{}, errMigrationStub
}
