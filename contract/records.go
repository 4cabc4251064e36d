package contract

import (
	"time"

	"github.com/yakt/yakt/internal/metadata"
)

// The records answers carry. They are the metadata log's own types (one
// declaration, shared with replay and the snapshot format); their JSON is
// docs/api.md's.
type (
	// Record is a record in docs/api.md's envelope
	// ({"type":"metadata","name":...,"offset":...,"timestamp":...,"fields":{...}});
	// Body is one of the *...Record types below, chosen by name.
	Record = metadata.Record
	// RecordBody is a Record's content.
	RecordBody = metadata.Body
	// Broker is a RegisterBrokerRecord; in answers about a broker it
	// holds the broker's current values.
	Broker = metadata.RegisterBrokerRecord
	// Topic is a TopicRecord.
	Topic = metadata.TopicRecord
	// Partition is a PartitionRecord: a partition's full current state.
	Partition = metadata.PartitionRecord
	// ProducerIdsRecord allocates a block of producer ids to a broker.
	ProducerIdsRecord = metadata.ProducerIdsRecord
	// BrokerRegistrationChangeBrokerRecord changes a registered broker.
	BrokerRegistrationChangeBrokerRecord = metadata.BrokerRegistrationChangeBrokerRecord
	// RemoveTopicRecord removes a topic and its partitions.
	RemoveTopicRecord = metadata.RemoveTopicRecord
	// ConfigRecord sets (or, with a null value, removes) one config of a
	// topic or a broker.
	ConfigRecord = metadata.ConfigRecord
	// TopicSummary is a row of GET /v1/topics.
	TopicSummary = metadata.TopicView
	// MetadataSnapshot is a full metadata answer's "snapshot"
	// (FetchResponse.Snapshot, Mode "snapshot"): the whole current state.
	MetadataSnapshot = metadata.SnapshotView
)

// Broker statuses.
const (
	StatusAlive  = metadata.StatusAlive
	StatusFenced = metadata.StatusFenced
	StatusClosed = metadata.StatusClosed
)

// NoLeader is Partition.Leader for a partition without a leader.
const NoLeader = metadata.NoLeader

// FormatTime formats t as the API writes timestamps: RFC 3339 in UTC with
// exactly three fractional digits.
func FormatTime(t time.Time) string { return metadata.FormatTime(t) }
