package contract

// Quorum membership (docs/api.md, "Quorum membership"): voters and
// observers are added, promoted and removed one change at a time, on the
// leader, like KRaft's add/remove voter.

// QuorumMember is POST /v1/quorum/observers' body: the node to add as an
// observer. A member is its node id and its directory id together; GET
// /v1/node on the new node tells both.
type QuorumMember struct {
	NodeID      uint64 `json:"nodeId"`
	DirectoryID string `json:"directoryId"` // 22 characters of base64url
	PeerAddress string `json:"peerAddress"` // host:port where peers dial it
	HTTPAddress string `json:"httpAddress,omitempty"`
}

// PromoteVoterRequest is POST /v1/quorum/voters' body: make an observer
// a voter.
type PromoteVoterRequest struct {
	NodeID uint64 `json:"nodeId"`
	// DirectoryID, when given, must be the observer's: a node that came
	// back with a wiped directory is not promoted by mistake.
	DirectoryID string `json:"directoryId,omitempty"`
	// WaitMs is how long the leader may wait for the observer's log to
	// catch up before refusing with NOT_CAUGHT_UP (at most the server's
	// request timeout); 0: answer at once.
	WaitMs int64 `json:"waitMs,omitempty"`
}

// TransferLeaderRequest is POST /v1/quorum/leader's body.
type TransferLeaderRequest struct {
	NodeID uint64 `json:"nodeId,omitempty"` // 0: the most caught-up other voter
}

// Roles of a node in NodeIdentity.
const (
	RoleVoter    = "voter"
	RoleObserver = "observer"
	RoleNone     = "none" // not (or no longer, or not yet) a member as this node has applied
)

// NodeIdentity is GET /v1/node's answer: who the answering node is, what
// an operator needs to add it to a quorum.
type NodeIdentity struct {
	ClusterID   string `json:"clusterId"`
	NodeID      uint64 `json:"nodeId"`
	DirectoryID string `json:"directoryId"` // "" for a directory formatted before directory ids
	PeerAddress string `json:"peerAddress"`
	HTTPAddress string `json:"httpAddress,omitempty"`
	Role        string `json:"role"` // one of the Role... constants
}
