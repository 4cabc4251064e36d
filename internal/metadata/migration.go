package metadata

import (
	"math"
	"strconv"
)

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
// from there. In an Image it is the latest such record, but for
// NextProducerID: the highest any such record carried (Image.Migration).
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
// migration has ever started. Its NextProducerID is the highest any
// migration record carried (a later record's 0 or lower value does not
// give ZooKeeper's ids back); every other field is the latest record's.
func (im *Image) Migration() (ZkMigrationStateRecord, bool) { return im.state.migration() }

// Migration is Image.Migration as of the records replayed so far.
func (d *Delta) Migration() (ZkMigrationStateRecord, bool) { return d.cur.migration() }

func (s *state) migration() (ZkMigrationStateRecord, bool) {
	if s.mig == nil {
		return ZkMigrationStateRecord{}, false
	}
	return *s.mig, true
}

// migrationPhase is the current phase, MigrationNone before any.
func (s *state) migrationPhase() string {
	if s.mig == nil {
		return MigrationNone
	}
	return s.mig.Phase
}

// producerIDFloor is the first producer id YAKt may give out: ZooKeeper
// gave out every id below it (0 without a migration).
func (s *state) producerIDFloor() int64 {
	if s.mig == nil {
		return 0
	}
	return s.mig.NextProducerID
}

// checkMigrationFields is what a migration state must hold whatever came
// before it (replay and the snapshot reader both check it).
func checkMigrationFields(r *ZkMigrationStateRecord) *Error {
	switch {
	case !ValidMigrationPhase(r.Phase):
		return Errorf(ReasonInvalid, "migration phase %q is not IMPORTING, FOLLOWING, DUAL_WRITE, FINALIZED, ABORTED or FAILED", r.Phase)
	case r.Zxid < 0:
		return Errorf(ReasonInvalid, "migration zxid %d is negative", r.Zxid)
	case r.NextProducerID < 0 || r.NextProducerID > math.MaxInt64-ProducerIDBlockSize:
		// The bound keeps every later block's end representable, as
		// ProducerIdsRecord's own bound does.
		return Errorf(ReasonInvalid, "migration nextProducerId %d is outside [0, %d]", r.NextProducerID, int64(math.MaxInt64-ProducerIDBlockSize))
	case r.TopicsImported < 0 || r.TopicsTotal < 0:
		return Errorf(ReasonInvalid, "migration progress %d of %d is negative", r.TopicsImported, r.TopicsTotal)
	}
	return nil
}

// migrationState replays a ZkMigrationStateRecord: the phase must be
// valid and reachable from the current one (MigrationTransitionAllowed;
// loading an image's Records() takes any valid phase, since it holds only
// the latest state). The record becomes the migration state, and the
// image's NextProducerID rises to its NextProducerID.
func (d *Delta) migrationState(r *ZkMigrationStateRecord) error {
	if err := checkMigrationFields(r); err != nil {
		return err
	}
	from := d.cur.migrationPhase()
	if !d.snapshot && !MigrationTransitionAllowed(from, r.Phase) {
		if from == MigrationNone {
			from = "none"
		}
		return Errorf(ReasonMigrationPhase, "migration cannot move from phase %s to %s", from, r.Phase)
	}
	m := *r
	m.NextProducerID = max(m.NextProducerID, d.cur.producerIDFloor())
	d.cur.mig = &m
	if pids := d.cur.pids; m.NextProducerID > pids.next {
		d.cur.pids = &producerIDsImage{next: m.NextProducerID, blocks: pids.blocks}
	}
	return nil
}

// appendJSON appends what encoding/json makes of r.
func (r *ZkMigrationStateRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"phase":`...)
	b = appendString(b, r.Phase)
	b = append(b, `,"zkConnect":`...)
	b = appendString(b, r.ZkConnect)
	b = append(b, `,"zkClusterId":`...)
	b = appendString(b, r.ZkClusterID)
	b = append(b, `,"zxid":`...)
	b = strconv.AppendInt(b, r.Zxid, 10)
	b = append(b, `,"nextProducerId":`...)
	b = strconv.AppendInt(b, r.NextProducerID, 10)
	b = append(b, `,"topicsImported":`...)
	b = strconv.AppendInt(b, r.TopicsImported, 10)
	b = append(b, `,"topicsTotal":`...)
	b = strconv.AppendInt(b, r.TopicsTotal, 10)
	b = append(b, `,"error":`...)
	b = appendString(b, r.Error)
	return append(b, '}')
}
