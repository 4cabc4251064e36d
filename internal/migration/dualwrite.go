package migration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

// The dual write: after cutover YAKt is the authority, and the leader
// writes its changes back to ZooKeeper in Kafka's formats so that
// ZooKeeper-mode brokers and tools still see the truth. The writer takes
// over (/migration, /controller, /controller_epoch), reconciles
// ZooKeeper to YAKt's image, then writes every later applied record in
// log order. Every write is a multi op checking /migration's version,
// which the writer set at takeover: once a newer leader takes over, the
// former one's writes fail (errDualWriteFenced).

// errDualWriteFenced means another YAKt leader took over ZooKeeper (it
// holds /migration with a newer epoch, or changed it since this writer
// did): this writer must stop for good.
var errDualWriteFenced = errors.New("migration: dual write fenced: a newer YAKt leader writes to ZooKeeper")

// appliedSource is where the dual write reads YAKt's changes: the applied
// image and the tail of applied records after it. The leader's
// *controller.StateMachine (Controller.AppliedState) is one.
type appliedSource interface {
	Image() *metadata.Image
	Tail() *metadata.Tail
}

var _ appliedSource = (*controller.StateMachine)(nil)

// dualWriter writes YAKt's metadata to ZooKeeper while the migration is in
// DUAL_WRITE. One Run at a time; its counters may be read concurrently.
type dualWriter struct {
	conn   *zk.Conn
	root   string // the chroot, "" for none: prefixed to every path
	src    appliedSource
	nodeID int32
	term   int32
	log    *slog.Logger

	// migVersion is the /migration version this writer expects: set by
	// takeOver, one higher after each multi op (each updates /migration).
	migVersion int32
	// controllerEpoch is /controller_epoch as takeOver set it: the
	// controller_epoch of the state znodes this writer writes.
	controllerEpoch int32

	writes atomic.Int64 // znode writes made (creates, sets, deletes), /migration's own not counted
	offset atomic.Int64 // the last offset whose changes are all in ZooKeeper
}

// newDualWriter returns a writer for the leader nodeID in raft term term
// (written to ZooKeeper as a 32-bit KRaft controller epoch, as Kafka's
// is), writing under root ("" or a chroot such as /kafka) through conn,
// which the caller owns. src is the leader's applied state.
func newDualWriter(conn *zk.Conn, root string, src appliedSource, nodeID uint64, term uint64, log *slog.Logger) *dualWriter {
	if log == nil {
		log = slog.Default()
	}
	return &dualWriter{conn: conn, root: root, src: src, nodeID: int32(nodeID), term: int32(term),
		log: log.With("component", "dual-write")}
}

// dualWriteStats is the writer's progress, for the driver's status.
type dualWriteStats struct {
	Writes  int64 // znode writes since this writer started
	Pending int64 // applied records not yet written
	Offset  int64 // every change up to this log offset is in ZooKeeper
}

// stats counts the pending records in the tail, so the count grows while
// the writer waits for ZooKeeper; it copies them (at most the tail's
// bound), which a status read can afford.
func (w *dualWriter) stats() dualWriteStats {
	s := dualWriteStats{Writes: w.writes.Load(), Offset: w.offset.Load()}
	tail := w.src.Tail()
	recs, err := tail.Since(s.Offset, 0)
	switch {
	case err == nil:
		s.Pending = int64(len(recs))
	case errors.Is(err, metadata.ErrOffsetCompacted):
		// Some are gone from the tail (a reconcile will cover them): at
		// least the ones it holds wait.
		s.Pending = int64(tail.Len())
	}
	return s
}

// maxResyncs is how many times in a row a write may fail (ZooKeeper not
// as the view said) before Run gives up; each failure re-reads ZooKeeper.
const maxResyncs = 3

// Run takes over ZooKeeper, reconciles it to YAKt's image, then writes
// every record applied later, in log order, until the log leaves
// DUAL_WRITE or ctx ends. It returns the offset of the record that ended
// DUAL_WRITE (a rollback or finalize) once every change before it is in
// ZooKeeper; if the image it starts from is no longer in DUAL_WRITE it
// writes nothing and returns that image's offset. While ZooKeeper cannot
// be reached it waits for the client to reconnect (a new session
// included), then takes over again and reconciles. Any other error stops
// it: errDualWriteFenced (errors.Is) when a newer leader took over, for
// good; otherwise the caller may run a new writer (it takes over again
// and reconciles, so nothing is lost or written twice).
//
// A ZooKeeper call in flight is not interrupted by ctx: closing the
// connection ends one that waits for a ZooKeeper that does not answer.
func (w *dualWriter) Run(ctx context.Context) (endOffset int64, err error) {
	resyncs := 0
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		img := w.src.Image()
		if m, ok := img.Migration(); ok && m.Phase != metadata.MigrationDualWrite {
			// Not (or no longer) the authority: ZooKeeper is left alone.
			return img.Offset(), nil
		}
		end, err := int64(0), w.takeOver()
		before := w.offset.Load()
		if err == nil {
			end, err = w.runFrom(ctx, img)
		}
		if err != nil && lostConnection(err) && ctx.Err() == nil {
			// Changes wait (pending) until ZooKeeper is back.
			w.log.Warn("dual write: waiting for ZooKeeper", "err", err)
			if err := w.waitConnected(ctx); err != nil {
				return 0, err
			}
			continue
		}
		if err == nil || !errors.Is(err, errResync) || errors.Is(err, errDualWriteFenced) {
			return end, err
		}
		// ZooKeeper was not what the view said (someone else wrote, or a
		// write of ours came back without an answer, so even /migration's
		// version is unknown): take over again (a no-op if /migration is
		// still ours), read ZooKeeper again and reconcile.
		if w.offset.Load() > before {
			resyncs = 0
		}
		if resyncs++; resyncs > maxResyncs {
			return 0, fmt.Errorf("migration: dual write: %d resyncs in a row: %w", resyncs-1, err)
		}
		w.log.Warn("dual write: re-reading ZooKeeper", "err", err)
	}
}

// errResync marks errors after which ZooKeeper must be read again.
var errResync = errors.New("ZooKeeper differs from the dual write's view")

// runFrom reconciles ZooKeeper to the current image and follows the tail.
func (w *dualWriter) runFrom(ctx context.Context, img *metadata.Image) (int64, error) {
	view, err := w.readView()
	if err != nil {
		return 0, err
	}
	d := &differ{view: view, controllerEpoch: w.controllerEpoch}
	b := &opBatch{w: w}
	b.add(d.all(img), img.Offset())
	if err := b.flush(); err != nil {
		return 0, err
	}
	w.log.Info("dual write: ZooKeeper reconciled", "offset", img.Offset(), "writes", w.writes.Load())
	return w.follow(ctx, d, img)
}

// follow writes the records applied after img, in log order, each raft
// entry's changes diffed against the state that entry left.
func (w *dualWriter) follow(ctx context.Context, d *differ, img *metadata.Image) (int64, error) {
	tail := w.src.Tail()
	delta := metadata.NewDelta(img)
	done := img.Offset()
	b := &opBatch{w: w, offset: done}
	for {
		changed := tail.Changed()
		recs, err := tail.Since(done, 0)
		if errors.Is(err, metadata.ErrOffsetCompacted) {
			// The writer fell behind the tail (or this node restored a
			// snapshot): reconcile to the image again.
			return 0, fmt.Errorf("%w: records after offset %d are no longer in the tail", errResync, done)
		}
		if err != nil {
			return 0, fmt.Errorf("migration: dual write: read applied records: %w", err)
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-changed:
				continue
			}
		}
		for len(recs) > 0 {
			n := 1
			for n < len(recs) && recs[n].Offset == recs[0].Offset {
				n++
			}
			entry := recs[:n]
			recs = recs[n:]
			if phase, ends := endsDualWrite(entry); ends {
				if err := b.flush(); err != nil {
					return 0, err
				}
				if phase == metadata.MigrationFollowing {
					w.handBack(ctx, "rollback")
				}
				return entry[0].Offset, nil
			}
			ops, err := w.entryOps(d, delta, entry)
			if err != nil {
				return 0, err
			}
			b.add(ops, entry[0].Offset)
			if err := b.flushFull(); err != nil {
				return 0, err
			}
			done = entry[0].Offset
		}
		if err := b.flush(); err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// endsDualWrite reports whether a raft entry's records move the migration
// out of DUAL_WRITE, and to which phase: the writer stops before it.
func endsDualWrite(entry []metadata.Record) (phase string, ends bool) {
	for _, r := range entry {
		if m, ok := r.Body.(*metadata.ZkMigrationStateRecord); ok && m.Phase != metadata.MigrationDualWrite {
			return m.Phase, true
		}
	}
	return "", false
}

// entryOps replays one raft entry's records into delta and returns the
// writes that bring the topics and producer ids it touched to their new
// state. Brokers are not written: ZooKeeper-mode brokers register
// themselves.
func (w *dualWriter) entryOps(d *differ, delta *metadata.Delta, entry []metadata.Record) ([]zkOp, error) {
	var topics []string
	seen := map[string]bool{}
	touch := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			topics = append(topics, name)
		}
	}
	pids := false
	for _, r := range entry {
		// A partition's topic is named as of before the record: a
		// removal later in the entry must still reach its znodes.
		if p, ok := r.Body.(*metadata.PartitionRecord); ok {
			t, _ := delta.TopicByUUID(p.TopicUUID)
			touch(t.Name)
		}
		if err := delta.Replay(r); err != nil {
			// The tail holds only records that applied to exactly this
			// state: a failure means the view of the log is wrong.
			return nil, fmt.Errorf("%w: replay %s at offset %d: %v", errResync, r.Body.RecordName(), r.Offset, err)
		}
		switch v := r.Body.(type) {
		case *metadata.TopicRecord:
			touch(v.Name)
		case *metadata.RemoveTopicRecord:
			touch(v.Name)
		case *metadata.ProducerIdsRecord:
			pids = true
		case *metadata.ZkMigrationStateRecord:
			pids = pids || v.NextProducerID > 0
		}
	}
	var ops []zkOp
	for _, name := range topics {
		ops = d.topic(delta, name, ops)
	}
	if pids {
		ops = d.producerIDs(delta, ops)
	}
	return ops, nil
}
