package controller

import (
	"context"
	"errors"

	"github.com/yakt/yakt/internal/metadata"
)

// What the migration driver (internal/migration) needs from the
// controller: it runs only on the leader, reads the applied image, and
// commits the batches it builds from ZooKeeper without the guard that
// refuses clients' writes while ZooKeeper is the authority.

// errNothingToWrite marks a build that found nothing to change: no
// proposal is made for it.
var errNothingToWrite = errors.New("controller: migration batch is empty")

// MigrationWrite proposes the records build returns (validated against
// the leader's forecast like every write) and waits for them to apply.
// Unlike client writes it is allowed while ZooKeeper is authoritative:
// the guard that refuses those sits in each client operation, and this
// goes to the write path beneath them. build sees the forecast, so a
// state-based build (diff against img) never repeats what an earlier,
// not yet applied batch of the driver already carries. A build that
// returns no records proposes nothing and answers (nil, nil).
func (c *Controller) MigrationWrite(ctx context.Context, build func(img *metadata.Image) ([]metadata.Record, error)) ([]metadata.Record, error) {
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		recs, err := build(img)
		if err == nil && len(recs) == 0 {
			return nil, errNothingToWrite
		}
		return recs, err
	})
	if errors.Is(err, errNothingToWrite) {
		return nil, nil
	}
	return applied, err
}

// MigrationLeader reports whether this node leads and has applied
// everything earlier terms committed (so its image is the whole state),
// and the raft term it leads in: the driver works only then, and the term
// fences its ZooKeeper writes.
func (c *Controller) MigrationLeader() (term uint64, ready bool) {
	return c.node.LeaderReady()
}

// AppliedChanged returns a channel closed the next time this node applies
// an entry (or restores a snapshot): the driver's cue to look at the image
// and the leadership again.
func (c *Controller) AppliedChanged() <-chan struct{} {
	_, ch := c.node.AppliedNotify()
	return ch
}

// AppliedRecordsAfter returns the applied records with an offset above
// offset, in log order, at most limit of them (whole offsets; limit <= 0:
// all retained), from the tail this node keeps. It returns
// metadata.ErrOffsetCompacted when some of them are no longer retained;
// the caller then starts again from the image.
func (c *Controller) AppliedRecordsAfter(offset int64, limit int) ([]metadata.Record, error) {
	return c.state.Tail().Since(offset, limit)
}

// AppliedState is this node's applied state (image and tail): the dual
// write reads YAKt's changes from it in log order.
func (c *Controller) AppliedState() *StateMachine { return c.state }
