package migration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/zkformat"
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
	log *slog.Logger

	mu sync.Mutex
	// status is the live report while a run is active, nil otherwise.
	// Guarded by mu.
	status *contract.MigrationDriverStatus
	// dual is the dual writer at work, for its counters, and sess the
	// run's ZooKeeper session, for its state. Guarded by mu.
	dual *dualWriter
	sess *zkSession

	// prep carries a cutover's preparation to the follow loop, and
	// cutover lets one be prepared at a time (cutover.go).
	prep    chan *prepRequest
	cutover chan struct{}
}

// New returns a Driver; Run starts it.
func New(cfg Config) *Driver {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Driver{cfg: cfg, log: cfg.Logger.With("component", "migration"),
		prep: make(chan *prepRequest), cutover: make(chan struct{}, 1)}
}

// leaderPoll is how often the driver looks at the leadership when
// nothing is applied (losing it applies nothing here).
const leaderPoll = 200 * time.Millisecond

// restartBackoff is the pause before a run that ended on an error starts
// again.
const restartBackoff = time.Second

// activePhase reports whether the driver has work in phase p.
func activePhase(p string) bool {
	return p == metadata.MigrationImporting || p == metadata.MigrationFollowing || p == metadata.MigrationDualWrite
}

// Run works until ctx ends; it returns once every goroutine it started
// has stopped.
func (d *Driver) Run(ctx context.Context) {
	ctl := d.cfg.Controller
	type active struct {
		cancel context.CancelFunc
		done   chan struct{}
		term   uint64
		conn   string
	}
	var cur *active
	stop := func() {
		if cur != nil {
			cur.cancel()
			<-cur.done
			cur = nil
		}
	}
	defer stop()
	var notBefore time.Time
	tick := time.NewTicker(leaderPoll)
	defer tick.Stop()
	for {
		changed := ctl.AppliedChanged()
		term, leads := ctl.MigrationLeader()
		img, _ := ctl.Image(ctx, true)
		st, ok := img.Migration()
		want := leads && ok && activePhase(st.Phase)
		if cur != nil {
			select {
			case <-cur.done:
				cur = nil
				notBefore = time.Now().Add(restartBackoff)
			default:
			}
		}
		if cur != nil && (!want || cur.term != term || cur.conn != st.ZkConnect) {
			d.log.Info("migration: stopping", "leads", leads, "phase", st.Phase)
			stop()
		}
		if cur == nil && want && !time.Now().Before(notBefore) {
			rctx, cancel := context.WithCancel(ctx)
			cur = &active{cancel: cancel, done: make(chan struct{}), term: term, conn: st.ZkConnect}
			r := &runner{d: d, ctl: ctl, term: term, zkConnect: st.ZkConnect, clusterID: st.ZkClusterID, log: d.log.With("term", term)}
			d.setStatus(func(s *contract.MigrationDriverStatus) {})
			go func(done chan struct{}) {
				defer close(done)
				defer d.clearStatus()
				if err := r.run(rctx); err != nil && rctx.Err() == nil {
					d.log.Warn("migration: run stopped; starting again", "err", err)
				}
			}(cur.done)
		}
		var done chan struct{}
		if cur != nil {
			done = cur.done
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		case <-done:
		}
	}
}

// Status is the live report for GET /v1/migration; nil when this node
// does not run the migration.
func (d *Driver) Status() *contract.MigrationDriverStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status == nil {
		return nil
	}
	s := *d.status
	s.Problems = append([]contract.MigrationProblem{}, d.status.Problems...)
	if d.sess != nil {
		s.ZkConnected = d.sess.isConnected()
	}
	if d.dual != nil {
		ws := d.dual.stats()
		s.ZkWrites, s.PendingZkWrites = ws.Writes, ws.Pending
	}
	return &s
}

// setStatus changes the live report (creating it).
func (d *Driver) setStatus(f func(s *contract.MigrationDriverStatus)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status == nil {
		d.status = &contract.MigrationDriverStatus{NodeID: d.cfg.NodeID, Activity: "waiting", Problems: []contract.MigrationProblem{}}
	}
	f(d.status)
}

func (d *Driver) clearStatus() {
	d.mu.Lock()
	d.status, d.dual, d.sess = nil, nil, nil
	d.mu.Unlock()
}

// setProblems replaces the report's problems with probs, keeping when
// each was first seen.
func (d *Driver) setProblems(probs []problem) {
	now := time.Now().UnixMilli()
	d.setStatus(func(s *contract.MigrationDriverStatus) {
		seen := make(map[string]int64, len(s.Problems))
		for _, p := range s.Problems {
			seen[p.Path+"\x00"+p.Message] = p.AtMs
		}
		out := make([]contract.MigrationProblem, 0, len(probs))
		for _, p := range probs {
			at, ok := seen[p.path+"\x00"+p.msg]
			if !ok {
				at = now
			}
			out = append(out, contract.MigrationProblem{Path: p.path, Message: p.msg, AtMs: at})
		}
		s.Problems = out
	})
}

// CheckZooKeeper connects to zkConnect, reads Kafka's cluster id from
// /cluster/id and disconnects: StartMigration's check.
func CheckZooKeeper(ctx context.Context, zkConnect string) (clusterID string, err error) {
	s, err := dialZK(zkConnect, slog.Default())
	if err != nil {
		return "", err
	}
	defer s.close()
	ctx, cancel := context.WithTimeout(ctx, zkSessionTimeout)
	defer cancel()
	if err := s.waitConnected(ctx); err != nil {
		return "", contract.Errorf(contract.CodeZooKeeperUnavailable, "ZooKeeper at %s does not answer: no session within %v", zkConnect, zkSessionTimeout)
	}
	return readClusterID(ctx, s)
}

// readClusterID reads and parses /cluster/id, bounded by ctx.
func readClusterID(ctx context.Context, s *zkSession) (string, error) {
	type answer struct {
		data   []byte
		exists bool
		err    error
	}
	ch := make(chan answer, 1)
	go func() {
		data, _, err := s.conn.Get(s.abs(zkformat.PathClusterID))
		ch <- answer{data, err == nil, err}
	}()
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		// The Get ends when the caller closes the session.
		return "", contract.Errorf(contract.CodeZooKeeperUnavailable, "ZooKeeper did not answer a read of %s in time", s.abs(zkformat.PathClusterID))
	}
	if a.err != nil {
		if errors.Is(a.err, zk.ErrNoNode) {
			return "", contract.Errorf(contract.CodeZooKeeperUnavailable, "%s does not exist: this ZooKeeper (or chroot) holds no Kafka cluster", s.abs(zkformat.PathClusterID))
		}
		return "", contract.Errorf(contract.CodeZooKeeperUnavailable, "read %s: %v", s.abs(zkformat.PathClusterID), a.err)
	}
	id, err := zkformat.ParseClusterID(a.data)
	if err != nil {
		return "", contract.Errorf(contract.CodeZooKeeperUnavailable, "%s: %v", s.abs(zkformat.PathClusterID), err)
	}
	return id, nil
}

// runner is one run of the migration: one leader term, one ZooKeeper
// session.
type runner struct {
	d         *Driver
	ctl       *controller.Controller
	term      uint64
	zkConnect string
	clusterID string
	log       *slog.Logger

	s *zkSession
	m *srcModel
}

// errPhaseChanged ends a batch whose phase the log left meanwhile (an
// operator's abort, rollback or cutover): nothing of it is written.
var errPhaseChanged = errors.New("migration: the phase changed")

func (r *runner) activity(a string, connected bool) {
	r.d.setStatus(func(s *contract.MigrationDriverStatus) { s.Activity, s.ZkConnected = a, connected })
}

// phase is the applied image's migration phase.
func (r *runner) phase() (string, *metadata.Image) {
	img, _ := r.ctl.Image(context.Background(), true)
	st, _ := img.Migration()
	return st.Phase, img
}

func (r *runner) run(ctx context.Context) error {
	s, err := dialZK(r.zkConnect, r.log)
	if err != nil {
		return err
	}
	r.s = s
	defer s.close()
	r.d.mu.Lock()
	r.d.sess = s
	r.d.mu.Unlock()
	// A request to a ZooKeeper that is down waits for it to come back;
	// closing the session is what ends it when the run must stop.
	defer context.AfterFunc(ctx, s.close)()
	for {
		r.activity("waiting", false)
		if err := s.waitConnected(ctx); err != nil {
			return nil
		}
		if err := r.checkCluster(ctx); err != nil {
			r.d.setProblems([]problem{{zkformat.PathClusterID, err.Error()}})
			if !sleep(ctx, restartBackoff) {
				return nil
			}
			continue
		}
		break
	}
	for ctx.Err() == nil {
		phase, _ := r.phase()
		var err error
		switch phase {
		case metadata.MigrationImporting:
			err = r.importAll(ctx)
		case metadata.MigrationFollowing:
			err = r.follow(ctx, metadata.MigrationFollowing)
		case metadata.MigrationDualWrite:
			err = r.dualWrite(ctx)
		default:
			return nil
		}
		if err != nil && !errors.Is(err, errPhaseChanged) {
			return err
		}
	}
	return nil
}

// checkCluster refuses a ZooKeeper that holds another Kafka cluster than
// the one the migration started on.
func (r *runner) checkCluster(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, zkSessionTimeout)
	defer cancel()
	id, err := readClusterID(rctx, r.s)
	if err != nil {
		return err
	}
	if r.clusterID != "" && id != r.clusterID {
		return fmt.Errorf("ZooKeeper holds Kafka cluster %s, the migration started on %s: not followed", id, r.clusterID)
	}
	return nil
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readAllRetry reads everything, waiting for the session and trying
// again when a read fails midway (a lost connection).
func (r *runner) readAllRetry(ctx context.Context) (*srcModel, error) {
	for {
		if err := r.s.waitConnected(ctx); err != nil {
			return nil, err
		}
		start := time.Now()
		r.s.startFull()
		m, err := readAll(r.s)
		if err == nil {
			r.log.Debug("migration: read ZooKeeper", "model", m.describe(), "took", time.Since(start))
			return m, nil
		}
		r.log.Info("migration: reading ZooKeeper failed; again once connected", "err", err)
		r.activity("waiting", false)
		if !sleep(ctx, 100*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// stateRecord is the state record ending a batch: phase, the zxid and the
// producer id mark raised to what m has seen, progress when given.
func stateRecord(img *metadata.Image, phase string, m *srcModel, imported, total int64) metadata.Record {
	st, _ := img.Migration()
	st.Phase, st.Error = phase, ""
	st.Zxid = max(st.Zxid, m.zxid)
	st.NextProducerID = max(st.NextProducerID, nextProducerID(m))
	if total >= 0 {
		st.TopicsImported, st.TopicsTotal = imported, total
	}
	return metadata.Record{Body: &st}
}

// write commits one batch built against the forecast, refusing it when
// the log is no longer in phase.
func (r *runner) write(ctx context.Context, phase string, build func(img *metadata.Image) []metadata.Record) (int, error) {
	applied, err := r.ctl.MigrationWrite(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if st, _ := img.Migration(); st.Phase != phase {
			return nil, errPhaseChanged
		}
		return build(img), nil
	})
	if err != nil {
		return 0, fmt.Errorf("migration: commit a batch: %w", err)
	}
	return len(applied), nil
}

// importAll runs the import: read everything (watches set), validate all
// of it, then commit it in batches of whole topics, or one FAILED record
// listing what is wrong. A new leader finding IMPORTING runs it again;
// what an earlier run committed gives no records (state-based).
func (r *runner) importAll(ctx context.Context) error {
	r.activity("importing", true)
	start := time.Now()
	m, err := r.readAllRetry(ctx)
	if err != nil {
		return err
	}
	r.m = m
	_, img := r.phase()
	st, _ := img.Migration()
	resume := st.Zxid > 0 || st.TopicsImported > 0
	mode := topicMode{strict: !resume}
	pl := makePlan(m, img, mode, true)
	if len(pl.probs) > 0 {
		text := failureText(pl.probs)
		r.log.Warn("migration: import refused: bad input in ZooKeeper", "problems", len(pl.probs), "error", text)
		r.d.setProblems(pl.probs)
		_, err := r.write(ctx, metadata.MigrationImporting, func(img *metadata.Image) []metadata.Record {
			st, _ := img.Migration()
			st.Phase, st.Error = metadata.MigrationFailed, text
			return []metadata.Record{{Body: &st}}
		})
		return err
	}
	total := int64(pl.topics)
	groups := pl.groups
	if len(groups) == 0 {
		groups = [][]string{nil}
	}
	imported := int64(0)
	for i, g := range groups {
		imported += int64(len(g))
		last := i == len(groups)-1
		n, err := r.write(ctx, metadata.MigrationImporting, func(img *metadata.Image) []metadata.Record {
			var recs []metadata.Record
			if i == 0 {
				b, _ := brokerRecords(m, img)
				recs = append(recs, b...)
			}
			recs = append(recs, groupRecords(m, g, img, mode)...)
			phase := metadata.MigrationImporting
			if last {
				rem, _ := removedTopics(m, img, false)
				recs = append(recs, rem...)
				phase = metadata.MigrationFollowing
			}
			return append(recs, stateRecord(img, phase, m, imported, total))
		})
		if err != nil {
			return err
		}
		r.d.setStatus(func(s *contract.MigrationDriverStatus) { s.ChangesApplied += int64(n) })
	}
	r.d.setProblems(nil)
	r.log.Info("migration: imported ZooKeeper", "topics", total, "brokers", len(m.brokers), "zxid", m.zxid, "took", time.Since(start))
	return nil
}

// problemRetry is how often a reconcile with problems left runs again
// when the log changes (a broker registering may resolve one).
const problemRetry = time.Second

// follow applies ZooKeeper's changes while the log is in phase
// (FOLLOWING; DUAL_WRITE follows the brokers only, see dualFollow).
func (r *runner) follow(ctx context.Context, phase string) error {
	r.activity("following", r.s.isConnected())
	if r.m == nil {
		r.s.markFull()
	}
	if phase == metadata.MigrationFollowing && r.s.isConnected() {
		r.releaseStale()
	}
	var lastRetry time.Time
	for {
		applied := r.ctl.AppliedChanged()
		if p, _ := r.phase(); p != phase {
			return errPhaseChanged
		}
		// A cutover waiting is served first: under a steady stream of
		// changes the loop may not reach its wait for a while.
		if req := r.takePrep(); req != nil {
			req.done <- r.prepareCutover(ctx, req)
			continue
		}
		paths, first, full := r.s.takeDirty()
		if full || len(paths) > 0 || r.pendingProblems() && time.Since(lastRetry) >= problemRetry {
			lastRetry = time.Now()
			var marked map[string]bool
			if r.m != nil {
				marked = maps.Clone(r.m.deleting)
			}
			if err := r.refresh(ctx, paths, full); err != nil {
				return err
			}
			// A pass with problems left compares everything: what they
			// wait for may be anywhere.
			scope := changedTopics(paths)
			if full || marked == nil || r.pendingProblems() {
				scope = nil
			}
			if scope != nil {
				// Topics marked for deletion, or unmarked, since the last
				// pass: /admin/delete_topics' child watch names none.
				for n := range marked {
					if !r.m.deleting[n] {
						scope[n] = true
					}
				}
				for n := range r.m.deleting {
					if !marked[n] {
						scope[n] = true
					}
				}
			}
			if err := r.reconcile(ctx, phase, false, first, scope); err != nil {
				return err
			}
			continue
		}
		// Problems are tried again about every second even when nothing
		// changes: what they wait for may be outside what is watched.
		var retry *time.Timer
		var retryC <-chan time.Time
		if r.pendingProblems() {
			retry = time.NewTimer(problemRetry - time.Since(lastRetry))
			retryC = retry.C
		}
		var prep *prepRequest
		select {
		case <-ctx.Done():
		case <-r.s.wake:
		case <-applied:
		case <-retryC:
		case prep = <-r.d.prep:
		}
		if retry != nil {
			retry.Stop()
		}
		if prep != nil {
			prep.done <- r.prepareCutover(ctx, prep)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// refresh brings the model up to date: everything when full (or when a
// partial re-read fails), else the changed paths.
func (r *runner) refresh(ctx context.Context, paths map[string]bool, full bool) error {
	if !full && r.m != nil {
		if err := r.s.waitConnected(ctx); err != nil {
			return err
		}
		if err := applyChanges(r.s, r.m, paths); err == nil {
			return nil
		} else {
			r.log.Info("migration: re-reading changed znodes failed; reading everything again", "err", err)
		}
	}
	r.activity("waiting", r.s.isConnected())
	m, err := r.readAllRetry(ctx)
	if err != nil {
		return err
	}
	r.m = m
	return nil
}

func (r *runner) pendingProblems() bool {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	return r.d.status != nil && len(r.d.status.Problems) > 0
}

// reconcile commits what makes YAKt equal to the model (brokersOnly: the
// brokers alone), in batches of whole topics, the last advancing the
// state record's zxid.
//
// scope names the topics ZooKeeper changed (nil: all of them); topics in
// the model YAKt lacks are always compared (a new topic is announced by
// its parent's child watch, which names no topic).
func (r *runner) reconcile(ctx context.Context, phase string, brokersOnly bool, firstFire time.Time, scope map[string]bool) error {
	r.activity(map[bool]string{false: "following", true: "dual-writing"}[brokersOnly], r.s.isConnected())
	m := r.m
	_, img := r.phase()
	mode := topicMode{}
	var pl plan
	if brokersOnly {
		pl.brokers, pl.probs = brokerRecords(m, img)
		pl.changed = len(pl.brokers) > 0
	} else {
		if scope != nil {
			for n := range m.topics {
				if _, ok := img.Topic(n); !ok {
					scope[n] = true
				}
			}
		}
		pl = makeScopedPlan(m, img, mode, false, scope)
	}
	r.d.setProblems(pl.probs)
	st, _ := img.Migration()
	if !pl.changed && (brokersOnly || m.zxid <= st.Zxid && nextProducerID(m) <= st.NextProducerID) {
		// While dual writing, ZooKeeper changes mostly by YAKt's own
		// writes: only a broker change is worth a commit.
		return nil
	}
	groups := pl.groups
	if len(groups) == 0 {
		groups = [][]string{nil}
	}
	total := 0
	for i, g := range groups {
		last := i == len(groups)-1
		n, err := r.write(ctx, phase, func(img *metadata.Image) []metadata.Record {
			var recs []metadata.Record
			if i == 0 {
				b, _ := brokerRecords(m, img)
				recs = append(recs, b...)
			}
			if !brokersOnly {
				recs = append(recs, groupRecords(m, g, img, mode)...)
			}
			if !last {
				// The zxid advances with the last batch only: until then
				// not everything up to it is in YAKt.
				st, _ := img.Migration()
				return append(recs, metadata.Record{Body: &st})
			}
			if !brokersOnly {
				rem, _ := removedTopics(m, img, false)
				recs = append(recs, rem...)
			}
			return append(recs, stateRecord(img, phase, m, 0, -1))
		})
		if err != nil {
			return err
		}
		total += n
	}
	r.d.setStatus(func(s *contract.MigrationDriverStatus) {
		s.ChangesApplied += int64(total)
		if !firstFire.IsZero() {
			s.LastLagMs = time.Since(firstFire).Milliseconds()
		}
	})
	return nil
}

// dualWrite runs the dual writer while the log is in DUAL_WRITE, and
// follows /brokers/ids (ZooKeeper-mode brokers register there). When the
// log leaves DUAL_WRITE (a rollback to FOLLOWING, or finalize) the writer
// first writes every change before that record, then returns.
func (r *runner) dualWrite(ctx context.Context) error {
	r.activity("dual-writing", r.s.isConnected())
	w := newDualWriter(r.s.conn, r.s.root, r.ctl.AppliedState(), r.d.cfg.NodeID, r.term, r.log)
	r.d.mu.Lock()
	r.d.dual = w
	r.d.mu.Unlock()
	defer func() {
		r.d.mu.Lock()
		r.d.dual = nil
		r.d.mu.Unlock()
	}()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		end int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		end, err := w.Run(wctx)
		res <- result{end, err}
	}()
	// The brokers are followed beside the writer until it is done.
	ferr := make(chan error, 1)
	go func() { ferr <- r.followBrokers(wctx) }()
	wr := <-res
	cancel()
	<-ferr
	if wr.err != nil {
		return fmt.Errorf("migration: dual write: %w", wr.err)
	}
	r.log.Info("migration: dual write ended", "offset", wr.end)
	// The model may be stale by now: the next phase reads everything.
	r.m = nil
	return errPhaseChanged
}

// followBrokers follows /brokers/ids in DUAL_WRITE until ctx ends.
func (r *runner) followBrokers(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		applied := r.ctl.AppliedChanged()
		if p, _ := r.phase(); p != metadata.MigrationDualWrite {
			return nil
		}
		paths, first, full := r.s.takeDirty()
		if full || len(paths) > 0 || r.m == nil {
			if err := r.refresh(ctx, paths, full || r.m == nil); err != nil {
				return err
			}
			if err := r.reconcile(ctx, metadata.MigrationDualWrite, true, first, nil); err != nil && !errors.Is(err, errPhaseChanged) {
				r.log.Warn("migration: applying a broker change failed", "err", err)
				if !sleep(ctx, restartBackoff) {
					return nil
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.s.wake:
		case <-applied:
		}
	}
}

// changedTopics names the topics whose znodes are among the changed
// paths. Topics created (a child of /brokers/topics) or marked for
// deletion (a child of /admin/delete_topics) are not named by the paths:
// the caller finds them in the model.
func changedTopics(paths map[string]bool) map[string]bool {
	out := map[string]bool{}
	for p := range paths {
		if rest, ok := strings.CutPrefix(p, zkformat.PathTopics+"/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			out[name] = true
		}
	}
	return out
}
