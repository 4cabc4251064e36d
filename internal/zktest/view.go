package zktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// View is what a ZooKeeper-mode Kafka cluster's znodes say, read for
// checkers with encoding/json into this file's own types (independent of
// internal/zkformat, which the code under test uses).
type View struct {
	ClusterID       string
	ControllerEpoch int32 // /controller_epoch; 0 if missing
	Controller      int32 // /controller's brokerid; -1 if none
	Brokers         map[int32]Broker
	Topics          map[string]Topic
	// Deleting are the topics under /admin/delete_topics.
	Deleting map[string]bool
	// ProducerIDBlockEnd is /latest_producer_id_block's block_end; -1
	// when no block was given yet.
	ProducerIDBlockEnd int64
	// MaxZxid is the highest zxid of any znode read (created, modified
	// or, for a parent, its children changed).
	MaxZxid int64
}

// Endpoint is one listener of a broker.
type Endpoint struct {
	Listener         string
	SecurityProtocol string
	Host             string
	Port             int32
}

// Broker is /brokers/ids/<id>.
type Broker struct {
	ID      int32
	Version int
	// Host, Port and SecurityProtocol are the first endpoint's.
	Host             string
	Port             int32
	SecurityProtocol string
	Endpoints        []Endpoint
	Rack             string
	// Czxid is the znode's creation zxid: Kafka's broker epoch.
	Czxid int64
}

// Topic is /brokers/topics/<name> with its partitions and config.
type Topic struct {
	Name    string
	Version int
	// ID is the topic id as canonical UUID text ("" if the znode has
	// none).
	ID         string
	Partitions map[int32]Partition
	// Config is /config/topics/<name>'s config; nil if that znode is
	// missing.
	Config map[string]string
}

// Partition is one partition: its assignment from the topic znode and,
// if it has one, its state znode.
type Partition struct {
	Replicas []int32
	Adding   []int32
	Removing []int32
	// HasState says whether /partitions/<p>/state exists; the fields
	// below are zero without it.
	HasState        bool
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32
	// StateVersion is the state znode's version: Kafka's partition epoch.
	StateVersion int32
}

// ReadViewAt dials addr and reads the view under chroot.
func ReadViewAt(ctx context.Context, addr, chroot string) (*View, error) {
	conn, err := Dial(addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return ReadView(ctx, conn, chroot)
}

// readers bounds the requests ReadView has in flight: ZooKeeper answers a
// session's requests in order, so a pipeline of them hides the round
// trips.
const readers = 64

// ReadView reads every broker, topic, partition and the producer-id block
// under chroot ("" for none). A znode that disappears while it is read
// counts as absent; JSON that does not parse is an error naming the
// path.
func ReadView(ctx context.Context, conn *zk.Conn, chroot string) (*View, error) {
	r := &viewReader{ctx: ctx, conn: conn, root: strings.TrimSuffix(chroot, "/")}
	if r.root != "" && !strings.HasPrefix(r.root, "/") {
		r.root = "/" + r.root
	}
	v := &View{
		Controller:         -1,
		Brokers:            map[int32]Broker{},
		Topics:             map[string]Topic{},
		Deleting:           map[string]bool{},
		ProducerIDBlockEnd: -1,
	}
	if err := r.readCluster(v); err != nil {
		return nil, err
	}
	brokerIDs, err := r.children("/brokers/ids")
	if err != nil {
		return nil, err
	}
	topics, err := r.children("/brokers/topics")
	if err != nil {
		return nil, err
	}
	deleting, err := r.children("/admin/delete_topics")
	if err != nil {
		return nil, err
	}
	for _, name := range deleting {
		v.Deleting[name] = true
	}

	var mu sync.Mutex // guards v's maps
	err = runAll(len(brokerIDs)+len(topics), readers, func(i int) error {
		if i < len(brokerIDs) {
			b, ok, err := r.readBroker(brokerIDs[i])
			if ok && err == nil {
				mu.Lock()
				v.Brokers[b.ID] = b
				mu.Unlock()
			}
			return err
		}
		name := topics[i-len(brokerIDs)]
		t, ok, err := r.readTopic(name)
		if ok && err == nil {
			mu.Lock()
			v.Topics[name] = t
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	v.MaxZxid = r.maxZxid()
	return v, nil
}

type viewReader struct {
	ctx  context.Context
	conn *zk.Conn
	root string

	mu   sync.Mutex
	zxid int64
}

func (r *viewReader) see(st *zk.Stat) {
	if st == nil {
		return
	}
	r.mu.Lock()
	r.zxid = max(r.zxid, st.Czxid, st.Mzxid, st.Pzxid)
	r.mu.Unlock()
}

func (r *viewReader) maxZxid() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.zxid
}

// get reads path (relative to the root); ok is false if it does not
// exist.
func (r *viewReader) get(path string) (data []byte, st *zk.Stat, ok bool, err error) {
	if err := r.ctx.Err(); err != nil {
		return nil, nil, false, err
	}
	data, st, err = r.conn.Get(r.root + path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read %s: %w", r.root+path, err)
	}
	r.see(st)
	return data, st, true, nil
}

// children lists path's children (none if it does not exist).
func (r *viewReader) children(path string) ([]string, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	names, st, err := r.conn.Children(r.root + path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.root+path, err)
	}
	r.see(st)
	return names, nil
}

func (r *viewReader) parse(path string, data []byte, into any) error {
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w (content %q)", r.root+path, err, data)
	}
	return nil
}

func (r *viewReader) readCluster(v *View) error {
	if data, _, ok, err := r.get("/cluster/id"); err != nil {
		return err
	} else if ok {
		var c struct {
			ID string `json:"id"`
		}
		if err := r.parse("/cluster/id", data, &c); err != nil {
			return err
		}
		v.ClusterID = c.ID
	}
	if data, _, ok, err := r.get("/controller_epoch"); err != nil {
		return err
	} else if ok {
		e, err := strconv.ParseInt(string(data), 10, 32)
		if err != nil {
			return fmt.Errorf("%s/controller_epoch: %q: %w", r.root, data, err)
		}
		v.ControllerEpoch = int32(e)
	}
	if data, _, ok, err := r.get("/controller"); err != nil {
		return err
	} else if ok {
		var c struct {
			BrokerID int32 `json:"brokerid"`
		}
		if err := r.parse("/controller", data, &c); err != nil {
			return err
		}
		v.Controller = c.BrokerID
	}
	if data, _, ok, err := r.get("/latest_producer_id_block"); err != nil {
		return err
	} else if ok && len(data) > 0 {
		var b struct {
			BlockEnd string `json:"block_end"`
		}
		if err := r.parse("/latest_producer_id_block", data, &b); err != nil {
			return err
		}
		end, err := strconv.ParseInt(b.BlockEnd, 10, 64)
		if err != nil {
			return fmt.Errorf("%s/latest_producer_id_block: block_end %q: %w", r.root, b.BlockEnd, err)
		}
		v.ProducerIDBlockEnd = end
	}
	return nil
}

func (r *viewReader) readBroker(name string) (Broker, bool, error) {
	path := "/brokers/ids/" + name
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return Broker{}, false, fmt.Errorf("%s%s: not a broker id", r.root, path)
	}
	data, st, ok, err := r.get(path)
	if err != nil || !ok {
		return Broker{}, false, err
	}
	var z struct {
		Version     int               `json:"version"`
		Host        string            `json:"host"`
		Port        int32             `json:"port"`
		Endpoints   []string          `json:"endpoints"`
		Rack        *string           `json:"rack"`
		ProtocolMap map[string]string `json:"listener_security_protocol_map"`
	}
	if err := r.parse(path, data, &z); err != nil {
		return Broker{}, false, err
	}
	b := Broker{ID: int32(id), Version: z.Version, Czxid: st.Czxid}
	if z.Rack != nil {
		b.Rack = *z.Rack
	}
	for _, s := range z.Endpoints {
		e, err := parseEndpoint(s, z.ProtocolMap)
		if err != nil {
			return Broker{}, false, fmt.Errorf("%s%s: %w", r.root, path, err)
		}
		b.Endpoints = append(b.Endpoints, e)
	}
	if len(b.Endpoints) > 0 {
		b.Host, b.Port, b.SecurityProtocol = b.Endpoints[0].Host, b.Endpoints[0].Port, b.Endpoints[0].SecurityProtocol
	} else {
		// Version 1: the legacy fields are the one PLAINTEXT listener.
		b.Host, b.Port, b.SecurityProtocol = z.Host, z.Port, "PLAINTEXT"
	}
	return b, true, nil
}

// parseEndpoint parses "LISTENER://host:port"; the listener's security
// protocol comes from the broker's map, or is the listener's own name.
func parseEndpoint(s string, protocols map[string]string) (Endpoint, error) {
	listener, hostport, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("endpoint %q: no ://", s)
	}
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	port, err := strconv.ParseInt(portText, 10, 32)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: port: %w", s, err)
	}
	proto := listener
	if p, ok := protocols[listener]; ok {
		proto = p
	}
	return Endpoint{Listener: listener, SecurityProtocol: proto, Host: host, Port: int32(port)}, nil
}

func (r *viewReader) readTopic(name string) (Topic, bool, error) {
	path := "/brokers/topics/" + name
	data, _, ok, err := r.get(path)
	if err != nil || !ok {
		return Topic{}, false, err
	}
	var z topicZNode
	if err := r.parse(path, data, &z); err != nil {
		return Topic{}, false, err
	}
	t := Topic{Name: name, Version: z.Version, Partitions: map[int32]Partition{}}
	if z.TopicID != "" {
		if t.ID, err = CanonicalTopicID(z.TopicID); err != nil {
			return Topic{}, false, fmt.Errorf("%s%s: %w", r.root, path, err)
		}
	}
	for key, replicas := range z.Partitions {
		p, err := strconv.ParseInt(key, 10, 32)
		if err != nil {
			return Topic{}, false, fmt.Errorf("%s%s: partition %q: %w", r.root, path, key, err)
		}
		t.Partitions[int32(p)] = Partition{Replicas: replicas, Adding: z.Adding[key], Removing: z.Removing[key]}
	}
	for p, part := range t.Partitions {
		statePath := fmt.Sprintf("%s/partitions/%d/state", path, p)
		data, st, ok, err := r.get(statePath)
		if err != nil {
			return Topic{}, false, err
		}
		if !ok {
			continue
		}
		var s stateZNode
		if err := r.parse(statePath, data, &s); err != nil {
			return Topic{}, false, err
		}
		part.HasState = true
		part.Leader, part.LeaderEpoch, part.ISR, part.ControllerEpoch = s.Leader, s.LeaderEpoch, s.ISR, s.ControllerEpoch
		part.StateVersion = st.Version
		t.Partitions[p] = part
	}
	configPath := "/config/topics/" + name
	if data, _, ok, err := r.get(configPath); err != nil {
		return Topic{}, false, err
	} else if ok {
		var c struct {
			Config map[string]string `json:"config"`
		}
		if err := r.parse(configPath, data, &c); err != nil {
			return Topic{}, false, err
		}
		t.Config = c.Config
		if t.Config == nil {
			t.Config = map[string]string{}
		}
	}
	return t, true, nil
}
