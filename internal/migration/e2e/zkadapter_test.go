package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/zktest"
)

// kafkaZK is one ZooKeeper-mode Kafka cluster's metadata in a chroot of
// the shared ZooKeeper server: written by zktest's Kafka writer (as the
// brokers, the controller and admin tools of Kafka 3.x write it), read by
// zktest's View.
type kafkaZK struct {
	srv       *zktest.Server
	chroot    string
	clusterID string
	k         *zktest.Kafka
}

func newKafkaZK(t testing.TB, srv *zktest.Server, chroot string) *kafkaZK {
	t.Helper()
	return &kafkaZK{srv: srv, chroot: chroot, k: zktest.NewKafka(t, srv.Addr(), chroot)}
}

func (k *kafkaZK) connect() string { return k.srv.Addr() + k.chroot }

// populate writes l: a bootstrapped cluster, its brokers and topics, the
// producer-id blocks up to l.ProducerBlockEnd, reassignments in progress
// and ISR changes.
func (k *kafkaZK) populate(ctx context.Context, t testing.TB, l layout) {
	t.Helper()
	began := time.Now()
	k.clusterID = l.ClusterID
	if err := k.k.Bootstrap(l.ClusterID); err != nil {
		t.Fatalf("bootstrap ZooKeeper %s: %v", k.connect(), err)
	}
	ds := zktest.Dataset{Brokers: l.Brokers, Topics: l.Topics, Partitions: l.Partitions, ReplicationFactor: l.RF}
	specs, err := k.k.Populate(ds)
	if err != nil {
		t.Fatalf("populate ZooKeeper %s: %v", k.connect(), err)
	}
	for end := int64(-1); end < l.ProducerBlockEnd; {
		if _, end, err = k.k.AllocateProducerIDBlock(1); err != nil {
			t.Fatalf("producer-id block: %v", err)
		}
	}
	// Partitions in the middle of a reassignment (one replica added, the
	// last one leaving) and partitions whose ISR changed before: the
	// import must carry adding/removing replicas and epochs above 0.
	type job struct {
		topic string
		p     int32
		reps  []int32
		kind  int
	}
	var jobs []job
	n := 0
	for _, spec := range specs {
		for p := range int32(l.Partitions) {
			n++
			reps := spec.Assignment[p]
			if l.Reassigning > 0 && n%l.Reassigning == 0 {
				jobs = append(jobs, job{spec.Name, p, reps, 0})
			} else if l.ISRChanges > 0 && n%l.ISRChanges == 0 {
				jobs = append(jobs, job{spec.Name, p, reps, 1})
			}
		}
	}
	err = parallel(ctx, len(jobs), 16, func(i int) error {
		j := jobs[i]
		if j.kind == 0 {
			extra := int32(1)
			for extra <= int32(l.Brokers) && contains(j.reps, extra) {
				extra++
			}
			target := append(append([]int32(nil), j.reps...), extra)
			return k.k.ReassignPartition(j.topic, j.p, target, []int32{extra}, []int32{j.reps[len(j.reps)-1]})
		}
		// Shrink the ISR to the leader, expand it by one again: version 2.
		if _, err := k.k.SetLeaderAndISR(j.topic, j.p, j.reps[0], j.reps[:1]); err != nil {
			return err
		}
		_, err := k.k.SetLeaderAndISR(j.topic, j.p, j.reps[0], j.reps[:2])
		return err
	})
	if err != nil {
		t.Fatalf("populate ZooKeeper %s: %v", k.connect(), err)
	}
	t.Logf("ZooKeeper %s populated: %d brokers, %d topics x %d partitions, %d reassigning/ISR-changed partitions, producer ids up to %d, in %v",
		k.connect(), l.Brokers, l.Topics, l.Partitions, len(jobs), l.ProducerBlockEnd, time.Since(began).Round(time.Millisecond))
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// parallel runs f(0..n-1) on workers goroutines and returns the first
// error; all have ended when it returns.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func toMap(assign [][]int32, first int32) map[int32][]int32 {
	m := make(map[int32][]int32, len(assign))
	for i, reps := range assign {
		m[first+int32(i)] = reps
	}
	return m
}

func (k *kafkaZK) createTopic(ctx context.Context, name, id string, assign [][]int32) error {
	return k.k.CreateTopic(name, id, toMap(assign, 0))
}

func (k *kafkaZK) deleteTopic(ctx context.Context, name string) error { return k.k.DeleteTopic(name) }

func (k *kafkaZK) addPartitions(ctx context.Context, name string, first int32, assign [][]int32) error {
	return k.k.AddPartitions(name, toMap(assign, first))
}

func (k *kafkaZK) setPartitionState(ctx context.Context, name string, p, leader int32, isr []int32) (int64, error) {
	v, err := k.k.SetLeaderAndISR(name, p, leader, isr)
	return int64(v), err
}

// electController makes broker id ZooKeeper's controller again (after a
// rollback a ZooKeeper-mode broker wins the election YAKt left).
func (k *kafkaZK) electController(t testing.TB, id int32) {
	t.Helper()
	if err := k.k.ElectController(id); err != nil {
		t.Fatalf("elect broker %d ZooKeeper's controller: %v", id, err)
	}
}

func (k *kafkaZK) setRaw(ctx context.Context, t testing.TB, path string, data []byte) {
	t.Helper()
	if err := k.k.WriteRaw(path, data); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// deleteRaw deletes the znode path (under the chroot), which must have
// no children.
func (k *kafkaZK) deleteRaw(t testing.TB, path string) {
	t.Helper()
	if err := k.k.Conn().Delete(k.k.Path(path), -1); err != nil {
		t.Fatalf("delete %s: %v", path, err)
	}
}

// waitSession waits until the writer's ZooKeeper session is usable again
// (after a server restart).
func (k *kafkaZK) waitSession(ctx context.Context, t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := testcluster.WaitFor(ctx, func() bool { return k.k.Conn().State() == zk.StateHasSession }); err != nil {
		// Seen on a loaded machine after a slow ZooKeeper start: the Go
		// client's sessions stay in StateConnecting long after the server
		// serves again. It is the test's writer, not the migration, that
		// cannot go on.
		t.Fatalf("zktest's Kafka writer: its ZooKeeper session did not come back within 30 s of the restart (client state %v): %v", k.k.Conn().State(), err)
	}
}

// read is ZooKeeper's state as the checker compares it: zktest's View,
// without the topics being deleted (under /admin/delete_topics) or
// without a state znode for every partition, which the migration leaves
// out by design.
func (k *kafkaZK) read(ctx context.Context) (state, error) {
	v, err := zktest.ReadView(ctx, k.k.Conn(), k.chroot)
	if err != nil {
		return state{}, fmt.Errorf("read ZooKeeper %s: %w", k.connect(), err)
	}
	st := state{Brokers: map[int32]brokerState{}, Topics: map[string]topicState{}}
	for id, b := range v.Brokers {
		st.Brokers[id] = brokerState{Host: b.Host, Port: strconv.Itoa(int(b.Port)), Protocol: b.SecurityProtocol, Rack: b.Rack, Alive: true}
	}
topics:
	for name, t := range v.Topics {
		if v.Deleting[name] {
			continue
		}
		ts := topicState{ID: t.ID, Partitions: map[int32]partitionState{}}
		for p, part := range t.Partitions {
			if !part.HasState {
				continue topics
			}
			ts.Partitions[p] = partitionState{Replicas: part.Replicas, ISR: part.ISR, Adding: part.Adding, Removing: part.Removing,
				Leader: part.Leader, Epoch: int64(part.StateVersion)}
		}
		st.Topics[name] = ts
	}
	if v.ProducerIDBlockEnd >= 0 {
		st.NextProducerID = v.ProducerIDBlockEnd + 1
	}
	return st, nil
}

// topic reads one topic's znodes with this package's own JSON types.
func (k *kafkaZK) topic(ctx context.Context, name string) (zkTopic, bool, error) {
	conn := k.k.Conn()
	path := k.k.Path("/brokers/topics/" + name)
	data, _, err := conn.Get(path)
	if errors.Is(err, zk.ErrNoNode) {
		return zkTopic{}, false, nil
	}
	if err != nil {
		return zkTopic{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	var tz struct {
		Version    int                `json:"version"`
		TopicID    string             `json:"topic_id"`
		Partitions map[string][]int32 `json:"partitions"`
	}
	if err := json.Unmarshal(data, &tz); err != nil {
		return zkTopic{}, false, fmt.Errorf("%s: %w (%s)", path, err, data)
	}
	id, err := zktest.CanonicalTopicID(tz.TopicID)
	if err != nil {
		return zkTopic{}, false, fmt.Errorf("%s: topic_id: %w", path, err)
	}
	zt := zkTopic{Name: name, Version: tz.Version, TopicID: id, Partitions: map[int32][]int32{}, States: map[int32]zkPartitionState{}}
	for key, reps := range tz.Partitions {
		p, err := strconv.ParseInt(key, 10, 32)
		if err != nil {
			return zkTopic{}, false, fmt.Errorf("%s: partition %q: %w", path, key, err)
		}
		zt.Partitions[int32(p)] = reps
		spath := fmt.Sprintf("%s/partitions/%d/state", path, p)
		data, st, err := conn.Get(spath)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return zkTopic{}, false, fmt.Errorf("read %s: %w", spath, err)
		}
		var sz struct {
			Version         *int    `json:"version"`
			Leader          *int32  `json:"leader"`
			LeaderEpoch     *int32  `json:"leader_epoch"`
			ISR             []int32 `json:"isr"`
			ControllerEpoch *int32  `json:"controller_epoch"`
		}
		if err := json.Unmarshal(data, &sz); err != nil {
			return zkTopic{}, false, fmt.Errorf("%s: %w (%s)", spath, err, data)
		}
		if sz.Version == nil || sz.Leader == nil || sz.LeaderEpoch == nil || sz.ISR == nil || sz.ControllerEpoch == nil {
			return zkTopic{}, false, fmt.Errorf("%s: a field of Kafka's partition state is missing: %s", spath, data)
		}
		zt.States[int32(p)] = zkPartitionState{Version: *sz.Version, Leader: *sz.Leader, LeaderEpoch: *sz.LeaderEpoch,
			ISR: sz.ISR, ControllerEpoch: *sz.ControllerEpoch, ZnodeVersion: int64(st.Version)}
	}
	return zt, true, nil
}

// controllerEpoch is /controller_epoch's value.
func (k *kafkaZK) controllerEpoch(t testing.TB) int32 {
	t.Helper()
	data, _, err := k.k.Conn().Get(k.k.Path("/controller_epoch"))
	if err != nil {
		t.Fatalf("read /controller_epoch: %v", err)
	}
	e, err := strconv.ParseInt(string(data), 10, 32)
	if err != nil {
		t.Fatalf("/controller_epoch holds %q: %v", data, err)
	}
	return int32(e)
}

// controller is /controller's content, parsed with this package's types.
func (k *kafkaZK) controller(t testing.TB) (brokerID, kraftControllerEpoch int32) {
	t.Helper()
	data, _, err := k.k.Conn().Get(k.k.Path("/controller"))
	if err != nil {
		t.Fatalf("read /controller: %v", err)
	}
	var c struct {
		Version              int    `json:"version"`
		BrokerID             int32  `json:"brokerid"`
		KRaftControllerEpoch *int32 `json:"kraftControllerEpoch"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("/controller holds %s: %v", data, err)
	}
	if c.KRaftControllerEpoch == nil {
		t.Fatalf("/controller has no kraftControllerEpoch: %s", data)
	}
	return c.BrokerID, *c.KRaftControllerEpoch
}

// stopZooKeeper stops the ZooKeeper server under a following migration,
// waits until the driver reports it lost its connection, and starts the
// server again.
func stopZooKeeper(ctx context.Context, t testing.TB, srv *zktest.Server, cl *client.Client) {
	t.Helper()
	srv.Stop()
	waitDriver(ctx, t, cl, "driver disconnected from the stopped ZooKeeper", 30*time.Second, func(st contract.MigrationStatus) bool {
		return st.Driver != nil && !st.Driver.ZkConnected
	})
	srv.Restart(t)
}
