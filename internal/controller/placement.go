package controller

import (
	"sort"
	"strconv"
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
	order := rackAlternated(brokers)
	racks := map[string]bool{}
	for _, b := range order {
		racks[rackKey(b)] = true
	}
	size := len(order)
	out := make([][]int32, n)
	for p := range n {
		leader := p % size
		shift := 0
		if size > 1 {
			shift = (p / size) % (size - 1)
		}
		replicas := []int32{order[leader].id}
		usedRack := map[string]bool{rackKey(order[leader]): true}
		usedBroker := map[int]bool{leader: true}
		// First pass keeps racks distinct; the second fills up when there
		// are fewer racks than replicas.
		for pass := 0; pass < 2 && len(replicas) < rf; pass++ {
			for step := 0; step < size-1 && len(replicas) < rf; step++ {
				i := (leader + 1 + (shift+step)%(size-1)) % size
				if usedBroker[i] || (pass == 0 && usedRack[rackKey(order[i])] && len(usedRack) < len(racks)) {
					continue
				}
				usedBroker[i] = true
				usedRack[rackKey(order[i])] = true
				replicas = append(replicas, order[i].id)
			}
		}
		out[p] = replicas
	}
	return out
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
