package controller

import (
	"context"

	"github.com/yakt/yakt/internal/metadata"
)

// What the migration driver (internal/migration) needs from the
// controller: it runs only on the leader, reads the applied image, and
// commits the batches it builds from ZooKeeper without the guard that
// refuses clients' writes while ZooKeeper is the authority.

// MigrationWrite proposes the records build returns (validated against
// the leader's forecast like every write) and waits for them to apply.
// Unlike client writes it is allowed while ZooKeeper is authoritative.
func (c *Controller) MigrationWrite(ctx context.Context, build func(img *metadata.Image) ([]metadata.Record, error)) ([]metadata.Record, error) {
	return nil, errMigrationStub
}
