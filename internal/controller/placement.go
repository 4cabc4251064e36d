package controller

import (
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/yakt/yakt/internal/metadata"
)

// placedBroker is what replica placement needs to know of a broker.
type placedBroker struct {
	id   int32
	rack string // "" when the broker has no rack
}

// assignReplicas places rf replicas for each of n partitions over brokers,
// in the manner of Kafka's rack-aware assignment:
//
//  1. Order the brokers so racks alternate (first broker of each rack,
//     then the second of each, ...), racks and brokers sorted, so
//     neighbours in the order sit in different racks.
//  2. Partition p is led by the broker at position p: leaders go round
//     the order, so every broker leads n/len(brokers) partitions, give or
//     take one.
//  3. Its followers are taken walking the order from one past the leader
//     plus a shift that grows once per full round of partitions, so
//     follower sets differ between rounds; a broker whose rack the
//     partition already uses is skipped while unused racks remain.
//
// A broker without a rack counts as a rack of its own. The result is a
// pure function of its input. Callers ensure 1 <= rf <= len(brokers).
func assignReplicas(brokers []placedBroker, n, rf int) [][]int32 {
	return newPlacement(brokers).assign(n, rf)
}

// placement is step 1 of assignReplicas for one set of brokers: the
// order, and each position's rack as a small int. At thousands of
// brokers it costs far more than placing a small topic (sorting and
// hashing every broker), so the leader keeps the one for its current
// brokers (placementCache).
type placement struct {
	order  []placedBroker
	rackOf []int // by position in order
	racks  int
}

func newPlacement(brokers []placedBroker) *placement {
	order := rackAlternated(brokers)
	rackOf := make([]int, len(order))
	index := map[string]int{}
	for i, b := range order {
		k := rackKey(b)
		r, ok := index[k]
		if !ok {
			r = len(index)
			index[k] = r
		}
		rackOf[i] = r
	}
	return &placement{order: order, rackOf: rackOf, racks: len(index)}
}

// brokers is how many brokers pl places over.
func (pl *placement) brokers() int { return len(pl.order) }

// assign is steps 2 and 3 of assignReplicas. Callers ensure
// 1 <= rf <= pl.brokers().
func (pl *placement) assign(n, rf int) [][]int32 {
	order, rackOf, racks := pl.order, pl.rackOf, pl.racks
	size := len(order)
	// Each partition's used positions and racks live in reused scratch
	// slices (rf is small): placement runs on the leader's single write
	// path, for up to 10,000 partitions a request.
	out := make([][]int32, n)
	slab := make([]int32, 0, n*rf) // every partition's replicas, in one allocation
	var usedPos, usedRacks []int
	for p := range n {
		leader := p % size
		shift := 0
		if size > 1 {
			shift = (p / size) % (size - 1)
		}
		start := len(slab)
		slab = append(slab, order[leader].id)
		usedPos = append(usedPos[:0], leader)
		usedRacks = append(usedRacks[:0], rackOf[leader])
		// First pass keeps racks distinct; the second fills up when there
		// are fewer racks than replicas.
		for pass := 0; pass < 2 && len(slab)-start < rf; pass++ {
			for step := 0; step < size-1 && len(slab)-start < rf; step++ {
				i := (leader + 1 + (shift+step)%(size-1)) % size
				rackUsed := slices.Contains(usedRacks, rackOf[i])
				if slices.Contains(usedPos, i) || (pass == 0 && rackUsed && len(usedRacks) < racks) {
					continue
				}
				usedPos = append(usedPos, i)
				if !rackUsed {
					usedRacks = append(usedRacks, rackOf[i])
				}
				slab = append(slab, order[i].id)
			}
		}
		out[p] = slab[start:len(slab):len(slab)]
	}
	return out
}

// placementCache keeps the placement over the ALIVE brokers of the
// latest broker set placed for. Brokers change rarely (registration,
// fencing), topics are created often.
type placementCache struct {
	mu  sync.Mutex
	set metadata.BrokerSet
	pl  *placement
}

// of returns the placement over img's ALIVE brokers.
func (pc *placementCache) of(img *metadata.Image) *placement {
	set := img.BrokerSet()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.pl == nil || pc.set != set {
		var alive []placedBroker
		for _, b := range img.Brokers() {
			if b.BrokerStatus == metadata.StatusAlive {
				alive = append(alive, placedBroker{id: b.BrokerID, rack: b.RackID})
			}
		}
		pc.set, pc.pl = set, newPlacement(alive)
	}
	return pc.pl
}

func rackKey(b placedBroker) string {
	if b.rack == "" {
		return "\x00" + strconv.Itoa(int(b.id)) // a rack of its own
	}
	return b.rack
}

// rackAlternated orders brokers so consecutive ones sit in different racks.
func rackAlternated(brokers []placedBroker) []placedBroker {
	byRack := map[string][]placedBroker{}
	for _, b := range brokers {
		byRack[rackKey(b)] = append(byRack[rackKey(b)], b)
	}
	racks := make([]string, 0, len(byRack))
	for r, bs := range byRack {
		racks = append(racks, r)
		sort.Slice(bs, func(i, j int) bool { return bs[i].id < bs[j].id })
	}
	sort.Strings(racks)
	out := make([]placedBroker, 0, len(brokers))
	for i := 0; len(out) < len(brokers); i++ {
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
			}
		}
	}
	return out
}
