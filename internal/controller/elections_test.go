package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// electionImage: brokers 1..3 ALIVE, 4 FENCED, 5 CLOSED; topic "t" with
// a partition for every case an election meets.
func electionImage(t *testing.T) *metadata.Image {
	const u = "ut"
	return imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusFenced, 1), broker(5, metadata.StatusClosed, 1),
		bodies(top("t", u),
			prt(u, 0, 3, ids(1, 2, 3), ids(1, 2, 3), 1),  // the preferred replica leads
			prt(u, 1, 3, ids(1, 2, 3), ids(1, 2, 3), 2),  // the preferred replica follows, in sync
			prt(u, 2, 3, ids(1, 2, 3), ids(2, 3), 2),     // the preferred replica is out of sync
			prt(u, 3, 3, ids(4, 2, 3), ids(4, 2, 3), 2),  // the preferred replica is FENCED
			prt(u, 4, 3, ids(4, 2, 1), ids(4), -1),       // offline; 2 and 1 alive out of sync
			prt(u, 5, 3, ids(4, 5), ids(4), -1),          // offline; no replica alive
			prt(u, 6, 3, ids(4, 3, 2), ids(4, 2, 3), -1), // offline; 3 and 2 alive in sync
			prt(u, 7, 3, ids(4, 3, 2), ids(4, 3, 2), 2),  // the preferred replica is FENCED, 2 leads in sync
		),
	)
}

func TestDecideElection(t *testing.T) {
	img := electionImage(t)
	const u = "ut"
	tests := []struct {
		name      string
		typ       string
		topic     string
		partition int32
		wantCode  contract.Code
		want      *metadata.PartitionRecord
	}{
		{"preferred: already leads", contract.ElectionPreferred, "t", 0, contract.CodeElectionNotNeeded, nil},
		{"preferred: moves back", contract.ElectionPreferred, "t", 1, "", prt(u, 1, 4, ids(1, 2, 3), ids(1, 2, 3), 1)},
		{"preferred: out of sync", contract.ElectionPreferred, "t", 2, contract.CodePreferredLeaderNotAvailable, nil},
		{"preferred: fenced", contract.ElectionPreferred, "t", 3, contract.CodePreferredLeaderNotAvailable, nil},
		{"preferred: offline", contract.ElectionPreferred, "t", 4, contract.CodePreferredLeaderNotAvailable, nil},
		{"unclean: already leads", contract.ElectionUnclean, "t", 0, contract.CodeElectionNotNeeded, nil},
		{"unclean: the preferred replica first", contract.ElectionUnclean, "t", 1, "", prt(u, 1, 4, ids(1, 2, 3), ids(1, 2, 3), 1)},
		{"unclean: an in-sync leader stays", contract.ElectionUnclean, "t", 2, contract.CodeElectionNotNeeded, nil},
		{"unclean: an in-sync leader stays when the preferred is fenced", contract.ElectionUnclean, "t", 7, contract.CodeElectionNotNeeded, nil},
		{"unclean: a replica out of sync", contract.ElectionUnclean, "t", 4, "", prt(u, 4, 4, ids(4, 2, 1), ids(2), 2)},
		{"unclean: no replica alive", contract.ElectionUnclean, "t", 5, contract.CodeEligibleLeadersNotAvailable, nil},
		{"unclean: the first alive ISR member", contract.ElectionUnclean, "t", 6, "", prt(u, 6, 4, ids(4, 3, 2), ids(4, 2, 3), 3)},
		{"preferred: unknown topic", contract.ElectionPreferred, "nope", 0, contract.CodeTopicNotFound, nil},
		{"unclean: unknown partition", contract.ElectionUnclean, "t", 99, contract.CodePartitionNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideElection(img, tt.typ, partitionRef{tt.topic, tt.partition})
			if d.result.Topic != tt.topic || d.result.Partition != tt.partition {
				t.Fatalf("result names %s/%d", d.result.Topic, d.result.Partition)
			}
			if tt.wantCode != "" {
				if d.next != nil || d.result.Error == nil || d.result.Error.Code != tt.wantCode || d.result.Error.Message == "" {
					t.Fatalf("decision %+v %+v, want %s", d.next, d.result.Error, tt.wantCode)
				}
				return
			}
			if d.result.Error != nil || d.result.Leader == nil || *d.result.Leader != tt.want.Leader {
				t.Fatalf("result %+v (%+v), want leader %d", d.result, d.result.Error, tt.want.Leader)
			}
			checkResult(t, img, []metadata.Record{{Body: d.next}}, nil, "", bodies(tt.want))
		})
	}
}

// TestImbalancedPartitions: a broker is rebalanced only above the
// threshold, and only where it could lead.
func TestImbalancedPartitions(t *testing.T) {
	const u = "ut"
	b := bodies(top("t", u))
	// Broker 1 is preferred for 10 partitions and leads all but 0 and 1
	// (1 has it out of sync); broker 2 is preferred for 10 and 11 and
	// leads neither (11 has it out of sync).
	for i := int32(0); i < 10; i++ {
		switch i {
		case 0:
			b = append(b, prt(u, i, 1, ids(1, 2), ids(1, 2), 2))
		case 1:
			b = append(b, prt(u, i, 1, ids(1, 2), ids(2), 2))
		default:
			b = append(b, prt(u, i, 1, ids(1, 2), ids(1, 2), 1))
		}
	}
	b = append(b, prt(u, 10, 1, ids(2, 1), ids(2, 1), 1), prt(u, 11, 1, ids(2, 1), ids(1), 1))
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), b)
	name := func(refs []partitionRef) string {
		var out []int32
		for _, r := range refs {
			out = append(out, r.partition)
		}
		return fmt.Sprint(out)
	}
	// Broker 1: 2 of 10 not led (20%); broker 2: 2 of 2 (100%).
	if got := name(imbalancedPartitions(img, 10)); got != "[0 10]" {
		t.Fatalf("at 10%%: %s, want [0 10]", got)
	}
	if got := name(imbalancedPartitions(img, 20)); got != "[10]" {
		t.Fatalf("at 20%% (broker 1 exactly at the threshold): %s, want [10]", got)
	}
	if got := name(imbalancedPartitions(img, 100)); got != "[]" {
		t.Fatalf("at 100%%: %s, want none", got)
	}
}

// electionCluster registers brokers 1..4 on a real one-node cluster and
// creates topic "e" with partitions 0..5, each led by a broker other
// than its first replica.
func electionCluster(t *testing.T) (*Controller, context.Context) {
	t.Helper()
	c := startOneNode(t, SystemClock{}, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	for id := int32(1); id <= 4; id++ {
		if _, _, err := c.RegisterBroker(ctx, contract.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "10.0.0.1", BrokerPort: contract.PortNumber(9092 + int(id))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "e"}); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 6; p++ {
		first := p%4 + 1
		second := first%4 + 1
		if _, _, err := c.CreatePartition(ctx, "e", contract.CreatePartitionRequest{PartitionID: &p, Replicas: []int32{first, second}, Leader: &second}); err != nil {
			t.Fatal(err)
		}
	}
	return c, ctx
}

func leaders(t *testing.T, c *Controller, topic string) []int32 {
	t.Helper()
	img := c.state.Image()
	tr, ok := img.Topic(topic)
	if !ok {
		t.Fatalf("no topic %q", topic)
	}
	var out []int32
	for _, p := range img.Partitions(tr.TopicUUID) {
		out = append(out, p.Leader)
	}
	return out
}

// TestElectLeadersOnARealNode: named and cluster-wide elections, their
// per-partition answers, batching, and a retry with the same key.
func TestElectLeadersOnARealNode(t *testing.T) {
	c, ctx := electionCluster(t)
	if got := fmt.Sprint(leaders(t, c, "e")); got != "[2 3 4 1 2 3]" {
		t.Fatalf("leaders before: %s", got)
	}
	_, err := c.ElectLeaders(ctx, contract.ElectLeadersRequest{Type: "sideways"})
	wantCode(t, "an unknown type", err, contract.CodeInvalidRequest)

	// Named: one moves, one already moved (the same partition twice is
	// one partition), one unknown partition, one unknown topic.
	before := c.state.Image().Offset()
	res, err := c.ElectLeaders(ctx, contract.ElectLeadersRequest{Type: "preferred", Partitions: []contract.TopicPartitions{
		{Topic: "e", Partitions: []int32{0, 0, 42}}, {Topic: "nope"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	codes := func(rs []contract.PartitionResult) string { return fmt.Sprint(rs) }
	if got := codes(res.Results); got != "[nope/-1:TOPIC_NOT_FOUND e/0->1 e/42:PARTITION_NOT_FOUND]" {
		t.Fatalf("named election: %s", got)
	}
	if res.Offset != c.state.Image().Offset() || res.Offset <= before {
		t.Fatalf("offset %d, image at %d (was %d)", res.Offset, c.state.Image().Offset(), before)
	}
	res, err = c.ElectLeaders(ctx, contract.ElectLeadersRequest{Type: contract.ElectionPreferred, Partitions: []contract.TopicPartitions{{Topic: "e", Partitions: []int32{0}}}})
	if err != nil || codes(res.Results) != "[e/0:ELECTION_NOT_NEEDED]" || res.Offset != c.state.Image().Offset() {
		t.Fatalf("again: %s %d, %v", codes(res.Results), res.Offset, err)
	}

	// Fence broker 3: it leads none of its partitions any more; a
	// cluster-wide preferred election moves the rest and reports 3's own
	// as unavailable, one change a batch (as the batch limit would split
	// a larger one).
	fenced := contract.StatusFenced
	if _, _, err := c.PatchBroker(ctx, 3, contract.PatchBrokerRequest{BrokerStatus: &fenced}); err != nil {
		t.Fatal(err)
	}
	refs := allPartitions(c.state.Image())
	before = c.state.Image().Offset()
	results, offset, err := c.partitionWrites(ctx, refs, 1, func(img metadata.Reader, ref partitionRef) partitionDecision {
		return decideElection(img, contract.ElectionPreferred, ref)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(results); got != "[e/0:ELECTION_NOT_NEEDED e/1:ELECTION_NOT_NEEDED e/2:PREFERRED_LEADER_NOT_AVAILABLE e/3->4 e/4->1 e/5:ELECTION_NOT_NEEDED]" {
		t.Fatalf("cluster-wide election: %s", got)
	}
	// Batches are the distinct offsets of the records committed since:
	// the node's own membership entries (no records) may land between
	// them, so the raft index can move further.
	recs, err := c.state.Tail().Since(before, 100)
	if err != nil {
		t.Fatal(err)
	}
	batches := map[int64]bool{}
	for _, r := range recs {
		batches[r.Offset] = true
	}
	if len(batches) != 2 || offset != c.state.Image().Offset() {
		t.Fatalf("2 changes at 1 a batch took %d batches (offset %d, image at %d)", len(batches), offset, c.state.Image().Offset())
	}
	if got := fmt.Sprint(leaders(t, c, "e")); got != "[1 2 4 4 1 2]" {
		t.Fatalf("leaders after: %s", got)
	}

	// Unfenced and back in the ISR of e/2: a cluster-wide answer lists
	// only what changed, and a retry with the same key answers the same
	// without a change.
	alive := contract.StatusAlive
	if _, _, err := c.PatchBroker(ctx, 3, contract.PatchBrokerRequest{BrokerStatus: &alive}); err != nil {
		t.Fatal(err)
	}
	p2, _ := c.Partition(ctx, "e", 2, false)
	if _, _, err := c.AlterISR(ctx, "e", 2, contract.AlterISRRequest{BrokerID: &p2.Leader, PartitionEpoch: &p2.PartitionEpoch, ISR: []int32{4, 3}}); err != nil {
		t.Fatal(err)
	}
	idem := &Idempotency{Key: "elect-all", Fingerprint: metadata.Fingerprint{7}}
	res, err = c.ElectLeaders(WithIdempotency(ctx, idem), contract.ElectLeadersRequest{Type: contract.ElectionPreferred})
	if err != nil || codes(res.Results) != "[e/2->3]" {
		t.Fatalf("cluster-wide after unfencing: %s, %v", codes(res.Results), err)
	}
	again := &Idempotency{Key: "elect-all", Fingerprint: metadata.Fingerprint{7}}
	res2, err := c.ElectLeaders(WithIdempotency(ctx, again), contract.ElectLeadersRequest{Type: contract.ElectionPreferred})
	if err != nil || !again.Replayed() || codes(res2.Results) != codes(res.Results) || res2.Offset != res.Offset {
		t.Fatalf("retry with the key: %s at %d (replayed %v), %v; want %s at %d", codes(res2.Results), res2.Offset, again.Replayed(), err, codes(res.Results), res.Offset)
	}
	if got := fmt.Sprint(leaders(t, c, "e")); got != "[1 2 3 4 1 2]" {
		t.Fatalf("leaders at the end: %s", got)
	}
}

// TestLeaderRebalanceLoop: the automatic rebalance moves leadership back
// to the preferred replicas once a broker is above the threshold, and
// leaves a broker at or under it alone.
func TestLeaderRebalanceLoop(t *testing.T) {
	c, ctx := electionCluster(t)
	// Every broker leads none of its partitions: at 100% no broker is
	// above the threshold, so nothing moves.
	if moved, err := c.RebalanceLeaders(ctx, 100); err != nil || len(moved) != 0 {
		t.Fatalf("at 100%%: moved %v, %v", moved, err)
	}
	if got := fmt.Sprint(leaders(t, c, "e")); got != "[2 3 4 1 2 3]" {
		t.Fatalf("leaders moved at 100%%: %s", got)
	}
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.RunLeaderRebalance(loopCtx, RebalanceConfig{Interval: 10 * time.Millisecond, ImbalancePercent: 10})
	}()
	t.Cleanup(func() { stop(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for fmt.Sprint(leaders(t, c, "e")) != "[1 2 3 4 1 2]" {
		if time.Now().After(deadline) {
			t.Fatalf("leaders after 30s of rebalance checks: %v", leaders(t, c, "e"))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded above
	}
}

// TestReassignOnARealNode: a reassignment starts, is listed, completes
// when the leader reports the new replica in sync (moving leadership off
// a removed leader), and is cancelled.
func TestReassignOnARealNode(t *testing.T) {
	c, ctx := electionCluster(t)
	// e/0: replicas [1 2], leader 2. Move it to [3 1]: 3 is added, 2
	// removed; e/1: [2 3] -> cancel with nothing in progress.
	res, err := c.AlterReassignments(ctx, contract.ReassignRequest{Partitions: []contract.PartitionReassignment{
		{Topic: "e", Partition: 0, Replicas: []int32{3, 1}},
		{Topic: "e", Partition: 1},
		{Topic: "e", Partition: 2, Replicas: []int32{3, 9}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 3 || res.Results[0].Error != nil || res.Results[1].Error == nil || res.Results[1].Error.Code != contract.CodeNoReassignmentInProgress ||
		res.Results[2].Error == nil || res.Results[2].Error.Code != contract.CodeInvalidReplicaAssignment {
		t.Fatalf("results %+v", res.Results)
	}
	list, err := c.ListReassignments(ctx, nil, false)
	if err != nil || len(list.Reassignments) != 1 || list.Offset != res.Offset {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if r := list.Reassignments[0]; fmt.Sprintf("%s %d %v %v %v", r.Topic, r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas) != "e 0 [3 1 2] [3] [2]" {
		t.Fatalf("listed %+v", r)
	}
	if l, _ := c.ListReassignments(ctx, []contract.TopicPartitions{{Topic: "e", Partitions: []int32{1}}, {Topic: "nope"}}, true); len(l.Reassignments) != 0 {
		t.Fatalf("filtered list: %+v", l)
	}
	// The leader (2, being removed) reports 3 in sync: complete, and 3,
	// the first target replica in the ISR, leads.
	p, _ := c.Partition(ctx, "e", 0, false)
	rec, _, err := c.AlterISR(ctx, "e", 0, contract.AlterISRRequest{BrokerID: &p.Leader, PartitionEpoch: &p.PartitionEpoch, ISR: []int32{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.Body.(*metadata.PartitionRecord)
	if fmt.Sprint(got.Replicas, got.ISR, got.AddingReplicas, got.RemovingReplicas, got.Leader) != "[3 1] [1 3] [] [] 3" {
		t.Fatalf("completed: %+v", got)
	}
	if l, _ := c.ListReassignments(ctx, nil, false); len(l.Reassignments) != 0 {
		t.Fatalf("still listed: %+v", l)
	}

	// Start one on e/1 ([2 3] -> [4 3]), fence broker 4 (nothing breaks),
	// change it to [1 3], then cancel.
	step := func(replicas []int32) {
		t.Helper()
		res, err := c.AlterReassignments(ctx, contract.ReassignRequest{Partitions: []contract.PartitionReassignment{{Topic: "e", Partition: 1, Replicas: replicas}}})
		if err != nil || len(res.Results) != 1 || res.Results[0].Error != nil {
			t.Fatalf("reassign e/1 to %v: %+v, %v", replicas, res.Results, err)
		}
	}
	state := func() string {
		p, _ := c.Partition(ctx, "e", 1, false)
		return fmt.Sprint(p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas, p.Leader)
	}
	step([]int32{4, 3})
	if got := state(); got != "[4 3 2] [2 3] [4] [2] 3" {
		t.Fatalf("started: %s", got)
	}
	fenced := contract.StatusFenced
	if _, _, err := c.PatchBroker(ctx, 4, contract.PatchBrokerRequest{BrokerStatus: &fenced}); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != "[4 3 2] [2 3] [4] [2] 3" {
		t.Fatalf("after fencing the adding broker: %s", got)
	}
	step([]int32{1, 3})
	if got := state(); got != "[1 3 2] [2 3] [1] [2] 3" {
		t.Fatalf("changed: %s", got)
	}
	step(nil) // back to the replicas not being added, in replica order
	if got := state(); got != "[3 2] [2 3] [] [] 3" {
		t.Fatalf("cancelled: %s", got)
	}
	before := c.state.Image().Offset()
	step([]int32{3, 2}) // the current replicas: nothing to do
	if c.state.Image().Offset() != before {
		t.Fatal("a target equal to the current replicas was written")
	}
}

func TestBuildReassignment(t *testing.T) {
	const u = "ut"
	moving := prt(u, 1, 5, ids(4, 2, 1), ids(1, 2), 1) // [1 2] -> [4 2]
	moving.AddingReplicas, moving.RemovingReplicas = ids(4), ids(1)
	img := imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusAlive, 0), broker(5, metadata.StatusClosed, 1),
		bodies(top("t", u), prt(u, 0, 2, ids(1, 2, 3), ids(1, 2, 3), 1), moving),
	)
	with := func(p *metadata.PartitionRecord, adding, removing []int32) *metadata.PartitionRecord {
		p.AddingReplicas, p.RemovingReplicas = adding, removing
		return p
	}
	tests := []struct {
		name      string
		partition int32
		target    []int32
		wantCode  contract.Code
		want      *metadata.PartitionRecord // nil with no code: no change
	}{
		{"move", 0, ids(4, 2, 3), "", with(prt(u, 0, 3, ids(4, 2, 3, 1), ids(1, 2, 3), 1), ids(4), ids(1))},
		{"same replicas", 0, ids(1, 2, 3), "", nil},
		{"reorder", 0, ids(2, 1, 3), "", prt(u, 0, 3, ids(2, 1, 3), ids(1, 2, 3), 1)},
		{"shrink completes at once, the leader handing over", 0, ids(3, 2), "", prt(u, 0, 3, ids(3, 2), ids(2, 3), 3)},
		{"grow", 0, ids(1, 2, 3, 4), "", with(prt(u, 0, 3, ids(1, 2, 3, 4), ids(1, 2, 3), 1), ids(4), ids())},
		{"cancel none in progress", 0, nil, contract.CodeNoReassignmentInProgress, nil},
		{"empty", 0, ids(), contract.CodeInvalidReplicaAssignment, nil},
		{"repeated", 0, ids(1, 1), contract.CodeInvalidReplicaAssignment, nil},
		{"negative", 0, ids(-1), contract.CodeInvalidReplicaAssignment, nil},
		{"unregistered", 0, ids(1, 9), contract.CodeInvalidReplicaAssignment, nil},
		{"CLOSED", 0, ids(1, 5), contract.CodeInvalidReplicaAssignment, nil},
		{"cancel", 1, nil, "", prt(u, 1, 6, ids(2, 1), ids(1, 2), 1)},
		{"change from the original replicas", 1, ids(3, 1), "", with(prt(u, 1, 6, ids(3, 1, 2), ids(1, 2), 1), ids(3), ids(2))},
		{"change back to the original replicas", 1, ids(2, 1), "", prt(u, 1, 6, ids(2, 1), ids(1, 2), 1)},
		{"unknown partition", 7, ids(1), contract.CodePartitionNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := buildReassignment(img, partitionRef{"t", tt.partition}, tt.target)
			if tt.want == nil && tt.wantCode == "" {
				if next != nil || err != nil {
					t.Fatalf("%+v, %v; want no change", next, err)
				}
				return
			}
			var recs []metadata.Record
			if next != nil {
				recs = []metadata.Record{{Body: next}}
			}
			var want []metadata.Body
			if tt.want != nil {
				want = bodies(tt.want)
			}
			checkResult(t, img, recs, err, tt.wantCode, want)
		})
	}
	if _, err := buildReassignment(img, partitionRef{"nope", 0}, ids(1)); CodeOf(err) != contract.CodeTopicNotFound {
		t.Fatalf("unknown topic: %v", err)
	}
}

// TestAlterISRCompletesReassignment: the leader being removed reports
// the new replica in sync; leadership moves to the first target replica
// in the ISR in the same record.
func TestAlterISRCompletesReassignment(t *testing.T) {
	const u = "ut"
	p := prt(u, 0, 4, ids(4, 2, 3, 1), ids(1, 2, 3), 1) // [1 2 3] -> [4 2 3]
	p.AddingReplicas, p.RemovingReplicas = ids(4), ids(1)
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusAlive, 0), bodies(top("t", u), p))
	recs, err := buildAlterISR(img, "t", 0, 1, 4, ids(1, 2, 4))
	checkResult(t, img, recs, err, "", bodies(prt(u, 0, 5, ids(4, 2, 3), ids(2, 4), 4)))
	// Without the adding replica in sync nothing completes.
	recs, err = buildAlterISR(img, "t", 0, 1, 4, ids(1, 2))
	if got := recs[0].Body.(*metadata.PartitionRecord); err != nil || !slices.Equal(got.AddingReplicas, ids(4)) || got.Leader != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
}
