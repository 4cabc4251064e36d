package zktest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
)

// Kafka writes znodes as the brokers and the controller of a
// ZooKeeper-mode Kafka 3.x cluster write them: the same paths, the same
// JSON (keys, value types and versions of Kafka's ZkData encoders), the
// same persistent/ephemeral modes and, for the controller's writes, the
// same fencing: each is a multi op that checks /controller_epoch's znode
// version, so once another controller (YAKt taking over) bumps the epoch
// these writes fail with ErrControllerMoved.
//
// The JSON is written from this file's own templates, on purpose not
// with internal/zkformat, so tests never check our decoder against our
// encoder.
//
// Each registered broker has its own ZooKeeper session holding its
// ephemeral /brokers/ids/<id>, as a real broker does; the controller and
// admin writes go through the Kafka value's own session, which also holds
// /controller. Methods may be called from several goroutines. A call that
// fails with zk.ErrConnectionClosed (the server restarting) may or may not
// have been applied, as with Kafka's own client: the caller reads back.
type Kafka struct {
	addr   string
	chroot string
	conn   *zk.Conn

	// BrokerSessionTimeout is the session timeout each RegisterBroker
	// asks for (Kafka's zookeeper.session.timeout.ms, 18 s by default).
	BrokerSessionTimeout time.Duration
	// ControllerID is the broker Bootstrap records in /controller.
	ControllerID int32

	mu              sync.Mutex
	brokers         map[int32]*zk.Conn
	controllerEpoch int32 // what /controller_epoch holds since our election
	epochVersion    int32 // its znode version: controller writes check it
}

// ErrControllerMoved is returned by controller writes once
// /controller_epoch changed under them: another controller took over.
var ErrControllerMoved = errors.New("zktest: controller moved: /controller_epoch changed")

// Kafka's initial controller epoch (KafkaController.InitialControllerEpoch):
// /controller_epoch is created with it and the first election makes it 1.
const initialControllerEpoch = 0

// ProducerIDBlockSize is how many producer ids Kafka's ZooKeeper-mode
// producer id manager takes per block.
const ProducerIDBlockSize = 1000

var openACL = zk.WorldACL(zk.PermAll)

// NewKafka connects to the ZooKeeper at addr; every path is under chroot
// ("" or "/" for none, else e.g. "/kafka"), as with a zookeeper.connect of
// addr+chroot. The test's cleanup closes every session it opened.
func NewKafka(t testing.TB, addr, chroot string) *Kafka {
	t.Helper()
	conn, err := Dial(addr, 30*time.Second)
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	k := &Kafka{
		addr:                 addr,
		chroot:               strings.TrimSuffix(chroot, "/"),
		conn:                 conn,
		BrokerSessionTimeout: 18 * time.Second,
		brokers:              map[int32]*zk.Conn{},
		epochVersion:         -1,
	}
	if k.chroot != "" && !strings.HasPrefix(k.chroot, "/") {
		k.chroot = "/" + k.chroot
	}
	t.Cleanup(k.Close)
	return k
}

// Conn is the Kafka value's own session (the controller's).
func (k *Kafka) Conn() *zk.Conn { return k.conn }

// Chroot is the prefix of every path written ("" for none).
func (k *Kafka) Chroot() string { return k.chroot }

// Close closes every broker's session and the controller's.
func (k *Kafka) Close() {
	k.mu.Lock()
	brokers := k.brokers
	k.brokers = map[int32]*zk.Conn{}
	k.mu.Unlock()
	// A close waits up to a second for the server's answer: all at once,
	// so a test ending with the server down does not wait a second per
	// broker.
	var wg sync.WaitGroup
	for _, c := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	k.conn.Close()
	wg.Wait()
}

func (k *Kafka) p(path string) string { return k.chroot + path }

// Path is path under the chroot, for reading or writing znodes directly
// through Conn.
func (k *Kafka) Path(path string) string { return k.p(path) }

// WriteRaw sets path (under the chroot) to data, creating it and its
// parents if missing: for tests that need content Kafka never writes
// (malformed JSON, an unknown version).
func (k *Kafka) WriteRaw(path string, data []byte) error {
	path = k.p(path)
	_, err := k.conn.Set(path, data, -1)
	if errors.Is(err, zk.ErrNoNode) {
		return k.createRecursive(path, data)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// persistentPaths are the znodes every Kafka 3.x broker makes sure exist
// when it starts (ZkData.PersistentZkPaths, with a /config/<type> per
// config entity type).
var persistentPaths = []string{
	"/consumers",
	"/brokers/ids",
	"/brokers/topics",
	"/config/changes",
	"/admin/delete_topics",
	"/brokers/seqid",
	"/isr_change_notification",
	"/latest_producer_id_block",
	"/log_dir_event_notification",
	"/config/topics",
	"/config/clients",
	"/config/users",
	"/config/brokers",
	"/config/ips",
}

// Bootstrap writes what a fresh Kafka 3.x cluster has once its first
// broker started: the chroot, the persistent paths (empty data, created
// with their parents), /cluster/id, /controller_epoch and the first
// controller election (/controller for ControllerID, ephemeral on this
// value's session, and /controller_epoch 1), and /feature.
func (k *Kafka) Bootstrap(clusterID string) error {
	if k.chroot != "" {
		if err := k.createParents(k.chroot + "/x"); err != nil {
			return err
		}
	}
	for _, path := range persistentPaths {
		if err := k.createRecursive(k.p(path), nil); err != nil {
			return err
		}
	}
	// ClusterIdZNode.toJson: note the version is a JSON string here.
	if err := k.createRecursive(k.p("/cluster/id"), fmt.Appendf(nil, `{"version":"1","id":%s}`, jsonString(clusterID))); err != nil {
		return err
	}
	if _, err := k.conn.Create(k.p("/controller_epoch"), []byte(strconv.Itoa(initialControllerEpoch)), 0, openACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", k.p("/controller_epoch"), err)
	}
	if err := k.ElectController(k.ControllerID); err != nil {
		return err
	}
	// The controller enables feature versioning (FeatureZNode version 2,
	// status enabled, no finalized features in ZooKeeper mode).
	if err := k.createRecursive(k.p("/feature"), []byte(`{"features":{},"version":2,"status":1}`)); err != nil {
		return err
	}
	return nil
}

// ElectController makes brokerID the controller as Kafka's election does:
// one multi op that creates the ephemeral /controller (on this value's
// session) and raises /controller_epoch by one, conditional on the epoch
// znode's version. A /controller left by an earlier controller is
// replaced in the same op. Later controller writes check the new epoch
// znode version.
func (k *Kafka) ElectController(brokerID int32) error {
	data, st, err := k.conn.Get(k.p("/controller_epoch"))
	if err != nil {
		return fmt.Errorf("read %s: %w", k.p("/controller_epoch"), err)
	}
	epoch, err := strconv.Atoi(string(data))
	if err != nil {
		return fmt.Errorf("%s: not an epoch: %q", k.p("/controller_epoch"), data)
	}
	// ControllerZNode.encode in 3.4 and later (version 2 with the KRaft
	// controller epoch, -1 for a ZooKeeper controller).
	controller := fmt.Appendf(nil, `{"version":2,"brokerid":%d,"timestamp":"%d","kraftControllerEpoch":-1}`, brokerID, time.Now().UnixMilli())
	var ops []any
	if ok, cst, err := k.conn.Exists(k.p("/controller")); err != nil {
		return fmt.Errorf("exists %s: %w", k.p("/controller"), err)
	} else if ok {
		ops = append(ops, &zk.DeleteRequest{Path: k.p("/controller"), Version: cst.Version})
	}
	ops = append(ops,
		&zk.CreateRequest{Path: k.p("/controller"), Data: controller, Acl: openACL, Flags: zk.FlagEphemeral},
		&zk.SetDataRequest{Path: k.p("/controller_epoch"), Data: []byte(strconv.Itoa(epoch + 1)), Version: st.Version})
	res, err := k.conn.Multi(ops...)
	if err != nil {
		return fmt.Errorf("elect controller %d: %w", brokerID, multiErr(res, err))
	}
	k.mu.Lock()
	k.controllerEpoch = int32(epoch + 1)
	k.epochVersion = res[len(res)-1].Stat.Version
	k.mu.Unlock()
	return nil
}

// ControllerEpoch is the epoch of this value's controller election.
func (k *Kafka) ControllerEpoch() int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.controllerEpoch
}

// controllerMulti runs ops as the controller does in Kafka 3.x: in one
// multi op behind a check of /controller_epoch's version.
func (k *Kafka) controllerMulti(what string, ops ...any) ([]zk.MultiResponse, error) {
	k.mu.Lock()
	version := k.epochVersion
	k.mu.Unlock()
	if version < 0 {
		return nil, fmt.Errorf("%s: no controller elected (call Bootstrap or ElectController)", what)
	}
	all := append([]any{&zk.CheckVersionRequest{Path: k.p("/controller_epoch"), Version: version}}, ops...)
	res, err := k.conn.Multi(all...)
	if err != nil {
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion) {
			return nil, fmt.Errorf("%s: %w", what, ErrControllerMoved)
		}
		return nil, fmt.Errorf("%s: %w", what, multiErr(res, err))
	}
	return res[1:], nil
}

// multiErr names the first failed op of a multi.
func multiErr(res []zk.MultiResponse, err error) error {
	for i, r := range res {
		if r.Error != nil {
			return fmt.Errorf("op %d: %w", i, r.Error)
		}
	}
	return err
}

// createRecursive creates path with data, and its missing parents with
// no data, as KafkaZkClient.createRecursive does; an existing path is
// left as it is.
func (k *Kafka) createRecursive(path string, data []byte) error {
	_, err := k.conn.Create(path, data, 0, openACL)
	if errors.Is(err, zk.ErrNoNode) {
		if err := k.createParents(path); err != nil {
			return err
		}
		_, err = k.conn.Create(path, data, 0, openACL)
	}
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

func (k *Kafka) createParents(path string) error {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 1; i < len(parts); i++ {
		parent := "/" + strings.Join(parts[:i], "/")
		if _, err := k.conn.Create(parent, nil, 0, openACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", parent, err)
		}
	}
	return nil
}

// RegisterBroker registers broker id as a Kafka 3.x broker does: on a
// ZooKeeper session of its own it creates the ephemeral /brokers/ids/<id>
// (BrokerIdZNode version 5, one PLAINTEXT listener at host:port, rack
// only if not empty). It returns the znode's czxid, which Kafka uses as
// the broker epoch. The znode lives until UnregisterBroker, the test's
// end, or the session's expiry.
func (k *Kafka) RegisterBroker(id int32, host string, port int32, rack string) (epoch int64, err error) {
	k.mu.Lock()
	_, dup := k.brokers[id]
	k.mu.Unlock()
	if dup {
		return 0, fmt.Errorf("broker %d is already registered", id)
	}
	conn, err := Dial(k.addr, k.BrokerSessionTimeout)
	if err != nil {
		return 0, fmt.Errorf("broker %d session: %w", id, err)
	}
	path := k.p(fmt.Sprintf("/brokers/ids/%d", id))
	if _, err := conn.Create(path, brokerJSON(host, port, rack, time.Now()), zk.FlagEphemeral, openACL); err != nil {
		conn.Close()
		return 0, fmt.Errorf("register broker %d: create %s: %w", id, path, err)
	}
	_, st, err := conn.Exists(path)
	if err != nil {
		conn.Close()
		return 0, fmt.Errorf("register broker %d: read %s: %w", id, path, err)
	}
	k.mu.Lock()
	k.brokers[id] = conn
	k.mu.Unlock()
	return st.Czxid, nil
}

// brokerJSON is BrokerIdZNode.encode for version 5 with one PLAINTEXT
// listener; Kafka's ZooKeeper-mode broker advertises no supported
// features there (an empty map) and jmx_port -1 when JMX is off.
func brokerJSON(host string, port int32, rack string, now time.Time) []byte {
	endpoint := fmt.Sprintf("PLAINTEXT://%s:%d", host, port)
	b := fmt.Appendf(nil, `{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":[%s],"jmx_port":-1,"port":%d,"host":%s,"version":5,"timestamp":"%d"`,
		jsonString(endpoint), port, jsonString(host), now.UnixMilli())
	if rack != "" {
		b = fmt.Appendf(b, `,"rack":%s`, jsonString(rack))
	}
	return append(b, '}')
}

// UpdateBroker rewrites broker id's registration in place, as a broker
// does when its advertised listeners change (KafkaZkClient.updateBrokerInfo:
// the znode keeps its czxid, so the broker epoch stays).
func (k *Kafka) UpdateBroker(id int32, host string, port int32, rack string) error {
	k.mu.Lock()
	conn, ok := k.brokers[id]
	k.mu.Unlock()
	if !ok {
		return fmt.Errorf("broker %d is not registered", id)
	}
	path := k.p(fmt.Sprintf("/brokers/ids/%d", id))
	if _, err := conn.Set(path, brokerJSON(host, port, rack, time.Now()), -1); err != nil {
		return fmt.Errorf("update broker %d: %w", id, err)
	}
	return nil
}

// UnregisterBroker closes broker id's session, as a broker that stops or
// dies does, and returns once its /brokers/ids/<id> is gone.
func (k *Kafka) UnregisterBroker(id int32) error {
	k.mu.Lock()
	conn, ok := k.brokers[id]
	delete(k.brokers, id)
	k.mu.Unlock()
	if !ok {
		return fmt.Errorf("broker %d is not registered", id)
	}
	conn.Close()
	return k.waitGone(k.p(fmt.Sprintf("/brokers/ids/%d", id)), 30*time.Second)
}

// waitGone waits until path does not exist, by a watch.
func (k *Kafka) waitGone(path string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ok, _, ch, err := k.conn.ExistsW(path)
		if err != nil {
			return fmt.Errorf("watch %s: %w", path, err)
		}
		if !ok {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("%s still exists after %v", path, timeout)
		}
	}
}

// BrokerIDs are the brokers registered through this value, ascending.
func (k *Kafka) BrokerIDs() []int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	ids := make([]int32, 0, len(k.brokers))
	for id := range k.brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (k *Kafka) live(id int32) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.brokers[id]
	return ok
}

// KafkaTopicID converts a canonical UUID text to Kafka's topic id text
// (Uuid.toString: the 16 bytes in unpadded base64url).
func KafkaTopicID(canonical string) (string, error) {
	u, err := uuid.Parse(canonical)
	if err != nil {
		return "", fmt.Errorf("topic id %q: %w", canonical, err)
	}
	return base64.RawURLEncoding.EncodeToString(u[:]), nil
}

// CanonicalTopicID converts Kafka's topic id text back to canonical UUID
// text.
func CanonicalTopicID(kafkaID string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(kafkaID)
	if err != nil || len(b) != 16 {
		return "", fmt.Errorf("not a Kafka topic id: %q", kafkaID)
	}
	return uuid.UUID(b).String(), nil
}

// topicJSON is TopicZNode.encode (version 3): every partition's replicas,
// the partitions being reassigned in adding/removing (empty objects when
// none), and the topic id (left out when "", as Kafka does for a topic
// without one, which only a topic written raw by a test has here).
func topicJSON(kafkaID string, replicas, adding, removing map[int32][]int32) []byte {
	b := []byte(`{"partitions":`)
	b = appendAssignment(b, replicas)
	if kafkaID != "" {
		b = fmt.Appendf(b, `,"topic_id":%s`, jsonString(kafkaID))
	}
	b = append(b, `,"adding_replicas":`...)
	b = appendAssignment(b, adding)
	b = append(b, `,"removing_replicas":`...)
	b = appendAssignment(b, removing)
	return append(b, `,"version":3}`...)
}

func appendAssignment(b []byte, m map[int32][]int32) []byte {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	b = append(b, '{')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"%d":`, p)
		b = appendInts(b, m[p])
	}
	return append(b, '}')
}

func appendInts(b []byte, xs []int32) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// stateJSON is TopicPartitionStateZNode.encode (version 1; a recovered
// leader, so no leader_recovery_state key).
func stateJSON(controllerEpoch, leader, leaderEpoch int32, isr []int32) []byte {
	b := fmt.Appendf(nil, `{"controller_epoch":%d,"leader":%d,"version":1,"leader_epoch":%d,"isr":`, controllerEpoch, leader, leaderEpoch)
	b = appendInts(b, isr)
	return append(b, '}')
}

// CreateTopic creates a topic as Kafka 3.x does: the admin writes
// /config/topics/<name> ({"version":1,"config":{}}) and the topic znode
// with its topic id (given as canonical UUID text), then the controller
// creates /partitions, /partitions/<p> and /partitions/<p>/state for each
// partition with leader = the first registered (live) replica, ISR = the
// live replicas, leader_epoch 0 and its controller epoch. A partition
// none of whose replicas is live gets no state znode, as in Kafka (it
// stays a new partition). Two round trips in all.
func (k *Kafka) CreateTopic(name, topicID string, assignment map[int32][]int32) error {
	kid, err := KafkaTopicID(topicID)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	if len(assignment) == 0 {
		return fmt.Errorf("create topic %s: no partitions", name)
	}
	topicPath := k.p("/brokers/topics/" + name)
	// AdminZkClient.createTopicWithAssignment: config first, then the
	// assignment (the controller watches /brokers/topics).
	if res, err := k.conn.Multi(
		&zk.CreateRequest{Path: k.p("/config/topics/" + name), Data: []byte(`{"version":1,"config":{}}`), Acl: openACL},
		&zk.CreateRequest{Path: topicPath, Data: topicJSON(kid, assignment, nil, nil), Acl: openACL},
	); err != nil {
		return fmt.Errorf("create topic %s: %w", name, multiErr(res, err))
	}
	ops := []any{&zk.CreateRequest{Path: topicPath + "/partitions", Acl: openACL}}
	ops = append(ops, k.newPartitionOps(name, assignment)...)
	if _, err := k.controllerMulti("create topic "+name+" partitions", ops...); err != nil {
		return err
	}
	return nil
}

// newPartitionOps are the controller's creates for new partitions
// (KafkaZkClient.createTopicPartitionStatesRaw).
func (k *Kafka) newPartitionOps(topic string, assignment map[int32][]int32) []any {
	epoch := k.ControllerEpoch()
	ps := make([]int32, 0, len(assignment))
	for p := range assignment {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	var ops []any
	for _, p := range ps {
		base := k.p(fmt.Sprintf("/brokers/topics/%s/partitions/%d", topic, p))
		ops = append(ops, &zk.CreateRequest{Path: base, Acl: openACL})
		var isr []int32
		for _, r := range assignment[p] {
			if k.live(r) {
				isr = append(isr, r)
			}
		}
		if len(isr) == 0 {
			continue
		}
		ops = append(ops, &zk.CreateRequest{Path: base + "/state", Data: stateJSON(epoch, isr[0], 0, isr), Acl: openACL})
	}
	return ops
}

// topicZNode is how this file reads a topic znode back to update it.
type topicZNode struct {
	Version    int                `json:"version"`
	TopicID    string             `json:"topic_id"`
	Partitions map[string][]int32 `json:"partitions"`
	Adding     map[string][]int32 `json:"adding_replicas"`
	Removing   map[string][]int32 `json:"removing_replicas"`
}

func toAssignment(m map[string][]int32) (map[int32][]int32, error) {
	out := make(map[int32][]int32, len(m))
	for k, v := range m {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("partition %q: %w", k, err)
		}
		out[int32(p)] = v
	}
	return out, nil
}

// AddPartitions adds partitions to a topic as Kafka's admin and
// controller do: the topic znode is rewritten with the new partitions
// (topic id and reassignments kept), conditional on its version, then
// the controller creates the new partitions' znodes and states. added
// holds only the new partitions.
func (k *Kafka) AddPartitions(name string, added map[int32][]int32) error {
	topicPath := k.p("/brokers/topics/" + name)
	data, st, err := k.conn.Get(topicPath)
	if err != nil {
		return fmt.Errorf("add partitions to %s: read %s: %w", name, topicPath, err)
	}
	var tz topicZNode
	if err := json.Unmarshal(data, &tz); err != nil {
		return fmt.Errorf("add partitions to %s: %s: %w", name, topicPath, err)
	}
	parts, err := toAssignment(tz.Partitions)
	if err != nil {
		return fmt.Errorf("add partitions to %s: %s: %w", name, topicPath, err)
	}
	adding, err := toAssignment(tz.Adding)
	if err != nil {
		return fmt.Errorf("add partitions to %s: %s: adding_replicas: %w", name, topicPath, err)
	}
	removing, err := toAssignment(tz.Removing)
	if err != nil {
		return fmt.Errorf("add partitions to %s: %s: removing_replicas: %w", name, topicPath, err)
	}
	for p, rs := range added {
		if _, dup := parts[p]; dup {
			return fmt.Errorf("add partitions to %s: partition %d exists", name, p)
		}
		parts[p] = rs
	}
	// AdminZkClient.addPartitions writes the whole assignment back.
	if _, err := k.conn.Set(topicPath, topicJSON(tz.TopicID, parts, adding, removing), st.Version); err != nil {
		return fmt.Errorf("add partitions to %s: write %s: %w", name, topicPath, err)
	}
	if _, err := k.controllerMulti("add partitions to "+name, k.newPartitionOps(name, added)...); err != nil {
		return err
	}
	return nil
}

// ReassignPartition records a reassignment of partition p as Kafka's
// controller does while it moves replicas (KafkaZkClient.setTopicAssignmentRaw
// behind the controller epoch check): the topic znode's replicas for p
// become replicas, with adding/removing replicas (nil for none: the
// reassignment is complete). The rest of the znode, topic id included,
// is kept; the write is conditional on the version read.
func (k *Kafka) ReassignPartition(topic string, p int32, replicas, adding, removing []int32) error {
	topicPath := k.p("/brokers/topics/" + topic)
	data, st, err := k.conn.Get(topicPath)
	if err != nil {
		return fmt.Errorf("reassign %s-%d: read %s: %w", topic, p, topicPath, err)
	}
	var tz topicZNode
	if err := json.Unmarshal(data, &tz); err != nil {
		return fmt.Errorf("reassign %s-%d: %s: %w", topic, p, topicPath, err)
	}
	parts, err := toAssignment(tz.Partitions)
	if err != nil {
		return fmt.Errorf("reassign %s-%d: %s: %w", topic, p, topicPath, err)
	}
	addingAll, err := toAssignment(tz.Adding)
	if err != nil {
		return fmt.Errorf("reassign %s-%d: %s: adding_replicas: %w", topic, p, topicPath, err)
	}
	removingAll, err := toAssignment(tz.Removing)
	if err != nil {
		return fmt.Errorf("reassign %s-%d: %s: removing_replicas: %w", topic, p, topicPath, err)
	}
	if _, ok := parts[p]; !ok {
		return fmt.Errorf("reassign %s-%d: no such partition", topic, p)
	}
	parts[p] = replicas
	delete(addingAll, p)
	delete(removingAll, p)
	if len(adding) > 0 {
		addingAll[p] = adding
	}
	if len(removing) > 0 {
		removingAll[p] = removing
	}
	_, err = k.controllerMulti(fmt.Sprintf("reassign %s-%d", topic, p),
		&zk.SetDataRequest{Path: topicPath, Data: topicJSON(tz.TopicID, parts, addingAll, removingAll), Version: st.Version})
	return err
}

// stateZNode is how this file reads a partition state back to update it.
type stateZNode struct {
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
	ControllerEpoch int32   `json:"controller_epoch"`
}

// SetLeaderAndISR changes a partition's leader and ISR as Kafka's
// controller does (KafkaZkClient.updateLeaderAndIsr): the state znode is
// rewritten conditional on the version just read, leader_epoch goes up by
// one when the leader changes (an ISR change alone keeps it), and the
// controller epoch is this value's. It returns the state znode's new
// version (Kafka's partition epoch). leader -1 means no leader.
func (k *Kafka) SetLeaderAndISR(topic string, p, leader int32, isr []int32) (version int32, err error) {
	path := k.p(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p))
	data, st, err := k.conn.Get(path)
	if err != nil {
		return 0, fmt.Errorf("set leader and ISR: read %s: %w", path, err)
	}
	var s stateZNode
	if err := json.Unmarshal(data, &s); err != nil {
		return 0, fmt.Errorf("set leader and ISR: %s: %w", path, err)
	}
	epoch := s.LeaderEpoch
	if leader != s.Leader {
		epoch++
	}
	res, err := k.controllerMulti("set leader and ISR of "+path,
		&zk.SetDataRequest{Path: path, Data: stateJSON(k.ControllerEpoch(), leader, epoch, isr), Version: st.Version})
	if err != nil {
		return 0, err
	}
	return res[0].Stat.Version, nil
}

// MarkTopicForDeletion is what an admin's delete request writes: the
// znode /admin/delete_topics/<name>, no data. Marking twice is fine.
func (k *Kafka) MarkTopicForDeletion(name string) error {
	if _, err := k.conn.Create(k.p("/admin/delete_topics/"+name), nil, 0, openACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("mark topic %s for deletion: %w", name, err)
	}
	return nil
}

// DeleteTopic deletes a topic as Kafka does: marked for deletion first
// (if not yet), then the controller removes the partition states, the
// partition znodes, /partitions and the topic znode, then the topic's
// config, then the deletion mark. Each step is a separate write, as in
// Kafka, so a follower can see the steps in between.
func (k *Kafka) DeleteTopic(name string) error {
	if err := k.MarkTopicForDeletion(name); err != nil {
		return err
	}
	partsPath := k.p("/brokers/topics/" + name + "/partitions")
	children, _, err := k.conn.Children(partsPath)
	hasPartitions := err == nil
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete topic %s: list %s: %w", name, partsPath, err)
	}
	var states, parts []any
	for _, c := range children {
		base := partsPath + "/" + c
		ok, _, err := k.conn.Exists(base + "/state")
		if err != nil {
			return fmt.Errorf("delete topic %s: %w", name, err)
		}
		if ok {
			states = append(states, &zk.DeleteRequest{Path: base + "/state", Version: -1})
		}
		parts = append(parts, &zk.DeleteRequest{Path: base, Version: -1})
	}
	if len(states) > 0 {
		if _, err := k.controllerMulti("delete topic "+name+" partition states", states...); err != nil {
			return err
		}
	}
	if hasPartitions {
		parts = append(parts, &zk.DeleteRequest{Path: partsPath, Version: -1})
	}
	parts = append(parts, &zk.DeleteRequest{Path: k.p("/brokers/topics/" + name), Version: -1})
	if _, err := k.controllerMulti("delete topic "+name, parts...); err != nil {
		return err
	}
	if _, err := k.controllerMulti("delete topic "+name+" config",
		&zk.DeleteRequest{Path: k.p("/config/topics/" + name), Version: -1}); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	if _, err := k.controllerMulti("delete topic "+name+" deletion mark",
		&zk.DeleteRequest{Path: k.p("/admin/delete_topics/" + name), Version: -1}); err != nil {
		return err
	}
	return nil
}

// producerIDBlockZNode is how this file reads /latest_producer_id_block.
type producerIDBlockZNode struct {
	BlockEnd string `json:"block_end"`
}

// AllocateProducerIDBlock takes the next block of ProducerIDBlockSize
// producer ids for broker as Kafka's ZooKeeper producer id manager does:
// read /latest_producer_id_block, write the next block conditional on the
// version read, and try again if another broker was faster. Start and end
// are inclusive.
func (k *Kafka) AllocateProducerIDBlock(broker int32) (start, end int64, err error) {
	path := k.p("/latest_producer_id_block")
	for {
		data, st, err := k.conn.Get(path)
		if err != nil {
			return 0, 0, fmt.Errorf("allocate producer ids: read %s: %w", path, err)
		}
		start = 0
		if len(data) > 0 {
			var b producerIDBlockZNode
			if err := json.Unmarshal(data, &b); err != nil {
				return 0, 0, fmt.Errorf("allocate producer ids: %s: %w", path, err)
			}
			prevEnd, err := strconv.ParseInt(b.BlockEnd, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("allocate producer ids: %s: block_end %q: %w", path, b.BlockEnd, err)
			}
			start = prevEnd + 1
		}
		end = start + ProducerIDBlockSize - 1
		// ProducerIdBlockZNode.generateProducerIdBlockJson: the ids as
		// JSON strings.
		block := fmt.Appendf(nil, `{"version":1,"broker":%d,"block_start":"%d","block_end":"%d"}`, broker, start, end)
		_, err = k.conn.Set(path, block, st.Version)
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("allocate producer ids: write %s: %w", path, err)
		}
		return start, end, nil
	}
}

// SetTopicConfig replaces a topic's config overrides as Kafka's admin
// does (AdminZkClient.changeTopicConfig): /config/topics/<name> becomes
// {"version":1,"config":{...}} (created if missing), then a sequential
// /config/changes/config_change_ notification names the entity.
func (k *Kafka) SetTopicConfig(name string, config map[string]string) error {
	keys := make([]string, 0, len(config))
	for key := range config {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	b := []byte(`{"version":1,"config":{`)
	for i, key := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%s:%s", jsonString(key), jsonString(config[key]))
	}
	b = append(b, "}}"...)
	path := k.p("/config/topics/" + name)
	_, err := k.conn.Set(path, b, -1)
	if errors.Is(err, zk.ErrNoNode) {
		_, err = k.conn.Create(path, b, 0, openACL)
	}
	if err != nil {
		return fmt.Errorf("set config of topic %s: %w", name, err)
	}
	note := fmt.Appendf(nil, `{"version":2,"entity_path":%s}`, jsonString("topics/"+name))
	if _, err := k.conn.Create(k.p("/config/changes/config_change_"), note, zk.FlagSequence, openACL); err != nil {
		return fmt.Errorf("set config of topic %s: change notification: %w", name, err)
	}
	return nil
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
