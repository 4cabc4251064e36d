package metadata

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The configs YAKt knows, with Kafka's names, types, ranges and defaults.
// YAKt stores them and serves them (describe, the metadata log the
// brokers fetch); the brokers apply them. A name not in these tables, or
// a value its key does not take, is refused with ReasonInvalidConfig.
// Values are stored in their canonical form (booleans lowercase, numbers
// without sign or leading zeros, list items trimmed), so equal settings
// compare equal.

// ConfigType is the type of a config's value.
type ConfigType uint8

// The config types.
const (
	ConfigBoolean ConfigType = iota + 1 // "true" or "false" (any case on input)
	ConfigInt                           // a 32-bit integer in [Min, Max]
	ConfigLong                          // a 64-bit integer in [Min, Max]
	ConfigDouble                        // a finite number in [MinFloat, MaxFloat]
	ConfigEnum                          // exactly one of Values
	ConfigList                          // a comma-separated, non-empty list of distinct Values
)

// Config sources, from most to least specific: a describe says where each
// value comes from.
const (
	ConfigSourceTopic          = "TOPIC"           // set on the topic
	ConfigSourceBroker         = "BROKER"          // set on this broker
	ConfigSourceClusterDefault = "CLUSTER_DEFAULT" // set for every broker (broker resource "")
	ConfigSourceDefault        = "DEFAULT"         // the built-in default
)

// ConfigSynonym is a broker config a topic config inherits from, and the
// factor that turns its unit into the topic config's (retention.ms
// inherits log.retention.hours times 3,600,000).
type ConfigSynonym struct {
	Name  string
	Scale int64
}

// ConfigKey describes one config.
type ConfigKey struct {
	Name string
	Type ConfigType
	// Default is the built-in value; HasDefault false means none (the
	// value is then null, as Kafka's log.retention.ms is).
	Default    string
	HasDefault bool
	Min, Max   int64   // ConfigInt, ConfigLong
	MinFloat   float64 // ConfigDouble
	MaxFloat   float64
	Values     []string // ConfigEnum, ConfigList
	// Synonyms are, for a topic config, the cluster-default broker
	// configs it inherits when the topic does not set it, first set wins.
	Synonyms []ConfigSynonym
	Doc      string
}

func def(v string) (string, bool) { return v, true }

var maxLong = strconv.FormatInt(math.MaxInt64, 10)

var (
	compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}
	timestampTypes   = []string{"CreateTime", "LogAppendTime"}
	cleanupPolicies  = []string{"delete", "compact"}
)

func syn(name string) []ConfigSynonym { return []ConfigSynonym{{Name: name, Scale: 1}} }

// topicConfigKeys are the topic configs, by name.
var topicConfigKeys = []ConfigKey{
	{Name: "cleanup.policy", Type: ConfigList, Default: "delete", HasDefault: true, Values: cleanupPolicies, Synonyms: syn("log.cleanup.policy"),
		Doc: "delete old segments by retention, compact to the latest value per key, or both"},
	{Name: "compression.type", Type: ConfigEnum, Default: "producer", HasDefault: true, Values: compressionTypes, Synonyms: syn("compression.type"),
		Doc: "the codec the broker stores batches with; producer keeps the producer's"},
	{Name: "delete.retention.ms", Type: ConfigLong, Default: "86400000", HasDefault: true, Min: 0, Max: math.MaxInt64, Synonyms: syn("log.cleaner.delete.retention.ms"),
		Doc: "how long delete tombstones of a compacted topic are kept"},
	{Name: "file.delete.delay.ms", Type: ConfigLong, Default: "60000", HasDefault: true, Min: 0, Max: math.MaxInt64, Synonyms: syn("log.segment.delete.delay.ms"),
		Doc: "how long a removed segment waits before its file is deleted"},
	{Name: "flush.messages", Type: ConfigLong, Default: maxLong, HasDefault: true, Min: 1, Max: math.MaxInt64, Synonyms: syn("log.flush.interval.messages"),
		Doc: "messages written between forced fsyncs"},
	{Name: "flush.ms", Type: ConfigLong, Default: maxLong, HasDefault: true, Min: 0, Max: math.MaxInt64, Synonyms: syn("log.flush.interval.ms"),
		Doc: "milliseconds between forced fsyncs"},
	{Name: "index.interval.bytes", Type: ConfigInt, Default: "4096", HasDefault: true, Min: 0, Max: math.MaxInt32, Synonyms: syn("log.index.interval.bytes"),
		Doc: "bytes between offset index entries"},
	{Name: "max.compaction.lag.ms", Type: ConfigLong, Default: maxLong, HasDefault: true, Min: 1, Max: math.MaxInt64, Synonyms: syn("log.cleaner.max.compaction.lag.ms"),
		Doc: "the longest a message stays uncompacted"},
	{Name: "max.message.bytes", Type: ConfigInt, Default: "1048588", HasDefault: true, Min: 0, Max: math.MaxInt32, Synonyms: syn("message.max.bytes"),
		Doc: "the largest record batch the topic accepts"},
	{Name: "message.timestamp.type", Type: ConfigEnum, Default: "CreateTime", HasDefault: true, Values: timestampTypes, Synonyms: syn("log.message.timestamp.type"),
		Doc: "whether a message keeps the producer's timestamp or gets the broker's"},
	{Name: "min.cleanable.dirty.ratio", Type: ConfigDouble, Default: "0.5", HasDefault: true, MinFloat: 0, MaxFloat: 1, Synonyms: syn("log.cleaner.min.cleanable.ratio"),
		Doc: "the share of uncompacted log that triggers compaction"},
	{Name: "min.compaction.lag.ms", Type: ConfigLong, Default: "0", HasDefault: true, Min: 0, Max: math.MaxInt64, Synonyms: syn("log.cleaner.min.compaction.lag.ms"),
		Doc: "the least time a message stays uncompacted"},
	{Name: "min.insync.replicas", Type: ConfigInt, Default: "1", HasDefault: true, Min: 1, Max: math.MaxInt32, Synonyms: syn("min.insync.replicas"),
		Doc: "in-sync replicas an acks=all write needs; like Kafka, not checked against the replication factor"},
	{Name: "preallocate", Type: ConfigBoolean, Default: "false", HasDefault: true, Synonyms: syn("log.preallocate"),
		Doc: "preallocate segment files"},
	{Name: "retention.bytes", Type: ConfigLong, Default: "-1", HasDefault: true, Min: -1, Max: math.MaxInt64, Synonyms: syn("log.retention.bytes"),
		Doc: "the size a partition's log is trimmed to; -1 for no limit"},
	{Name: "retention.ms", Type: ConfigLong, Default: "604800000", HasDefault: true, Min: -1, Max: math.MaxInt64,
		Synonyms: []ConfigSynonym{{"log.retention.ms", 1}, {"log.retention.minutes", 60_000}, {"log.retention.hours", 3_600_000}},
		Doc:      "how long messages are kept; -1 for no limit"},
	{Name: "segment.bytes", Type: ConfigInt, Default: "1073741824", HasDefault: true, Min: 14, Max: math.MaxInt32, Synonyms: syn("log.segment.bytes"),
		Doc: "the size of a log segment file"},
	{Name: "segment.index.bytes", Type: ConfigInt, Default: "10485760", HasDefault: true, Min: 4, Max: math.MaxInt32, Synonyms: syn("log.index.size.max.bytes"),
		Doc: "the size of a segment's offset index"},
	{Name: "segment.ms", Type: ConfigLong, Default: "604800000", HasDefault: true, Min: 1, Max: math.MaxInt64,
		Synonyms: []ConfigSynonym{{"log.roll.ms", 1}, {"log.roll.hours", 3_600_000}},
		Doc:      "how long before a segment is rolled even if not full"},
	{Name: "unclean.leader.election.enable", Type: ConfigBoolean, Default: "false", HasDefault: true, Synonyms: syn("unclean.leader.election.enable"),
		Doc: "whether a replica outside the ISR may become leader (data loss)"},
}

// brokerConfigKeys are the broker configs, by name: set per broker or as
// the cluster default (resource name "").
var brokerConfigKeys = []ConfigKey{
	{Name: "auto.leader.rebalance.enable", Type: ConfigBoolean, Default: "true", HasDefault: true,
		Doc: "move leadership back to preferred replicas when the imbalance exceeds the threshold"},
	{Name: "compression.type", Type: ConfigEnum, Default: "producer", HasDefault: true, Values: compressionTypes,
		Doc: "default of the topic config compression.type"},
	{Name: "leader.imbalance.check.interval.seconds", Type: ConfigLong, Default: "300", HasDefault: true, Min: 1, Max: math.MaxInt64,
		Doc: "how often leader imbalance is checked"},
	{Name: "leader.imbalance.per.broker.percentage", Type: ConfigInt, Default: "10", HasDefault: true, Min: 0, Max: 100,
		Doc: "the share of a broker's partitions led by others that triggers a rebalance"},
	{Name: "log.cleaner.delete.retention.ms", Type: ConfigLong, Default: "86400000", HasDefault: true, Min: 0, Max: math.MaxInt64,
		Doc: "default of delete.retention.ms"},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: ConfigLong, Default: maxLong, HasDefault: true, Min: 1, Max: math.MaxInt64,
		Doc: "default of max.compaction.lag.ms"},
	{Name: "log.cleaner.min.cleanable.ratio", Type: ConfigDouble, Default: "0.5", HasDefault: true, MinFloat: 0, MaxFloat: 1,
		Doc: "default of min.cleanable.dirty.ratio"},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: ConfigLong, Default: "0", HasDefault: true, Min: 0, Max: math.MaxInt64,
		Doc: "default of min.compaction.lag.ms"},
	{Name: "log.cleanup.policy", Type: ConfigList, Default: "delete", HasDefault: true, Values: cleanupPolicies,
		Doc: "default of cleanup.policy"},
	{Name: "log.flush.interval.messages", Type: ConfigLong, Default: maxLong, HasDefault: true, Min: 1, Max: math.MaxInt64,
		Doc: "default of flush.messages"},
	{Name: "log.flush.interval.ms", Type: ConfigLong, Min: 0, Max: math.MaxInt64,
		Doc: "default of flush.ms; none set means no forced flush"},
	{Name: "log.index.interval.bytes", Type: ConfigInt, Default: "4096", HasDefault: true, Min: 0, Max: math.MaxInt32,
		Doc: "default of index.interval.bytes"},
	{Name: "log.index.size.max.bytes", Type: ConfigInt, Default: "10485760", HasDefault: true, Min: 4, Max: math.MaxInt32,
		Doc: "default of segment.index.bytes"},
	{Name: "log.message.timestamp.type", Type: ConfigEnum, Default: "CreateTime", HasDefault: true, Values: timestampTypes,
		Doc: "default of message.timestamp.type"},
	{Name: "log.preallocate", Type: ConfigBoolean, Default: "false", HasDefault: true,
		Doc: "default of preallocate"},
	{Name: "log.retention.bytes", Type: ConfigLong, Default: "-1", HasDefault: true, Min: -1, Max: math.MaxInt64,
		Doc: "default of retention.bytes"},
	{Name: "log.retention.hours", Type: ConfigInt, Default: "168", HasDefault: true, Min: -1, Max: math.MaxInt32,
		Doc: "default of retention.ms, in hours (log.retention.minutes and .ms take precedence)"},
	{Name: "log.retention.minutes", Type: ConfigInt, Min: -1, Max: math.MaxInt32,
		Doc: "default of retention.ms, in minutes (log.retention.ms takes precedence)"},
	{Name: "log.retention.ms", Type: ConfigLong, Min: -1, Max: math.MaxInt64,
		Doc: "default of retention.ms"},
	{Name: "log.roll.hours", Type: ConfigInt, Default: "168", HasDefault: true, Min: 1, Max: math.MaxInt32,
		Doc: "default of segment.ms, in hours (log.roll.ms takes precedence)"},
	{Name: "log.roll.ms", Type: ConfigLong, Min: 1, Max: math.MaxInt64,
		Doc: "default of segment.ms"},
	{Name: "log.segment.bytes", Type: ConfigInt, Default: "1073741824", HasDefault: true, Min: 14, Max: math.MaxInt32,
		Doc: "default of segment.bytes"},
	{Name: "log.segment.delete.delay.ms", Type: ConfigLong, Default: "60000", HasDefault: true, Min: 0, Max: math.MaxInt64,
		Doc: "default of file.delete.delay.ms"},
	{Name: "message.max.bytes", Type: ConfigInt, Default: "1048588", HasDefault: true, Min: 0, Max: math.MaxInt32,
		Doc: "default of max.message.bytes"},
	{Name: "min.insync.replicas", Type: ConfigInt, Default: "1", HasDefault: true, Min: 1, Max: math.MaxInt32,
		Doc: "default of the topic config min.insync.replicas"},
	{Name: "unclean.leader.election.enable", Type: ConfigBoolean, Default: "false", HasDefault: true,
		Doc: "default of the topic config unclean.leader.election.enable"},
}

// ConfigKeys returns the configs of a resource type (ConfigResourceTopic
// or ConfigResourceBroker), sorted by name; nil for another type. The
// slice is shared: do not modify it.
func ConfigKeys(resourceType string) []ConfigKey {
	switch resourceType {
	case ConfigResourceTopic:
		return topicConfigKeys
	case ConfigResourceBroker:
		return brokerConfigKeys
	}
	return nil
}

// LookupConfigKey returns the config name of a resource type.
func LookupConfigKey(resourceType, name string) (ConfigKey, bool) {
	keys := ConfigKeys(resourceType)
	i, ok := slices.BinarySearchFunc(keys, name, func(k ConfigKey, n string) int { return strings.Compare(k.Name, n) })
	if !ok {
		return ConfigKey{}, false
	}
	return keys[i], true
}

// ConfigKeyNames lists the config names of a resource type, for messages.
func ConfigKeyNames(resourceType string) []string {
	keys := ConfigKeys(resourceType)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

// UnknownConfigError refuses a config name a resource type does not have.
func UnknownConfigError(resourceType, name string) *Error {
	return Errorf(ReasonInvalidConfig, "unknown %s config %q; known are: %s", resourceType, clipName(name),
		strings.Join(ConfigKeyNames(resourceType), ", "))
}

func clipName(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Accepts says in words what values the key takes, for messages and docs.
func (k ConfigKey) Accepts() string {
	switch k.Type {
	case ConfigBoolean:
		return "true or false"
	case ConfigInt, ConfigLong:
		kind := "an integer"
		if k.Type == ConfigLong {
			kind = "a long"
		}
		if k.Max == math.MaxInt64 || k.Type == ConfigInt && k.Max == math.MaxInt32 {
			return fmt.Sprintf("%s >= %d", kind, k.Min)
		}
		return fmt.Sprintf("%s from %d to %d", kind, k.Min, k.Max)
	case ConfigDouble:
		return fmt.Sprintf("a number from %g to %g", k.MinFloat, k.MaxFloat)
	case ConfigEnum:
		return "one of " + strings.Join(k.Values, ", ")
	case ConfigList:
		return "a comma-separated list of " + strings.Join(k.Values, ", ")
	}
	return "nothing"
}

// Normalize checks value against the key and returns its canonical form,
// or an *Error with ReasonInvalidConfig naming the key and what it takes.
func (k ConfigKey) Normalize(value string) (string, *Error) {
	v := strings.TrimSpace(value)
	bad := func(why string) (string, *Error) {
		return "", Errorf(ReasonInvalidConfig, "config %s: %q %s; it takes %s", k.Name, clipName(value), why, k.Accepts())
	}
	switch k.Type {
	case ConfigBoolean:
		switch strings.ToLower(v) {
		case "true":
			return "true", nil
		case "false":
			return "false", nil
		}
		return bad("is not a boolean")
	case ConfigInt, ConfigLong:
		bits := 64
		if k.Type == ConfigInt {
			bits = 32
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			return bad("is not a whole number in range")
		}
		if n < k.Min || n > k.Max {
			return bad("is out of range")
		}
		return strconv.FormatInt(n, 10), nil
	case ConfigDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("is not a number")
		}
		if f < k.MinFloat || f > k.MaxFloat {
			return bad("is out of range")
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case ConfigEnum:
		if slices.Contains(k.Values, v) {
			return v, nil
		}
		return bad("is not accepted")
	case ConfigList:
		items, err := k.listItems(v)
		if err != nil {
			return bad(err.Error())
		}
		if len(items) == 0 {
			return bad("is empty")
		}
		return strings.Join(items, ","), nil
	}
	return bad("cannot be set")
}

// listItems splits a list value into its trimmed items, each one of the
// key's values and none twice.
func (k ConfigKey) listItems(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []string
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		switch {
		case !slices.Contains(k.Values, it):
			return nil, fmt.Errorf("has the item %q", clipName(it))
		case slices.Contains(out, it):
			return nil, fmt.Errorf("lists %q twice", it)
		}
		out = append(out, it)
	}
	return out, nil
}

// AppendList is the value of APPEND: current's items, then those of add
// that current lacks. Both must be lists of the key's values.
func (k ConfigKey) AppendList(current, add string) (string, *Error) {
	return k.combineList(current, add, true)
}

// SubtractList is the value of SUBTRACT: current's items without those
// of sub (which may name items current lacks).
func (k ConfigKey) SubtractList(current, sub string) (string, *Error) {
	return k.combineList(current, sub, false)
}

func (k ConfigKey) combineList(current, other string, add bool) (string, *Error) {
	if k.Type != ConfigList {
		return "", Errorf(ReasonInvalidConfig, "config %s is not a list: APPEND and SUBTRACT take list configs only; use SET", k.Name)
	}
	cur, err := k.listItems(current)
	if err != nil {
		return "", Errorf(ReasonInvalidConfig, "config %s: current value %q %v", k.Name, current, err)
	}
	items, err := k.listItems(other)
	if err != nil {
		return "", Errorf(ReasonInvalidConfig, "config %s: %q %v; it takes %s", k.Name, clipName(other), err, k.Accepts())
	}
	var out []string
	if add {
		out = cur
		for _, it := range items {
			if !slices.Contains(out, it) {
				out = append(out, it)
			}
		}
	} else {
		for _, it := range cur {
			if !slices.Contains(items, it) {
				out = append(out, it)
			}
		}
	}
	if len(out) == 0 {
		return "", Errorf(ReasonInvalidConfig, "config %s: SUBTRACT would leave it empty; it takes %s", k.Name, k.Accepts())
	}
	return strings.Join(out, ","), nil
}

// EffectiveConfig is one config's value as a describe shows it.
type EffectiveConfig struct {
	Name   string
	Value  *string // nil: no value (a default that has none)
	Source string  // ConfigSourceTopic, ...
}

// EffectiveConfigs returns every config of a resource with its value and
// where it comes from, sorted by name: for a topic, its own setting, else
// the cluster default of the broker config it inherits (scaled to its
// unit), else the built-in default; for a broker, its own setting, else
// the cluster default, else the built-in default; for the cluster default
// (broker resource ""), its setting, else the built-in default. Whether
// the resource exists is the caller's concern.
func EffectiveConfigs(r Reader, resourceType, resourceName string) []EffectiveConfig {
	keys := ConfigKeys(resourceType)
	own := r.Configs(resourceType, resourceName)
	cluster := r.Configs(ConfigResourceBroker, "")
	ownSource := ConfigSourceTopic
	if resourceType == ConfigResourceBroker {
		ownSource = ConfigSourceBroker
		if resourceName == "" {
			ownSource = ConfigSourceClusterDefault
		}
	}
	out := make([]EffectiveConfig, 0, len(keys))
	for _, k := range keys {
		e := EffectiveConfig{Name: k.Name, Source: ConfigSourceDefault}
		if v, ok := own[k.Name]; ok {
			e.Value, e.Source = &v, ownSource
		} else if v, ok := inherited(k, resourceType, resourceName, cluster); ok {
			e.Value, e.Source = &v, ConfigSourceClusterDefault
		} else if k.HasDefault {
			v := k.Default
			e.Value = &v
		}
		out = append(out, e)
	}
	return out
}

// EffectiveConfigValue is one config's effective value (see
// EffectiveConfigs), false when it has none.
func EffectiveConfigValue(r Reader, resourceType, resourceName, name string) (string, bool) {
	k, ok := LookupConfigKey(resourceType, name)
	if !ok {
		return "", false
	}
	if v, ok := r.Configs(resourceType, resourceName)[name]; ok {
		return v, true
	}
	if v, ok := inherited(k, resourceType, resourceName, r.Configs(ConfigResourceBroker, "")); ok {
		return v, true
	}
	return k.Default, k.HasDefault
}

// inherited is what a resource inherits from the cluster default for key
// k: a topic through k's synonyms, a broker the same name.
func inherited(k ConfigKey, resourceType, resourceName string, cluster map[string]string) (string, bool) {
	switch {
	case resourceType == ConfigResourceBroker && resourceName != "":
		v, ok := cluster[k.Name]
		return v, ok
	case resourceType == ConfigResourceTopic:
		for _, s := range k.Synonyms {
			v, ok := cluster[s.Name]
			if !ok {
				continue
			}
			if s.Scale == 1 {
				return v, true
			}
			// A stored value was normalized; a negative one means
			// "no limit" in every unit.
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return v, true
			}
			if n < 0 {
				return "-1", true
			}
			if n > math.MaxInt64/s.Scale {
				return maxLong, true
			}
			return strconv.FormatInt(n*s.Scale, 10), true
		}
	}
	return "", false
}
