package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// SnapshotLostError is returned by Open when no snapshot file that
// verifies, together with the WAL, can rebuild the state: the snapshot the
// WAL's newest marker names is damaged or gone, and the WAL was compacted
// past the newest snapshot that still verifies (or was reset to a
// snapshot from the leader whose file is lost). Nothing on disk is
// changed.
//
// The node can still start without giving up anything it promised: the
// HardState (term, vote) and the WAL are intact, only the state that the
// lost snapshot captured is missing. A caller fetches a snapshot at index
// >= Index from a peer, hands it to InstallSnapshot and opens again; see
// InstallSnapshot for why that is safe. An operator can do the same by
// copying a peer's snapshot file in.
type SnapshotLostError struct {
	Dir string
	// Index and Term are those of the newest snapshot the WAL records
	// (its newest snapshot marker): a replacement must be at least that
	// new, because the WAL may hold nothing before it.
	Index, Term uint64
	// NewestValid is the index of the newest snapshot file that verified,
	// 0 if none did.
	NewestValid uint64
	// Bad lists the snapshot files that failed verification, newest first.
	Bad []BadSnapshotFile
	// Reason says which entries the WAL is missing.
	Reason string
}

// BadSnapshotFile is a snapshot file Open skipped and why.
type BadSnapshotFile struct {
	Path string
	Err  error
}

func (e *SnapshotLostError) Error() string {
	return fmt.Sprintf("storage: %s: no valid snapshot covers what the WAL compacted away (need a snapshot at index >= %d, newest valid is %d, %d damaged files): %s",
		e.Dir, e.Index, e.NewestValid, len(e.Bad), e.Reason)
}

// errLost is fit's way of saying "the snapshot is lost"; Open turns it
// into a *SnapshotLostError with the rest of what it knows.
type errLost struct{ reason string }

func (e *errLost) Error() string { return "storage: " + e.reason }

// InstallSnapshot makes snap, a snapshot fetched from a peer, the newest
// snapshot file of cfg.Dir, so that the next Open rebuilds from it. It
// neither opens nor changes the WAL; the directory must be formatted for
// cfg's node and cluster and must not be open.
//
// Safety. Open fits the WAL to the newest valid snapshot, and with an
// installed snapshot at index L that fitting is raft's own rule for a
// follower that receives a snapshot (MemoryStorage.ApplySnapshot plus log
// matching), so no entry this node may have acknowledged is lost unless a
// committed one replaces it:
//
//   - the HardState (term, vote) stays as the WAL has it, so the node
//     never votes twice in a term;
//   - L must be >= the WAL's newest snapshot marker (InstallSnapshot
//     refuses an older one, with raft.ErrSnapOutOfDate semantics): the WAL
//     may have been compacted up to that marker, so an older snapshot would
//     leave a hole in the log;
//   - a snapshot only ever holds committed entries, so every entry <= L it
//     replaces is either in it or conflicts with a committed entry and can
//     never commit;
//   - entries after L are kept when the WAL's entry at L has the
//     snapshot's term (log matching: the logs agree up to L); otherwise
//     they follow an entry that can never commit, so they can never commit
//     either, and the whole local log is replaced by the snapshot. Open
//     then writes a reset marker so later appends after L replay cleanly.
//
// Errors: a *CorruptError from reading the WAL, an *IdentityError, or an
// error for a snapshot older than the WAL's newest marker or for I/O.
func InstallSnapshot(cfg Config, snap raftpb.Snapshot) error {
	return InstallSnapshotFrom(cfg, snap.Metadata, nil, bytes.NewReader(snap.Data))
}

// InstallSnapshotFrom is InstallSnapshot with the data streamed from r
// into the file (bounded memory whatever its size), and members, the
// quorum's membership as the raft layer encodes it, stored beside md. r
// must end with io.EOF only when all the data arrived intact; an error
// from it installs nothing.
func InstallSnapshotFrom(cfg Config, md raftpb.SnapshotMetadata, members []byte, r io.Reader) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if md.Index == 0 {
		return errors.New("storage: install snapshot: empty snapshot")
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return err
	}
	if lock != nil {
		defer lock.Close()
	}
	if _, err := checkIdentity(&cfg, false, false); err != nil {
		return err
	}
	d := disk{cfg.FS}
	segs, err := d.listSegments(filepath.Join(cfg.Dir, "wal"))
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return fmt.Errorf("storage: install snapshot: %s has no WAL; the hard state (term, vote) is unknown", cfg.Dir)
	}
	res, err := d.replayWAL(segs)
	if err != nil {
		return err
	}
	if md.Index < res.maxMarker.index {
		return fmt.Errorf("storage: install snapshot at index %d (term %d): the WAL records a snapshot at index %d, a replacement must be at least that new",
			md.Index, md.Term, res.maxMarker.index)
	}
	if t, ok := res.run.termAt(md.Index); ok && t != md.Term {
		cfg.Logger.Warn("storage: installed snapshot disagrees with the local log; the log will be replaced by it",
			"snapshot_index", md.Index, "snapshot_term", md.Term, "local_term", t)
	}
	info, err := d.writeSnapshotTemp(filepath.Join(cfg.Dir, "snap"), md, members, time.Now(), func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return err
	}
	if info, err = d.publishSnapshot(info); err != nil {
		return err
	}
	cfg.Logger.Warn("storage: installed snapshot from a peer", "file", info.Path, "index", md.Index, "term", md.Term,
		"checksum", info.Checksum, "wal_snapshot_index", res.maxMarker.index, "wal_last_index", res.run.lastIndex())
	return nil
}
