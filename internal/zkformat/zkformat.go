// Package zkformat is the layout of a ZooKeeper-mode Kafka cluster's
// metadata: the znode paths and the JSON each holds, as Kafka 3.x writes
// them, parsed into plain values and encoded back. It is pure: no
// ZooKeeper client, no I/O. docs/migration.md describes every format.
package zkformat

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

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
func PartitionPath(topic string, p int32) string {
	return fmt.Sprintf("%s/%d", PartitionsPath(topic), p)
}

// PartitionStatePath is /brokers/topics/<topic>/partitions/<p>/state.
func PartitionStatePath(topic string, p int32) string { return PartitionPath(topic, p) + "/state" }

// DeleteTopicPath is /admin/delete_topics/<topic>: present while Kafka
// deletes the topic.
func DeleteTopicPath(topic string) string { return PathDeleteTopics + "/" + topic }

// TopicConfigPath is /config/topics/<topic> (Kafka's ConfigEntityZNode).
func TopicConfigPath(topic string) string { return PathTopicConfigs + "/" + topic }

// The versions Kafka 3.x writes; an encoder given Version 0 writes these.
const (
	BrokerVersion          = 5
	TopicVersion           = 3
	PartitionStateVersion  = 1
	ProducerIDBlockVersion = 1
	ControllerVersion      = 2
	ClusterIDVersion       = "1"
	TopicConfigVersion     = 1
	MigrationVersion       = 0
)

// Error is a znode whose content YAKt cannot use: its path and why.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

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
//
// Version 1 has only host and port (a PLAINTEXT listener); versions 2-5
// list endpoints as "LISTENER://host:port", each listener's security
// protocol coming from listener_security_protocol_map (versions 4-5) or,
// without the map, the listener's own name (PLAINTEXT, SSL, ...). As in
// Kafka, the legacy host/port fields of versions 2-5 are not read: Host
// and Port are the first PLAINTEXT endpoint's, or "" and -1.
func ParseBroker(id int32, data []byte) (Broker, error) {
	path := BrokerPath(id)
	o, err := object(path, data)
	if err != nil {
		return Broker{}, err
	}
	b := Broker{ID: id, JMXPort: -1, Port: -1}
	if b.Version, err = o.version(); err != nil {
		return Broker{}, err
	}
	if b.Version < 1 || b.Version > BrokerVersion {
		return Broker{}, unknownVersion(path, b.Version, "a broker registration (Kafka's BrokerIdZNode)", "1-5")
	}
	if _, err := o.int32("jmx_port", &b.JMXPort); err != nil {
		return Broker{}, err
	}
	if b.Timestamp, err = o.decimalOrString("timestamp"); err != nil {
		return Broker{}, err
	}
	if _, err := o.string("rack", &b.Rack); err != nil {
		return Broker{}, err
	}
	if b.Version == 1 {
		var host string
		var port int32
		if ok, err := o.string("host", &host); err != nil {
			return Broker{}, err
		} else if !ok {
			return Broker{}, o.missing("host")
		}
		if ok, err := o.int32("port", &port); err != nil {
			return Broker{}, err
		} else if !ok {
			return Broker{}, o.missing("port")
		}
		if port < 0 || port > 65535 {
			return Broker{}, errorf(path, `field "port": %d is not a port number`, port)
		}
		b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: host, Port: port}}
	} else {
		if b.Endpoints, err = parseEndpoints(o); err != nil {
			return Broker{}, err
		}
	}
	if b.Features, err = parseFeatures(o); err != nil {
		return Broker{}, err
	}
	b.Host, b.Port = legacyHostPort(b.Endpoints)
	return b, nil
}

// legacyHostPort is what Kafka writes in the top-level host and port
// fields: the first PLAINTEXT endpoint, so clients from before listeners
// existed can still connect, or no address at all.
func legacyHostPort(eps []Endpoint) (string, int32) {
	for _, ep := range eps {
		if ep.SecurityProtocol == "PLAINTEXT" {
			return ep.Host, ep.Port
		}
	}
	return "", -1
}

var securityProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// endpointRE is Kafka's listener syntax: NAME://host:port, the host
// possibly an IPv6 address in brackets and empty for all interfaces.
var endpointRE = regexp.MustCompile(`^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$`)

func parseEndpoints(o obj) ([]Endpoint, error) {
	var listeners []string
	if ok, err := o.decode("endpoints", &listeners, "a list of strings"); err != nil {
		return nil, err
	} else if !ok {
		return nil, o.missing("endpoints")
	}
	if len(listeners) == 0 {
		return nil, errorf(o.path, `field "endpoints" is empty: the broker has no address`)
	}
	var protoMap map[string]string
	if _, err := o.decode("listener_security_protocol_map", &protoMap, "an object of strings"); err != nil {
		return nil, err
	}
	protocols := make(map[string]string, len(protoMap))
	for l, p := range protoMap {
		p = strings.ToUpper(p)
		if !securityProtocols[p] {
			return nil, errorf(o.path, "listener %q: unknown security protocol %q", l, p)
		}
		// Listener names are case-insensitive; two spellings that disagree
		// would leave the protocol to map iteration order.
		if prev, ok := protocols[strings.ToUpper(l)]; ok && prev != p {
			return nil, errorf(o.path, "listener %s has two security protocols, %s and %s", strings.ToUpper(l), prev, p)
		}
		protocols[strings.ToUpper(l)] = p
	}
	eps := make([]Endpoint, 0, len(listeners))
	for _, s := range listeners {
		m := endpointRE.FindStringSubmatch(s)
		if m == nil {
			return nil, errorf(o.path, "endpoint %q is not LISTENER://host:port", s)
		}
		listener := strings.ToUpper(m[1])
		if strings.TrimSpace(listener) == "" {
			return nil, errorf(o.path, "endpoint %q has no listener name", s)
		}
		port, err := strconv.ParseInt(m[3], 10, 32)
		if err != nil || port < 0 || port > 65535 {
			return nil, errorf(o.path, "endpoint %q: %s is not a port number", s, m[3])
		}
		proto := listener
		if protoMap != nil {
			proto = protocols[listener]
		}
		if !securityProtocols[proto] {
			return nil, errorf(o.path, "endpoint %q: no security protocol for listener %s", s, listener)
		}
		eps = append(eps, Endpoint{Listener: listener, SecurityProtocol: proto, Host: m[2], Port: int32(port)})
	}
	return eps, nil
}

func parseFeatures(o obj) (map[string][2]int16, error) {
	var raw map[string]map[string]json.RawMessage
	if ok, err := o.decode("features", &raw, "an object of version ranges"); err != nil || !ok {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
	}
	features := make(map[string][2]int16, len(raw))
	for name, r := range raw {
		var rng [2]int16
		for i, key := range []string{"min_version", "max_version"} {
			v, ok := r[key]
			if !ok || string(v) == "null" {
				return nil, errorf(o.path, "feature %q: missing %s", name, key)
			}
			if err := json.Unmarshal(v, &rng[i]); err != nil {
				return nil, errorf(o.path, "feature %q: %s is %s, want a 16-bit integer", name, key, v)
			}
		}
		if rng[0] < 0 || rng[1] < rng[0] {
			return nil, errorf(o.path, "feature %q: version range [%d, %d] is empty or negative", name, rng[0], rng[1])
		}
		features[name] = rng
	}
	return features, nil
}

// EncodeBroker is Broker's JSON as Kafka 3.x writes it. Host and Port
// are derived from the endpoints as Kafka does (b.Host and b.Port are not
// read). Fields Kafka reads at any version (rack, features, the security
// protocol map when a listener name is not its protocol) are written
// whenever set, so what is written reads back the same.
func EncodeBroker(b Broker) []byte {
	v := b.Version
	if v == 0 {
		v = BrokerVersion
	}
	host, port := legacyHostPort(b.Endpoints)
	eps := make([]string, len(b.Endpoints))
	protoMap := make(map[string]string, len(b.Endpoints))
	needMap := v >= 4
	for i, ep := range b.Endpoints {
		eps[i] = ep.Listener + "://" + formatHostPort(ep.Host, ep.Port)
		protoMap[ep.Listener] = ep.SecurityProtocol
		if ep.Listener != ep.SecurityProtocol {
			needMap = true
		}
	}
	out := struct {
		Version   int                         `json:"version"`
		Host      *string                     `json:"host"`
		Port      int32                       `json:"port"`
		Endpoints []string                    `json:"endpoints"`
		JMXPort   int32                       `json:"jmx_port"`
		Timestamp string                      `json:"timestamp"`
		Rack      *string                     `json:"rack,omitempty"`
		ProtoMap  map[string]string           `json:"listener_security_protocol_map,omitempty"`
		Features  map[string]map[string]int16 `json:"features,omitempty"`
	}{Version: v, Port: port, Endpoints: eps, JMXPort: b.JMXPort, Timestamp: strconv.FormatInt(b.Timestamp, 10)}
	if port >= 0 {
		out.Host = &host
	}
	if b.Rack != "" {
		out.Rack = &b.Rack
	}
	if needMap {
		out.ProtoMap = protoMap
	}
	if v >= 5 || len(b.Features) > 0 {
		// Kafka writes "features":{} at version 5 even with none.
		out.Features = make(map[string]map[string]int16, len(b.Features))
		for name, r := range b.Features {
			out.Features[name] = map[string]int16{"min_version": r[0], "max_version": r[1]}
		}
		if len(out.Features) == 0 {
			return mustMarshalWith(out, `"features":{}`)
		}
	}
	return mustMarshal(out)
}

// formatHostPort is Kafka's address form: IPv6 hosts in brackets.
func formatHostPort(host string, port int32) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(int(port))
	}
	return host + ":" + strconv.Itoa(int(port))
}

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

// ParseTopic parses /brokers/topics/<name>'s content. Version 1 has the
// assignment, 2 adds adding_replicas/removing_replicas, 3 the topic_id
// (Kafka reads every field at every version; so does ParseTopic). A topic
// without topic_id parses with TopicID "": whether that is acceptable is
// the caller's decision. Empty adding/removing lists are left out of the
// maps.
func ParseTopic(name string, data []byte) (Topic, error) {
	path := TopicPath(name)
	o, err := object(path, data)
	if err != nil {
		return Topic{}, err
	}
	t := Topic{Name: name}
	if t.Version, err = o.version(); err != nil {
		return Topic{}, err
	}
	if t.Version < 1 || t.Version > TopicVersion {
		return Topic{}, unknownVersion(path, t.Version, "a topic (Kafka's TopicZNode)", "1-3")
	}
	var id string
	if ok, err := o.string("topic_id", &id); err != nil {
		return Topic{}, err
	} else if ok {
		if t.TopicID, err = UUIDFromKafka(id); err != nil {
			return Topic{}, errorf(path, `field "topic_id": %v`, err)
		}
		if t.TopicID == zeroUUID {
			return Topic{}, errorf(path, `field "topic_id": %q is the zero id, which no topic has`, id)
		}
	}
	var ok bool
	if t.Partitions, ok, err = parseAssignment(o, "partitions"); err != nil {
		return Topic{}, err
	} else if !ok {
		return Topic{}, o.missing("partitions")
	}
	if t.Adding, _, err = parseAssignment(o, "adding_replicas"); err != nil {
		return Topic{}, err
	}
	if t.Removing, _, err = parseAssignment(o, "removing_replicas"); err != nil {
		return Topic{}, err
	}
	if err := t.Validate(); err != nil {
		return Topic{}, err
	}
	return t, nil
}

func parseAssignment(o obj, key string) (map[int32][]int32, bool, error) {
	var raw map[string][]int32
	if ok, err := o.decode(key, &raw, "an object of partition → list of broker ids"); err != nil || !ok {
		return nil, ok, err
	}
	var m map[int32][]int32
	for k, replicas := range raw {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 || strconv.FormatInt(p, 10) != k {
			return nil, true, errorf(o.path, "field %q: %q is not a partition number", key, k)
		}
		if len(replicas) == 0 && key != "partitions" {
			continue
		}
		if m == nil {
			m = make(map[int32][]int32, len(raw))
		}
		m[int32(p)] = replicas
	}
	return m, true, nil
}

// Validate checks what YAKt needs of a topic znode: partitions 0..n-1,
// each with a non-empty replica list of distinct broker ids; adding and
// removing replicas are distinct replicas of a partition the topic has,
// never both at once; the id, if any, is UUID text. Its error names the
// topic's znode.
func (t Topic) Validate() error {
	path := TopicPath(t.Name)
	if len(t.Partitions) == 0 {
		return errorf(path, "the topic has no partitions")
	}
	for p := int32(0); p < int32(len(t.Partitions)); p++ {
		if _, ok := t.Partitions[p]; !ok {
			return errorf(path, "partition %d is missing: partitions must be 0-%d", p, len(t.Partitions)-1)
		}
	}
	if t.TopicID != "" {
		if _, err := UUIDToKafka(t.TopicID); err != nil {
			return errorf(path, "topic id: %v", err)
		}
	}
	for _, p := range sortedKeys(t.Partitions) {
		replicas := t.Partitions[p]
		if len(replicas) == 0 {
			return errorf(path, "partition %d has no replicas", p)
		}
		if err := checkIDs(replicas); err != nil {
			return errorf(path, "partition %d replicas %v: %v", p, replicas, err)
		}
	}
	for _, l := range []struct {
		key string
		m   map[int32][]int32
	}{{"adding_replicas", t.Adding}, {"removing_replicas", t.Removing}} {
		for _, p := range sortedKeys(l.m) {
			ids := l.m[p]
			replicas, ok := t.Partitions[p]
			if !ok {
				return errorf(path, "%s names partition %d, which the topic does not have", l.key, p)
			}
			if err := checkIDs(ids); err != nil {
				return errorf(path, "%s of partition %d %v: %v", l.key, p, ids, err)
			}
			for _, id := range ids {
				if !slices.Contains(replicas, id) {
					return errorf(path, "%s of partition %d: broker %d is not among its replicas %v", l.key, p, id, replicas)
				}
			}
		}
	}
	for _, p := range sortedKeys(t.Adding) {
		for _, id := range t.Adding[p] {
			if slices.Contains(t.Removing[p], id) {
				return errorf(path, "partition %d: broker %d is both being added and removed", p, id)
			}
		}
	}
	return nil
}

// checkIDs checks a list of broker ids: none negative, none twice.
func checkIDs(ids []int32) error {
	seen := make(map[int32]bool, len(ids))
	for _, id := range ids {
		if id < 0 {
			return fmt.Errorf("%d is not a broker id", id)
		}
		if seen[id] {
			return fmt.Errorf("broker %d is listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

func sortedKeys(m map[int32][]int32) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// EncodeTopic is Topic's JSON as Kafka 3.x writes it: adding_replicas and
// removing_replicas list only partitions with some, and are written (as
// {} when empty) from version 2 on. t should pass Validate; a TopicID that
// is not UUID text is left out rather than written in a form Kafka
// cannot read.
func EncodeTopic(t Topic) []byte {
	v := t.Version
	if v == 0 {
		v = TopicVersion
	}
	out := struct {
		Version    int                `json:"version"`
		Partitions map[string][]int32 `json:"partitions"`
		Adding     map[string][]int32 `json:"adding_replicas,omitempty"`
		Removing   map[string][]int32 `json:"removing_replicas,omitempty"`
		TopicID    string             `json:"topic_id,omitempty"`
	}{Version: v, Partitions: assignmentJSON(t.Partitions, true), Adding: assignmentJSON(t.Adding, false), Removing: assignmentJSON(t.Removing, false)}
	if t.TopicID != "" {
		out.TopicID, _ = UUIDToKafka(t.TopicID)
	}
	b := mustMarshal(out)
	if v >= 2 {
		// Kafka writes both maps even when empty; omitempty dropped them.
		var extra []string
		if out.Adding == nil {
			extra = append(extra, `"adding_replicas":{}`)
		}
		if out.Removing == nil {
			extra = append(extra, `"removing_replicas":{}`)
		}
		if len(extra) > 0 {
			return mustMarshalWith(out, extra...)
		}
	}
	return b
}

func assignmentJSON(m map[int32][]int32, keepEmpty bool) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for p, ids := range m {
		if len(ids) == 0 && !keepEmpty {
			continue
		}
		if ids == nil {
			ids = []int32{}
		}
		out[strconv.Itoa(int(p))] = ids
	}
	if len(out) == 0 && !keepEmpty {
		return nil
	}
	return out
}

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
// for errors). An empty ISR parses as nil.
func ParsePartitionState(path string, data []byte) (PartitionState, error) {
	o, err := object(path, data)
	if err != nil {
		return PartitionState{}, err
	}
	var s PartitionState
	if s.Version, err = o.version(); err != nil {
		return PartitionState{}, err
	}
	if s.Version != PartitionStateVersion {
		return PartitionState{}, unknownVersion(path, s.Version, "a partition state (Kafka's TopicPartitionStateZNode)", "1")
	}
	for _, f := range []struct {
		key string
		v   *int32
	}{{"leader", &s.Leader}, {"leader_epoch", &s.LeaderEpoch}, {"controller_epoch", &s.ControllerEpoch}} {
		if ok, err := o.int32(f.key, f.v); err != nil {
			return PartitionState{}, err
		} else if !ok {
			return PartitionState{}, o.missing(f.key)
		}
	}
	if ok, err := o.decode("isr", &s.ISR, "a list of broker ids"); err != nil {
		return PartitionState{}, err
	} else if !ok {
		return PartitionState{}, o.missing("isr")
	}
	if len(s.ISR) == 0 {
		s.ISR = nil
	}
	var lrs int32
	if _, err := o.int32("leader_recovery_state", &lrs); err != nil {
		return PartitionState{}, err
	}
	switch {
	case lrs != 0 && lrs != 1:
		return PartitionState{}, errorf(path, `field "leader_recovery_state": %d is neither 0 (recovered) nor 1 (recovering)`, lrs)
	case s.Leader < -1:
		return PartitionState{}, errorf(path, `field "leader": %d is not a broker id (or -1 for none)`, s.Leader)
	case s.LeaderEpoch < 0:
		return PartitionState{}, errorf(path, `field "leader_epoch": %d is negative`, s.LeaderEpoch)
	case s.ControllerEpoch < 0:
		return PartitionState{}, errorf(path, `field "controller_epoch": %d is negative`, s.ControllerEpoch)
	}
	s.LeaderRecoveryState = int8(lrs)
	if err := checkIDs(s.ISR); err != nil {
		return PartitionState{}, errorf(path, `field "isr" %v: %v`, s.ISR, err)
	}
	if s.Leader >= 0 && !slices.Contains(s.ISR, s.Leader) {
		return PartitionState{}, errorf(path, "leader %d is not in the ISR %v", s.Leader, s.ISR)
	}
	return s, nil
}

// EncodePartitionState is PartitionState's JSON as Kafka 3.x writes it
// (leader_recovery_state only when not 0, as Kafka does).
func EncodePartitionState(s PartitionState) []byte {
	v := s.Version
	if v == 0 {
		v = PartitionStateVersion
	}
	isr := s.ISR
	if isr == nil {
		isr = []int32{}
	}
	return mustMarshal(struct {
		Version             int     `json:"version"`
		Leader              int32   `json:"leader"`
		LeaderEpoch         int32   `json:"leader_epoch"`
		ControllerEpoch     int32   `json:"controller_epoch"`
		ISR                 []int32 `json:"isr"`
		LeaderRecoveryState int8    `json:"leader_recovery_state,omitempty"`
	}{v, s.Leader, s.LeaderEpoch, s.ControllerEpoch, isr, s.LeaderRecoveryState})
}

// ProducerIDBlock is /latest_producer_id_block (Kafka's
// ProducerIdBlockZNode): the last block given, [Start, End] inclusive.
type ProducerIDBlock struct {
	Version int
	Broker  int32
	Start   int64
	End     int64
}

// ParseProducerIDBlock parses /latest_producer_id_block's content. Kafka
// writes block_start and block_end as decimal strings; numbers are read
// too.
func ParseProducerIDBlock(data []byte) (ProducerIDBlock, error) {
	path := PathProducerIDBlock
	o, err := object(path, data)
	if err != nil {
		return ProducerIDBlock{}, err
	}
	var b ProducerIDBlock
	if b.Version, err = o.version(); err != nil {
		return ProducerIDBlock{}, err
	}
	if b.Version != ProducerIDBlockVersion {
		return ProducerIDBlock{}, unknownVersion(path, b.Version, "the producer id block (Kafka's ProducerIdBlockZNode)", "1")
	}
	if ok, err := o.int32("broker", &b.Broker); err != nil {
		return ProducerIDBlock{}, err
	} else if !ok {
		return ProducerIDBlock{}, o.missing("broker")
	}
	for _, f := range []struct {
		key string
		v   *int64
	}{{"block_start", &b.Start}, {"block_end", &b.End}} {
		if !o.has(f.key) {
			return ProducerIDBlock{}, o.missing(f.key)
		}
		if *f.v, err = o.decimalOrString(f.key); err != nil {
			return ProducerIDBlock{}, err
		}
	}
	if b.Start < 0 || b.End < b.Start || b.End == math.MaxInt64 {
		return ProducerIDBlock{}, errorf(path, "block [%d, %d] is not a range of producer ids", b.Start, b.End)
	}
	return b, nil
}

// EncodeProducerIDBlock is ProducerIDBlock's JSON as Kafka writes it.
func EncodeProducerIDBlock(b ProducerIDBlock) []byte {
	v := b.Version
	if v == 0 {
		v = ProducerIDBlockVersion
	}
	return mustMarshal(struct {
		Version int    `json:"version"`
		Broker  int32  `json:"broker"`
		Start   string `json:"block_start"`
		End     string `json:"block_end"`
	}{v, b.Broker, strconv.FormatInt(b.Start, 10), strconv.FormatInt(b.End, 10)})
}

// Controller is /controller (Kafka's ControllerZNode).
type Controller struct {
	Version   int
	BrokerID  int32
	Timestamp int64
	// KRaftControllerEpoch is set (>= 0) when a KRaft-style controller
	// (YAKt after cutover) holds the role; -1 otherwise.
	KRaftControllerEpoch int32
}

// ParseController parses /controller's content: version 1 (brokerid,
// timestamp) or 2 (adds kraftControllerEpoch, -1 when a ZooKeeper-mode
// broker is the controller).
func ParseController(data []byte) (Controller, error) {
	path := PathController
	o, err := object(path, data)
	if err != nil {
		return Controller{}, err
	}
	c := Controller{KRaftControllerEpoch: -1}
	if c.Version, err = o.version(); err != nil {
		return Controller{}, err
	}
	if c.Version < 1 || c.Version > ControllerVersion {
		return Controller{}, unknownVersion(path, c.Version, "the controller registration (Kafka's ControllerZNode)", "1-2")
	}
	if ok, err := o.int32("brokerid", &c.BrokerID); err != nil {
		return Controller{}, err
	} else if !ok {
		return Controller{}, o.missing("brokerid")
	}
	if c.Timestamp, err = o.decimalOrString("timestamp"); err != nil {
		return Controller{}, err
	}
	if _, err := o.int32("kraftControllerEpoch", &c.KRaftControllerEpoch); err != nil {
		return Controller{}, err
	}
	if c.KRaftControllerEpoch < -1 {
		return Controller{}, errorf(path, `field "kraftControllerEpoch": %d is neither an epoch nor -1`, c.KRaftControllerEpoch)
	}
	return c, nil
}

// EncodeController is Controller's JSON. Version 1 has no
// kraftControllerEpoch; it is written anyway when set, so it reads back.
func EncodeController(c Controller) []byte {
	v := c.Version
	if v == 0 {
		v = ControllerVersion
	}
	out := struct {
		Version   int    `json:"version"`
		BrokerID  int32  `json:"brokerid"`
		Timestamp string `json:"timestamp"`
		KRaft     *int32 `json:"kraftControllerEpoch,omitempty"`
	}{Version: v, BrokerID: c.BrokerID, Timestamp: strconv.FormatInt(c.Timestamp, 10)}
	if v >= 2 || c.KRaftControllerEpoch != -1 {
		out.KRaft = &c.KRaftControllerEpoch
	}
	return mustMarshal(out)
}

// ParseControllerEpoch parses /controller_epoch (a decimal integer).
func ParseControllerEpoch(data []byte) (int32, error) {
	s := string(data)
	e, err := strconv.ParseInt(s, 10, 32)
	if err != nil || e < 0 {
		return 0, errorf(PathControllerEpoch, "%q is not a controller epoch (a decimal integer >= 0)", truncate(s))
	}
	return int32(e), nil
}

// EncodeControllerEpoch is /controller_epoch's content.
func EncodeControllerEpoch(epoch int32) []byte { return []byte(strconv.Itoa(int(epoch))) }

// ParseClusterID parses /cluster/id and returns Kafka's cluster id.
// Kafka writes the version as the string "1"; the number 1 is read too.
func ParseClusterID(data []byte) (string, error) {
	path := PathClusterID
	o, err := object(path, data)
	if err != nil {
		return "", err
	}
	raw, ok := o.m["version"]
	if !ok || string(raw) == "null" {
		return "", o.missing("version")
	}
	var vs string
	var vn int
	if json.Unmarshal(raw, &vs) != nil {
		if json.Unmarshal(raw, &vn) != nil {
			return "", errorf(path, `field "version": %s is not a version`, truncate(string(raw)))
		}
		vs = strconv.Itoa(vn)
	}
	if vs != ClusterIDVersion {
		return "", errorf(path, "unknown version %s of the cluster id (Kafka's ClusterIdZNode); YAKt reads version 1", truncate(strconv.Quote(vs)))
	}
	var id string
	if ok, err := o.string("id", &id); err != nil {
		return "", err
	} else if !ok || id == "" {
		return "", o.missing("id")
	}
	return id, nil
}

// EncodeClusterID is /cluster/id's content.
func EncodeClusterID(id string) []byte {
	return mustMarshal(struct {
		Version string `json:"version"`
		ID      string `json:"id"`
	}{ClusterIDVersion, id})
}

// ParseTopicConfig parses /config/topics/<topic> (Kafka's
// ConfigEntityZNode): the topic's configuration overrides, which a
// migration does not move but reads to say so.
func ParseTopicConfig(topic string, data []byte) (map[string]string, error) {
	path := TopicConfigPath(topic)
	o, err := object(path, data)
	if err != nil {
		return nil, err
	}
	v, err := o.version()
	if err != nil {
		return nil, err
	}
	if v != TopicConfigVersion {
		return nil, unknownVersion(path, v, "a topic's configuration (Kafka's ConfigEntityZNode)", "1")
	}
	var config map[string]string
	if ok, err := o.decode("config", &config, "an object of strings"); err != nil {
		return nil, err
	} else if !ok {
		return nil, o.missing("config")
	}
	if len(config) == 0 {
		return nil, nil
	}
	return config, nil
}

// EncodeTopicConfig is /config/topics/<topic>'s content; Kafka's own dual
// write creates it empty ({"version":1,"config":{}}) with each topic.
func EncodeTopicConfig(config map[string]string) []byte {
	if config == nil {
		config = map[string]string{}
	}
	return mustMarshal(struct {
		Version int               `json:"version"`
		Config  map[string]string `json:"config"`
	}{TopicConfigVersion, config})
}

// Migration is /migration: which YAKt leader migrates the cluster.
// Kafka's MigrationZNode has the same fields (version 0); a fresh znode
// holds -1 in each.
type Migration struct {
	Version              int
	KRaftControllerID    int32 // the YAKt node id
	KRaftControllerEpoch int32 // the YAKt leader's raft term (truncated)
	KRaftMetadataOffset  int64 // the YAKt log offset last written to ZooKeeper
	KRaftMetadataEpoch   int32
}

// ParseMigration parses /migration's content.
func ParseMigration(data []byte) (Migration, error) {
	path := PathMigration
	o, err := object(path, data)
	if err != nil {
		return Migration{}, err
	}
	var m Migration
	if m.Version, err = o.version(); err != nil {
		return Migration{}, err
	}
	if m.Version != MigrationVersion {
		return Migration{}, unknownVersion(path, m.Version, "the migration state (Kafka's MigrationZNode)", "0")
	}
	for _, f := range []struct {
		key string
		v   *int32
	}{{"kraft_controller_id", &m.KRaftControllerID}, {"kraft_controller_epoch", &m.KRaftControllerEpoch}, {"kraft_metadata_epoch", &m.KRaftMetadataEpoch}} {
		if ok, err := o.int32(f.key, f.v); err != nil {
			return Migration{}, err
		} else if !ok {
			return Migration{}, o.missing(f.key)
		}
	}
	if ok, err := o.decode("kraft_metadata_offset", &m.KRaftMetadataOffset, "an integer"); err != nil {
		return Migration{}, err
	} else if !ok {
		return Migration{}, o.missing("kraft_metadata_offset")
	}
	return m, nil
}

// EncodeMigration is /migration's content (always version 0, the only
// one).
func EncodeMigration(m Migration) []byte {
	return mustMarshal(struct {
		Version              int   `json:"version"`
		KRaftControllerID    int32 `json:"kraft_controller_id"`
		KRaftControllerEpoch int32 `json:"kraft_controller_epoch"`
		KRaftMetadataOffset  int64 `json:"kraft_metadata_offset"`
		KRaftMetadataEpoch   int32 `json:"kraft_metadata_epoch"`
	}{MigrationVersion, m.KRaftControllerID, m.KRaftControllerEpoch, m.KRaftMetadataOffset, m.KRaftMetadataEpoch})
}

const zeroUUID = "00000000-0000-0000-0000-000000000000"

// UUIDFromKafka converts Kafka's base64url topic/cluster id (22
// characters, no padding) to canonical UUID text.
func UUIDFromKafka(s string) (string, error) {
	// Kafka's decoder also takes the padded form (24 characters, "==").
	raw := strings.TrimSuffix(s, "==")
	if len(raw) != 22 {
		return "", fmt.Errorf("%q is not a Kafka id (22 base64url characters)", truncate(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != 16 {
		return "", fmt.Errorf("%q is not a Kafka id (22 base64url characters)", truncate(s))
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// UUIDToKafka converts canonical UUID text to Kafka's base64url form.
// Upper-case hex digits are accepted.
func UUIDToKafka(uuid string) (string, error) {
	bad := fmt.Errorf("%q is not a UUID (8-4-4-4-12 hex digits)", truncate(uuid))
	if len(uuid) != 36 || uuid[8] != '-' || uuid[13] != '-' || uuid[18] != '-' || uuid[23] != '-' {
		return "", bad
	}
	b, err := hex.DecodeString(uuid[0:8] + uuid[9:13] + uuid[14:18] + uuid[19:23] + uuid[24:36])
	if err != nil {
		return "", bad
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
