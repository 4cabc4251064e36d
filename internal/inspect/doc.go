// Package inspect holds the operator's offline tools, the library behind
// `yakt snapshot status`, `yakt snapshot restore`, `yakt log dump` and
// `yakt shell`. It speaks no HTTP: it reads snapshot files and data
// directories through storage (which owns their formats and checksums)
// and metadata (which decodes records and images), and the shell browses
// a tree built from an image, whether that image came from a file or from
// a live cluster's full ClientMgmt fetch (the CLI does the fetching).
//
// # Snapshot files
//
// SnapshotStatus reads a snapshot file (a node's own, or one saved by GET
// /v1/snapshots/latest: the same bytes) to the end, verifying the file's
// checksums and decoding the image, and reports where it was taken (raft
// index and term), its format, size, whole-file CRC-32C (the checksum GET
// /v1/snapshots lists) and what it holds. A file that fails any check is
// an error wrapping ErrCorruptSnapshot that says which check failed.
//
// # The log
//
// DumpLog reads a data directory with storage.ReadDir, which changes
// nothing on disk (a torn tail is reported, not repaired) and holds the
// directory's lock while it reads: a directory a running node has open is
// refused with storage.ErrDirInUse rather than read half-written, and a
// node started during the dump refuses to start until it ends. Copy the
// directory to read a running node's log, or use the online `yakt log
// tail`.
//
// Entries are decoded as `kafka-dump-log --cluster-metadata-decoder`
// would: offset (the raft index), term, whether the entry is known to be
// committed, and for a normal entry each batch of records (a write's
// records, applied atomically) with its idempotency key. The leader's
// empty entry at the start of each term is a "noop" entry, raft membership
// changes are "confChange" entries, and bytes that do not decode are an
// "undecodable" entry carrying the error (the dump goes on).
//
// From which offset: a node holds a snapshot at index S and the log
// entries after some index F-1 <= S (storage keeps a margin of entries
// before the snapshot). DumpLog(from) emits the held entries with offset
// >= from when from >= F. When from < F the entries before F are no longer
// held, so the dump begins with the snapshot itself (one "snapshot" entry
// at offset S whose records are the image's canonical records) and goes on
// with the entries after S. from 0 is "everything the node has".
//
// # Restore
//
// Restore lays down a new cluster member's data directory from a snapshot
// file, as `etcdctl snapshot restore` does: run it once per node of the
// new cluster with the same file and voters, then start every node with
// `yakt server` and the same --voters and --cluster-id. The directory gets
// the identity (node id, cluster id), the snapshot file with the new
// voter set as its raft configuration, and a WAL holding the hard state
// (the snapshot's term, commit at the snapshot's index) and a marker that
// the log starts after the snapshot: exactly what a follower has after
// installing a snapshot from its leader, so raft starts from it with no
// special case. Every node has the same index and term, so the first
// election chooses any of them and the new leader's log continues at
// index S+1.
//
// # Shell
//
// Shell reads commands line by line (ls, cd, cat, find, pwd, help, exit)
// over a tree of Nodes: /cluster (offset, term, voters, counts),
// /brokers/<id>, /topics/<name>/topic, /topics/<name>/partitions/<n> and
// /producerIds (absent when built from a ClientMgmt fetch, which carries
// no producer ids). It has no terminal handling: it works the same from a
// pipe, which is how scripts and tests drive it.
package inspect
