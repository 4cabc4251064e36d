package migration

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
)

// The cutover's preparation, in Kafka's order: fence ZooKeeper's
// controller, drain what it wrote into YAKt, and only then let the
// cutover commit. Without it, whatever ZooKeeper's controller wrote after
// the follow loop's last pass would be missing from YAKt, and the dual
// writer's first reconcile would undo it in ZooKeeper: an acknowledged
// change lost.

// prepRequest is a cutover's request to the follow loop; the loop answers
// on done (buffered) exactly once after it took the request.
type prepRequest struct {
	ctx  context.Context
	done chan prepResult
}

type prepResult struct {
	release func()
	err     error
}

// prepareAccept bounds how long PrepareCutover waits for the follow loop
// to take its request (the loop takes it between two passes).
const prepareAccept = 3 * time.Second

// releaseTimeout bounds a release: a read of the log and a ZooKeeper
// delete.
const releaseTimeout = 10 * time.Second

// PrepareCutover readies a cutover on the leader: its follow loop claims
// ZooKeeper's controller role (so ZooKeeper-mode controller writes, which
// check /controller_epoch's version, fail from then on), reads everything
// from ZooKeeper again and commits what YAKt lacks. It returns once that
// is committed. The caller then commits the cutover and must call done
// with whether it committed: if not, done gives the controller role back
// to ZooKeeper-mode brokers. One cutover is prepared at a time: a second
// waits (bounded by ctx) until the first is done.
//
// When the log is not in FOLLOWING there is nothing to prepare: done is a
// no-op and the cutover's own phase check answers. An error means
// nothing stays claimed: 503 ZOOKEEPER_UNAVAILABLE, 503 NOT_READY or 409
// MIGRATION_PHASE.
func (d *Driver) PrepareCutover(ctx context.Context) (done func(committed bool), err error) {
	select {
	case d.cutover <- struct{}{}:
	case <-ctx.Done():
		return nil, contract.Errorf(contract.CodeNotReady, "cutover refused: another cutover was being prepared until the request ended; nothing changed")
	}
	unlock := func() { <-d.cutover }
	img, err := d.cfg.Controller.Image(ctx, false)
	if err != nil {
		unlock()
		return nil, err
	}
	if st, _ := img.Migration(); st.Phase != metadata.MigrationFollowing {
		unlock()
		return func(bool) {}, nil
	}
	release, err := d.prepare(ctx)
	if err != nil {
		unlock()
		return nil, err
	}
	var once sync.Once
	return func(committed bool) {
		once.Do(func() {
			if !committed {
				release()
			}
			unlock()
		})
	}, nil
}

// prepare hands a cutover's preparation to the follow loop.
func (d *Driver) prepare(ctx context.Context) (release func(), err error) {
	if d.Status() == nil {
		return nil, contract.Errorf(contract.CodeNotReady,
			"cutover refused: the migration driver on node %d is not running yet; retry shortly", d.cfg.NodeID)
	}
	req := &prepRequest{ctx: ctx, done: make(chan prepResult, 1)}
	t := time.NewTimer(prepareAccept)
	defer t.Stop()
	select {
	case d.prep <- req:
	case <-ctx.Done():
		return nil, contract.Errorf(contract.CodeNotReady, "cutover refused: the request ended before the migration driver took it; nothing changed")
	case <-t.C:
		ds := d.Status()
		switch {
		case ds == nil:
			return nil, contract.Errorf(contract.CodeNotReady, "cutover refused: the migration driver on node %d stopped; retry shortly", d.cfg.NodeID)
		case !ds.ZkConnected:
			return nil, contract.Errorf(contract.CodeZooKeeperUnavailable,
				"cutover refused: the migration on node %d is not connected to ZooKeeper; nothing changed", d.cfg.NodeID)
		case ds.Activity != "following":
			return nil, contract.Errorf(contract.CodeMigrationPhase,
				"cutover refused: the migration driver on node %d is %s, not following ZooKeeper; nothing changed", d.cfg.NodeID, ds.Activity)
		}
		return nil, contract.Errorf(contract.CodeNotReady,
			"cutover refused: the migration driver on node %d is busy applying ZooKeeper's changes; retry shortly", d.cfg.NodeID)
	}
	// Taken: the loop answers, bounded by ctx, and releases what it
	// claimed itself when it fails.
	res := <-req.done
	return res.release, res.err
}

// takePrep hands a waiting cutover request to the follow loop, if any.
func (r *runner) takePrep() *prepRequest {
	select {
	case req := <-r.d.prep:
		return req
	default:
		return nil
	}
}

// prepareCutover is PrepareCutover's work on the follow loop (FOLLOWING):
// fence, re-read everything, reconcile, answer.
func (r *runner) prepareCutover(runCtx context.Context, req *prepRequest) prepResult {
	ctx, cancel := context.WithCancel(req.ctx)
	defer cancel()
	defer context.AfterFunc(runCtx, cancel)()
	if p, _ := r.phase(); p != metadata.MigrationFollowing {
		return prepResult{err: contract.Errorf(contract.CodeMigrationPhase, "cutover refused: the migration is %s, not FOLLOWING; nothing changed", p)}
	}
	if !r.s.isConnected() {
		return prepResult{err: r.unavailable("it is not connected to ZooKeeper")}
	}
	w := newDualWriter(r.s.conn, r.s.root, r.ctl.AppliedState(), r.d.cfg.NodeID, r.term, r.log)
	release := r.releaseFunc(w)
	if err := r.fence(ctx, w); err != nil {
		// A takeover whose answer was lost may have applied.
		release()
		return prepResult{err: err}
	}
	fail := func(err error) prepResult {
		release()
		return prepResult{err: err}
	}
	// From here on ZooKeeper's controller cannot write: everything it
	// wrote is in ZooKeeper now, and one more full pass brings it in.
	m, err := r.readAllRetry(ctx)
	if err != nil {
		return fail(r.unavailable("ZooKeeper could not be read in time after fencing its controller"))
	}
	r.m = m
	if err := r.reconcile(ctx, metadata.MigrationFollowing, false, time.Time{}, nil); err != nil {
		if errors.Is(err, errPhaseChanged) {
			return fail(contract.Errorf(contract.CodeMigrationPhase, "cutover refused: the migration left FOLLOWING while preparing; nothing changed"))
		}
		if _, ok := errors.AsType[*contract.Error](err); ok {
			return fail(err)
		}
		return fail(r.unavailable("committing ZooKeeper's last changes failed: " + err.Error()))
	}
	if ds := r.d.Status(); ds != nil && len(ds.Problems) > 0 {
		first := ds.Problems[0]
		return fail(contract.Errorf(contract.CodeMigrationPhase,
			"cutover refused: ZooKeeper's last changes hold %d znode(s) the migration could not apply, the first %s (%s); ZooKeeper's controller is released again; fix them in ZooKeeper, then cut over",
			len(ds.Problems), first.Path, first.Message))
	}
	if ctx.Err() != nil {
		return fail(r.unavailable("the request ended while preparing"))
	}
	r.log.Info("migration: cutover prepared: ZooKeeper's controller fenced, YAKt caught up", "zxid", m.zxid, "controllerEpoch", w.controllerEpoch)
	return prepResult{release: release}
}

func (r *runner) unavailable(why string) error {
	return contract.Errorf(contract.CodeZooKeeperUnavailable, "cutover refused: on node %d %s; the migration stays FOLLOWING", r.d.cfg.NodeID, why)
}

// fence claims ZooKeeper's controller role as the dual writer's takeover
// does (/migration, /controller_epoch+1, /controller naming this node as
// a KRaft controller), retrying when someone wrote meanwhile (a
// ZooKeeper-mode election). The dual writer of this term later adopts
// it as its own.
func (r *runner) fence(ctx context.Context, w *dualWriter) error {
	for attempt := 1; ; attempt++ {
		err := w.takeOver()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errDualWriteFenced):
			return contract.Errorf(contract.CodeMigrationPhase, "cutover refused: %v; nothing changed", err)
		case ctx.Err() != nil:
			return r.unavailable("the request ended while fencing ZooKeeper's controller")
		case errors.Is(err, errResync) && attempt < maxResyncs:
			r.log.Info("migration: fencing ZooKeeper's controller: again", "err", err)
			continue
		}
		return r.unavailable("fencing ZooKeeper's controller failed: " + err.Error())
	}
}

// releaseFunc is a prepared cutover's release: unless the cutover
// committed after all (then the dual writer keeps the role), it deletes
// the /controller the fence wrote, if still ours, so that ZooKeeper-mode
// brokers elect a controller again. Safe to call more than once.
func (r *runner) releaseFunc(w *dualWriter) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			// Right after a leadership change there may be no leader to
			// read from for a moment.
			img, err := r.ctl.Image(ctx, false)
			for err != nil && sleep(ctx, 100*time.Millisecond) {
				img, err = r.ctl.Image(ctx, false)
			}
			if err != nil {
				r.log.Warn("migration: cutover not committed, but the phase cannot be read: /controller kept; cut over again, or roll back", "err", err)
				return
			}
			if st, _ := img.Migration(); st.Phase == metadata.MigrationDualWrite || st.Phase == metadata.MigrationFinalized {
				return
			}
			const why = "cutover not committed"
			if !r.s.closed.Load() {
				w.handBack(ctx, why)
				return
			}
			// The run ended meanwhile (this node lost leadership, or
			// stops) and closed its session: release on a session of its
			// own, fenced by the same /migration version, which changes
			// only if a dual writer took the fence over.
			s, err := dialZK(r.zkConnect, r.log)
			if err != nil {
				r.log.Warn("migration: could not release /controller; delete it so that a ZooKeeper-mode broker becomes the controller", "why", why, "err", err)
				return
			}
			defer s.close()
			if err := s.waitConnected(ctx); err != nil {
				r.log.Warn("migration: could not release /controller: no ZooKeeper session; delete it so that a ZooKeeper-mode broker becomes the controller", "why", why, "err", err)
				return
			}
			own := newDualWriter(s.conn, s.root, w.src, r.d.cfg.NodeID, r.term, r.log)
			own.migVersion = w.migVersion
			own.handBack(ctx, why)
		})
	}
}

// releaseStale deletes a /controller that a former YAKt leader (an older
// term) left while the log says ZooKeeper is the authority: its cutover
// never committed (this leader, ready in a later term, would see it) or
// was rolled back, and its release failed. Without this, ZooKeeper-mode
// brokers would have no controller until an operator deleted it. Best
// effort, fenced by /migration's version: a newer leader's takeover
// changes that version.
func (r *runner) releaseStale() {
	migPath, ctlPath := r.s.abs(zkformat.PathMigration), r.s.abs(zkformat.PathController)
	_, migStat, err := r.s.conn.Get(migPath)
	if err != nil {
		return // none: no YAKt leader ever claimed the role here
	}
	data, ctlStat, err := r.s.conn.Get(ctlPath)
	if err != nil {
		return
	}
	c, err := zkformat.ParseController(data)
	if err != nil || c.KRaftControllerEpoch < 0 || c.KRaftControllerEpoch >= int32(r.term) {
		return // a ZooKeeper-mode controller's, or this term's or a newer one's
	}
	if _, err := r.s.conn.Multi(
		&zk.CheckVersionRequest{Path: migPath, Version: migStat.Version},
		&zk.DeleteRequest{Path: ctlPath, Version: ctlStat.Version},
	); err != nil {
		r.log.Warn("migration: could not release the /controller a former leader left; delete it so that a ZooKeeper-mode broker becomes the controller",
			"path", ctlPath, "node", c.BrokerID, "kraftControllerEpoch", c.KRaftControllerEpoch, "err", err)
		return
	}
	r.log.Info("migration: released the /controller a former leader left to ZooKeeper-mode brokers", "path", ctlPath, "node", c.BrokerID, "kraftControllerEpoch", c.KRaftControllerEpoch)
}
