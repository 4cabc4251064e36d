package metadata

import "testing"

func TestHealthCounts(t *testing.T) {
	im := build(t,
		brk(1, 0, StatusAlive), brk(2, 0, StatusAlive), brk(3, 0, StatusFenced), brk(4, 0, StatusClosed),
		top("a", "ua"),
		prt("ua", 0, 0, 1, 2, 3), // healthy
		with(prt("ua", 1, 0, 1, 2), func(p *PartitionRecord) { p.ISR = []int32{1} }),                     // under-replicated
		with(prt("ua", 2, 0, 2, 1), func(p *PartitionRecord) { p.Leader = 1 }),                           // imbalanced
		with(prt("ua", 3, 0, 3, 1), func(p *PartitionRecord) { p.ISR = []int32{3} }),                     // leader fenced: offline, under-replicated
		with(prt("ua", 4, 0, 1, 2), func(p *PartitionRecord) { p.Leader = NoLeader; p.ISR = []int32{} }), // leaderless: offline, imbalanced, under-replicated
		top("b", "ub"),
	)
	want := Health{ActiveBrokers: 2, FencedBrokers: 1, Topics: 2, Partitions: 5,
		OfflinePartitions: 2, UnderReplicatedPartitions: 3, PreferredReplicaImbalance: 2}
	if got := im.Health(); got != want {
		t.Fatalf("Health() = %+v, want %+v", got, want)
	}
	if got := Empty.Health(); got != (Health{}) {
		t.Fatalf("Empty.Health() = %+v", got)
	}
}

// BenchmarkHealth walks the 100k-partition image; ns/op / 100k is the
// cost per partition a metrics refresh pays.
func BenchmarkHealth(b *testing.B) {
	im := bigImage()
	b.ReportAllocs()
	for b.Loop() {
		if h := im.Health(); h.Partitions != 100_000 {
			b.Fatal(h)
		}
	}
}

// BenchmarkScaleHealth walks the scale image (-scale-partitions, as
// built from a snapshot-sized log): what one refresh of the controller
// gauges costs at that size.
func BenchmarkScaleHealth(b *testing.B) {
	im := scaleImage(b, *scalePartitions)
	b.ResetTimer()
	for b.Loop() {
		if h := im.Health(); h.Partitions < *scalePartitions {
			b.Fatal(h)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(*scalePartitions), "ns/partition")
}
