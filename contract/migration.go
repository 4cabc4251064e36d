package contract

// Migration from ZooKeeper (docs/migration.md): an admin starts it with
// POST /v1/migration, watches it with GET /v1/migration, and moves it on
// with POST /v1/migration/cutover, /finalize and /rollback.

// MigrationStartRequest is POST /v1/migration's body.
type MigrationStartRequest struct {
	// ZkConnect is ZooKeeper's connect string: host:port[,host:port...][/chroot].
	ZkConnect string `json:"zkConnect"`
}

// MigrationPhaseNone is MigrationStatus.Phase when no migration has started.
const MigrationPhaseNone = "NONE"

// MigrationStatus is GET /v1/migration's answer, and the answer of every
// migration operation: the state the log holds, plus, from the node that
// runs the migration (the leader), what it is doing right now.
type MigrationStatus struct {
	Phase          string `json:"phase"` // NONE, IMPORTING, FOLLOWING, DUAL_WRITE, FINALIZED, ABORTED or FAILED
	ZkConnect      string `json:"zkConnect,omitempty"`
	ZkClusterID    string `json:"zkClusterId,omitempty"`
	Zxid           int64  `json:"zxid"`           // ZooKeeper state applied up to this transaction id
	TopicsImported int64  `json:"topicsImported"` // import progress
	TopicsTotal    int64  `json:"topicsTotal"`
	Error          string `json:"error,omitempty"` // why a FAILED migration stopped
	Offset         int64  `json:"offset"`          // the log offset the state was read at
	// Driver is the live report of the node running the migration;
	// absent when none runs it (no migration, or between leaders).
	Driver *MigrationDriverStatus `json:"driver,omitempty"`
}

// MigrationDriverStatus is what the node running a migration reports.
type MigrationDriverStatus struct {
	NodeID      uint64 `json:"nodeId"`
	ZkConnected bool   `json:"zkConnected"`
	// Activity is what it does now: "importing", "following",
	// "dual-writing", "waiting" (for ZooKeeper or the log) or "idle".
	Activity string `json:"activity"`
	// ChangesApplied counts ZooKeeper changes applied to YAKt, and
	// ZkWrites YAKt changes written to ZooKeeper, since this node took over.
	ChangesApplied int64 `json:"changesApplied"`
	ZkWrites       int64 `json:"zkWrites"`
	// PendingZkWrites is how many applied YAKt changes still wait to be
	// written to ZooKeeper (dual write).
	PendingZkWrites int64 `json:"pendingZkWrites"`
	// LastLagMs is how long the last applied ZooKeeper change took from
	// its watch firing to its commit in YAKt.
	LastLagMs int64 `json:"lastLagMs"`
	// Problems are the znodes whose content could not be applied, newest
	// last; each is retried when the znode (or what it refers to) changes.
	Problems []MigrationProblem `json:"problems"`
}

// MigrationProblem is one znode the migration could not apply.
type MigrationProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"` // what is wrong and what was not applied
	AtMs    int64  `json:"atMs"`    // unix milliseconds when it was seen
}
