package metadata

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// replayAll replays recs into base in batches of size (0: one batch),
// applying after each batch at the offset of its last record.
func replayAll(t testing.TB, base *Image, recs []Record, size int) *Image {
	t.Helper()
	if size <= 0 {
		size = max(len(recs), 1)
	}
	im := base
	d := NewDelta(base)
	for start := 0; start < len(recs); start += size {
		batch := recs[start:min(start+size, len(recs))]
		if err := d.ReplayBatch(batch); err != nil {
			t.Fatalf("replay batch [%d, %d): %v", start, start+len(batch), err)
		}
		im = d.Apply(batch[len(batch)-1].Offset)
	}
	return im
}

// checkAllIntermediateImages is Kafka's "all intermediate images" check:
// the same records replayed from base split at every prefix (a fresh Delta
// over each intermediate image), and in batches of every size, give the
// same final image; every intermediate image survives Records() ->
// ImageFromRecords and a snapshot encode/decode.
func checkAllIntermediateImages(t *testing.T, base *Image, recs []Record) *Image {
	t.Helper()
	want := replayAll(t, base, recs, 0)
	if again := replayAll(t, base, recs, 0); !again.Equal(want) {
		t.Fatalf("two replays differ (-first +second):\n%s", diffImages(want, again))
	}
	for i := 0; i <= len(recs); i++ {
		mid := replayAll(t, base, recs[:i], 0)
		if i == 0 {
			mid = base
		}
		checkRoundTrips(t, fmt.Sprintf("prefix %d", i), mid)
		got := replayAll(t, mid, recs[i:], 0)
		if len(recs[i:]) == 0 {
			got = mid
		}
		if diff := diffImages(want, got); diff != "" {
			t.Fatalf("split at %d (-want +got):\n%s", i, diff)
		}
	}
	for size := 1; size <= len(recs); size++ {
		if got := replayAll(t, base, recs, size); !got.Equal(want) {
			t.Fatalf("batches of %d (-want +got):\n%s", size, diffImages(want, got))
		}
	}
	return want
}

// checkRoundTrips: image -> Records() -> ImageFromRecords == image, and
// EncodeSnapshot -> DecodeSnapshot == image with its MaxTimestamp.
func checkRoundTrips(t *testing.T, what string, im *Image) {
	t.Helper()
	back, err := ImageFromRecords(im.Records(), im.Offset())
	if err != nil {
		t.Fatalf("%s: ImageFromRecords(Records()): %v", what, err)
	}
	if diff := diffImages(im, back); diff != "" {
		t.Fatalf("%s: Records round trip (-want +got):\n%s", what, diff)
	}
	dec, err := DecodeSnapshot(EncodeSnapshot(im))
	if err != nil {
		t.Fatalf("%s: DecodeSnapshot: %v", what, err)
	}
	if diff := diffImages(im, dec); diff != "" {
		t.Fatalf("%s: snapshot round trip (-want +got):\n%s", what, diff)
	}
	if !dec.MaxTimestamp().Equal(im.MaxTimestamp()) {
		t.Fatalf("%s: snapshot MaxTimestamp = %v, want %v", what, dec.MaxTimestamp(), im.MaxTimestamp())
	}
}

func TestAllIntermediateImages(t *testing.T) {
	tests := []struct {
		name string
		base func(testing.TB) *Image
		recs []Record
	}{
		{"scenario from empty", func(testing.TB) *Image { return Empty }, scenario()},
		{"changes over a base", base, recsAt(20,
			top("a", "u-a"), prt("u-a", 0, 0, 1, 2), prt("u-a", 1, 0, 2),
			with(prt("u-orders", 0, 2, 1, 2), func(p *PartitionRecord) { p.ISR, p.Leader = []int32{2}, 2 }),
			rmTop("a", "u-a"), top("a", "u-a2"), prt("u-a2", 0, 0, 1),
			chg(1, 3, StatusFenced), chg(2, 2, StatusAlive), pid(2, 2, 0), chg(2, 3, StatusClosed),
			brk(2, 4, StatusAlive), pid(2, 4, 2000))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAllIntermediateImages(t, tt.base(t), tt.recs)
		})
	}
}

func TestScenarioFinalState(t *testing.T) {
	im := replayAll(t, Empty, scenario(), 0)
	got := im.View(true)
	want := SnapshotView{
		Offset: 27,
		Brokers: []RegisterBrokerRecord{
			{InternalUUID: "uuid-b1-e0", BrokerID: 1, BrokerHost: "10.0.1.1", BrokerPort: "9093", SecurityProtocol: "SSL", BrokerStatus: "ALIVE", RackID: "r1", Epoch: 1},
			{InternalUUID: "uuid-b2-e0", BrokerID: 2, BrokerHost: "10.0.0.2", BrokerPort: "9092", SecurityProtocol: "PLAINTEXT", BrokerStatus: "ALIVE", RackID: "r1", Epoch: 0},
			{InternalUUID: "uuid-b3-e2", BrokerID: 3, BrokerHost: "10.0.0.3", BrokerPort: "9092", SecurityProtocol: "PLAINTEXT", BrokerStatus: "ALIVE", RackID: "r1", Epoch: 2},
			{InternalUUID: "uuid-b4-e0", BrokerID: 4, BrokerHost: "10.0.1.4", BrokerPort: "9093", SecurityProtocol: "SSL", BrokerStatus: "FENCED", RackID: "r1", Epoch: 1},
		},
		Topics: []TopicView{{Name: "orders", TopicUUID: "uuid-orders", Partitions: 3}, {Name: "payments", TopicUUID: "uuid-payments", Partitions: 1}},
		Partitions: []PartitionRecord{
			{PartitionID: 0, TopicUUID: "uuid-orders", Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: 1, PartitionEpoch: 1},
			{PartitionID: 1, TopicUUID: "uuid-orders", Replicas: []int32{2, 3, 1}, ISR: []int32{2, 3, 1}, RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: 2, PartitionEpoch: 0},
			{PartitionID: 2, TopicUUID: "uuid-orders", Replicas: []int32{3, 1, 2}, ISR: []int32{1, 2}, RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: 1, PartitionEpoch: 1},
			{PartitionID: 0, TopicUUID: "uuid-payments", Replicas: []int32{4, 1, 2}, ISR: []int32{1}, RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: 1, PartitionEpoch: 2},
		},
		// The migration raised NextProducerID past the blocks.
		ProducerIDs: &ProducerIDsState{NextProducerID: 9000, Blocks: []ProducerIdsRecord{
			{BrokerID: 1, BrokerEpoch: 0, ProducerID: 0}, {BrokerID: 2, BrokerEpoch: 0, ProducerID: 1000},
			{BrokerID: 1, BrokerEpoch: 1, ProducerID: 2000}, {BrokerID: 4, BrokerEpoch: 0, ProducerID: 5000},
		}},
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("View(true) (-want +got):\n%s", diffJSON(want, got))
	}
	if got := im.View(false); got.ProducerIDs != nil {
		t.Errorf("View(false).ProducerIDs = %+v, want nil", got.ProducerIDs)
	}
	if want, got := t0.Add(27*1e6), im.MaxTimestamp(); !got.Equal(want) {
		t.Errorf("MaxTimestamp = %v, want %v", got, want)
	}
	// The latest state, keeping the highest NextProducerID any carried.
	wantMig := *mig(MigrationFollowing, 77, 9000)
	if got, ok := im.Migration(); !ok || got != wantMig {
		t.Errorf("Migration() = %+v, %v; want %+v", got, ok, wantMig)
	}
	if got, ok := Empty.Migration(); ok || got != (ZkMigrationStateRecord{}) {
		t.Errorf("Empty.Migration() = %+v, %v; want none", got, ok)
	}
}

func TestRecordsCanonical(t *testing.T) {
	im := replayAll(t, Empty, scenario(), 0)
	var got []string
	for _, r := range im.Records() {
		if r.Offset != im.Offset() || !r.Timestamp.IsZero() {
			t.Errorf("record %+v: want offset %d and zero timestamp", r, im.Offset())
		}
		switch b := r.Body.(type) {
		case *RegisterBrokerRecord:
			got = append(got, fmt.Sprintf("broker %d", b.BrokerID))
		case *TopicRecord:
			got = append(got, "topic "+b.Name)
		case *PartitionRecord:
			got = append(got, fmt.Sprintf("partition %s/%d", b.TopicUUID, b.PartitionID))
		case *ProducerIdsRecord:
			got = append(got, fmt.Sprintf("pids %d", b.ProducerID))
		case *ZkMigrationStateRecord:
			got = append(got, fmt.Sprintf("migration %s %d", b.Phase, b.NextProducerID))
		default:
			got = append(got, "unexpected "+b.RecordName())
		}
	}
	want := []string{
		"broker 1", "broker 2", "broker 3", "broker 4",
		"topic orders", "partition uuid-orders/0", "partition uuid-orders/1", "partition uuid-orders/2",
		"topic payments", "partition uuid-payments/0",
		"pids 0", "pids 1000", "pids 2000", "pids 5000",
		"migration FOLLOWING 9000", // last: the blocks below its floor predate it
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("Records() order (-want +got):\n%s", diffJSON(want, got))
	}
	// The snapshot of a CLOSED or re-epoched broker's blocks must load
	// even though a live ProducerIdsRecord would be rejected.
	if back, err := ImageFromRecords(im.Records(), im.Offset()); err != nil {
		t.Errorf("ImageFromRecords: %v", err)
	} else if d := diffImages(im, back); d != "" {
		t.Errorf("ImageFromRecords(Records()) differs:\n%s", d)
	}
	if err := NewDelta(Empty).ReplayBatch(im.Records()); ReasonOf(err) != ReasonStaleBrokerEpoch {
		t.Errorf("live replay of snapshot records = %v, want STALE_BROKER_EPOCH for broker 1's old block", err)
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	im := replayAll(t, Empty, scenario(), 0)
	want := viewJSON(im)
	p, _ := im.Partition("uuid-orders", 0)
	p.Replicas[0], p.ISR[0] = 77, 77
	p.ISR = append(p.ISR, 78)
	for _, p := range im.Partitions("uuid-orders") {
		p.Replicas[0] = 66
		p.AddingReplicas = append(p.AddingReplicas, 66)
	}
	v := im.View(true)
	v.Partitions[0].Replicas[0] = 55
	v.Brokers[0].BrokerHost = "changed"
	v.ProducerIDs.Blocks[0].ProducerID = 55
	im.Brokers()[0].BrokerHost = "changed"
	im.Topics()[0].Name = "changed"
	im.ProducerIDs().Blocks[0].BrokerID = 55
	for _, r := range im.Records() {
		if p, ok := r.Body.(*PartitionRecord); ok {
			p.ISR[0] = 44
		}
	}
	if got := viewJSON(im); got != want {
		t.Errorf("changing returned values changed the image:\n%s", lineDiff(want, got))
	}
	// Appending to one returned partition's slice must not overwrite the
	// next slice of the same allocation.
	ps := im.Partitions("uuid-orders")
	_ = append(ps[0].Replicas, 99)
	if ps[0].ISR[0] != 1 {
		t.Errorf("append to Replicas overwrote ISR: %v", ps[0].ISR)
	}
}

func TestEmptyImage(t *testing.T) {
	v := Empty.View(true)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"offset":0,"brokers":[],"topics":[],"partitions":[],"producerIds":{"nextProducerId":0,"blocks":[]}}`
	if string(b) != want {
		t.Errorf("Empty.View(true) JSON:\n got %s\nwant %s", b, want)
	}
	if Empty.Partitions("x") != nil || Empty.PartitionCount("x") != 0 {
		t.Errorf("unknown topic has partitions")
	}
	checkRoundTrips(t, "empty", Empty)
}

func TestImageConcurrentReaders(t *testing.T) {
	want := viewJSON(replayAll(t, Empty, scenario(), 0))
	im := replayAll(t, Empty, scenario(), 0) // listings not yet cached: readers race to build them
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := viewJSON(im); got != want {
				t.Errorf("concurrent View differs")
			}
			_ = im.Records()
			_ = im.Partitions("uuid-orders")
		})
	}
	wg.Wait()
}

func TestImageEqual(t *testing.T) {
	a := replayAll(t, Empty, scenario(), 0)
	tests := []struct {
		name string
		b    *Image
		want bool
	}{
		{"same", a, true},
		{"replayed again", replayAll(t, Empty, scenario(), 0), true},
		{"other offset", NewDelta(a).Apply(99), false},
		{"one partition differs", func() *Image {
			d := NewDelta(a)
			if err := d.Replay(Record{Body: with(prt("uuid-orders", 1, 1, 2, 3, 1), func(p *PartitionRecord) { p.ISR = []int32{2} })}); err != nil {
				t.Fatal(err)
			}
			return d.Apply(a.Offset())
		}(), false},
		{"one block more", func() *Image {
			d := NewDelta(a)
			if err := d.Replay(Record{Body: pid(2, 0, 9000)}); err != nil {
				t.Fatal(err)
			}
			return d.Apply(a.Offset())
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Equal(tt.b); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListingsSorted(t *testing.T) {
	// Insert everything in an order unlike the sorted one.
	var bodies []Body
	for id := int32(40); id > 0; id-- {
		bodies = append(bodies, brk(id*7%41, 0, StatusAlive))
	}
	names := []string{}
	for i := range 60 {
		names = append(names, fmt.Sprintf("t-%02d", i*37%60))
	}
	for _, n := range names {
		bodies = append(bodies, top(n, "u-"+n))
		for p := int32(25); p >= 0; p -= 5 {
			bodies = append(bodies, prt("u-"+n, p, 0, 1))
		}
	}
	for i := int64(30); i >= 0; i-- {
		bodies = append(bodies, pid(7, 0, i*17%31*ProducerIDBlockSize))
	}
	im := build(t, bodies...)
	v := im.View(true)
	ordered := func(n int, less func(i int) bool) bool {
		for i := 1; i < n; i++ {
			if !less(i) {
				return false
			}
		}
		return true
	}
	if !ordered(len(v.Brokers), func(i int) bool { return v.Brokers[i-1].BrokerID < v.Brokers[i].BrokerID }) {
		t.Errorf("brokers not sorted by id")
	}
	if ts := im.Topics(); len(ts) != 60 || !ordered(len(ts), func(i int) bool { return ts[i-1].Name < ts[i].Name }) {
		t.Errorf("Topics() not sorted by name")
	}
	if !ordered(len(v.Topics), func(i int) bool { return v.Topics[i-1].Name < v.Topics[i].Name }) {
		t.Errorf("View topics not sorted by name")
	}
	ps := v.Partitions
	if len(ps) != 360 || !ordered(len(ps), func(i int) bool {
		a, b := ps[i-1], ps[i]
		return a.TopicUUID < b.TopicUUID || a.TopicUUID == b.TopicUUID && a.PartitionID < b.PartitionID
	}) {
		t.Errorf("View partitions not sorted by topic, then id")
	}
	bs := v.ProducerIDs.Blocks
	if len(bs) != 31 || !ordered(len(bs), func(i int) bool { return bs[i-1].ProducerID < bs[i].ProducerID }) {
		t.Errorf("producer-id blocks not sorted")
	}
	checkRoundTrips(t, "shuffled", im)
	sorted, err := ImageFromRecords(im.Records(), im.Offset()) // inserted in sorted order
	if err != nil {
		t.Fatal(err)
	}
	sorted.maxTime = im.maxTime
	if string(EncodeSnapshot(im)) != string(EncodeSnapshot(sorted)) {
		t.Errorf("snapshot bytes depend on insertion order")
	}
}

// TestEachPartitionMatchesPartitions: EachPartition walks what Partitions
// copies, in the same order, and nothing for an unknown topic.
func TestEachPartitionMatchesPartitions(t *testing.T) {
	im := replayAll(t, Empty, scenario(), 0)
	for _, tp := range append(im.Topics(), TopicRecord{TopicUUID: "uuid-unknown"}) {
		var got []PartitionRecord
		im.EachPartition(tp.TopicUUID, func(p *PartitionRecord) {
			c := *p
			c.Replicas, c.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR)
			c.RemovingReplicas, c.AddingReplicas = slices.Clone(p.RemovingReplicas), slices.Clone(p.AddingReplicas)
			got = append(got, c)
		})
		if want := im.Partitions(tp.TopicUUID); !reflect.DeepEqual(want, got) && (len(want) > 0 || len(got) > 0) {
			t.Errorf("topic %q: EachPartition gave %+v, Partitions %+v", tp.TopicUUID, got, want)
		}
	}
	if n := len(im.Partitions("uuid-orders")); n != 3 {
		t.Fatalf("the scenario has %d partitions of orders, want 3", n)
	}
}

// TestTopicsAfter pages the scenario's topics ("orders", "payments") from
// every kind of cursor.
func TestTopicsAfter(t *testing.T) {
	im := replayAll(t, Empty, scenario(), 0)
	names := func(ts []TopicRecord) string {
		var out []string
		for _, tr := range ts {
			out = append(out, tr.Name)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		after    string
		limit    int
		want     string
		wantMore bool
	}{
		{"", 0, "orders,payments", false},
		{"", 1, "orders", true},
		{"orders", 1, "payments", false},
		{"a", 5, "orders,payments", false}, // before the first
		{"p", 5, "payments", false},        // between two names
		{"payments", 5, "", false},         // the last
		{"zzz", 0, "", false},              // after the last
		{"orders", 0, "payments", false},   // no limit
	}
	for _, tt := range tests {
		got, more := im.TopicsAfter(tt.after, tt.limit)
		if names(got) != tt.want || more != tt.wantMore {
			t.Errorf("TopicsAfter(%q, %d) = %q, more %v; want %q, more %v", tt.after, tt.limit, names(got), more, tt.want, tt.wantMore)
		}
	}
}
