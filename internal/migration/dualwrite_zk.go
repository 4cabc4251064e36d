package migration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/internal/zkformat"
)

// The dual write's ZooKeeper side: taking over, reading the view, and
// writing ops as fenced multi ops.

// Bounds of one multi op. ZooKeeper refuses a request above its
// jute.maxbuffer (1 MiB by default); a topic of 10,000 partitions is
// 20,000 creates, so big changes go in several multis, each fenced.
const (
	maxMultiOps   = 1000
	maxMultiBytes = 512 << 10
)

// readConcurrency is how many topics readView reads at once: the
// client pipelines requests on its one connection, so a few in flight
// hide the round trips without loading ZooKeeper.
const readConcurrency = 8

func (w *dualWriter) path(p string) string { return w.root + p }

// zkACL is the ACL of the znodes the dual write creates: open, as a
// ZooKeeper-mode Kafka cluster without zookeeper.set.acl creates them.
var zkACL = zk.WorldACL(zk.PermAll)

// takeOver makes this writer the one that writes ZooKeeper: it sets
// /migration (this node and term) conditionally on the version it read,
// and registers this node as the controller, a KRaft-style one
// (kraftControllerEpoch = term) with /controller_epoch one higher, so
// ZooKeeper-mode brokers and tools follow it. A writer resuming its own
// takeover (same node and term, after an error) adopts it as it stands.
func (w *dualWriter) takeOver() error {
	migPath := w.path(zkformat.PathMigration)
	data, migStat, err := w.conn.Get(migPath)
	migExists := err == nil
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("migration: dual write: read %s: %w", migPath, err)
	}
	prev := zkformat.Migration{KRaftMetadataOffset: -1}
	ours := false
	if migExists {
		m, perr := zkformat.ParseMigration(data)
		switch {
		case perr != nil:
			w.log.Warn("dual write: overwriting an unreadable /migration", "path", migPath, "err", perr)
		case m.KRaftControllerEpoch > w.term || m.KRaftControllerEpoch == w.term && m.KRaftControllerID != w.nodeID:
			return fmt.Errorf("%w: %s names node %d at epoch %d; this is node %d at epoch %d",
				errDualWriteFenced, migPath, m.KRaftControllerID, m.KRaftControllerEpoch, w.nodeID, w.term)
		default:
			prev = m
			ours = m.KRaftControllerEpoch == w.term
		}
	}

	cePath := w.path(zkformat.PathControllerEpoch)
	ceData, ceStat, err := w.conn.Get(cePath)
	ceExists := err == nil
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("migration: dual write: read %s: %w", cePath, err)
	}
	var epoch int32
	if ceExists {
		if epoch, err = zkformat.ParseControllerEpoch(ceData); err != nil {
			w.log.Warn("dual write: overwriting an unreadable /controller_epoch", "path", cePath, "err", err)
			epoch = 0
		}
	}

	ctlPath := w.path(zkformat.PathController)
	ctlData, ctlStat, err := w.conn.Get(ctlPath)
	ctlExists := err == nil
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("migration: dual write: read %s: %w", ctlPath, err)
	}
	if ctlExists {
		if c, err := zkformat.ParseController(ctlData); err == nil {
			if c.KRaftControllerEpoch > w.term {
				return fmt.Errorf("%w: %s names KRaft controller %d at epoch %d; this is node %d at epoch %d",
					errDualWriteFenced, ctlPath, c.BrokerID, c.KRaftControllerEpoch, w.nodeID, w.term)
			}
			if ours && c.BrokerID == w.nodeID && c.KRaftControllerEpoch == w.term {
				w.migVersion, w.controllerEpoch = migStat.Version, epoch
				w.log.Info("dual write: resuming takeover", "migrationVersion", w.migVersion, "controllerEpoch", epoch)
				return nil
			}
		}
	}

	var ops []any
	// The parents of what the dual write creates: a ZooKeeper-mode
	// cluster has them (its brokers create them at startup), an empty
	// ensemble may not.
	for _, p := range []string{"/brokers", zkformat.PathTopics, "/config", zkformat.PathTopicConfigs} {
		ok, _, err := w.conn.Exists(w.path(p))
		if err != nil {
			return fmt.Errorf("migration: dual write: check %s: %w", w.path(p), err)
		}
		if !ok {
			ops = append(ops, &zk.CreateRequest{Path: w.path(p), Acl: zkACL})
		}
	}
	mig := zkformat.EncodeMigration(zkformat.Migration{
		Version: migrationZnodeVersion, KRaftControllerID: w.nodeID, KRaftControllerEpoch: w.term,
		KRaftMetadataOffset: prev.KRaftMetadataOffset, KRaftMetadataEpoch: w.term,
	})
	if migExists {
		ops = append(ops, &zk.SetDataRequest{Path: migPath, Data: mig, Version: migStat.Version})
	} else {
		ops = append(ops, &zk.CreateRequest{Path: migPath, Data: mig, Acl: zkACL})
	}
	if ceExists {
		ops = append(ops, &zk.SetDataRequest{Path: cePath, Data: zkformat.EncodeControllerEpoch(epoch + 1), Version: ceStat.Version})
	} else {
		ops = append(ops, &zk.CreateRequest{Path: cePath, Data: zkformat.EncodeControllerEpoch(epoch + 1), Acl: zkACL})
	}
	if ctlExists {
		ops = append(ops, &zk.DeleteRequest{Path: ctlPath, Version: ctlStat.Version})
	}
	// Persistent, unlike a ZooKeeper-mode controller's ephemeral one: this
	// registration lasts while YAKt is the authority, whatever happens to
	// this session, and keeps ZooKeeper-mode brokers from electing one of
	// their own.
	ops = append(ops, &zk.CreateRequest{Path: ctlPath, Acl: zkACL, Data: zkformat.EncodeController(zkformat.Controller{
		Version: controllerZnodeVersion, BrokerID: w.nodeID, Timestamp: time.Now().UnixMilli(), KRaftControllerEpoch: w.term,
	})})
	if _, err := w.conn.Multi(ops...); err != nil {
		// Someone wrote one of them since it was read: a newer leader
		// (the next takeover finds it and stops) or a ZooKeeper-mode
		// controller election (the next one wins). Or no answer came.
		return fmt.Errorf("%w: take over %s, %s and %s: %w", errResync, migPath, cePath, ctlPath, err)
	}
	if migExists {
		w.migVersion = migStat.Version + 1
	} else {
		w.migVersion = 0
	}
	w.controllerEpoch = epoch + 1
	w.log.Info("dual write: took over ZooKeeper", "node", w.nodeID, "epoch", w.term, "controllerEpoch", w.controllerEpoch)
	return nil
}

// handBack deletes this writer's /controller at a rollback, fenced like
// every write, so that ZooKeeper-mode brokers elect a controller of their
// own again: without one nobody would change ZooKeeper's metadata, and
// ZooKeeper is the authority again. It is best effort (a failure is
// logged): an operator can delete /controller as well. After a finalize
// the registration stays, so that no ZooKeeper-mode controller comes back.
//
// A cutover that was prepared (its fence is this takeover) but did not
// commit gives the role back the same way; why says which.
func (w *dualWriter) handBack(ctx context.Context, why string) {
	p := w.path(zkformat.PathController)
	for attempt := 0; ; attempt++ {
		err := w.deleteOwnController(p)
		if err == nil {
			w.log.Info("dual write: /controller released to ZooKeeper-mode brokers", "why", why, "path", p)
			return
		}
		if !lostConnection(err) || attempt == 2 || w.waitConnected(ctx) != nil {
			w.log.Warn("dual write: could not release /controller; delete it so that a ZooKeeper-mode broker becomes the controller", "why", why, "path", p, "err", err)
			return
		}
	}
}

// deleteOwnController deletes p if it names this writer.
func (w *dualWriter) deleteOwnController(p string) error {
	data, st, err := w.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if c, err := zkformat.ParseController(data); err != nil || c.BrokerID != w.nodeID || c.KRaftControllerEpoch != w.term {
		return nil // not ours: someone else's to keep
	}
	reqs := []any{
		&zk.CheckVersionRequest{Path: w.path(zkformat.PathMigration), Version: w.migVersion},
		&zk.DeleteRequest{Path: p, Version: st.Version},
	}
	res, err := w.conn.Multi(reqs...)
	return multiError(res, err, reqs)
}

// readView reads the znodes the dual write owns.
func (w *dualWriter) readView() (*zkView, error) {
	v := newZkView()
	names, err := w.children(zkformat.PathTopics)
	if err != nil {
		return nil, err
	}
	for _, list := range []struct {
		path string
		set  map[string]bool
	}{{zkformat.PathTopicConfigs, v.configs}, {zkformat.PathDeleteTopics, v.deleting}} {
		children, err := w.children(list.path)
		if err != nil {
			return nil, err
		}
		for _, c := range children {
			list.set[c] = true
		}
	}
	data, st, err := w.conn.Get(w.path(zkformat.PathProducerIDBlock))
	switch {
	case err == nil:
		b, perr := zkformat.ParseProducerIDBlock(data)
		if perr != nil {
			// Unreadable: rewritten with YAKt's block.
			b = zkformat.ProducerIDBlock{End: -1}
		}
		v.pid, v.pidVersion = &b, st.Version
	case !errors.Is(err, zk.ErrNoNode):
		return nil, fmt.Errorf("migration: dual write: read %s: %w", w.path(zkformat.PathProducerIDBlock), err)
	}

	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan string)
	)
	for range min(readConcurrency, len(names)) {
		wg.Go(func() {
			for name := range next {
				t, err := w.readTopic(name)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if t != nil {
					v.topics[name] = t
				}
				mu.Unlock()
			}
		})
	}
	for _, name := range names {
		next <- name
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return v, nil
}

// readTopic reads one topic's znodes; nil if it vanished meanwhile.
func (w *dualWriter) readTopic(name string) (*zkTopic, error) {
	p := w.path(zkformat.TopicPath(name))
	data, st, err := w.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migration: dual write: read %s: %w", p, err)
	}
	t := &zkTopic{version: st.Version, parts: map[int32]*zkPartition{}}
	if t.topic, err = zkformat.ParseTopic(name, data); err != nil {
		t.bad = true
	}
	parts, _, err := w.conn.Children(w.path(zkformat.PartitionsPath(name)))
	if errors.Is(err, zk.ErrNoNode) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migration: dual write: list %s: %w", w.path(zkformat.PartitionsPath(name)), err)
	}
	t.partitionsNode = true
	for _, c := range parts {
		id, err := strconv.ParseInt(c, 10, 32)
		if err != nil || id < 0 {
			continue // not a partition: not Kafka's, left alone
		}
		part := &zkPartition{}
		sp := w.path(zkformat.PartitionStatePath(name, int32(id)))
		data, st, err := w.conn.Get(sp)
		switch {
		case err == nil:
			part.hasState, part.version = true, st.Version
			if part.state, err = zkformat.ParsePartitionState(sp, data); err != nil {
				part.bad = true
			}
		case !errors.Is(err, zk.ErrNoNode):
			return nil, fmt.Errorf("migration: dual write: read %s: %w", sp, err)
		}
		t.parts[int32(id)] = part
	}
	return t, nil
}

// children lists a znode's children; none if it does not exist.
func (w *dualWriter) children(p string) ([]string, error) {
	c, _, err := w.conn.Children(w.path(p))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migration: dual write: list %s: %w", w.path(p), err)
	}
	return c, nil
}

// opBatch gathers ops and writes them in fenced multis, recording in
// /migration the last offset whose ops are all written.
type opBatch struct {
	w   *dualWriter
	ops []zkOp
	// ends[i]: once ops[:ends[i].n] are written, every change up to
	// ends[i].offset is in ZooKeeper.
	ends []batchEnd
	// offset is the last offset recorded in /migration.
	offset int64
}

type batchEnd struct {
	n      int
	offset int64
}

// add queues the ops of the changes up to offset.
func (b *opBatch) add(ops []zkOp, offset int64) {
	b.ops = append(b.ops, ops...)
	b.ends = append(b.ends, batchEnd{n: len(b.ops), offset: offset})
}

// flushFull writes whole multis while the queue holds at least one.
func (b *opBatch) flushFull() error {
	for len(b.ops) >= maxMultiOps {
		if err := b.writeOne(); err != nil {
			return err
		}
	}
	return nil
}

// flush writes everything queued.
func (b *opBatch) flush() error {
	for len(b.ops) > 0 {
		if err := b.writeOne(); err != nil {
			return err
		}
	}
	// Entries without writes (brokers, migration state) are done too;
	// /migration keeps the last offset a write carried.
	if n := len(b.ends); n > 0 {
		b.w.advance(b.ends[n-1].offset)
		b.ends = b.ends[:0]
	}
	return nil
}

// writeOne writes the first multi's worth of queued ops.
func (b *opBatch) writeOne() error {
	w := b.w
	n, size := 0, 0
	data := make([][]byte, 0, min(len(b.ops), maxMultiOps))
	for n < len(b.ops) && n < maxMultiOps {
		d := b.ops[n].data()
		size += len(d) + len(b.ops[n].path) + 32
		if n > 0 && size > maxMultiBytes {
			break
		}
		data = append(data, d)
		n++
	}
	offset, ended := b.offset, 0
	for ended < len(b.ends) && b.ends[ended].n <= n {
		offset = b.ends[ended].offset
		ended++
	}
	migPath := w.path(zkformat.PathMigration)
	reqs := make([]any, 0, n+2)
	reqs = append(reqs, &zk.CheckVersionRequest{Path: migPath, Version: w.migVersion})
	for i, op := range b.ops[:n] {
		p := w.path(op.path)
		switch op.kind {
		case opCreate:
			reqs = append(reqs, &zk.CreateRequest{Path: p, Data: data[i], Acl: zkACL})
		case opSet:
			reqs = append(reqs, &zk.SetDataRequest{Path: p, Data: data[i], Version: op.version})
		case opDelete:
			reqs = append(reqs, &zk.DeleteRequest{Path: p, Version: op.version})
		}
	}
	reqs = append(reqs, &zk.SetDataRequest{Path: migPath, Version: w.migVersion, Data: zkformat.EncodeMigration(zkformat.Migration{
		Version: migrationZnodeVersion, KRaftControllerID: w.nodeID, KRaftControllerEpoch: w.term,
		KRaftMetadataOffset: offset, KRaftMetadataEpoch: w.term,
	})})
	res, err := w.conn.Multi(reqs...)
	if err := multiError(res, err, reqs); err != nil {
		return err
	}
	w.migVersion++
	w.writes.Add(int64(n))
	w.advance(offset)
	b.offset = offset
	b.ops = b.ops[n:]
	b.ends = b.ends[ended:]
	for i := range b.ends {
		b.ends[i].n -= n
	}
	return nil
}

// multiError interprets a multi's outcome: nil when it applied,
// errDualWriteFenced when /migration's check failed, errResync when
// another op failed or the outcome is unknown (the view or the /migration
// version may be wrong), the error itself when the session is gone.
func multiError(res []zk.MultiResponse, err error, reqs []any) error {
	if err == nil {
		for _, r := range res {
			if r.Error != nil {
				err = r.Error
				break
			}
		}
		if err == nil {
			return nil
		}
	}
	if lostConnection(err) || errors.Is(err, zk.ErrClosing) {
		// Without an answer the multi may or may not have applied: the
		// writer takes over again (adopting its own /migration) and
		// reconciles.
		return fmt.Errorf("%w: %w", errResync, err)
	}
	if len(res) == len(reqs) {
		if e := res[0].Error; errors.Is(e, zk.ErrBadVersion) || errors.Is(e, zk.ErrNoNode) {
			return fmt.Errorf("%w: %s changed since this writer set it", errDualWriteFenced, reqs[0].(*zk.CheckVersionRequest).Path)
		}
		for i, r := range res {
			if r.Error != nil && !strings.Contains(r.Error.Error(), "unknown error") {
				return fmt.Errorf("%w: %s: %w", errResync, describe(reqs[i]), r.Error)
			}
		}
	}
	return fmt.Errorf("%w: multi of %d ops: %w", errResync, len(reqs), err)
}

// lostConnection reports whether err means ZooKeeper could not be
// reached: the client reconnects on its own (with a new session if the
// old one expired), and the writer, whose znodes are all persistent,
// carries on once it has.
func lostConnection(err error) bool {
	return errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrSessionExpired)
}

// reconnectPoll is how often waitConnected looks at the connection: the
// client tells its state changes only to the connection's owner.
const reconnectPoll = 50 * time.Millisecond

// waitConnected returns once the client has a session again.
func (w *dualWriter) waitConnected(ctx context.Context) error {
	t := time.NewTicker(reconnectPoll)
	defer t.Stop()
	for w.conn.State() != zk.StateHasSession {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// describe names a multi op for an error.
func describe(req any) string {
	switch r := req.(type) {
	case *zk.CreateRequest:
		return "create " + r.Path
	case *zk.SetDataRequest:
		return fmt.Sprintf("set %s at version %d", r.Path, r.Version)
	case *zk.DeleteRequest:
		return fmt.Sprintf("delete %s at version %d", r.Path, r.Version)
	case *zk.CheckVersionRequest:
		return fmt.Sprintf("check %s at version %d", r.Path, r.Version)
	}
	return fmt.Sprintf("%T", req)
}

// advance records that every change up to offset is in ZooKeeper.
func (w *dualWriter) advance(offset int64) {
	if offset > w.offset.Load() {
		w.offset.Store(offset)
	}
}
