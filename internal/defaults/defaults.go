// Package defaults holds the operator-visible defaults of a YAKt node in
// one place. cmd/yakt's flags show them in their help, and the packages
// that take the settings (internal/server, raftnode, storage, controller,
// api) fill a zero setting with them, so a default is changed here and
// nowhere else.
package defaults

import "time"

// Raft timing.
const (
	// HeartbeatInterval is one raft tick (--heartbeat-interval).
	HeartbeatInterval = 100 * time.Millisecond
	// ElectionTimeout is raft's election timeout, randomised up to twice
	// this (--election-timeout); it is ElectionTicks ticks.
	ElectionTimeout = time.Second
	// ElectionTicks is ElectionTimeout in ticks of HeartbeatInterval.
	ElectionTicks = int(ElectionTimeout / HeartbeatInterval)
)

// Snapshots and the log.
const (
	// SnapshotEntries: a snapshot after this many applied entries
	// (--snapshot-entries).
	SnapshotEntries = 10_000
	// SnapshotBytes: a snapshot after this many bytes of applied entry
	// data too (--snapshot-bytes); the size Kafka's KRaft controllers
	// snapshot after (metadata.log.max.record.bytes.between.snapshots).
	SnapshotBytes = 20 << 20
	// SnapshotInterval: a snapshot on this timer when anything changed
	// (--snapshot-interval).
	SnapshotInterval = time.Hour
	// CompactionMargin is how many entries are kept before a snapshot for
	// slow followers.
	CompactionMargin = 5000
	// SegmentSizeBytes is the WAL segment preallocation size.
	SegmentSizeBytes = 64 << 20
	// KeepSnapshots is how many snapshot files pruning keeps.
	KeepSnapshots = 3
	// TailRecords bounds the in-memory record tail served to "updates
	// since offset" fetches; older offsets get a snapshot.
	TailRecords = 100_000
)

// GCHeapFloorMiB is the heap size (MiB) below which a node's Go collector
// does not collect (--gc-heap-floor-mib): a node whose state is small
// otherwise spends a third of its CPU collecting under a write load.
const GCHeapFloorMiB = 256

// The API.
const (
	// ListenHTTP is the HTTP API's address (--listen-http).
	ListenHTTP = "127.0.0.1:8001"
	// RequestTimeout is how long a write waits to commit before 504
	// TIMEOUT, and the bound of barriers (--request-timeout).
	RequestTimeout = 5 * time.Second
	// FullFetchAfter: a metadata fetch by a timestamp older than this
	// gets a full snapshot instead of a diff (--full-fetch-after;
	// docs/api.md's 10-minute rule).
	FullFetchAfter = 10 * time.Minute
	// BrokerSessionTimeout: the leader fences an ALIVE broker silent for
	// longer (--broker-session-timeout); Kafka's
	// broker.session.timeout.ms.
	BrokerSessionTimeout = 9 * time.Second
	// LivenessInterval is how often the leader checks broker sessions.
	LivenessInterval = time.Second
	// MaxFullFetches bounds the full metadata answers a node streams at
	// once (--max-full-fetches): each one in flight holds its compressed
	// encoding (tens of MB at millions of partitions) unless it shares one.
	MaxFullFetches = 4
	// MaxInFlightRequests bounds the requests a node handles at once
	// (--max-inflight-requests); 0 is no bound.
	MaxInFlightRequests = 0
	// MaxConnections bounds the open connections of a node's HTTP
	// listener (--max-connections): above the brokers a cluster serves
	// (each holds one for its fetch long poll) and below a process's
	// usual file descriptor limit.
	MaxConnections = 16384
	// MaxPeerConnections bounds the open connections of a node's peer
	// port: each member holds a few (messages, snapshots, forwarded
	// requests), so this is far above any real cluster's need and far
	// below a process's file descriptor limit.
	MaxPeerConnections = 256
	// MaxLongPolls bounds the long polls a node holds at once
	// (--max-long-polls): one per broker fetching from it, plus watchers.
	MaxLongPolls = 10000
	// MaxHeaderBytes bounds a request's header (--max-header-bytes): the
	// API's headers are a few short fields; a large limit only helps a
	// client that means harm.
	MaxHeaderBytes = 64 << 10
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's header: no real client needs more, and a slow sender
	// (slowloris) holds a connection at most this long.
	ReadHeaderTimeout = 5 * time.Second
	// IdleTimeout closes a kept-alive HTTP connection idle this long.
	IdleTimeout = 2 * time.Minute
	// ReloadInterval is how often a node checks its certificate and
	// access files for changes (they are also reloaded on SIGHUP).
	ReloadInterval = 2 * time.Second
	// ForwardDialTimeout bounds each dial of a follower to the leader
	// when it forwards a write. It is well under the election timeout, so
	// a forward to a leader that vanished gives up on it, re-resolves the
	// leader and tries again while the cluster elects a new one.
	ForwardDialTimeout = 300 * time.Millisecond
	// HeartbeatBatchInterval is how long a follower collects the
	// heartbeats of the BrokerMgmt fetches it serves before sending them
	// to the leader as one request: short next to Kafka's 2 s heartbeat
	// and 9 s session, long enough that a busy follower sends tens of
	// heartbeats per request.
	HeartbeatBatchInterval = 50 * time.Millisecond
	// LogLevel is the log level (--log-level).
	LogLevel = "info"
)
