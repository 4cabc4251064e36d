package controller

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/yakt/yakt/internal/metadata"
)

// TestAssignReplicasOverManyShapes checks placement properties over every
// combination of broker count, rack count, replication factor and
// partition count in a range: replicas distinct; no two replicas of a
// partition in one rack when there are at least rf racks; leaders spread
// evenly (counts differ by at most one); replicas spread evenly when racks
// are the same size.
func TestAssignReplicasOverManyShapes(t *testing.T) {
	for brokers := 1; brokers <= 9; brokers++ {
		for racks := 0; racks <= 4; racks++ { // 0: no rack information
			for rf := 1; rf <= min(brokers, 4); rf++ {
				for _, parts := range []int{1, 2, 7, 12, 30} {
					name := fmt.Sprintf("brokers=%d/racks=%d/rf=%d/partitions=%d", brokers, racks, rf, parts)
					bs := make([]placedBroker, brokers)
					rackOf := map[int32]string{}
					for i := range bs {
						bs[i] = placedBroker{id: int32(100 + i)}
						if racks > 0 {
							bs[i].rack = fmt.Sprintf("r%d", i%racks)
						}
						rackOf[bs[i].id] = rackKey(bs[i])
					}
					seen := map[string]bool{}
					for _, b := range bs {
						seen[rackKey(b)] = true
					}
					distinctRacks := len(seen)

					got := assignReplicas(bs, parts, rf)
					if len(got) != parts {
						t.Fatalf("%s: %d partitions placed", name, len(got))
					}
					leaders := map[int32]int{}
					replicas := map[int32]int{}
					for p, reps := range got {
						if len(reps) != rf {
							t.Fatalf("%s: partition %d has %d replicas %v", name, p, len(reps), reps)
						}
						ids, rks := map[int32]bool{}, map[string]bool{}
						for _, r := range reps {
							if ids[r] {
								t.Fatalf("%s: partition %d repeats broker %d: %v", name, p, r, reps)
							}
							ids[r] = true
							rks[rackOf[r]] = true
							replicas[r]++
						}
						if distinctRacks >= rf && len(rks) != rf {
							t.Fatalf("%s: partition %d shares a rack with %d racks available: %v", name, p, distinctRacks, reps)
						}
						leaders[reps[0]]++
					}
					if spread(leaders, bs, parts >= brokers) > 1 {
						t.Fatalf("%s: leaders uneven: %v", name, leaders)
					}
					balanced := racks == 0 || brokers%racks == 0
					if balanced && parts%brokers == 0 && spread(replicas, bs, true) > 1 {
						t.Fatalf("%s: replicas uneven: %v", name, replicas)
					}
				}
			}
		}
	}
}

// spread is max-min of counts over the brokers (absent counts as 0 when
// every broker is expected to get some).
func spread(counts map[int32]int, bs []placedBroker, all bool) int {
	lo, hi := int(^uint(0)>>1), 0
	for _, b := range bs {
		c, ok := counts[b.id]
		if !ok && !all {
			continue
		}
		lo, hi = min(lo, c), max(hi, c)
	}
	if hi == 0 {
		return 0
	}
	return hi - lo
}

func TestAssignReplicasIsDeterministicAndRackAlternated(t *testing.T) {
	bs := []placedBroker{{1, "b"}, {2, "a"}, {3, "b"}, {4, "a"}, {5, "c"}}
	order := rackAlternated(bs)
	want := []int32{2, 1, 5, 4, 3}
	for i, b := range order {
		if b.id != want[i] {
			t.Fatalf("rack-alternated order %v, want %v", order, want)
		}
	}
	a, b := assignReplicas(bs, 10, 3), assignReplicas(bs, 10, 3)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("two runs differ: %v vs %v", a, b)
	}
}

// TestAssignReplicasMatchesTheMapBasedOriginal: the placement with scratch
// slices chooses exactly what the first, map-based version chose, over
// random broker sets with and without racks.
func TestAssignReplicasMatchesTheMapBasedOriginal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 500 {
		bs := make([]placedBroker, 1+rng.IntN(40))
		racks := rng.IntN(6) // 0: no racks
		for i := range bs {
			bs[i] = placedBroker{id: int32(rng.IntN(1000))*100 + int32(i)}
			if racks > 0 && rng.IntN(4) > 0 { // some brokers without a rack
				bs[i].rack = fmt.Sprintf("r%d", rng.IntN(racks))
			}
		}
		rf := 1 + rng.IntN(min(len(bs), 5))
		n := 1 + rng.IntN(300)
		got, want := assignReplicas(bs, n, rf), mapBasedAssignReplicas(bs, n, rf)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d (%d brokers, %d racks, rf %d, %d partitions):\ngot  %v\nwant %v", trial, len(bs), racks, rf, n, got, want)
		}
	}
}

// mapBasedAssignReplicas is assignReplicas as first written, with maps
// for the used brokers and racks of each partition.
func mapBasedAssignReplicas(brokers []placedBroker, n, rf int) [][]int32 {
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

// BenchmarkAssignReplicas: one 10,000-partition topic, replication factor
// 3, over 1,000 brokers without racks (each its own rack) and with 10
// racks; "map-based" is the first version, for comparison.
func BenchmarkAssignReplicas(b *testing.B) {
	for _, racks := range []int{0, 10} {
		bs := make([]placedBroker, 1000)
		for i := range bs {
			bs[i] = placedBroker{id: int32(i)}
			if racks > 0 {
				bs[i].rack = fmt.Sprintf("r%d", i%racks)
			}
		}
		for _, impl := range []struct {
			name string
			f    func([]placedBroker, int, int) [][]int32
		}{{"slices", assignReplicas}, {"map-based", mapBasedAssignReplicas}} {
			b.Run(fmt.Sprintf("racks=%d/%s", racks, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					impl.f(bs, 10_000, 3)
				}
			})
		}
	}
}

// The cached placement is reused while the brokers stay the same (a
// topic create changes the image, not its brokers) and follows them when
// one is fenced.
func TestPlacementCacheFollowsTheBrokers(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0))
	var pc placementCache
	first := pc.of(img)
	if got := first.assign(3, 3); len(got) != 3 || len(got[0]) != 3 {
		t.Fatalf("placement over 3 brokers: %v", got)
	}
	withTopic := imageOf(t, broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		bodies(top("a", "uuid-a"), prt("uuid-a", 0, 0, ids(1, 2, 3), ids(1, 2, 3), 1)))
	if pc.of(img) != first {
		t.Fatal("the same image got a new placement")
	}
	if withTopic.BrokerSet() == img.BrokerSet() {
		t.Fatal("two images replayed apart share a broker set") // separate replays build separate broker maps
	}
	next := replayOK(t, withTopic, []metadata.Record{{Body: top("b", "uuid-b")}})
	if next.BrokerSet() != withTopic.BrokerSet() {
		t.Fatal("creating a topic changed the broker set")
	}
	if pc.of(withTopic) != pc.of(next) {
		t.Fatal("an image with the same brokers got a new placement")
	}
	fenced := replayOK(t, next, []metadata.Record{{Body: &metadata.BrokerRegistrationChangeBrokerRecord{
		BrokerID: 2, BrokerHost: "10.0.0.2", BrokerPort: "9092", SecurityProtocol: metadata.ProtocolPlaintext,
		BrokerStatus: metadata.StatusFenced, Epoch: 1,
	}}})
	pl := pc.of(fenced)
	if pl.brokers() != 2 {
		t.Fatalf("after fencing broker 2 the placement covers %d brokers, want 2", pl.brokers())
	}
	for _, replicas := range pl.assign(10, 2) {
		if slices.Contains(replicas, 2) {
			t.Fatalf("fenced broker 2 placed: %v", replicas)
		}
	}
}

// BenchmarkPlaceOnePartition is a one-partition topic's placement at
// 10,000 ALIVE brokers: "cached" is what the leader pays per create,
// "uncached" what it paid when every create sorted the brokers again.
func BenchmarkPlaceOnePartition(b *testing.B) {
	groups := make([][]metadata.Body, 0, 10_000)
	for id := range int32(10_000) {
		groups = append(groups, broker(id, metadata.StatusAlive, 0))
	}
	img := metadata.Empty
	for _, g := range groups {
		recs := make([]metadata.Record, len(g))
		for i, body := range g {
			recs[i] = metadata.Record{Body: body, Offset: img.Offset() + 1}
		}
		d := metadata.NewDelta(img)
		if err := d.ReplayBatch(recs); err != nil {
			b.Fatal(err)
		}
		img = d.Apply(img.Offset() + 1)
	}
	one := int32(1)
	b.Run("cached", func(b *testing.B) {
		var pc placementCache
		for b.Loop() {
			if _, err := placePartitions(pc.of(img), "uuid", &one, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			var pc placementCache
			if _, err := placePartitions(pc.of(img), "uuid", &one, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
