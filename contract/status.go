package contract

// Health is GET /healthz's answer: the process serves HTTP.
type Health struct {
	Status string `json:"status"` // "ok"
}

// Readiness is GET /readyz's answer: 200 with Status "ready" when the node
// can serve a linearizable read now, else 503 with Status "not ready" and
// a Reason. Fields are in the JSON's (alphabetical) order.
type Readiness struct {
	AppliedOffset uint64 `json:"appliedOffset"`
	CommitOffset  uint64 `json:"commitOffset"`
	LeaderID      uint64 `json:"leaderId"` // 0: none known
	Reason        string `json:"reason,omitempty"`
	Status        string `json:"status"`
}

// Readiness statuses.
const (
	Ready    = "ready"
	NotReady = "not ready"
)

// Voter statuses in GET /v1/quorum (docs/api.md).
const (
	VoterLeader      = "leader"      // leads (the live answer), or is the leader the answering node follows
	VoterFollower    = "follower"    // live answer: reachable, replicating; stale answer: the answering node, following a leader
	VoterLagging     = "lagging"     // live answer: reachable but being probed or sent a snapshot
	VoterCandidate   = "candidate"   // stale answer: the answering node, knowing no leader, trying to get elected
	VoterUnreachable = "unreachable" // not heard from within the election timeout
	VoterUnknown     = "unknown"     // stale answer: reachable from the answering node, progress unknown there
)

// Voter is one voter or observer in a Quorum. Nil pointers are values the answering
// node does not know; they are never reported as 0.
type Voter struct {
	NodeID uint64 `json:"nodeId"`
	// DirectoryID is the member's directory id, "" when unknown (a
	// directory formatted before directory ids).
	DirectoryID   string `json:"directoryId"`
	PeerAddress   string `json:"peerAddress"`
	HTTPAddress   string `json:"httpAddress,omitempty"`
	LogEndOffset  *int64 `json:"logEndOffset"`
	Lag           *int64 `json:"lag"`
	LastContactMs *int64 `json:"lastContactMs"` // null: never heard from
	// Status is one of the Voter... constants.
	Status string `json:"status"`
}

// Quorum is GET /v1/quorum's answer: the raft quorum as NodeID sees it,
// the live leader's view unless Stale (the fields of
// kafka-metadata-quorum describe).
type Quorum struct {
	ClusterID string `json:"clusterId"`
	NodeID    uint64 `json:"nodeId"` // whose view this is
	// Stale is false only in the current leader's own view; true when the
	// answering node does not lead, in which case values are its last
	// known ones.
	Stale   bool   `json:"stale"`
	StaleMs *int64 `json:"staleMs"` // since a live leader last confirmed the values; null: never
	// LeaderID is the current leader, -1 when the answering node knows none.
	LeaderID      int64   `json:"leaderId"`
	LastLeaderID  *uint64 `json:"lastLeaderId"` // the most recent leader known; null: none
	LeaderEpoch   int64   `json:"leaderEpoch"`
	HighWatermark int64   `json:"highWatermark"`
	Voters        []Voter `json:"voters"`
	// Observers replicate the log without voting (status as for voters).
	Observers []Voter `json:"observers"`
}

// Snapshot is a row of GET /v1/snapshots (newest first) and
// POST /v1/snapshots' answer.
type Snapshot struct {
	Offset    uint64 `json:"offset"`
	Term      uint64 `json:"term"`
	SizeBytes int64  `json:"sizeBytes"`
	CreatedAt string `json:"createdAt"`
	Checksum  string `json:"checksum"` // "crc32c:" and the file's CRC32C in hex
}

// Headers of GET /v1/snapshots/latest's answer.
const (
	HeaderSnapshotOffset   = "X-Yakt-Snapshot-Offset"
	HeaderSnapshotChecksum = "X-Yakt-Snapshot-Checksum"
)

// Headers every answer carries, and the write headers (docs/api.md).
const (
	HeaderNode           = "X-Yakt-Node"     // the answering node's id
	HeaderLeader         = "X-Yakt-Leader"   // the leader's id, when known
	HeaderOffset         = "X-Yakt-Offset"   // a write's commit offset
	HeaderRequestID      = "X-Request-Id"    // the request's id, the client's or a new one
	HeaderIdempotencyKey = "Idempotency-Key" // names a write for retries
	HeaderReplayed       = "X-Yakt-Replayed" // "true": the answer repeats the key's first answer
)
