// Package zkformat is the layout of a ZooKeeper-mode Kafka cluster's
// metadata: the znode paths and the JSON each holds, as Kafka 3.x writes
// them, parsed into plain values and encoded back. It is pure: no
// ZooKeeper client, no I/O. docs/migration.md describes every format.
package zkformat

import "fmt"

// Znode paths Kafka uses (relative to the chroot, if any).
const (
	PathClusterID       = "/cluster/id"
	PathController      = "/controller"
	PathControllerEpoch = "/controller_epoch"
	PathBrokerIDs       = "/brokers/ids"
	PathTopics          = "/brokers/topics"
	PathProducerIDBlock = "/latest_producer_id_block"
	PathDeleteTopics    = "/admin/delete_topics"
	PathTopicConfigs    = "/config/topics"
	// PathMigration is where the migrating controller records itself
	// (Kafka's KRaft migration keeps the same znode); its version fences
	// writes from a former YAKt leader.
	PathMigration = "/migration"
)

// BrokerPath is /brokers/ids/<id>.
func BrokerPath(id int32) string { return fmt.Sprintf("%s/%d", PathBrokerIDs, id) }

// TopicPath is /brokers/topics/<topic>.
func TopicPath(topic string) string { return PathTopics + "/" + topic }

// PartitionsPath is /brokers/topics/<topic>/partitions.
func PartitionsPath(topic string) string { return TopicPath(topic) + "/partitions" }

// PartitionPath is /brokers/topics/<topic>/partitions/<p>.
func PartitionPath(topic string, p int32) string { return fmt.Sprintf("%s/%d", PartitionsPath(topic), p) }

// PartitionStatePath is /brokers/topics/<topic>/partitions/<p>/state.
func PartitionStatePath(topic string, p int32) string { return PartitionPath(topic, p) + "/state" }

// Error is a znode whose content YAKt cannot use: its path and why.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Endpoint is one listener a broker advertises.
type Endpoint struct {
	Listener         string // the listener name, e.g. PLAINTEXT or INTERNAL
	SecurityProtocol string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	Host             string
	Port             int32
}

// Broker is /brokers/ids/<id> (Kafka's BrokerIdZNode).
type Broker struct {
	ID        int32
	Version   int
	Host      string // the legacy host/port fields (the first PLAINTEXT endpoint, if any)
	Port      int32
	Endpoints []Endpoint
	Rack      string
	JMXPort   int32
	Timestamp int64 // unix ms the broker registered
	// Features are the supported feature ranges (version 5).
	Features map[string][2]int16
}

// ParseBroker parses /brokers/ids/<id>'s content.
func ParseBroker(id int32, data []byte) (Broker, error) { panic("zkformat: not implemented") }

// EncodeBroker is Broker's JSON as Kafka 3.x writes it.
func EncodeBroker(b Broker) []byte { panic("zkformat: not implemented") }

// Topic is /brokers/topics/<topic> (Kafka's TopicZNode): the replica
// assignment, reassignment in progress and the topic id.
type Topic struct {
	Name    string
	Version int
	// TopicID is the topic id as canonical UUID text (Kafka writes it in
	// base64url; ParseTopic and EncodeTopic convert).
	TopicID    string
	Partitions map[int32][]int32 // partition → replicas
	Adding     map[int32][]int32 // partition → adding_replicas
	Removing   map[int32][]int32 // partition → removing_replicas
}

// ParseTopic parses /brokers/topics/<name>'s content.
func ParseTopic(name string, data []byte) (Topic, error) { panic("zkformat: not implemented") }

// EncodeTopic is Topic's JSON as Kafka 3.x writes it.
func EncodeTopic(t Topic) []byte { panic("zkformat: not implemented") }

// PartitionState is /brokers/topics/<t>/partitions/<p>/state (Kafka's
// TopicPartitionStateZNode). The znode's version is the partition epoch.
type PartitionState struct {
	Version             int
	Leader              int32 // -1: none
	LeaderEpoch         int32
	ISR                 []int32
	ControllerEpoch     int32
	LeaderRecoveryState int8 // 0 RECOVERED, 1 RECOVERING
}

// ParsePartitionState parses a partition state znode's content (path is
// for errors).
func ParsePartitionState(path string, data []byte) (PartitionState, error) {
	panic("zkformat: not implemented")
}

// EncodePartitionState is PartitionState's JSON as Kafka 3.x writes it.
func EncodePartitionState(s PartitionState) []byte { panic("zkformat: not implemented") }

// ProducerIDBlock is /latest_producer_id_block (Kafka's
// ProducerIdBlockZNode): the last block given, [Start, End] inclusive.
type ProducerIDBlock struct {
	Version int
	Broker  int32
	Start   int64
	End     int64
}

// ParseProducerIDBlock parses /latest_producer_id_block's content.
func ParseProducerIDBlock(data []byte) (ProducerIDBlock, error) { panic("zkformat: not implemented") }

// EncodeProducerIDBlock is ProducerIDBlock's JSON as Kafka writes it.
func EncodeProducerIDBlock(b ProducerIDBlock) []byte { panic("zkformat: not implemented") }

// Controller is /controller (Kafka's ControllerZNode).
type Controller struct {
	Version   int
	BrokerID  int32
	Timestamp int64
	// KRaftControllerEpoch is set (>= 0) when a KRaft-style controller
	// (YAKt after cutover) holds the role; -1 otherwise.
	KRaftControllerEpoch int32
}

// ParseController parses /controller's content.
func ParseController(data []byte) (Controller, error) { panic("zkformat: not implemented") }

// EncodeController is Controller's JSON.
func EncodeController(c Controller) []byte { panic("zkformat: not implemented") }

// ParseControllerEpoch parses /controller_epoch (a decimal integer).
func ParseControllerEpoch(data []byte) (int32, error) { panic("zkformat: not implemented") }

// EncodeControllerEpoch is /controller_epoch's content.
func EncodeControllerEpoch(epoch int32) []byte { panic("zkformat: not implemented") }

// ParseClusterID parses /cluster/id and returns Kafka's cluster id.
func ParseClusterID(data []byte) (string, error) { panic("zkformat: not implemented") }

// EncodeClusterID is /cluster/id's content.
func EncodeClusterID(id string) []byte { panic("zkformat: not implemented") }

// Migration is /migration: which YAKt leader migrates the cluster.
type Migration struct {
	Version              int
	KRaftControllerID    int32 // the YAKt node id
	KRaftControllerEpoch int32 // the YAKt leader's raft term (truncated)
	KRaftMetadataOffset  int64 // the YAKt log offset last written to ZooKeeper
	KRaftMetadataEpoch   int32
}

// ParseMigration parses /migration's content.
func ParseMigration(data []byte) (Migration, error) { panic("zkformat: not implemented") }

// EncodeMigration is /migration's content.
func EncodeMigration(m Migration) []byte { panic("zkformat: not implemented") }

// UUIDFromKafka converts Kafka's base64url topic/cluster id (22
// characters, no padding) to canonical UUID text.
func UUIDFromKafka(s string) (string, error) { panic("zkformat: not implemented") }

// UUIDToKafka converts canonical UUID text to Kafka's base64url form.
func UUIDToKafka(uuid string) (string, error) { panic("zkformat: not implemented") }
