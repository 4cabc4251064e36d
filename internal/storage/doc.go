// Package storage is the node's durable raft log: a write-ahead log (WAL) of
// preallocated segment files plus checksummed snapshot files, with the
// entries since the last compaction held in memory so that *Storage serves
// raft.Storage without touching the disk.
//
// # Contract
//
// The raft goroutine owns the write side. Per Ready it calls, in order:
//
//  1. ApplySnapshot(rd.Snapshot) when the snapshot is not empty: the file is
//     durable and the WAL records it before the call returns;
//  2. Save(rd.HardState, rd.Entries, rd.MustSync): frames are appended and,
//     when mustSync, fdatasync'ed once for the whole batch (group commit).
//     Only after Save returns may the Ready's messages be sent.
//
// RecordSnapshot (or CreateSnapshot), AdoptSnapshot, Compact and
// RemoveObsoleteSegments are called by the same goroutine after applying.
// WriteSnapshot, ReceiveSnapshot and OpenSnapshot only touch their own
// snapshot file and may run on any goroutine meanwhile.
// Compact's index must not exceed the newest snapshot's index: the log after
// the snapshot is what Open replays, so discarding it would lose entries.
// The raft.Storage methods and Snapshots may be called from any goroutine;
// they never wait for an fsync. After Close the raft.Storage methods keep
// answering from memory, every other method returns ErrClosed.
//
// A failed WAL write or fsync leaves the file in an unknown state, so it is
// sticky: every later write returns the same error and the node must restart
// (Open then truncates whatever was half written).
//
// # Data directory
//
//	<Dir>/meta                           identity, written once (upgraded once)
//	<Dir>/LOCK                           flock'ed while open (Linux)
//	<Dir>/wal/<seq>-<firstIndex>.wal     WAL segments, %016x-%016x
//	<Dir>/snap/<term>-<index>.snap       snapshots, %016x-%016x
//
// Every file operation goes through Config.FS (vfs.OS unless a test passes a
// vfs.Crashable to crash the node or fail its fsyncs); only the flock on
// LOCK always uses the real file system.
//
// Every file that must appear atomically (meta, snapshots, new segments) is
// written under a ".tmp" name, fsynced, renamed, and its directory fsynced.
// Leftover ".tmp" files are deleted by Open. All integers are little endian
// and every checksum is CRC-32C (Castagnoli).
//
// # meta
//
// Version 2:
//
//	"YAKTMETA" | version u32 (=2) | node id u64 | cluster id length u16 |
//	cluster id bytes | directory id, 16 bytes |
//	crc32c of everything before it, u32
//
// Version 1, written by earlier releases, is the same without the
// directory id. The directory id (DirectoryID) names one formatting of the
// directory, drawn at random: a node whose disk was wiped comes back with
// another one, so the quorum can tell it from the member whose log and
// vote it lost.
//
// Format writes the meta file of a directory that has none and holds no
// WAL or snapshot files (otherwise ErrFormatted, nothing changed), drawing
// the directory id unless given one; ReadIdentity reads it without
// changing anything (a version 1 file gives a zero DirectoryID, a missing
// one ErrNotFormatted). Open formats a directory that has neither a meta
// file nor WAL or snapshot files (first start; Config.ClusterID is then
// required), and otherwise checks the meta file: it refuses another node
// or cluster (*IdentityError, ErrIdentityMismatch; an empty
// Config.ClusterID takes the directory's) and a meta file that does not
// verify. A version 1 file is upgraded in place to version 2 with a new
// random directory id (atomic rewrite, logged at info), once: later Opens
// read it back. InstallSnapshotFrom and ReadDir read either version and
// change neither.
//
// # WAL segments
//
// A segment is named by its sequence number and by the index the next entry
// was expected to have when it was started (the WAL's last index + 1). It is
// preallocated to Config.SegmentSizeBytes and holds back-to-back frames; zero
// bytes after the last frame are unused space. A frame that would overflow a
// segment starts the next one, unless the segment holds nothing but its head
// frames, in which case the frame is written anyway and the file grows. The
// previous segment is fdatasync'ed before the next one is used, so only the
// newest segment can have an unsynced tail.
//
// Frame:
//
//	offset  size
//	0       1     magic 0xA7
//	1       1     type: 1 entry, 2 hard state, 3 snapshot marker, 4 sync
//	2       4     payload length n (u32)
//	6       4     crc32c over bytes 1..6 (type, length) and the payload
//	10      n     payload
//
// Payloads: entry and hard state are the raftpb messages marshalled; the
// snapshot marker is index u64 | term u64 | flags u8, where flag bit 0
// ("reset") marks a snapshot received from the leader, which replaced the
// whole log (MemoryStorage.ApplySnapshot), while a clear bit marks a local
// snapshot, which only records where the state machine was captured.
//
// A Save batch is written as its entry frames followed by one hard state
// frame, so a torn batch can lose the hard state but never keep a commit
// index whose entries are missing.
//
// Sync frames (payload: offset u64) say how much of their segment is known
// durable. Every segment begins with one recording 0, which marks it as a
// segment that has them; its head frames then get an fdatasync of their
// own; and the first write after every fdatasync begins with one recording
// the segment's length at that fdatasync. So a sync frame recording S
// proves that the bytes before S were fdatasync'ed, and bytes after the
// newest such proof may belong to a write whose fdatasync never finished.
//
// Segments written before sync frames existed (format 1) begin with a hard
// state or snapshot marker frame instead. They are read as before, with the
// stricter recovery rule below, and never appended to: Open starts a new
// segment instead, so no further migration is needed. A binary without sync
// frames refuses a WAL that has them (unknown frame type), loudly rather
// than by losing data; downgrading needs a data directory rebuilt from a
// peer.
//
// Every segment after the first begins with head frames (after its sync
// frame): the current hard state and the current snapshot marker (reset
// bit clear). That is what lets
// Compact delete whole old segments: the hard state and snapshot position
// stay recoverable from the segments that remain. Segment i is deleted when
// the next segment's first index is <= the compaction index (every live entry
// in segment i is below it) and it is not the segment in use. Deleting
// only ever takes a prefix of the segments, so a failed delete leaves no
// hole; it is logged, reported through Config.OnSegmentRemoveFailure and
// retried by the next Compact or RemoveObsoleteSegments, never an error
// that stops the node.
//
// # Recovery
//
// Open reads segments in sequence order (a gap in the sequence is an error),
// decoding frames and replaying them with MemoryStorage.Append semantics: an
// entry at an index <= the last index truncates the suffix; a reset marker
// empties the log at the snapshot's index. A frame that does not verify (bad
// magic, type, length or CRC, or stray bytes where zeros should be):
//
//   - in the newest segment, with no valid frame anywhere after it: a torn
//     tail. The bytes from its offset to the last non-zero byte are zeroed
//     and fdatasync'ed, a warning is logged, and appends continue there;
//   - in the newest segment, followed by valid frames, when the segment
//     has sync frames and none of the valid frames after the bad one is a
//     sync frame recording an offset past it: a torn tail as well. A power
//     cut during an fdatasync on a device that writes a batch's pages out
//     of order leaves exactly this, a hole before valid frames of the same
//     never-synced write. Everything from the bad frame on, valid frames
//     included, is zeroed, with the same warning;
//   - anywhere else: *CorruptError with the file and byte offset, and Open
//     refuses to start. That includes a hole that a later sync frame proves
//     was fdatasync'ed, and any hole before valid frames in a format 1
//     segment, which cannot tell synced from unsynced bytes.
//
// What the WAL cannot prove synced is the newest fdatasync'ed write until
// the next write's sync frame reaches the disk: damage there looks like a
// torn write and is cut, as a damaged last frame always was.
//
// A frame whose CRC verifies but whose payload does not decode, or an entry
// that leaves a gap in the log, is a *CorruptError as well.
//
// Snapshots: Open picks the newest snapshot file whose header, checksum and
// body verify; a bad one is logged and skipped, falling back to an older
// one. The replayed log is then fitted to it: entries after the snapshot
// index are kept when the log contains the snapshot's index and term (or
// starts right after it); a log that ends before the snapshot, or disagrees
// with it (a crash between writing a leader's snapshot and its WAL marker),
// is replaced by the snapshot, and a reset marker is appended so later
// entries replay after it; a log that starts after snapshot index + 1 (the
// WAL was compacted past the newest snapshot that still verifies) or was
// reset to a snapshot no valid file holds is a *SnapshotLostError naming
// the WAL's newest snapshot marker, which the replacement must reach.
//
// A lost snapshot is replaced with InstallSnapshot: a snapshot at index L
// >= that marker, fetched from a peer, is written as the newest file, and
// the next Open fits the WAL to it by the rules above, which are raft's
// for a follower receiving a snapshot: the hard state is kept, entries
// after L stay when the WAL's entry at L has the snapshot's term, and
// otherwise the whole log is replaced (its entries conflict with a
// committed one and can never commit). See InstallSnapshot.
//
// When the log runs through the snapshot (its entry at the snapshot index
// has the snapshot's term), up to Config.RetainEntries of the entries
// before the snapshot that the WAL still holds, and no more than
// Config.RetainBytes of entry data, are kept as well: the compaction margin
// survives a restart.
//
// Finally the hard state is fixed up so raft accepts it: Commit is raised to
// the snapshot index and capped at the last index.
//
// # Snapshot files
//
// Version 3, written and read as a stream with bounded memory:
//
//	offset  size
//	0       4     magic "YKSN"
//	4       4     version u32 (=3)
//	8       8     created at, Unix nanoseconds (i64)
//	16      4     metadata section length m (u32)
//	20      4     crc32c of bytes 0..20
//	24      4     raft metadata length k (u32)
//	28      k     raftpb.SnapshotMetadata marshalled
//	28+k    m-4-k members: the quorum's membership, as the raft layer
//	              encoded it (opaque here; SnapshotReader.Members)
//	24+m    n     data: the state machine's snapshot, as it wrote it
//	end-16  8     n (u64)
//	end-8   4     crc32c of the metadata section and data
//	end-4   4     crc32c of the 12 bytes before it
//
// k and the members' length are each at most 1 MiB; a larger length is
// damage, refused before anything is allocated. Version 2, from earlier
// releases, has the same layout except that the metadata section (at most
// 1 MiB) is the raft metadata alone; it stays readable, with nil members.
//
// A writer does not know n until the state machine has written the data,
// hence the trailer. Storage keeps only the metadata in memory: raft's
// Snapshot() has no data, and whoever needs the data (the raft glue
// restoring its state, the transport sending it) opens the file with
// OpenSnapshot, whose reader returns an error instead of io.EOF when the
// checksum does not match. A snapshot is created off the raft goroutine
// (WriteSnapshot, then RecordSnapshot on it), and a received one is
// streamed into a temp file (ReceiveSnapshot) and renamed into place by
// AdoptSnapshot, never written twice.
//
// Version 1 files, from earlier releases, stay readable (read whole, as
// they were written):
//
//	offset  size
//	0       4     magic "YKSN"
//	4       4     version u32 (=1)
//	8       8     created at, Unix nanoseconds (i64)
//	16      8     body length (u64)
//	24      4     crc32c of the body
//	28      4     crc32c of bytes 0..28
//	32      n     body: raftpb.Snapshot marshalled
//
// The name's term and index must match the body's metadata. After each new
// snapshot, files beyond the newest Config.KeepSnapshots are deleted.
package storage
