// Package raftnode is YAKt's only owner of etcd raft (go.etcd.io/raft/v3).
//
// One goroutine (Node.run) owns the raft.RawNode. Everything else talks to
// it through channels: proposals, read barriers, inbound peer messages,
// status requests and snapshot requests. The transport's feedback (a peer
// unreachable, a snapshot sent or failed) goes through a queue that never
// drops a report (reports.go): a lost snapshot report would leave the
// follower in raft's snapshot state until the next election. The package knows nothing of
// topics or brokers: proposals are opaque payloads that a StateMachine
// applies.
//
// # The Ready contract
//
// For every raft.Ready the loop does, in this order:
//
//  1. If this node leads, send Ready.Messages except responses (appends,
//     heartbeats, snapshots, read-index answers) now, before its own
//     write: the leader's fdatasync then overlaps the followers' (the Raft
//     thesis, 10.2.1). This is safe because etcd raft, without
//     AsyncStorageWrites, counts the leader's own entries toward a quorum
//     only when Advance (step 6) steps its self-addressed append response,
//     and the loop steps nothing in between: an entry commits only once a
//     quorum, the leader counted only after its write, has it on disk.
//  2. If Ready.Snapshot is set (a snapshot from the leader, already on
//     disk in a temp file and decoded off the loop, see snapshot.go),
//     persist it (storage.AdoptSnapshot: file renamed into place, WAL reset
//     marker fsynced) before anything that depends on it.
//  3. Persist HardState and Entries with storage.Save; fdatasync once when
//     Ready.MustSync (group commit: one sync covers every proposal that
//     arrived since the last Ready).
//  4. Only now send the rest of Ready.Messages (a follower's or
//     candidate's all of them; a leader's responses): a vote or an append
//     acknowledgement must never leave this node before the state it
//     promises is on disk.
//  5. Hand the apply goroutine (apply.go), in order, the state decoded
//     from the snapshot (it swaps it in: StateMachine.SwapIn, instant) or
//     the CommittedEntries. Configuration changes among them are applied
//     to raft here, on the loop, in order (RawNode.ApplyConfChange); the
//     apply goroutine applies normal entries (StateMachine.Apply), then
//     wakes the proposals and read barriers that were waiting for them.
//  6. Advance, without waiting for the apply goroutine: raft counts the
//     handed entries as applied, while Node.AppliedIndex, which reads and
//     proposals wait on, is where the state machine really is. Because the
//     apply goroutine takes jobs in log order, a snapshot is swapped in
//     after every earlier entry was applied and before any later one, and
//     a snapshot the loop starts is captured (StateMachine.CaptureSnapshot,
//     queued as a job too) with the state at exactly the index its
//     metadata records.
//
// Snapshots are created and decoded off the loop (snapshot.go): the loop
// only queues the capture, records finished snapshots and compacts, so
// heartbeats, votes and appends keep flowing while a large one is written
// or received.
//
// NB: entries are applied only once committed, and a committed entry is
// applied exactly once per process lifetime; after a restart the state
// machine is rebuilt from the newest snapshot plus the WAL.
//
// # Proposals
//
// Propose returns once the payload is committed and applied on this node.
// Concurrent proposals are batched into one raft entry (see entry.go), so
// under load many requests share an entry and an fsync. Each proposal
// carries a random-based 64-bit id in the entry; the waiter remembers the
// index and term its entry was appended at, so an entry overwritten by a
// new leader fails its waiter at once with ErrProposalDropped instead of
// leaving it to time out. A context that expires first yields
// context.DeadlineExceeded: the entry may still commit.
//
// # Membership
//
// The voters and observers (raft learners) are the log's, not the
// configuration's: Config.Peers only bootstraps a new cluster (or names
// members a log from before member records has no address for), and
// Config.Join starts a node that waits to be added. Changes are etcd
// raft ConfChanges, one at a time, each carrying the member's record
// (node id, directory id, peer and HTTP addresses); snapshots carry the
// table beside the ConfState, and a node starting builds it from its
// snapshot and committed log before its transport admits anyone. The
// transport admits a peer only under the directory id its record holds,
// which is what keeps a node whose disk was wiped from voting as the
// member it was. The leader records what the log does not know yet: a
// directory id first seen on a connection, a new address a member
// advertises. membership.go has the rules; AddObserver, PromoteObserver,
// RemoveMember and TransferLeadershipTo are the operations.
//
// # A lost snapshot
//
// When every snapshot file that could rebuild the state fails its checksum
// and the WAL was compacted past the older ones, storage.Open returns
// *storage.SnapshotLostError and StartContext fetches a snapshot at least
// as new as the lost one from a peer over the transport's fetch stream
// (the leader hint first; a peer takes one on demand if it has applied far
// enough), installs it with storage.InstallSnapshot and opens again. The
// HardState is kept, and WAL entries after the installed index survive
// only when the terms match there (raft's log matching). Until a peer can
// serve, it retries with backoff until ctx ends. recover.go has the why.
//
// # Reads
//
// ReadBarrier implements linearizable reads with raft's ReadIndex: the
// leader confirms it still leads a quorum and names its commit index; the
// caller returns once this node has applied up to that index. Concurrent
// barriers share one ReadIndex round. Raft never re-sends a read-index
// request or answer lost on a broken connection, so a round unanswered for
// an election timeout is asked again (the earlier ask stays valid), until
// its callers give up.
package raftnode
