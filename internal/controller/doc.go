// Package controller turns API requests into metadata records on the
// leader and owns the replicated metadata state on every node.
//
// A write runs: ReadBarrier (this leader has applied everything committed
// before it, so validation sees current state) → validate against the
// image → choose every server-set value (UUIDs, timestamps, epochs, ids) →
// propose the records as one atomic batch → raft commits → StateMachine
// replays the batch on every node; a batch that no longer fits (a racing
// request won) is skipped identically everywhere and its waiter gets the
// *metadata.Error.
package controller
