package raftnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/transport"
	"github.com/yakt/yakt/internal/vfs"
)

// Recovering a lost snapshot.
//
// When a snapshot file fails its checksum, storage.Open falls back to an
// older one; after compaction the WAL no longer holds the entries between
// that one and where the WAL starts, and Open returns
// *storage.SnapshotLostError. The node then fetches a snapshot from a peer
// before it starts raft, installs it with storage.InstallSnapshot and
// opens storage again.
//
// Why before raft, and not through raft's own MsgSnap: raft cannot run
// without a consistent log (FirstIndex would point past entries nobody
// holds), and the leader sends MsgSnap only to a follower that answers it.
// Why over the peer transport, and not HTTP: at startup a node knows its
// peers' raft addresses only (HTTP addresses arrive later, in their
// handshakes), and the transport already moves snapshots; the fetch is a
// small request/answer stream of its own (transport.FetchSnapshot), so
// storage stays free of networking and the transport of state.
//
// Safety, as storage.InstallSnapshot enforces it: the HardState (term,
// vote) is kept; the snapshot must be at least as new as the WAL's newest
// snapshot marker (the lost snapshot), since the WAL may hold nothing
// before it; entries after the snapshot index L stay only when the WAL's
// entry at L has the snapshot's term, otherwise the whole local log is
// replaced (those entries conflict with a committed one and can never
// commit). Any node's snapshot is of applied, hence committed, state, so
// any peer whose snapshot is new enough will do; a peer whose newest
// snapshot is too old takes one on demand if it has applied far enough,
// and otherwise answers with the leader it knows, which is asked first on
// the next round. Until some peer can serve, the node retries with backoff
// until ctx ends.

const (
	fetchBackoffMin = 100 * time.Millisecond
	fetchBackoffMax = 2 * time.Second
	// fetchWarnEvery rate-limits the "still no snapshot" warning.
	fetchWarnEvery = 10 * time.Second
)

// openStorage opens the node's storage and, when its snapshot is lost,
// replaces it from a peer first (see above). ctx bounds the fetching.
func openStorage(ctx context.Context, cfg Config, log *slog.Logger, stCfg storage.Config) (*storage.Storage, error) {
	st, err := storage.Open(stCfg)
	var lost *storage.SnapshotLostError
	if !errors.As(err, &lost) {
		return st, err
	}
	for _, b := range lost.Bad {
		log.Error("snapshot file failed verification", "file", b.Path, "err", b.Err)
	}
	log.Error("snapshot lost and the WAL cannot rebuild the state: fetching a snapshot from a peer",
		"need_index", lost.Index, "lost_term", lost.Term, "newest_valid_index", lost.NewestValid, "reason", lost.Reason)
	if err := fetchLostSnapshot(ctx, cfg, log, stCfg, lost.Index); err != nil {
		return nil, fmt.Errorf("replace lost snapshot (%v): %w", lost, err)
	}
	return storage.Open(stCfg)
}

// fetchLostSnapshot asks the peers, the last leader hint first, for a
// snapshot at index >= need until one installs or ctx ends.
func fetchLostSnapshot(ctx context.Context, cfg Config, log *slog.Logger, stCfg storage.Config, need uint64) error {
	var peers []uint64
	for id := range cfg.Peers {
		if id != cfg.NodeID {
			peers = append(peers, id)
		}
	}
	if len(peers) == 0 {
		return errors.New("no peers to fetch a snapshot from; restore the data directory from a backup")
	}
	slices.Sort(peers)
	fs := stCfg.FS
	if fs == nil {
		fs = vfs.OS
	}
	self, err := storage.ReadIdentity(fs, stCfg.Dir)
	if err != nil {
		return err
	}
	var leader uint64
	var lastWarn time.Time
	wait := fetchBackoffMin
	for round := 1; ; round++ {
		order := peers
		if i := slices.Index(peers, leader); i > 0 {
			order = append([]uint64{leader}, slices.Delete(slices.Clone(peers), i, i+1)...)
		}
		var failures []string
		for _, id := range order {
			var size int64
			md, err := transport.FetchSnapshot(ctx, transport.FetchConfig{
				NodeID: cfg.NodeID, ClusterID: cfg.ClusterID, Peer: id, Addr: cfg.Peers[id],
				DirectoryID: self.DirectoryID, PeerAddr: cfg.PeerAddr, TLS: cfg.PeerTLS,
			}, need, func(md raftpb.SnapshotMetadata, r io.Reader) error {
				cr := &countingReader{r: r}
				defer func() { size = cr.n }()
				members, rest, err := readMembersFrame(cr)
				if err != nil {
					return err
				}
				return storage.InstallSnapshotFrom(stCfg, md, members, rest)
			})
			if err == nil {
				log.Warn("replaced the lost snapshot with one fetched from a peer", "peer", id, "index", md.Index,
					"term", md.Term, "bytes", size, "need_index", need, "round", round)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var un *transport.SnapshotUnavailableError
			if errors.As(err, &un) && un.Leader != 0 && un.Leader != cfg.NodeID {
				leader = un.Leader
			}
			failures = append(failures, fmt.Sprintf("peer %d: %v", id, err))
		}
		if time.Since(lastWarn) >= fetchWarnEvery {
			log.Warn("no peer can serve a snapshot new enough yet; retrying", "need_index", need, "round", round, "failures", failures)
			lastWarn = time.Now()
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, fetchBackoffMax)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// serveSnapshot is the transport's SnapshotSource: it answers a peer that
// lost its snapshot with this node's newest one (streamed from its file),
// taking one on demand when
// that is too old but this node has applied far enough. Any node's
// snapshot holds only committed state, so followers serve too. It returns
// the leader this node knows as a hint either way.
func (n *Node) serveSnapshot(ctx context.Context, from, minIndex uint64) (transport.SnapshotFile, uint64, error) {
	leader := n.Leader()
	snap, err := n.storage.Snapshot()
	if err != nil {
		return transport.SnapshotFile{}, leader, err
	}
	if snap.Metadata.Index < minIndex {
		if applied := n.AppliedIndex(); applied < minIndex {
			return transport.SnapshotFile{Metadata: snap.Metadata}, leader, fmt.Errorf("applied index %d is below %d", applied, minIndex)
		}
		n.log.Warn("taking a snapshot on demand for a peer that lost its own", "peer", from, "min_index", minIndex)
		if _, err := n.TakeSnapshot(ctx); err != nil {
			return transport.SnapshotFile{Metadata: snap.Metadata}, leader, err
		}
		if snap, err = n.storage.Snapshot(); err != nil {
			return transport.SnapshotFile{}, leader, err
		}
	}
	f, err := n.openSnapshot(snap.Metadata)
	if err != nil {
		return transport.SnapshotFile{Metadata: snap.Metadata}, leader, err
	}
	return f, leader, nil
}
