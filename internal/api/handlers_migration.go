package api

import (
	"context"
	"net/http"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// Migration from ZooKeeper (docs/api.md, "Migration from ZooKeeper"). The
// operations are writes, run on the leader; GET /v1/migration is answered
// by the leader too, since only the node running the migration knows what
// its driver is doing.

// MigrationHooks connect the API to this node's migration driver
// (internal/migration). Either may be nil: a node without a driver
// answers 503 ZOOKEEPER_UNAVAILABLE to a start and reports no live status.
type MigrationHooks struct {
	// Check connects to ZooKeeper at zkConnect and returns Kafka's
	// cluster id (from /cluster/id); an error means the migration cannot
	// start.
	Check func(ctx context.Context, zkConnect string) (clusterID string, err error)
	// Status is the driver's live report; nil when this node does not
	// run the migration.
	Status func() *contract.MigrationDriverStatus
	// PrepareCutover runs on the leader before a cutover commits: the
	// driver fences ZooKeeper's controller and commits whatever
	// ZooKeeper holds that YAKt lacks. The caller must call done with
	// whether the cutover then committed; if not, the driver gives
	// ZooKeeper's controller role back. An error refuses the cutover
	// with nothing committed and nothing claimed.
	PrepareCutover func(ctx context.Context) (done func(committed bool), err error)
}

// driverStatus is the local driver's report, nil without one.
func (s *Server) driverStatus() *contract.MigrationDriverStatus {
	if s.cfg.Migration.Status == nil {
		return nil
	}
	d := s.cfg.Migration.Status()
	if d != nil && d.Problems == nil {
		cp := *d // the driver's own copy stays as it is
		cp.Problems = []contract.MigrationProblem{}
		d = &cp
	}
	return d
}

// replyMigration answers a migration operation or status with the
// driver's live report added.
func (s *Server) replyMigration(w http.ResponseWriter, r *http.Request, st contract.MigrationStatus, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st.Driver = s.driverStatus()
	setOffset(w, st.Offset)
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) serveStartMigration(w http.ResponseWriter, r *http.Request) {
	var req contract.MigrationStartRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	st, err := s.ctrl.StartMigration(ctx, req, s.cfg.Migration.Check)
	s.replyMigration(w, r, st, err)
}

// serveCutoverMigration refuses unless the driver follows ZooKeeper
// without problems: YAKt must take over exactly the state ZooKeeper
// holds, and at takeover it makes ZooKeeper match its own image, which
// would undo whatever ZooKeeper changed that the driver has not applied.
// So the driver first fences ZooKeeper's controller and catches up with
// what it wrote until then (PrepareCutover); only then does the cutover
// commit, and if it does not, the fence is lifted again.
//
// Only a migration that can be cut over (FOLLOWING) is held to that; in
// any other phase the controller answers (MIGRATION_PHASE, or the first
// answer of a repeated request). The phase can leave FOLLOWING meanwhile
// only for one the controller refuses to cut over.
func (s *Server) serveCutoverMigration(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	cur, err := s.ctrl.MigrationStatus(ctx, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done := func(bool) {}
	if cur.Phase == metadata.MigrationFollowing {
		if err := cutoverReady(s.driverStatus()); err != nil {
			s.writeError(w, r, err)
			return
		}
		if prepare := s.cfg.Migration.PrepareCutover; prepare != nil {
			if done, err = prepare(ctx); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
	}
	st, err := s.ctrl.CutoverMigration(ctx)
	done(err == nil)
	s.replyMigration(w, r, st, err)
}

// cutoverReady is nil when the driver's report d lets a cutover go on:
// 503 NOT_READY while no driver reports (a new leader's driver starts by
// reading ZooKeeper again; the client retries), 503 ZOOKEEPER_UNAVAILABLE
// while it is not connected, 409 MIGRATION_PHASE while it reports znodes
// it could not apply.
func cutoverReady(d *contract.MigrationDriverStatus) error {
	switch {
	case d == nil:
		return contract.Errorf(contract.CodeNotReady,
			"cutover refused: no migration driver reports on the leader yet (a new leader reads ZooKeeper again first); retry shortly")
	case !d.ZkConnected:
		return contract.Errorf(contract.CodeZooKeeperUnavailable,
			"cutover refused: the migration on node %d is not connected to ZooKeeper, so it may not have applied ZooKeeper's latest changes; nothing changed", d.NodeID)
	case len(d.Problems) > 0:
		first := d.Problems[0]
		return contract.Errorf(contract.CodeMigrationPhase,
			"cutover refused: the migration reports %d znode(s) it could not apply, the first %s (%s); fix them in ZooKeeper (they are retried on every change), then cut over",
			len(d.Problems), clipInput(first.Path), clipInput(first.Message))
	}
	return nil
}

func (s *Server) serveFinalizeMigration(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	st, err := s.ctrl.FinalizeMigration(ctx)
	s.replyMigration(w, r, st, err)
}

func (s *Server) serveRollbackMigration(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	st, err := s.ctrl.RollbackMigration(ctx)
	s.replyMigration(w, r, st, err)
}

// serveMigrationStatus answers the state the log holds and, from the
// leader, its driver's live report: a follower forwards the request to
// the leader as it forwards writes, unless the caller accepts this node's
// own view (?stale=true, without a live report unless this node runs the
// migration).
func (s *Server) serveMigrationStatus(w http.ResponseWriter, r *http.Request) {
	if isStale(r) || s.ctrl.IsLeader() {
		s.serveMigrationStatusLocal(w, r)
		return
	}
	if r.Header.Get(headerForwarded) != "" {
		s.writeError(w, r, contract.Errorf(contract.CodeNoLeader, "this node is not the leader; retry"))
		return
	}
	s.forward(w, r, http.HandlerFunc(s.serveMigrationStatusLocal))
}

func (s *Server) serveMigrationStatusLocal(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	st, err := s.ctrl.MigrationStatus(ctx, isStale(r))
	s.replyMigration(w, r, st, err)
}
