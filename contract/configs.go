package contract

// Configs of topics and brokers (Kafka's ConfigRecord): GET and PATCH
// /v1/topics/{name}/configs, /v1/brokers/{id}/configs, and
// /v1/cluster/configs for the broker defaults every broker inherits.
// Only explicitly set values are stored; describe fills in the defaults.

// Config resource types.
const (
	ConfigResourceTopic  = "topic"
	ConfigResourceBroker = "broker" // Name "" is the cluster-wide broker default
)

// ConfigResource names what a config belongs to.
type ConfigResource struct {
	Type string `json:"type"` // ConfigResourceTopic or ConfigResourceBroker
	Name string `json:"name"` // topic name, broker id in decimal, or "" (cluster default)
}

// Config sources, from most to least specific.
const (
	ConfigSourceTopic          = "TOPIC"           // set on the topic
	ConfigSourceBroker         = "BROKER"          // set on this broker
	ConfigSourceClusterDefault = "CLUSTER_DEFAULT" // set for every broker
	ConfigSourceDefault        = "DEFAULT"         // YAKt's built-in default
)

// ConfigEntry is one config's effective value.
type ConfigEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"` // null for a sensitive value or a default that has none
	Source    string  `json:"source"`
	ReadOnly  bool    `json:"readOnly"`
	Sensitive bool    `json:"sensitive"`
}

// ResourceConfigs is a describe's answer: every known config of the
// resource (or those asked for), sorted by name.
type ResourceConfigs struct {
	Resource ConfigResource `json:"resource"`
	Configs  []ConfigEntry  `json:"configs"`
	Offset   int64          `json:"offset"` // the log offset the answer was read at
}

// Config operations, as Kafka's IncrementalAlterConfigs has them.
const (
	ConfigOpSet      = "SET"
	ConfigOpDelete   = "DELETE"   // back to the inherited value
	ConfigOpAppend   = "APPEND"   // to a list value
	ConfigOpSubtract = "SUBTRACT" // from a list value
)

// ConfigOp is one change.
type ConfigOp struct {
	Name  string  `json:"name"`
	Op    string  `json:"op"`
	Value *string `json:"value,omitempty"`
}

// AlterConfigsRequest is PATCH .../configs: every op applies, or none
// (one atomic batch); ValidateOnly checks and applies nothing.
type AlterConfigsRequest struct {
	Ops          []ConfigOp `json:"ops"`
	ValidateOnly bool       `json:"validateOnly,omitempty"`
}
