package migration

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/internal/zkformat"
)

// readWorkers is how many requests the driver keeps in flight on its
// session when it reads many znodes.
const readWorkers = 64

// srcModel is what the driver last read from ZooKeeper: the znodes the
// migration maps to YAKt records, each with its parse error if its
// content is unusable.
type srcModel struct {
	brokers map[int32]*srcBroker
	// badBrokers are children of /brokers/ids that are not broker ids.
	badBrokers map[string]string // path → problem
	topics     map[string]*srcTopic
	// deleting are the topics under /admin/delete_topics.
	deleting map[string]bool
	pid      *zkformat.ProducerIDBlock
	pidErr   string
	// zxid is the highest transaction id seen in any read: YAKt reflects
	// ZooKeeper up to it once a reconcile commits.
	zxid int64
}

func newModel() *srcModel {
	return &srcModel{brokers: map[int32]*srcBroker{}, badBrokers: map[string]string{}, topics: map[string]*srcTopic{}, deleting: map[string]bool{}}
}

// srcBroker is /brokers/ids/<id>.
type srcBroker struct {
	b     zkformat.Broker
	czxid int64 // Kafka's ZooKeeper-mode broker epoch
	err   string
}

// srcTopic is /brokers/topics/<t> and its partitions' state znodes.
type srcTopic struct {
	t     zkformat.Topic
	err   string
	parts map[int32]*srcPart
}

// srcPart is one partition state znode.
type srcPart struct {
	exists  bool
	state   zkformat.PartitionState
	version int32 // the stat version: YAKt's partition epoch
	err     string
}

// clone copies the model's maps (not the values, which are replaced,
// never changed, once stored).
func (m *srcModel) clone() *srcModel {
	c := *m
	c.brokers = maps.Clone(m.brokers)
	c.badBrokers = maps.Clone(m.badBrokers)
	c.topics = maps.Clone(m.topics)
	c.deleting = maps.Clone(m.deleting)
	return &c
}

// reader reads znodes into a model, safe for concurrent use.
type reader struct {
	s  *zkSession
	mu sync.Mutex
	m  *srcModel
}

func (r *reader) seen(st *zk.Stat) {
	if st == nil {
		return
	}
	r.mu.Lock()
	r.m.zxid = max(r.m.zxid, st.Mzxid, st.Czxid, st.Pzxid)
	r.mu.Unlock()
}

// errText is a parse error's message without the path (the problem
// carries the path).
func errText(err error) string {
	if err == nil {
		return ""
	}
	if ze, ok := errors.AsType[*zkformat.Error](err); ok {
		return ze.Msg
	}
	return err.Error()
}

// readAll reads everything the migration maps, with watches, into a new
// model.
func readAll(s *zkSession) (*srcModel, error) {
	r := &reader{s: s, m: newModel()}
	if err := r.brokerList(); err != nil {
		return nil, err
	}
	if err := r.deleteMarkers(); err != nil {
		return nil, err
	}
	if err := r.producerIDs(); err != nil {
		return nil, err
	}
	names, err := r.topicList()
	if err != nil {
		return nil, err
	}
	if err := r.topicsFull(names); err != nil {
		return nil, err
	}
	return r.m, nil
}

// brokerList lists /brokers/ids and reads every broker not in the model;
// brokers no longer listed leave it.
func (r *reader) brokerList() error {
	names, st, _, err := r.s.children(zkformat.PathBrokerIDs)
	if err != nil {
		return err
	}
	r.seen(st)
	listed := map[int32]bool{}
	var fresh []int32
	clear(r.m.badBrokers)
	for _, n := range names {
		id, err := strconv.ParseInt(n, 10, 32)
		if err != nil || id < 0 {
			r.m.badBrokers[zkformat.PathBrokerIDs+"/"+n] = "not a broker id"
			continue
		}
		listed[int32(id)] = true
		if _, ok := r.m.brokers[int32(id)]; !ok {
			fresh = append(fresh, int32(id))
		}
	}
	for id := range r.m.brokers {
		if !listed[id] {
			delete(r.m.brokers, id)
		}
	}
	return parallel(len(fresh), readWorkers, func(i int) error { return r.broker(fresh[i]) })
}

// broker reads /brokers/ids/<id>.
func (r *reader) broker(id int32) error {
	data, st, ok, err := r.s.get(zkformat.BrokerPath(id))
	if err != nil {
		return err
	}
	r.seen(st)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		delete(r.m.brokers, id)
		return nil
	}
	b, perr := zkformat.ParseBroker(id, data)
	r.m.brokers[id] = &srcBroker{b: b, czxid: st.Czxid, err: errText(perr)}
	return nil
}

func (r *reader) deleteMarkers() error {
	names, st, _, err := r.s.children(zkformat.PathDeleteTopics)
	if err != nil {
		return err
	}
	r.seen(st)
	r.m.deleting = map[string]bool{}
	for _, n := range names {
		r.m.deleting[n] = true
	}
	return nil
}

func (r *reader) producerIDs() error {
	data, st, ok, err := r.s.get(zkformat.PathProducerIDBlock)
	if err != nil {
		return err
	}
	r.seen(st)
	r.m.pid, r.m.pidErr = nil, ""
	if !ok {
		return nil
	}
	b, perr := zkformat.ParseProducerIDBlock(data)
	if perr != nil {
		r.m.pidErr = errText(perr)
		return nil
	}
	r.m.pid = &b
	return nil
}

// topicList lists /brokers/topics; topics no longer listed leave the
// model, and the names not in it are returned.
func (r *reader) topicList() (fresh []string, _ error) {
	names, st, _, err := r.s.children(zkformat.PathTopics)
	if err != nil {
		return nil, err
	}
	r.seen(st)
	listed := make(map[string]bool, len(names))
	for _, n := range names {
		listed[n] = true
		if _, ok := r.m.topics[n]; !ok {
			fresh = append(fresh, n)
		}
	}
	for n := range r.m.topics {
		if !listed[n] {
			delete(r.m.topics, n)
		}
	}
	return fresh, nil
}

// topicsFull reads the named topics' znodes, then all their partitions'
// state znodes, each step in parallel.
func (r *reader) topicsFull(names []string) error {
	if err := parallel(len(names), readWorkers, func(i int) error { return r.topicZnode(names[i]) }); err != nil {
		return err
	}
	type ref struct {
		topic string
		p     int32
	}
	var refs []ref
	for _, n := range names {
		if t, ok := r.m.topics[n]; ok {
			for p := range t.t.Partitions {
				if _, known := t.parts[p]; !known {
					refs = append(refs, ref{n, p})
				}
			}
		}
	}
	return parallel(len(refs), readWorkers, func(i int) error { return r.partState(refs[i].topic, refs[i].p) })
}

// topicZnode reads /brokers/topics/<t>, keeping the states already read
// of partitions it still lists.
func (r *reader) topicZnode(name string) error {
	data, st, ok, err := r.s.get(zkformat.TopicPath(name))
	if err != nil {
		return err
	}
	r.seen(st)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		delete(r.m.topics, name)
		return nil
	}
	t, perr := zkformat.ParseTopic(name, data)
	nt := &srcTopic{t: t, err: errText(perr), parts: map[int32]*srcPart{}}
	if old, ok := r.m.topics[name]; ok {
		for p, ps := range old.parts {
			if _, still := t.Partitions[p]; still {
				nt.parts[p] = ps
			}
		}
	}
	r.m.topics[name] = nt
	return nil
}

// missingStates lists the partitions of topic name the model has no
// state znode read for.
func (r *reader) missingStates(name string) []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.m.topics[name]
	if !ok {
		return nil
	}
	var out []int32
	for p := range t.t.Partitions {
		if _, known := t.parts[p]; !known {
			out = append(out, p)
		}
	}
	return out
}

// partState reads a partition state znode into its topic (if the topic
// is in the model).
func (r *reader) partState(topic string, p int32) error {
	path := zkformat.PartitionStatePath(topic, p)
	data, st, ok, err := r.s.get(path)
	if err != nil {
		return err
	}
	r.seen(st)
	ps := &srcPart{exists: ok}
	if ok {
		state, perr := zkformat.ParsePartitionState(path, data)
		ps.state, ps.version, ps.err = state, st.Version, errText(perr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t, known := r.m.topics[topic]
	if !known {
		return nil
	}
	// Copy on write: a reconcile may be reading the old topic value.
	nt := &srcTopic{t: t.t, err: t.err, parts: maps.Clone(t.parts)}
	nt.parts[p] = ps
	r.m.topics[topic] = nt
	return nil
}

// applyChanges re-reads what the changed paths concern into the model.
func applyChanges(s *zkSession, m *srcModel, paths map[string]bool) error {
	r := &reader{s: s, m: m}
	var brokers []int32
	var topics []string
	type ref struct {
		topic string
		p     int32
	}
	var states []ref
	listBrokers, listTopics := false, false
	for p := range paths {
		switch {
		case p == zkformat.PathBrokerIDs:
			listBrokers = true
		case strings.HasPrefix(p, zkformat.PathBrokerIDs+"/"):
			if id, err := strconv.ParseInt(p[len(zkformat.PathBrokerIDs)+1:], 10, 32); err == nil && id >= 0 {
				brokers = append(brokers, int32(id))
			}
		case p == zkformat.PathTopics:
			listTopics = true
		case strings.HasPrefix(p, zkformat.PathTopics+"/"):
			parts := strings.Split(p[len(zkformat.PathTopics)+1:], "/")
			switch {
			case len(parts) == 1:
				topics = append(topics, parts[0])
			case len(parts) == 4 && parts[1] == "partitions" && parts[3] == "state":
				if id, err := strconv.ParseInt(parts[2], 10, 32); err == nil {
					states = append(states, ref{parts[0], int32(id)})
				}
			}
		case p == zkformat.PathDeleteTopics:
			if err := r.deleteMarkers(); err != nil {
				return err
			}
		case p == zkformat.PathProducerIDBlock:
			if err := r.producerIDs(); err != nil {
				return err
			}
		}
	}
	if listBrokers {
		if err := r.brokerList(); err != nil {
			return err
		}
	}
	if err := parallel(len(brokers), readWorkers, func(i int) error { return r.broker(brokers[i]) }); err != nil {
		return err
	}
	if listTopics {
		fresh, err := r.topicList()
		if err != nil {
			return err
		}
		if err := r.topicsFull(fresh); err != nil {
			return err
		}
	}
	if err := parallel(len(topics), readWorkers, func(i int) error { return r.topicZnode(topics[i]) }); err != nil {
		return err
	}
	// A topic znode that changed may list partitions not read yet.
	for _, t := range topics {
		for _, p := range r.missingStates(t) {
			states = append(states, ref{t, p})
		}
	}
	return parallel(len(states), readWorkers, func(i int) error { return r.partState(states[i].topic, states[i].p) })
}

// describe is a short text of a model for logs.
func (m *srcModel) describe() string {
	return fmt.Sprintf("%d brokers, %d topics, zxid %d", len(m.brokers), len(m.topics), m.zxid)
}
