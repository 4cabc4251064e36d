package client

import (
	"context"
	"net/http"

	"github.com/yakt/yakt/contract"
)

// Migration from ZooKeeper (docs/api.md, "Migration from ZooKeeper").
// The operations are writes, retry-safe like the others: each carries an
// Idempotency-Key, and a repeat that reaches the leader after the first
// applied is answered with the first answer (Meta.Replayed).

// Migration types, aliases of the contract's.
type (
	MigrationStatus       = contract.MigrationStatus
	MigrationDriverStatus = contract.MigrationDriverStatus
	MigrationProblem      = contract.MigrationProblem
)

// MigrationPhaseNone is MigrationStatus.Phase when no migration has started.
const MigrationPhaseNone = contract.MigrationPhaseNone

// Migration error codes, for errors.Is.
var (
	// ErrMigrationInProgress: ZooKeeper is the authority until cutover;
	// any metadata write (topics, partitions, brokers, ISR, producer ids)
	// answers it, and nothing changed.
	ErrMigrationInProgress = &Error{Code: contract.CodeMigrationInProgress}
	// ErrMigrationPhase: the operation does not apply in the migration's
	// current phase (or the driver reports problems, for a cutover).
	ErrMigrationPhase = &Error{Code: contract.CodeMigrationPhase}
	// ErrZooKeeperUnavailable: the leader could not reach ZooKeeper.
	ErrZooKeeperUnavailable = &Error{Code: contract.CodeZooKeeperUnavailable}
)

// StartMigration starts a migration from the ZooKeeper ensemble at
// zkConnect (host:port[,host:port...][/chroot]): phase IMPORTING.
func (c *Client) StartMigration(ctx context.Context, zkConnect string) (MigrationStatus, Meta, error) {
	return c.migrationWrite(ctx, "/v1/migration", contract.MigrationStartRequest{ZkConnect: zkConnect})
}

// CutoverMigration makes YAKt the authority: FOLLOWING → DUAL_WRITE.
func (c *Client) CutoverMigration(ctx context.Context) (MigrationStatus, Meta, error) {
	return c.migrationWrite(ctx, "/v1/migration/cutover", nil)
}

// FinalizeMigration stops the dual write: DUAL_WRITE → FINALIZED.
func (c *Client) FinalizeMigration(ctx context.Context) (MigrationStatus, Meta, error) {
	return c.migrationWrite(ctx, "/v1/migration/finalize", nil)
}

// RollbackMigration hands authority back to ZooKeeper (DUAL_WRITE →
// FOLLOWING) or stops a migration before cutover (IMPORTING/FOLLOWING →
// ABORTED).
func (c *Client) RollbackMigration(ctx context.Context) (MigrationStatus, Meta, error) {
	return c.migrationWrite(ctx, "/v1/migration/rollback", nil)
}

// MigrationStatus is where the migration stands, with the live report of
// the node running it (Driver; nil when none runs it).
func (c *Client) MigrationStatus(ctx context.Context) (MigrationStatus, error) {
	var out MigrationStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/migration", nil, &out)
	return out, err
}

func (c *Client) migrationWrite(ctx context.Context, path string, in any) (MigrationStatus, Meta, error) {
	var out MigrationStatus
	meta, err := c.do(ctx, http.MethodPost, path, in, &out)
	return out, meta, err
}
