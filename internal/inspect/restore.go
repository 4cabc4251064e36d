package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/storage"
)

// ErrDataDirNotEmpty is returned (wrapped) by Restore for a data directory
// that already holds something.
var ErrDataDirNotEmpty = errors.New("data directory is not empty")

// RestoreOptions say which node of which new cluster Restore lays down.
type RestoreOptions struct {
	// DataDir is the node's new data directory: it must not exist or be
	// empty.
	DataDir string
	// NodeID is the node's id; it must be in Voters.
	NodeID uint64
	// Voters is the new cluster's voter set as `yakt server --voters`
	// takes it ("1@host:port,2@host:port,..."); every node's restore and
	// every `yakt server` of the new cluster must be given the same.
	Voters string
	// ClusterID is the new cluster's id (required), the same for each of
	// its nodes; the restored directories are formatted with it. A fresh
	// one keeps a surviving node of the old cluster out of the new one.
	ClusterID string
	// SegmentSizeBytes is the WAL segment size (0: storage's default);
	// tests use less.
	SegmentSizeBytes int64
	// Logger receives storage's log lines; nil discards them.
	Logger *slog.Logger
}

// Restore creates a new cluster member's data directory from a snapshot
// file (a node's, or one saved by GET /v1/snapshots/latest). The file is
// verified and decoded first; nothing is written for a corrupt one
// (ErrCorruptSnapshot). The directory then holds what a follower holds
// after installing that snapshot from its leader, with the new voter set
// as its raft configuration (see the package doc). On failure it removes
// what it wrote, so a retry starts from an empty directory.
func Restore(ctx context.Context, snapshotFile string, opts RestoreOptions) (err error) {
	voters, err := server.ParseVoters(opts.Voters)
	if err != nil {
		return fmt.Errorf("restore: voters: %w", err)
	}
	if _, ok := voters[opts.NodeID]; !ok {
		return fmt.Errorf("restore: node id %d is not among the voters %q", opts.NodeID, opts.Voters)
	}
	if opts.DataDir == "" {
		return errors.New("restore: no data directory given")
	}
	clusterID := opts.ClusterID
	if clusterID == "" {
		return errors.New("restore: no cluster id given: a restored cluster is a new one, and its nodes must share a fresh id")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	snap, err := loadSnapshot(snapshotFile)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	created, err := checkEmpty(opts.DataDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if err != nil {
			cleanUp(opts.DataDir, created)
		}
	}()

	st, err := storage.Open(storage.Config{Dir: opts.DataDir, ClusterID: clusterID, NodeID: opts.NodeID,
		SegmentSizeBytes: opts.SegmentSizeBytes, Logger: logger})
	if err != nil {
		return fmt.Errorf("restore: format data directory: %w", err)
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("restore: close data directory: %w", cerr)
		}
	}()
	ids := make([]uint64, 0, len(voters))
	for id := range voters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	md := raftpb.SnapshotMetadata{Index: snap.md.Index, Term: snap.md.Term, ConfState: raftpb.ConfState{Voters: ids}}

	// The data is copied from the file as it is, read again through the
	// verifying reader: the new snapshot holds the same image bytes, and
	// a file changed since it was verified fails here too.
	sr, err := storage.OpenSnapshotPath(snapshotFile)
	if err != nil {
		return fmt.Errorf("restore: reopen snapshot: %w", err)
	}
	defer sr.Close()
	if sr.Metadata.Index != md.Index || sr.Metadata.Term != md.Term {
		return fmt.Errorf("restore: %w: %s changed while being restored", ErrCorruptSnapshot, snapshotFile)
	}
	info, err := st.ReceiveSnapshot(md, raftnode.BootstrapMembers(voters), sr)
	if err != nil {
		return fmt.Errorf("restore: write snapshot: %w", err)
	}
	if err := st.AdoptSnapshot(md, info); err != nil {
		st.DiscardReceived(info)
		return fmt.Errorf("restore: install snapshot: %w", err)
	}
	// The hard state raft starts from: the snapshot's term, no vote, and
	// everything up to the snapshot committed. Every node of the new
	// cluster gets the same, so any of them can win the first election.
	hs := raftpb.HardState{Term: md.Term, Commit: md.Index}
	if err := st.Save(hs, nil, true); err != nil {
		return fmt.Errorf("restore: write hard state: %w", err)
	}
	logger.Info("restored data directory from snapshot", "dir", opts.DataDir, "node", opts.NodeID, "cluster", clusterID,
		"offset", md.Index, "term", md.Term, "voters", server.FormatVoters(voters))
	return nil
}

// checkEmpty makes sure dir is absent or empty; created says Restore
// creates it (and removes it again on failure).
func checkEmpty(dir string) (created bool, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("data directory: %w", err)
	}
	if len(ents) > 0 {
		return false, fmt.Errorf("%w: %s holds %s (restore only into a new, empty directory)", ErrDataDirNotEmpty, dir, ents[0].Name())
	}
	return false, nil
}

// cleanUp removes what a failed restore wrote: the directory itself if it
// made it, else its contents (it was empty before).
func cleanUp(dir string, created bool) {
	if created {
		os.RemoveAll(dir)
		return
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
