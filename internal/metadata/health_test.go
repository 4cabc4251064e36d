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

// TestHealthCounterFollowsChanges counts a history of images with one
// counter and checks each count against a fresh walk.
func TestHealthCounterFollowsChanges(t *testing.T) {
	var hc HealthCounter
	im := build(t, brk(1, 0, StatusAlive), brk(2, 0, StatusAlive), top("a", "ua"), prt("ua", 0, 0, 1, 2), top("b", "ub"), prt("ub", 0, 0, 2, 1))
	steps := [][]Body{
		{with(prt("ua", 0, 1, 1, 2), func(p *PartitionRecord) { p.ISR = []int32{1} })}, // a topic changes
		{chg(2, 1, StatusFenced)},                                // brokers change: b's leader is gone
		{top("c", "uc"), prt("uc", 0, 0, 1), prt("uc", 1, 0, 1)}, // a topic appears
		{rmTop("a", "ua")},                                       // a topic goes
		{chg(2, 2, StatusAlive)},                                 // the broker returns
		{},                                                       // nothing changes
	}
	offset := im.Offset()
	for i, bodies := range steps {
		if got, want := hc.Count(im), im.Health(); got != want {
			t.Fatalf("step %d: counter %+v, fresh walk %+v", i, got, want)
		}
		d := NewDelta(im)
		if len(bodies) > 0 {
			if err := d.ReplayBatch(recsAt(offset+1, bodies...)); err != nil {
				t.Fatal(err)
			}
			offset += int64(len(bodies))
		}
		im = d.Apply(offset)
	}
	if got, want := hc.Count(im), im.Health(); got != want {
		t.Fatalf("last: counter %+v, fresh walk %+v", got, want)
	}
	if len(hc.topics) != im.topics.byUUID.Len() {
		t.Fatalf("counter keeps %d topics, the image has %d", len(hc.topics), im.topics.byUUID.Len())
	}
}

// BenchmarkScaleHealthCounter: counting the scale image again after one
// partition of one topic changed, as a metrics refresh does under writes.
func BenchmarkScaleHealthCounter(b *testing.B) {
	im := scaleImage(b, *scalePartitions)
	var hc HealthCounter
	hc.Count(im)
	uuid := im.Topics()[0].TopicUUID
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		p, _ := im.Partition(uuid, 0)
		d := NewDelta(im)
		if err := d.ReplayBatch(recsAt(im.Offset()+1, prt(uuid, 0, p.PartitionEpoch+1, 1, 2, 3))); err != nil {
			b.Fatal(err)
		}
		im = d.Apply(im.Offset() + 1)
		b.StartTimer()
		if h := hc.Count(im); h.Partitions < *scalePartitions {
			b.Fatal(h)
		}
	}
}
