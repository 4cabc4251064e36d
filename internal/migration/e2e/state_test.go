package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
)

// state is the metadata the migration moves, in one form for both sides,
// so the checker compares like with like: ZooKeeper's znodes (read by
// zktest's reader) and YAKt's answers (read through the Go client).
type state struct {
	Brokers map[int32]brokerState
	Topics  map[string]topicState
	// NextProducerID is the first producer id not yet given out:
	// ZooKeeper's latest block_end + 1, YAKt's image's NextProducerID.
	NextProducerID int64
}

type brokerState struct {
	Host     string
	Port     string
	Protocol string
	Rack     string
	// Alive: the broker's znode exists (ZooKeeper), ALIVE (YAKt).
	Alive bool
}

type topicState struct {
	ID         string // canonical UUID text
	Partitions map[int32]partitionState
}

type partitionState struct {
	Replicas, ISR, Adding, Removing []int32
	Leader                          int32
	// Epoch is YAKt's partition epoch, ZooKeeper's state znode version.
	Epoch int64
}

func (p partitionState) String() string {
	return fmt.Sprintf("replicas=%v isr=%v adding=%v removing=%v leader=%d epoch=%d",
		p.Replicas, p.ISR, p.Adding, p.Removing, p.Leader, p.Epoch)
}

// readYakt reads YAKt's metadata through the Go client as an operator
// would: the topic list page by page, each topic described, every
// broker, and the producer-id high-water mark from a BrokerMgmt full
// fetch (the only answer that carries it) as broker fetchAs.
func readYakt(ctx context.Context, cl *client.Client, fetchAs int32) (state, error) {
	st := state{Brokers: map[int32]brokerState{}, Topics: map[string]topicState{}}
	brokers, err := cl.Brokers(ctx, contract.BrokersAll)
	if err != nil {
		return st, fmt.Errorf("list YAKt brokers: %w", err)
	}
	for _, b := range brokers {
		st.Brokers[b.BrokerID] = brokerState{Host: b.BrokerHost, Port: b.BrokerPort, Protocol: b.SecurityProtocol,
			Rack: b.RackID, Alive: b.BrokerStatus == contract.StatusAlive}
	}
	list, err := cl.Topics(ctx)
	if err != nil {
		return st, fmt.Errorf("list YAKt topics: %w", err)
	}
	// Describe the topics with many requests in flight: each waits for a
	// read barrier (a round trip to the other nodes), so one at a time a
	// thousand of them take long.
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan contract.TopicSummary)
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ts := range next {
				d, err := cl.Topic(ctx, ts.Name)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("describe YAKt topic %q: %w", ts.Name, err)
					}
				} else {
					st.Topics[ts.Name] = topicFromDetail(d)
				}
				mu.Unlock()
			}
		}()
	}
	for _, ts := range list {
		next <- ts
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return st, firstErr
	}
	for _, ts := range list {
		if got := st.Topics[ts.Name]; got.ID != ts.TopicUUID {
			// Deleted and created again between the list and the describe:
			// the caller reads again once the load is over.
			return st, fmt.Errorf("YAKt topic %q changed id between listing (%s) and describing (%s)", ts.Name, ts.TopicUUID, got.ID)
		}
	}
	if fetchAs >= 0 {
		res, err := cl.BrokerFetch(ctx, fetchAs, client.FetchOptions{})
		if err != nil {
			return st, fmt.Errorf("BrokerMgmt fetch as broker %d for the producer-id high-water mark: %w", fetchAs, err)
		}
		var snap contract.MetadataSnapshot
		if err := json.Unmarshal(res.Snapshot, &snap); err != nil {
			return st, fmt.Errorf("BrokerMgmt fetch as broker %d: mode %q, snapshot: %w", fetchAs, res.Mode, err)
		}
		if snap.ProducerIDs != nil {
			st.NextProducerID = snap.ProducerIDs.NextProducerID
		}
	}
	return st, nil
}

// readYaktSnapshot reads YAKt's metadata in one consistent answer: a
// BrokerMgmt metadata fetch without an offset (the whole state at one
// offset, producer ids included), as broker fetchAs; -1 (no broker yet):
// a ClientMgmt one, without producer ids. Cheaper than describing every
// topic, for the checks repeated during a test.
func readYaktSnapshot(ctx context.Context, cl *client.Client, fetchAs int32) (state, error) {
	st := state{Brokers: map[int32]brokerState{}, Topics: map[string]topicState{}}
	var (
		res client.FetchResult
		err error
	)
	if fetchAs >= 0 {
		res, err = cl.BrokerFetch(ctx, fetchAs, client.FetchOptions{})
	} else {
		res, err = cl.ClientFetch(ctx, client.FetchOptions{})
	}
	if err != nil {
		return st, fmt.Errorf("full metadata fetch (as broker %d): %w", fetchAs, err)
	}
	var snap contract.MetadataSnapshot
	if err := json.Unmarshal(res.Snapshot, &snap); err != nil {
		return st, fmt.Errorf("full metadata fetch: mode %q, snapshot: %w", res.Mode, err)
	}
	for _, b := range snap.Brokers {
		st.Brokers[b.BrokerID] = brokerState{Host: b.BrokerHost, Port: b.BrokerPort, Protocol: b.SecurityProtocol,
			Rack: b.RackID, Alive: b.BrokerStatus == contract.StatusAlive}
	}
	names := map[string]string{}
	for _, tv := range snap.Topics {
		names[tv.TopicUUID] = tv.Name
		st.Topics[tv.Name] = topicState{ID: tv.TopicUUID, Partitions: map[int32]partitionState{}}
	}
	for _, p := range snap.Partitions {
		name, ok := names[p.TopicUUID]
		if !ok {
			return st, fmt.Errorf("full metadata fetch: partition %d of topic id %s, which is not among the topics", p.PartitionID, p.TopicUUID)
		}
		st.Topics[name].Partitions[p.PartitionID] = partitionState{
			Replicas: p.Replicas, ISR: p.ISR, Adding: p.AddingReplicas, Removing: p.RemovingReplicas,
			Leader: p.Leader, Epoch: p.PartitionEpoch,
		}
	}
	if snap.ProducerIDs != nil {
		st.NextProducerID = snap.ProducerIDs.NextProducerID
	}
	return st, nil
}

func topicFromDetail(d contract.TopicDetail) topicState {
	t := topicState{ID: d.Topic.TopicUUID, Partitions: map[int32]partitionState{}}
	for _, p := range d.Partitions {
		t.Partitions[p.PartitionID] = partitionState{
			Replicas: p.Replicas, ISR: p.ISR, Adding: p.AddingReplicas, Removing: p.RemovingReplicas,
			Leader: p.Leader, Epoch: p.PartitionEpoch,
		}
	}
	return t
}

// diffStates lists every difference between ZooKeeper's state and YAKt's,
// at most limit of them (and how many more), empty when they are equal.
// A broker gone from ZooKeeper must not be ALIVE in YAKt (it is fenced,
// not forgotten); every other value must be equal.
func diffStates(zk, yakt state, limit int) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, id := range sortedKeys(zk.Brokers) {
		z := zk.Brokers[id]
		y, ok := yakt.Brokers[id]
		switch {
		case !ok:
			add("broker %d: in ZooKeeper (%+v), not in YAKt", id, z)
		case z != y:
			add("broker %d: ZooKeeper %+v, YAKt %+v", id, z, y)
		}
	}
	for _, id := range sortedKeys(yakt.Brokers) {
		if _, ok := zk.Brokers[id]; !ok && yakt.Brokers[id].Alive {
			add("broker %d: ALIVE in YAKt (%+v), not registered in ZooKeeper", id, yakt.Brokers[id])
		}
	}
	for _, name := range sortedKeys(zk.Topics) {
		z := zk.Topics[name]
		y, ok := yakt.Topics[name]
		if !ok {
			add("topic %q (%s, %d partitions): in ZooKeeper, not in YAKt", name, z.ID, len(z.Partitions))
			continue
		}
		if z.ID != y.ID {
			add("topic %q: id %s in ZooKeeper, %s in YAKt", name, z.ID, y.ID)
		}
		for _, p := range sortedKeys(z.Partitions) {
			zp := z.Partitions[p]
			yp, ok := y.Partitions[p]
			if !ok {
				add("partition %s-%d: in ZooKeeper (%v), not in YAKt", name, p, zp)
			} else if !partitionsEqual(zp, yp) {
				add("partition %s-%d: ZooKeeper %v, YAKt %v", name, p, zp, yp)
			}
		}
		for _, p := range sortedKeys(y.Partitions) {
			if _, ok := z.Partitions[p]; !ok {
				add("partition %s-%d: in YAKt (%v), not in ZooKeeper", name, p, y.Partitions[p])
			}
		}
	}
	for _, name := range sortedKeys(yakt.Topics) {
		if _, ok := zk.Topics[name]; !ok {
			add("topic %q (%s): in YAKt, not in ZooKeeper", name, yakt.Topics[name].ID)
		}
	}
	if zk.NextProducerID != yakt.NextProducerID {
		add("next producer id: %d after ZooKeeper's latest block, %d in YAKt", zk.NextProducerID, yakt.NextProducerID)
	}
	if len(out) > limit {
		n := len(out) - limit
		out = append(out[:limit], fmt.Sprintf("... and %d more", n))
	}
	return out
}

func partitionsEqual(a, b partitionState) bool {
	return slices.Equal(norm(a.Replicas), norm(b.Replicas)) && slices.Equal(norm(a.ISR), norm(b.ISR)) &&
		slices.Equal(norm(a.Adding), norm(b.Adding)) && slices.Equal(norm(a.Removing), norm(b.Removing)) &&
		a.Leader == b.Leader && a.Epoch == b.Epoch
}

// norm makes nil and empty the same list (JSON [] versus an absent field);
// order is kept: replica order is the preferred-leader order.
func norm(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}

func sortedKeys[K int32 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// summary is a short account of a state for logs.
func (s state) summary() string {
	parts := 0
	for _, t := range s.Topics {
		parts += len(t.Partitions)
	}
	return fmt.Sprintf("%d brokers, %d topics, %d partitions, next producer id %d", len(s.Brokers), len(s.Topics), parts, s.NextProducerID)
}
