// Package migration moves a ZooKeeper-mode Kafka cluster's metadata into
// YAKt without downtime. The Driver runs on every node and acts only on
// the leader, in the phase the log's ZkMigrationStateRecord names:
// IMPORTING reads the znodes and commits them in bounded batches,
// FOLLOWING applies every later ZooKeeper change, DUAL_WRITE writes
// YAKt's changes back to ZooKeeper in Kafka's formats. docs/migration.md
// is the operator's guide.
//
// # How the driver works
//
// A run is one leader term and one ZooKeeper session (zkconn.go). The
// session's callback sees every watch event; it marks the znode dirty
// and its watch as spent. Watches are one-shot, so a dirty znode is read
// again with a new watch, and a znode whose watch is still set is read
// without one: the client never stacks watches on a path. A lost
// session (expiry, or a reconnect) asks for a full read.
//
// Reads fill a model of what ZooKeeper holds (zkread.go): brokers,
// topics with their partition state znodes, deletion marks, the producer
// id block, and the highest zxid seen. Many znodes are read by parallel
// requests the client pipelines on its one connection.
//
// The model is reconciled against YAKt's image by pure functions
// (reconcile.go): state-based, so what YAKt already has yields nothing,
// and an import run again by a new leader, or a change seen twice, is
// applied once. A topic enters YAKt whole (its TopicRecord and all its
// PartitionRecords in one batch), and only once every partition has its
// state znode. Batches are built inside Controller.MigrationWrite
// against the leader's forecast and end with a ZkMigrationStateRecord;
// the zxid it carries advances with the last batch of a reconcile.
//
// The import validates everything before it commits anything: bad input
// is one FAILED record listing the problems. While following, a znode
// that cannot be applied is a problem in Status (tried again on every
// change and about every second) and the rest goes on.
//
// A cutover (cutover.go) is prepared on the follow loop before DUAL_WRITE
// commits, in Kafka's order: fence ZooKeeper's controller (the dual
// writer's takeover: /controller_epoch+1 conditional on its version,
// /controller naming this leader, /migration), read everything again and
// commit what YAKt lacks, and only then let the API commit the cutover.
// Otherwise the dual writer's first reconcile would undo in ZooKeeper
// whatever its controller wrote after the loop's last pass. A cutover
// that does not commit deletes that /controller again (and a leader that
// starts following deletes one an older term left); one that does is
// adopted by the dual writer of the same term as its own takeover.
//
// In DUAL_WRITE the dual writer (dualwrite.go) writes YAKt's applied
// records to ZooKeeper on the run's session, while the driver still
// follows /brokers/ids; when the log leaves DUAL_WRITE the writer first
// writes every change before that record, then the run follows (after a
// rollback) or ends (finalized).
package migration
