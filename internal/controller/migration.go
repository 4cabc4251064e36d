package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// The admin side of a migration from ZooKeeper (docs/migration.md): each
// operation validates the phase on the leader and commits a
// ZkMigrationStateRecord; the migration driver (internal/migration) on
// the leader does the work each phase asks for.
//
// While ZooKeeper is the authority (metadata.MigrationZkAuthoritative)
// the operations clients and brokers call to change metadata refuse with
// 409 MIGRATION_IN_PROGRESS (refuseWhileZkAuthoritative, called first in
// each of their build functions), so only the driver's batches
// (MigrationWrite, which calls write directly) change what ZooKeeper owns.

// MaxZkConnectLength bounds a ZooKeeper connect string.
const MaxZkConnectLength = 1024

// StartMigration commits phase IMPORTING for req.ZkConnect, after checking
// that ZooKeeper answers at that address (check is called on the leader
// with the connect string; it returns Kafka's cluster id from /cluster/id
// or an error). Allowed when no migration runs, or after ABORTED/FAILED.
func (c *Controller) StartMigration(ctx context.Context, req contract.MigrationStartRequest, check func(ctx context.Context, zkConnect string) (clusterID string, err error)) (contract.MigrationStatus, error) {
	if err := ValidateZkConnect(req.ZkConnect); err != nil {
		return contract.MigrationStatus{}, err
	}
	// Refuse a running migration before reaching out to ZooKeeper: the
	// answer should not depend on whether some other ensemble is up. The
	// write below checks again against the forecast.
	img, err := c.linearizableImage(ctx)
	if err != nil {
		return contract.MigrationStatus{}, err
	}
	// A repeat of a start that committed is answered with its first
	// answer, not refused because the migration it started runs.
	if applied, _, ok, err := knownAnswer(ctx, img); ok || err != nil {
		if err != nil {
			return contract.MigrationStatus{}, err
		}
		return appliedStatus(applied)
	}
	if err := startAllowed(img); err != nil {
		return contract.MigrationStatus{}, err
	}
	if check == nil {
		return contract.MigrationStatus{}, contract.Errorf(contract.CodeZooKeeperUnavailable,
			"this node cannot reach ZooKeeper: it runs without a migration driver; nothing was started")
	}
	clusterID, err := check(ctx, req.ZkConnect)
	if err != nil {
		return contract.MigrationStatus{}, zooKeeperUnavailable(req.ZkConnect, err)
	}
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		if err := startAllowed(img); err != nil {
			return nil, err
		}
		return []metadata.Record{{Body: &metadata.ZkMigrationStateRecord{
			Phase: metadata.MigrationImporting, ZkConnect: req.ZkConnect, ZkClusterID: clusterID,
		}}}, nil
	})
	if err != nil {
		return contract.MigrationStatus{}, err
	}
	c.log.Info("migration from ZooKeeper started", "zkConnect", req.ZkConnect, "zkClusterId", clusterID, "offset", applied[0].Offset)
	return appliedStatus(applied)
}

// zooKeeperUnavailable is StartMigration's answer when check failed: a
// coded error keeps its code (the check knows best, e.g. a chroot that
// holds no Kafka cluster), anything else is 503 ZOOKEEPER_UNAVAILABLE.
func zooKeeperUnavailable(zkConnect string, err error) error {
	if ce, ok := errors.AsType[*contract.Error](err); ok {
		return ce
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return contract.Errorf(contract.CodeZooKeeperUnavailable, "ZooKeeper at %s did not answer in time; nothing was started", clip(zkConnect))
	}
	return contract.Errorf(contract.CodeZooKeeperUnavailable, "ZooKeeper at %s: %v; nothing was started", clip(zkConnect), err)
}

// startAllowed refuses a start while a migration runs or is finalized.
func startAllowed(img *metadata.Image) error {
	cur, ok := img.Migration()
	if !ok || cur.Phase == metadata.MigrationAborted || cur.Phase == metadata.MigrationFailed {
		return nil
	}
	return contract.Errorf(contract.CodeMigrationPhase,
		"a migration from ZooKeeper %s is %s; a new one starts only when none has started or the last one is ABORTED or FAILED",
		clip(cur.ZkConnect), cur.Phase)
}

// CutoverMigration makes YAKt the authority: FOLLOWING → DUAL_WRITE.
func (c *Controller) CutoverMigration(ctx context.Context) (contract.MigrationStatus, error) {
	return c.movePhase(ctx, "cutover", map[string]string{metadata.MigrationFollowing: metadata.MigrationDualWrite})
}

// FinalizeMigration stops the dual write: DUAL_WRITE → FINALIZED.
func (c *Controller) FinalizeMigration(ctx context.Context) (contract.MigrationStatus, error) {
	return c.movePhase(ctx, "finalize", map[string]string{metadata.MigrationDualWrite: metadata.MigrationFinalized})
}

// RollbackMigration hands authority back to ZooKeeper: DUAL_WRITE →
// FOLLOWING, or stops a migration before cutover: IMPORTING/FOLLOWING →
// ABORTED.
func (c *Controller) RollbackMigration(ctx context.Context) (contract.MigrationStatus, error) {
	return c.movePhase(ctx, "rollback", map[string]string{
		metadata.MigrationDualWrite: metadata.MigrationFollowing,
		metadata.MigrationImporting: metadata.MigrationAborted,
		metadata.MigrationFollowing: metadata.MigrationAborted,
	})
}

// movePhase commits the state record that moves the migration on from
// its current phase to next[phase]; 409 MIGRATION_PHASE when next has no
// entry for the current phase. The record keeps what the current one
// says (connect string, zxid, progress), so the driver resumes from
// there.
func (c *Controller) movePhase(ctx context.Context, op string, next map[string]string) (contract.MigrationStatus, error) {
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		rec, err := nextPhaseRecord(img, op, next)
		if err != nil {
			return nil, err
		}
		return []metadata.Record{{Body: rec}}, nil
	})
	if err != nil {
		return contract.MigrationStatus{}, err
	}
	st, err := appliedStatus(applied)
	if err == nil {
		c.log.Info("migration from ZooKeeper moved on", "op", op, "phase", st.Phase, "zxid", st.Zxid, "offset", st.Offset)
	}
	return st, err
}

// nextPhaseRecord is movePhase's record for img.
func nextPhaseRecord(img *metadata.Image, op string, next map[string]string) (*metadata.ZkMigrationStateRecord, error) {
	cur, ok := img.Migration()
	if !ok {
		return nil, contract.Errorf(contract.CodeMigrationPhase, "%s: no migration from ZooKeeper has started", op)
	}
	to, ok := next[cur.Phase]
	if !ok {
		return nil, contract.Errorf(contract.CodeMigrationPhase, "%s applies to a migration that is %s; this one is %s",
			op, phaseList(next), cur.Phase)
	}
	rec := cur
	rec.Phase, rec.Error = to, ""
	return &rec, nil
}

// phaseList names next's phases for a message, in lifecycle order.
func phaseList(next map[string]string) string {
	var out []string
	for _, p := range []string{metadata.MigrationImporting, metadata.MigrationFollowing, metadata.MigrationDualWrite} {
		if _, ok := next[p]; ok {
			out = append(out, p)
		}
	}
	return strings.Join(out, " or ")
}

// appliedStatus is an operation's answer from its applied batch (one
// ZkMigrationStateRecord), also when it is the first answer of a repeated
// Idempotency-Key.
func appliedStatus(applied []metadata.Record) (contract.MigrationStatus, error) {
	if len(applied) != 1 {
		return contract.MigrationStatus{}, fmt.Errorf("controller: migration operation applied %d records, want 1", len(applied))
	}
	rec, ok := applied[0].Body.(*metadata.ZkMigrationStateRecord)
	if !ok {
		return contract.MigrationStatus{}, fmt.Errorf("controller: migration operation applied a %T at offset %d", applied[0].Body, applied[0].Offset)
	}
	return migrationStatus(*rec, true, applied[0].Offset), nil
}

// migrationStatus is the answer for state rec (ok false: none) read at
// offset; Driver is the API's to add.
func migrationStatus(rec metadata.ZkMigrationStateRecord, ok bool, offset int64) contract.MigrationStatus {
	if !ok {
		return contract.MigrationStatus{Phase: contract.MigrationPhaseNone, Offset: offset}
	}
	return contract.MigrationStatus{
		Phase: rec.Phase, ZkConnect: rec.ZkConnect, ZkClusterID: rec.ZkClusterID, Zxid: rec.Zxid,
		TopicsImported: rec.TopicsImported, TopicsTotal: rec.TopicsTotal, Error: rec.Error, Offset: offset,
	}
}

// MigrationStatus reads the migration state (linearizable unless stale).
func (c *Controller) MigrationStatus(ctx context.Context, stale bool) (contract.MigrationStatus, error) {
	img, err := c.Image(ctx, stale)
	if err != nil {
		return contract.MigrationStatus{}, err
	}
	rec, ok := img.Migration()
	return migrationStatus(rec, ok, img.Offset()), nil
}

// refuseWhileZkAuthoritative is the guard of every metadata write a client
// or broker asks for: 409 MIGRATION_IN_PROGRESS while a migration keeps
// ZooKeeper the authority. It runs in the write's build function, so it
// sees the forecast (a start proposed a moment ago counts) and its refusal
// is confirmed from committed state like any other.
func refuseWhileZkAuthoritative(img *metadata.Image) error {
	m, ok := img.Migration()
	if !ok || !metadata.MigrationZkAuthoritative(m.Phase) {
		return nil
	}
	return contract.Errorf(contract.CodeMigrationInProgress,
		"a migration from ZooKeeper is %s: ZooKeeper is the authority and YAKt's own metadata writes are refused until cutover; make the change in ZooKeeper, or cut over first",
		m.Phase)
}

// migrationPhase is img's migration phase; MigrationNone when none.
func migrationPhase(img *metadata.Image) string {
	m, ok := img.Migration()
	if !ok {
		return metadata.MigrationNone
	}
	return m.Phase
}

// ValidateZkConnect checks a ZooKeeper connect string:
// host:port[,host:port...][/chroot], hosts as checkHost accepts them (an
// IPv6 address in brackets), ports 1-65535, and a chroot of non-empty
// path segments without spaces or control characters. INVALID_REQUEST
// otherwise.
func ValidateZkConnect(s string) error {
	bad := func(format string, args ...any) error {
		return contract.Errorf(contract.CodeInvalidRequest, "zkConnect %q must be host:port[,host:port...][/chroot]: "+format,
			append([]any{clip(s)}, args...)...)
	}
	switch {
	case s == "":
		return contract.Errorf(contract.CodeInvalidRequest, "zkConnect is required: host:port[,host:port...][/chroot]")
	case len(s) > MaxZkConnectLength:
		return contract.Errorf(contract.CodeInvalidRequest, "zkConnect is %d bytes long; the limit is %d", len(s), MaxZkConnectLength)
	}
	servers, chroot := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		servers, chroot = s[:i], s[i:]
	}
	for hp := range strings.SplitSeq(servers, ",") {
		if hp == "" {
			return bad("an empty server")
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return bad("server %q has no port", clip(hp))
		}
		if err := checkHost("zkConnect host", host); err != nil {
			return err
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return bad("port %q of %q is not 1-65535", clip(port), clip(hp))
		}
	}
	if chroot == "" {
		return nil
	}
	if chroot == "/" {
		return nil // the root: the same as none
	}
	for seg := range strings.SplitSeq(chroot[1:], "/") {
		switch seg {
		case "":
			return bad("the chroot %q has an empty segment (or ends with '/')", clip(chroot))
		case ".", "..":
			return bad("the chroot %q has a relative segment %q", clip(chroot), seg)
		}
		for _, c := range seg {
			if unicode.IsSpace(c) || !unicode.IsPrint(c) {
				return bad("the chroot %q contains %s", clip(chroot), quoteRune(c))
			}
		}
	}
	return nil
}
