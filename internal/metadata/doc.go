// Package metadata is YAKt's replicated state machine: the metadata
// records, their binary codec, the immutable Image they build, the Delta
// that builds it, snapshots, and the retained Tail of applied records.
// It is pure and deterministic: no clocks, randomness, I/O or logging, and
// no map iteration order reaches any output (listings are sorted). It
// imports nothing else of YAKt's; every other package may import it.
//
// # Records
//
// Eight record types (docs/api.md): RegisterBrokerRecord, TopicRecord,
// PartitionRecord, ProducerIdsRecord, BrokerRegistrationChangeBrokerRecord,
// RemoveTopicRecord, ZkMigrationStateRecord (migration.go) and
// ConfigRecord (configs.go), each a *XRecord implementing Body. A Record is a
// Body plus its Offset (the raft index it committed at; records of one
// entry share it) and Timestamp (set by the leader, millisecond
// precision). Everything server-chosen (UUIDs, epochs, ids, timestamps)
// travels inside the record; replay decides nothing. Record's JSON is
// docs/api.md's envelope; EncodeRecords/DecodeRecords are the compact,
// versioned binary form (see codec.go for the layout and its
// compatibility rules).
//
// # Image and Delta
//
// An *Image is an immutable value, safe for concurrent readers, stamped
// with the offset it was applied at. NewDelta(base), Delta.Replay /
// ReplayBatch and Delta.Apply(offset) are the only way to a new one, and
// Apply shares every sub-image (cluster, topics, producer ids) and every
// persistent-map node its records did not touch. A Delta also answers
// reads as of the records replayed so far (the Reader interface).
//
// Replay re-checks invariants, because requests validated on the leader can
// race: a record that no longer applies is rejected with an *Error, changes
// nothing, and every node rejects it identically. The rules, checked in
// this order:
//
//   - RegisterBrokerRecord: brokerId >= 0 and status ALIVE, FENCED or
//     CLOSED (INVALID_REQUEST); BROKER_ALREADY_REGISTERED if the id is
//     registered and not CLOSED; re-registering a CLOSED id needs epoch >
//     its old epoch (STALE_BROKER_EPOCH). Stores the record as the broker.
//   - BrokerRegistrationChangeBrokerRecord: BROKER_NOT_FOUND if unknown;
//     BROKER_NOT_ACTIVE if CLOSED; STALE_BROKER_EPOCH unless epoch =
//     current + 1; INVALID_REQUEST unless the status is valid. Sets host,
//     port, protocol, status and epoch (the record carries full values).
//   - TopicRecord: INVALID_TOPIC_NAME (ValidateTopicName); INVALID_REQUEST
//     for an empty topicUUID; TOPIC_ALREADY_EXISTS if the name or the UUID
//     exists.
//   - PartitionRecord: TOPIC_NOT_FOUND for an unknown topicUUID. An
//     existing partition needs partitionEpoch > current
//     (PARTITION_ALREADY_EXISTS if it is 0, else STALE_PARTITION_EPOCH):
//     greater, not current + 1, because a partition migrated from
//     ZooKeeper carries its state znode's version, which can jump; two
//     changes built from one state both carry current + 1, so a race is
//     still caught;
//     a new one needs partitionEpoch >= 0 (INVALID_REQUEST). Then
//     INVALID_REPLICA_ASSIGNMENT unless: partitionId >= 0; replicas
//     non-empty, distinct, >= 0; ISR, addingReplicas and removingReplicas
//     each distinct and within replicas; nothing both adding and removing;
//     leader -1 or in the ISR. The record becomes the partition's state.
//   - ProducerIdsRecord: (brokerId NodeProducerIDs, -1, is a block a YAKt
//     node took for its Kafka listener, brokerEpoch its node id, which must
//     be positive; no broker is checked) BROKER_NOT_FOUND for an unknown broker;
//     BROKER_NOT_ACTIVE unless ALIVE; STALE_BROKER_EPOCH unless
//     brokerEpoch = the broker's epoch; PRODUCER_ID_ALREADY_ALLOCATED if
//     [producerId, producerId+ProducerIDBlockSize) is out of range,
//     starts below the migration's NextProducerID (ZooKeeper gave those
//     ids out) or overlaps a block given before. NextProducerID becomes
//     max(NextProducerID, producerId+ProducerIDBlockSize).
//   - RemoveTopicRecord: TOPIC_NOT_FOUND unless a topic has that UUID and
//     that name; removes it, all its partitions and its configs.
//   - ZkMigrationStateRecord: INVALID_REQUEST unless the phase is valid
//     (ValidMigrationPhase) and zxid, nextProducerId, topicsImported and
//     topicsTotal are >= 0 (nextProducerId at most MaxInt64 -
//     ProducerIDBlockSize); MIGRATION_PHASE unless
//     MigrationTransitionAllowed(current phase, phase) (MigrationNone
//     before any). The record becomes the migration state (Migration),
//     keeping as its nextProducerId the highest any such record carried;
//     NextProducerID becomes max(NextProducerID, nextProducerId).
//   - ConfigRecord: INVALID_REQUEST unless resourceType is topic or
//     broker, a broker's resourceName is "" (the cluster default) or a
//     canonical decimal id >= 0, the name is 1 to 255 bytes and a value
//     at most 32 KiB; TOPIC_NOT_FOUND for a topic that does not exist. A
//     broker id need not be registered (Kafka allows configs before a
//     broker's first registration). Sets the config, or with a null value
//     removes it (removing an unset one changes nothing). The name and
//     value are not checked against the key table (configkeys.go): the
//     controller does that, so a key a later version adds never makes an
//     older node refuse the log.
//
// A record without a body, or with a foreign Body type, is a bug: Replay
// returns a plain error (not *Error) and the caller must stop.
//
// Costs. Brokers, topics (by name and by UUID), each topic's partitions and
// the producer-id blocks live in persistent hash tries (pmap.go): one
// record copies O(log32 n) small nodes, a batch copies each node at most
// once, and Apply is O(1); with 10k topics and 100k partitions nothing is
// proportional to either. Point reads are O(log32 n). Sorted listings sort
// a domain on first use after it changed and are then cached in the image.
//
// # Snapshots
//
// WriteSnapshot streams an image in a compact binary form (snapshot.go
// documents version 2): brokers by id, topics by name each with its
// partitions by id, producer-id blocks, idempotency keys, its offset,
// MaxTimestamp, migration state and set configs, in CRC-32C-checked blocks of about
// 64 KiB. ReadSnapshot builds the image's maps directly as the blocks
// arrive, checking what replay would have checked (producer-id blocks
// need only a registered broker, since a block outlives its broker's
// epoch; the migration state needs only valid fields, since the phases
// before it are not kept); it also reads the version-1 form (the image's
// Records() replayed into Empty), so files written before version 2
// still load and the next snapshot is version 2.
// Equal images write equal bytes.
//
// # Idempotency keys
//
// A Batch (one write's records) may carry an idempotency key and a
// fingerprint of its request. Delta.ReplayEntry checks the key before the
// records: a key already in the image with the same fingerprint applies
// nothing and returns the remembered IdempotencyEntry (the first answer);
// with another fingerprint it is IDEMPOTENCY_KEY_REUSED; a new key is
// remembered once its records apply. The table lives in the image,
// snapshots carry it, and it is trimmed by log time, count and bytes in
// insertion order (idempotency.go), never by a clock.
//
// # Configs
//
// The image keeps the configs set on each topic and broker (Configs,
// ConfigRecords; broker resource "" is the cluster default). configkeys.go
// is the table of the configs YAKt knows, with Kafka's types, ranges and
// defaults: ConfigKey.Normalize checks a value and returns its canonical
// form, and EffectiveConfigs fills in what a resource does not set itself
// (a topic: the cluster default of the broker config it inherits, scaled
// to its unit, else the built-in default; a broker: the cluster default,
// else the built-in default), saying where each value comes from.
//
// # Tail
//
// Tail keeps the newest applied records for "updates since offset" and
// "since timestamp", evicting whole offsets oldest first; asking for what
// was evicted returns ErrOffsetCompacted, and the caller serves a snapshot
// instead.
//
// # Errors
//
// Three classes: *Error (a request or record that does not fit; nothing
// changed; every node agrees; its Reason says why, and the controller
// maps reasons to the API's codes: this package knows no HTTP),
// ErrOffsetCompacted (serve a snapshot), and
// everything else: ErrCorrupt from the decoders (bytes that do not decode)
// or a plain error from Replay (a record without a known body). Those are
// corruption or a bug: stop the node.
package metadata
