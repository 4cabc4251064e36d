package contract

// Page sizes of the lists (GET /v1/topics, GET /v1/brokers: ?limit=) and
// of the log (GET /v1/log).
const (
	// DefaultListLimit is a list page's size when ?after= is given
	// without ?limit= (without either the whole list is one answer).
	DefaultListLimit = 1000
	// MaxListLimit is the largest ?limit= a list takes.
	MaxListLimit = 10_000
	// DefaultLogLimit is a log page's size without ?limit=.
	DefaultLogLimit = 1000
	// MaxLogLimit is the largest ?limit= the log takes.
	MaxLogLimit = 10_000
)

// CreateTopicRequest is POST /v1/topics; Partitions, ReplicationFactor
// and Configs are optional. Configs are the topic's configs (names and
// values as GET /v1/topics/{name}/configs has them), set in the same
// atomic batch as the topic.
type CreateTopicRequest struct {
	Name              string            `json:"name"`
	Partitions        *int32            `json:"partitions,omitempty"`
	ReplicationFactor *int32            `json:"replicationFactor,omitempty"`
	Configs           map[string]string `json:"configs,omitempty"`
}

// TopicDetail is a topic with its partitions' current state: the answer
// of GET /v1/topics/{name} and POST /v1/topics.
type TopicDetail struct {
	Topic      Topic       `json:"topic"`
	Partitions []Partition `json:"partitions"`
}

// TopicList is GET /v1/topics: topics sorted by name, and the cursor
// (?after=) of the next page when the answer is a page with more after it.
type TopicList struct {
	Topics []TopicSummary `json:"topics"`
	Next   *string        `json:"next,omitempty"`
}

// CreatePartitionRequest is POST /v1/topics/{name}/partitions. PartitionID
// defaults to the next free id (the highest + 1, or 0); ISR (absent or
// null) defaults to Replicas; Leader defaults to the first of the ISR.
type CreatePartitionRequest struct {
	PartitionID *int32  `json:"partitionId,omitempty"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"ISR,omitempty"`
	Leader      *int32  `json:"leader,omitempty"`
}

// AddReplicaRequest is POST /v1/topics/{name}/partitions/{partitionId}/replicas.
type AddReplicaRequest struct {
	BrokerID *int32 `json:"brokerId"`
}

// AlterISRRequest is POST /v1/topics/{name}/partitions/{partitionId}/isr,
// the partition leader's report of its in-sync replicas (Kafka's
// AlterPartition).
type AlterISRRequest struct {
	BrokerID       *int32  `json:"brokerId"`
	PartitionEpoch *int64  `json:"partitionEpoch"`
	ISR            []int32 `json:"ISR"`
}
