package contract

import "fmt"

// Leader elections (POST /v1/elections) and partition reassignments
// (POST and GET /v1/reassignments), as Kafka's ElectLeaders and KIP-455's
// AlterPartitionReassignments / ListPartitionReassignments have them.

// Election types.
const (
	ElectionPreferred = "PREFERRED" // the first replica, if alive and in the ISR
	ElectionUnclean   = "UNCLEAN"   // any alive replica, even one out of the ISR, when the ISR has none alive
)

// TopicPartitions names partitions of one topic; Partitions nil is all of them.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions,omitempty"`
}

// ElectLeadersRequest is POST /v1/elections; Partitions nil is every partition.
type ElectLeadersRequest struct {
	Type       string            `json:"type"`
	Partitions []TopicPartitions `json:"partitions,omitempty"`
}

// PartitionResult is one partition's outcome in a multi-partition
// operation: Error nil when it applied.
type PartitionResult struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Leader    *int32       `json:"leader,omitempty"` // after an election
	Error     *ErrorDetail `json:"error,omitempty"`
}

// String is the result in short: "orders/3->2" (its new leader),
// "orders/3:ELECTION_NOT_NEEDED" (its error) or "orders/3:ok".
func (r PartitionResult) String() string {
	switch {
	case r.Error != nil:
		return fmt.Sprintf("%s/%d:%s", r.Topic, r.Partition, r.Error.Code)
	case r.Leader != nil:
		return fmt.Sprintf("%s/%d->%d", r.Topic, r.Partition, *r.Leader)
	}
	return fmt.Sprintf("%s/%d:ok", r.Topic, r.Partition)
}

// ElectLeadersResponse lists every partition asked for (or, for all, every
// partition whose leader changed or could not be elected).
type ElectLeadersResponse struct {
	Results []PartitionResult `json:"results"`
	Offset  int64             `json:"offset"`
}

// PartitionReassignment asks for a partition's target replicas; Replicas
// null cancels the partition's reassignment in progress.
type PartitionReassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// ReassignRequest is POST /v1/reassignments: each partition is validated
// and applied on its own (Kafka's per-partition results).
type ReassignRequest struct {
	Partitions []PartitionReassignment `json:"partitions"`
}

// ReassignResponse has one result per partition asked for.
type ReassignResponse struct {
	Results []PartitionResult `json:"results"`
	Offset  int64             `json:"offset"`
}

// Reassignment is one reassignment in progress: Replicas is the current
// full replica set (target plus those still to remove).
type Reassignment struct {
	Topic            string  `json:"topic"`
	Partition        int32   `json:"partition"`
	Replicas         []int32 `json:"replicas"`
	AddingReplicas   []int32 `json:"addingReplicas"`
	RemovingReplicas []int32 `json:"removingReplicas"`
}

// ReassignmentList is GET /v1/reassignments.
type ReassignmentList struct {
	Reassignments []Reassignment `json:"reassignments"`
	Offset        int64          `json:"offset"`
}
