package raftnode

import (
	"context"
	"fmt"
	"time"

	"github.com/yakt/yakt/internal/storage"
)

type snapshotOutcome struct {
	info storage.SnapshotInfo
	err  error
}

// TakeSnapshot snapshots the applied state now (POST /v1/snapshots).
func (n *Node) TakeSnapshot(ctx context.Context) (storage.SnapshotInfo, error) {
	ch := make(chan snapshotOutcome, 1)
	select {
	case n.snapc <- ch:
	case <-ctx.Done():
		return storage.SnapshotInfo{}, ctx.Err()
	case <-n.donec:
		return storage.SnapshotInfo{}, ErrStopped
	}
	select {
	case out := <-ch:
		return out.info, out.err
	case <-n.donec:
		return storage.SnapshotInfo{}, ErrStopped
	}
}

// snapshot writes a snapshot of the applied state and compacts the log
// before it, keeping CompactionMargin entries so a follower that is only a
// little behind catches up from the log rather than needing the snapshot.
// force takes one even when nothing was applied since the last.
func (n *Node) snapshot(force bool) (storage.SnapshotInfo, error) {
	applied := n.applied.Load()
	if applied == 0 || (applied == n.snapIndex && !force) {
		return storage.SnapshotInfo{}, nil
	}
	start := time.Now()
	if applied != n.snapIndex {
		data, err := n.cfg.StateMachine.Snapshot()
		if err != nil {
			return storage.SnapshotInfo{}, fmt.Errorf("snapshot state machine at index %d: %w", applied, err)
		}
		cs := n.confState
		if _, err := n.storage.CreateSnapshot(applied, &cs, data); err != nil {
			return storage.SnapshotInfo{}, fmt.Errorf("save snapshot at index %d: %w", applied, err)
		}
		n.snapIndex = applied
		n.metrics.snapshotDuration.Observe(time.Since(start).Seconds())
		n.metrics.snapshotBytes.Set(float64(len(data)))
		n.log.Info("saved snapshot", "index", applied, "bytes", len(data), "took", time.Since(start))
		if applied > n.cfg.CompactionMargin {
			compactTo := applied - n.cfg.CompactionMargin
			if first, err := n.storage.FirstIndex(); err == nil && compactTo > first {
				if err := n.storage.Compact(compactTo); err != nil {
					return storage.SnapshotInfo{}, fmt.Errorf("compact log to %d: %w", compactTo, err)
				}
			}
		}
	}
	n.lastSnapAt = time.Now()
	infos, err := n.storage.Snapshots()
	if err != nil || len(infos) == 0 {
		return storage.SnapshotInfo{}, fmt.Errorf("list snapshots: %w", err)
	}
	return infos[0], nil
}
