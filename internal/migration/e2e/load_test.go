package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// load writes changes to ZooKeeper as a ZooKeeper-mode Kafka cluster
// makes them (through zktest's Kafka writer): topics created and deleted,
// partitions added, ISRs shrunk and expanded, leaders moved. It keeps its
// own model of ZooKeeper's state to choose each change.
type load struct {
	zk     *kafkaZK
	model  state
	rng    *rand.Rand
	prefix string // of the topics it creates: unique per load
	n      int    // topics created so far
	// keep are topics it must neither delete nor change.
	keep    map[string]bool
	created []string
}

// createdNames are the topics the load created.
func (l *load) createdNames() map[string]bool {
	out := map[string]bool{}
	for _, n := range l.created {
		out[n] = true
	}
	return out
}

// run makes n changes spread over about d and returns them in the order
// made.
func (l *load) run(ctx context.Context, t testing.TB, n int, d time.Duration) []*change {
	t.Helper()
	var out []*change
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(d * time.Duration(i) / time.Duration(n))); wait > 0 {
			if err := testcluster.Pace(ctx, wait); err != nil {
				t.Fatalf("load: %v", err)
			}
		}
		c, err := l.one(ctx)
		if err != nil {
			t.Fatalf("load change %d: %v", i, err)
		}
		c.acked = time.Now()
		out = append(out, c)
	}
	return out
}

// one makes one random change.
func (l *load) one(ctx context.Context) (*change, error) {
	r := l.rng.IntN(100)
	switch {
	case r < 20:
		return l.createTopic(ctx)
	case r < 35 && len(l.model.Topics) > 10:
		return l.deleteTopic(ctx)
	case r < 50:
		return l.addPartitions(ctx)
	case r < 60:
		return l.moveLeader(ctx)
	default:
		return l.changeISR(ctx)
	}
}

func (l *load) aliveBrokers() []int32 {
	var ids []int32
	for _, id := range sortedKeys(l.model.Brokers) {
		if l.model.Brokers[id].Alive {
			ids = append(ids, id)
		}
	}
	return ids
}

// assignment chooses rf distinct live brokers for each of n partitions.
func (l *load) assignment(n, rf int) [][]int32 {
	ids := l.aliveBrokers()
	out := make([][]int32, n)
	for p := range out {
		perm := l.rng.Perm(len(ids))
		for _, i := range perm[:min(rf, len(ids))] {
			out[p] = append(out[p], ids[i])
		}
	}
	return out
}

func (l *load) createTopic(ctx context.Context) (*change, error) {
	l.n++
	name := fmt.Sprintf("%s-%04d", l.prefix, l.n)
	id := newTopicID()
	assign := l.assignment(3, 3)
	c := &change{kind: "createTopic", topic: name, what: name, start: time.Now()}
	if err := l.zk.createTopic(ctx, name, id, assign); err != nil {
		return nil, fmt.Errorf("create topic %s: %w", name, err)
	}
	ts := topicState{ID: id, Partitions: map[int32]partitionState{}}
	for p, reps := range assign {
		ts.Partitions[int32(p)] = partitionState{Replicas: reps, ISR: reps, Leader: reps[0]}
	}
	l.model.Topics[name] = ts
	l.created = append(l.created, name)
	c.seen = func(w *watcher) (time.Time, bool) { return w.topicCreated(name) }
	return c, nil
}

// pickTopic is a random topic the load may change.
func (l *load) pickTopic() (string, topicState) {
	names := sortedKeys(l.model.Topics)
	names = slices.DeleteFunc(names, func(n string) bool { return l.keep[n] })
	name := names[l.rng.IntN(len(names))]
	return name, l.model.Topics[name]
}

func (l *load) deleteTopic(ctx context.Context) (*change, error) {
	name, _ := l.pickTopic()
	c := &change{kind: "deleteTopic", topic: name, what: name, start: time.Now()}
	if err := l.zk.deleteTopic(ctx, name); err != nil {
		return nil, fmt.Errorf("delete topic %s: %w", name, err)
	}
	delete(l.model.Topics, name)
	c.seen = func(w *watcher) (time.Time, bool) { return w.topicRemoved(name) }
	return c, nil
}

func (l *load) addPartitions(ctx context.Context) (*change, error) {
	name, ts := l.pickTopic()
	first := int32(len(ts.Partitions))
	assign := l.assignment(2, 3)
	c := &change{kind: "addPartitions", topic: name, what: fmt.Sprintf("%s partitions %d-%d", name, first, first+1), start: time.Now()}
	if err := l.zk.addPartitions(ctx, name, first, assign); err != nil {
		return nil, fmt.Errorf("add partitions to %s: %w", name, err)
	}
	for i, reps := range assign {
		ts.Partitions[first+int32(i)] = partitionState{Replicas: reps, ISR: reps, Leader: reps[0]}
	}
	id := ts.ID
	c.seen = func(w *watcher) (time.Time, bool) {
		a, ok1 := w.partitionAt(id, first, 0)
		b, ok2 := w.partitionAt(id, first+1, 0)
		return later(a, b), ok1 && ok2
	}
	return c, nil
}

// changeISR shrinks a full ISR by a follower or expands a shrunk one by a
// missing replica, as a partition leader's AlterPartition would.
func (l *load) changeISR(ctx context.Context) (*change, error) {
	name, ts := l.pickTopic()
	p := int32(l.rng.IntN(len(ts.Partitions)))
	ps := ts.Partitions[p]
	isr := slices.Clone(ps.ISR)
	if fs := followers(ps); len(isr) == len(ps.Replicas) && len(fs) > 0 {
		drop := fs[l.rng.IntN(len(fs))]
		isr = slices.DeleteFunc(isr, func(b int32) bool { return b == drop })
	} else {
		for _, b := range ps.Replicas {
			if !slices.Contains(isr, b) {
				isr = append(isr, b)
				break
			}
		}
	}
	return l.setState(ctx, "isr", name, ts, p, ps.Leader, isr)
}

// moveLeader makes another ISR member the partition's leader.
func (l *load) moveLeader(ctx context.Context) (*change, error) {
	name, ts := l.pickTopic()
	p := int32(l.rng.IntN(len(ts.Partitions)))
	ps := ts.Partitions[p]
	fs := followers(ps)
	if len(fs) == 0 {
		return l.changeISR(ctx)
	}
	return l.setState(ctx, "leader", name, ts, p, fs[l.rng.IntN(len(fs))], ps.ISR)
}

func followers(ps partitionState) []int32 {
	return slices.DeleteFunc(slices.Clone(ps.ISR), func(b int32) bool { return b == ps.Leader })
}

func (l *load) setState(ctx context.Context, kind, name string, ts topicState, p, leader int32, isr []int32) (*change, error) {
	ps := ts.Partitions[p]
	c := &change{kind: kind, topic: name, what: fmt.Sprintf("%s-%d leader %d isr %v", name, p, leader, isr), start: time.Now()}
	version, err := l.zk.setPartitionState(ctx, name, p, leader, isr)
	if err != nil {
		return nil, fmt.Errorf("%s of %s-%d: %w", kind, name, p, err)
	}
	ps.Leader, ps.ISR, ps.Epoch = leader, isr, version
	ts.Partitions[p] = ps
	id := ts.ID
	c.seen = func(w *watcher) (time.Time, bool) { return w.partitionAt(id, p, version) }
	return c, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
