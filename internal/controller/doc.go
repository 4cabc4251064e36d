// Package controller turns API requests into metadata records on the
// leader and owns the replicated metadata state on every node.
//
// A write runs on the leader: validate against the leader's forecast (the
// applied image plus every batch it proposed in its term, speculation.go)
// → choose every server-set value (UUIDs, timestamps, epochs, ids) →
// propose the records as one atomic batch, in validation order → raft
// commits → StateMachine replays the batch on every node; a batch that no
// longer fits (the forecast was wrong) is skipped identically everywhere
// and its waiter gets the *metadata.Error. A request the forecast refuses
// is answered from committed state after a read barrier, as reads are.
//
// Requests and answers are package contract's types. Operations return
// either a *contract.Error (the controller's own checks) or a replay
// *metadata.Error; APIError maps both to the contract's codes, and every
// front door answers errors through it. The controller also owns the raft
// node for the front doors: readiness, the quorum view (Quorum) and
// snapshot files (Snapshots, TakeSnapshot, OpenLatestSnapshot), and the
// quorum's membership (quorum_admin.go: Node, AddObserver, PromoteVoter,
// RemoveMember, TransferLeader), whose node errors membershipError maps
// to the contract's codes.
//
// Operations over many partitions at once (leader elections and the
// automatic preferred leader rebalance in elections.go, KIP-455
// reassignments in reassignments.go) decide each partition on its own
// and commit the changes in as few atomic batches as the batch limit
// allows (partition_batches.go); a reassignment completes where the
// partition leader reports its ISR (AlterISR).
package controller
