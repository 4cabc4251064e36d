package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yakt/yakt/internal/metadata"
)

// MaxFencesPerCheck bounds how many brokers one liveness check fences.
// Many sessions expiring at once more often means the leader could not
// hear its brokers than that they all died; fencing the longest-silent
// first, a bounded number per check, keeps a mistake small and leaves
// the next checks time to see heartbeats arrive.
const MaxFencesPerCheck = 100

// Liveness rules. The leader keeps each broker's last heartbeat in memory
// (never in the log: a heartbeat costs no raft round) and fences an ALIVE
// broker silent for longer than the session timeout. A fence must mean
// the broker stopped talking, not that the leader stopped listening (an
// overloaded controller that fences live brokers makes the overload
// worse), so:
//
//  1. A new term starts a fresh session for every broker: a new leader
//     has not heard anyone yet, and brokers heartbeating the old leader
//     must not be fenced for it.
//  2. A leader stall starts a fresh session for every broker too. The
//     checks run every interval; when one finds that more than
//     stallThreshold (the larger of twice the interval and a third of the
//     session timeout) passed since the previous one ended, the leader
//     was not running its checks, and most likely not handling
//     heartbeats either (CPU starvation, GC pauses, a swapped-out
//     process, a wall-clock step). The same holds when the read barrier a
//     check passes before fencing takes that long: the raft loop, which
//     the fetches that carry heartbeats also wait on, was stuck.
//  3. At most MaxFencesPerCheck brokers are fenced per check, the
//     longest silent first, each re-checked against its session right
//     before its fencing batch is built.
//  4. A really dead broker is still fenced: one session timeout after
//     the last fresh start (plus a check interval) at the latest.
//  5. The first check of a term also finishes whatever departure or
//     return a previous leader left between two batches (settlePending),
//     and every check retries the follow-up batches that failed here.
//
// Heartbeat is O(1) and takes no lock: the session table is a read-only
// map of per-broker atomic timestamps (plus a sync.Map for brokers
// registered since), replaced only when a new term starts.

// liveness is the leader's soft state of broker heartbeats: never in the
// log, rebuilt when this node starts a new term as leader.
type liveness struct {
	table   atomic.Pointer[sessionTable]
	buildMu sync.Mutex // one caller builds a new term's table; the rest wait for it
	// interval is RunLiveness's check interval, in nanoseconds; 0 until
	// it runs.
	interval atomic.Int64

	// check serialises liveness checks and guards the fields below;
	// Heartbeat never takes it.
	check     sync.Mutex
	lastCheck time.Time // clock time the previous check of checkTerm ended
	checkTerm uint64    // the term lastCheck belongs to
	sweptTerm uint64    // the term whose settle sweep has run

	pendingMu sync.Mutex
	pending   map[int32]struct{} // brokers whose follow-up batches failed on this node

	timedOut atomic.Uint64 // brokers fenced for a session timeout (metrics)
}

// sessionTable is one term's sessions. Times are kept as durations since
// base, so they keep the clock's monotonic reading when it has one (a
// wall-clock step then moves no session).
type sessionTable struct {
	term uint64
	base time.Time
	// fixed holds the brokers registered when the table was built; it is
	// never written after, so lookups need no lock. Brokers registered
	// since go to extra.
	fixed  map[int32]*atomic.Int64 // broker id -> nanoseconds since base
	extra  sync.Map                // int32 -> *atomic.Int64
	extraN atomic.Int64            // entries in extra
}

// entry is id's slot; false when the table has none.
func (t *sessionTable) entry(id int32) (*atomic.Int64, bool) {
	if v, ok := t.fixed[id]; ok {
		return v, true
	}
	if v, ok := t.extra.Load(id); ok {
		return v.(*atomic.Int64), true
	}
	return nil, false
}

func (t *sessionTable) stamp(now time.Time) int64 { return int64(now.Sub(t.base)) }

// touch records a heartbeat of id at now; it never moves a session back.
// added reports a new entry in extra.
func (t *sessionTable) touch(id int32, now time.Time) (added bool) {
	ns := t.stamp(now)
	last, ok := t.entry(id)
	if !ok {
		v, loaded := t.extra.LoadOrStore(id, new(atomic.Int64))
		if !loaded {
			t.extraN.Add(1)
			added = true
		}
		last = v.(*atomic.Int64)
	}
	for {
		old := last.Load()
		if old >= ns || last.CompareAndSwap(old, ns) {
			return added
		}
	}
}

// crowded reports that extra has grown enough to fold it into fixed.
func (t *sessionTable) crowded() bool { return t.extraN.Load() > int64(len(t.fixed)/4+64) }

// lastSeen is id's last heartbeat; false when the table has no entry.
func (t *sessionTable) lastSeen(id int32) (time.Time, bool) {
	v, ok := t.entry(id)
	if !ok {
		return time.Time{}, false
	}
	return t.base.Add(time.Duration(v.Load())), true
}

// refreshAll starts a fresh session at now for every broker in the table.
func (t *sessionTable) refreshAll(now time.Time) {
	for id := range t.fixed {
		t.touch(id, now)
	}
	t.extra.Range(func(k, _ any) bool {
		t.touch(k.(int32), now)
		return true
	})
}

func (l *liveness) addPending(id int32) {
	l.pendingMu.Lock()
	defer l.pendingMu.Unlock()
	if l.pending == nil {
		l.pending = map[int32]struct{}{}
	}
	l.pending[id] = struct{}{}
}

func (l *liveness) takePending() []int32 {
	l.pendingMu.Lock()
	defer l.pendingMu.Unlock()
	out := make([]int32, 0, len(l.pending))
	for id := range l.pending {
		out = append(out, id)
	}
	clear(l.pending)
	slices.Sort(out)
	return out
}

// Heartbeat records that broker id was heard from now. Only the leader's
// record matters; followers forward BrokerMgmt fetches to it. An id that
// is not registered is ignored, so a caller may record the heartbeat
// before validating the request (as early as possible: a heartbeat that
// waits behind a slow read barrier is heard late).
func (c *Controller) Heartbeat(id int32) {
	if !c.node.IsLeader() {
		return
	}
	now := c.clock.Now()
	t := c.sessions(now)
	if _, ok := t.entry(id); !ok {
		if _, registered := c.state.Image().Broker(id); !registered {
			return
		}
	}
	if t.touch(id, now) && t.crowded() {
		c.foldSessions(t)
	}
}

// foldSessions replaces t by a table of the same term whose fixed map
// holds every entry of t (the same slots, so no heartbeat is undone).
// Brokers registering one by one would otherwise all end up in extra. A
// heartbeat that lands in t's extra while this copies may be lost; the
// next one, or the check (which starts a session for a broker it finds
// no entry for), makes up for it, so it can only delay a fence.
func (c *Controller) foldSessions(t *sessionTable) {
	c.live.buildMu.Lock()
	defer c.live.buildMu.Unlock()
	if c.live.table.Load() != t {
		return
	}
	next := &sessionTable{term: t.term, base: t.base, fixed: make(map[int32]*atomic.Int64, len(t.fixed)+int(t.extraN.Load()))}
	for id, v := range t.fixed {
		next.fixed[id] = v
	}
	t.extra.Range(func(k, v any) bool {
		next.fixed[k.(int32)] = v.(*atomic.Int64)
		return true
	})
	c.live.table.Store(next)
}

// sessions is the current term's session table, built when this node
// leads a new term: every registered broker is treated as heard from now,
// so a failover never fences brokers that were heartbeating the old
// leader.
func (c *Controller) sessions(now time.Time) *sessionTable {
	term := c.node.Term()
	if t := c.live.table.Load(); t != nil && t.term == term {
		return t
	}
	// Thousands of heartbeats may arrive at once when a term starts: one
	// of them builds the table, the others wait for it.
	c.live.buildMu.Lock()
	defer c.live.buildMu.Unlock()
	if t := c.live.table.Load(); t != nil && t.term >= term {
		return t
	}
	brokers := c.state.Image().Brokers()
	fresh := &sessionTable{term: term, base: now, fixed: make(map[int32]*atomic.Int64, len(brokers))}
	for _, b := range brokers {
		fresh.fixed[b.BrokerID] = new(atomic.Int64)
	}
	c.live.table.Store(fresh)
	return fresh
}

// stallThreshold is the gap between checks (or the wait for a read
// barrier) beyond which the leader counts as stalled (rule 2 above).
func (c *Controller) stallThreshold() time.Duration {
	return max(2*time.Duration(c.live.interval.Load()), c.sessionTimeout/3)
}

var errNotAlive = errors.New("controller: broker no longer ALIVE")

// errStillLive ends a fencing attempt whose broker was heard from after
// the check chose it.
var errStillLive = errors.New("controller: broker heartbeated meanwhile")

// FenceExpired is one liveness check (see the rules above): it fences
// ALIVE brokers not heard from for longer than the session timeout, each
// with the batches of a departure (departure.go), and finishes any
// departure or return that a leader change or an error left half done. It
// does nothing on a follower. It returns the brokers it fenced.
func (c *Controller) FenceExpired(ctx context.Context) ([]int32, error) {
	if !c.node.IsLeader() {
		return nil, nil
	}
	c.live.check.Lock()
	defer c.live.check.Unlock()

	now := c.clock.Now()
	t := c.sessions(now)
	if t.extraN.Load() > 0 {
		// Brokers registered since the last fold: move them to the
		// lock-free map, so every heartbeat takes the fast path.
		c.foldSessions(t)
		t = c.live.table.Load()
	}
	stalled := c.checkGapLocked(t, now)
	// The gap that counts is the time no check ran: a check that itself
	// takes long (fencing a broker in many batches) is no stall, since
	// heartbeats are handled meanwhile.
	defer func() { c.live.lastCheck, c.live.checkTerm = c.clock.Now(), t.term }()

	// Brokers registered from ZooKeeper never heartbeat YAKt: no broker
	// is fenced while a migration runs, and each starts a fresh session
	// once it ends. While ZooKeeper is the authority nothing else is
	// written either (departures left half done wait for cutover).
	phase := migrationPhase(c.state.Image())
	if metadata.MigrationZkAuthoritative(phase) {
		t.refreshAll(now)
		return nil, nil
	}
	settleErr := c.settlePending(ctx, t.term)
	if stalled {
		return nil, settleErr
	}
	if metadata.MigrationActive(phase) {
		t.refreshAll(now)
		return nil, settleErr
	}

	candidates := c.expired(t, now)
	if len(candidates) == 0 {
		return nil, settleErr
	}
	// Each fencing write passes its own barrier; this one measures how
	// responsive the raft loop is, since heartbeats reach us through
	// fetches that wait on it too.
	t0 := c.clock.Now()
	bctx, cancel := context.WithTimeout(ctx, c.sessionTimeout)
	err := c.node.ReadBarrier(bctx)
	cancel()
	if err != nil {
		return nil, errors.Join(settleErr, fmt.Errorf("liveness check: read barrier: %w", nodeError(err)))
	}
	if waited := c.clock.Now().Sub(t0); waited > c.stallThreshold() {
		c.log.Warn("liveness: the raft loop answered a read barrier late; every broker starts a fresh session",
			"waited", waited, "threshold", c.stallThreshold())
		t.refreshAll(c.clock.Now())
		return nil, settleErr
	}

	var fenced []int32
	for _, id := range candidates {
		_, _, err := c.brokerWrite(ctx, id, func(img *metadata.Image) ([]metadata.Record, bool, error) {
			if !isAlive(img, id) {
				return nil, false, errNotAlive // fenced or closed meanwhile
			}
			if metadata.MigrationActive(migrationPhase(img)) {
				return nil, false, errNotAlive // a migration started meanwhile: see above
			}
			// The current table: a fold may have replaced t (same slots).
			if seen, ok := c.live.table.Load().lastSeen(id); ok && c.clock.Now().Sub(seen) <= c.sessionTimeout {
				return nil, false, errStillLive
			}
			return buildBrokerDeparture(img, id, metadata.StatusFenced, MaxPartitionsPerRequest)
		}, nil)
		if errors.Is(err, errNotAlive) || errors.Is(err, errStillLive) {
			continue
		}
		if err != nil {
			return fenced, errors.Join(settleErr, fmt.Errorf("fence broker %d: %w", id, err))
		}
		c.live.timedOut.Add(1)
		seen, _ := t.lastSeen(id)
		c.log.Warn("fenced broker: no heartbeat within the session timeout", "broker", id,
			"timeout", c.sessionTimeout, "silent", c.clock.Now().Sub(seen))
		fenced = append(fenced, id)
	}
	return fenced, settleErr
}

// checkGapLocked reports whether the gap since the end of the previous
// check of the same term shows a leader stall, in which case every broker
// has been given a fresh session.
func (c *Controller) checkGapLocked(t *sessionTable, now time.Time) bool {
	prev := c.live.lastCheck
	if c.live.checkTerm != t.term || prev.IsZero() {
		// The term's first check: the sessions started when the table was
		// built (at the term's first heartbeat or check).
		prev = t.base
	}
	gap := now.Sub(prev)
	if gap <= c.stallThreshold() {
		return false
	}
	c.log.Warn("liveness: checks were delayed; every broker starts a fresh session",
		"gap", gap, "threshold", c.stallThreshold())
	t.refreshAll(now)
	return true
}

// expired returns the ALIVE brokers whose session ran out, the longest
// silent first, at most MaxFencesPerCheck of them.
func (c *Controller) expired(t *sessionTable, now time.Time) []int32 {
	type silent struct {
		id    int32
		quiet time.Duration
	}
	var out []silent
	// Candidates come from the applied image without a read barrier: each
	// fencing write passes its own barrier and re-checks the broker is
	// still ALIVE, so a check that finds no one costs no raft round.
	for _, b := range c.state.Image().Brokers() {
		if b.BrokerStatus != metadata.StatusAlive {
			continue
		}
		seen, ok := t.lastSeen(b.BrokerID)
		if !ok { // registered since the table was built
			t.touch(b.BrokerID, now)
			continue
		}
		if d := now.Sub(seen); d > c.sessionTimeout {
			out = append(out, silent{b.BrokerID, d})
		}
	}
	slices.SortFunc(out, func(a, b silent) int {
		return cmp.Or(cmp.Compare(b.quiet, a.quiet), cmp.Compare(a.id, b.id))
	})
	if len(out) > MaxFencesPerCheck {
		c.log.Warn("liveness: more expired sessions than one check fences", "expired", len(out), "fencing", MaxFencesPerCheck)
		out = out[:MaxFencesPerCheck]
	}
	ids := make([]int32, len(out))
	for i, s := range out {
		ids[i] = s.id
	}
	return ids
}

// settlePending finishes departures and returns left half done: once per
// term over the whole image (the previous leader may have stopped between
// batches), and every check for those this node's own follow-up batches
// failed on.
func (c *Controller) settlePending(ctx context.Context, term uint64) error {
	ids := c.live.takePending()
	var errs []error
	if c.live.sweptTerm != term {
		// After a barrier: a new leader may not have applied its
		// predecessor's last batches yet, and must not miss one that began
		// a departure.
		bctx, cancel := context.WithTimeout(ctx, c.sessionTimeout)
		err := c.node.ReadBarrier(bctx)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("settle sweep: read barrier: %w", nodeError(err)))
		} else {
			ids = append(ids, unsettledBrokers(c.state.Image())...)
			c.live.sweptTerm = term
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if err := c.settle(ctx, id); err != nil {
			c.live.addPending(id)
			errs = append(errs, err)
			continue
		}
		c.log.Info("liveness: finished a broker's interrupted departure or return", "broker", id)
	}
	return errors.Join(errs...)
}

// unsettledBrokers are the brokers whose departure or return is not
// finished in img: one out of service that still leads, or is in an ISR
// with others; one ALIVE in the ISR of an offline partition.
func unsettledBrokers(img *metadata.Image) []int32 {
	status := map[int32]string{}
	for _, b := range img.Brokers() {
		status[b.BrokerID] = b.BrokerStatus
	}
	out := map[int32]struct{}{}
	out2 := func(id int32) {
		if _, ok := status[id]; ok {
			out[id] = struct{}{}
		}
	}
	for _, t := range img.Topics() {
		img.EachPartition(t.TopicUUID, func(p *metadata.PartitionRecord) {
			if p.Leader == metadata.NoLeader {
				for _, b := range p.ISR {
					if status[b] == metadata.StatusAlive {
						out2(b)
					}
				}
				return
			}
			if status[p.Leader] != metadata.StatusAlive {
				out2(p.Leader)
			}
			if len(p.ISR) > 1 {
				for _, b := range p.ISR {
					if status[b] != metadata.StatusAlive {
						out2(b)
					}
				}
			}
		})
	}
	ids := make([]int32, 0, len(out))
	for id := range out {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// RunLiveness checks broker sessions every interval until ctx ends. Its
// decisions use the controller's Clock; the ticker only schedules them.
func (c *Controller) RunLiveness(ctx context.Context, interval time.Duration) {
	c.live.interval.Store(int64(interval))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.FenceExpired(ctx); err != nil && ctx.Err() == nil {
				c.log.Debug("liveness check", slog.Any("err", err))
			}
		}
	}
}
