package controller

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/yakt/yakt/internal/metadata"
)

// departureImage: brokers 1..4 ALIVE, broker 1 in the ISR of every kind of
// partition a departure must handle.
func departureImage(t *testing.T) *metadata.Image {
	const u, v = "uuid-a", "uuid-b"
	return imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusAlive, 0),
		bodies(top("a", u), top("b", v),
			prt(u, 0, 3, ids(1, 2, 3), ids(1, 2, 3), 1), // 1 leads: 2 takes over
			prt(u, 1, 0, ids(2, 1), ids(2, 1), 2),       // 1 follows
			prt(u, 2, 7, ids(3, 1, 2), ids(3, 2, 1), 3), // 1 follows, last in the ISR
			prt(u, 3, 0, ids(1), ids(1), 1),             // 1 leads alone: offline, ISR kept
			prt(u, 4, 0, ids(2, 3), ids(2, 3), 2),       // 1 is not a replica: untouched
			prt(u, 5, 0, ids(2, 1), ids(2), 2),          // 1 is a replica out of sync: untouched
			prt(v, 0, 1, ids(4, 1), ids(1), 1),          // 1 leads, 4 is out of sync: offline
		),
	)
}

// departureWant is the partition part of broker 1's departure from
// departureImage: leaders first, then followers, each in image order.
func departureWant() []metadata.Body {
	const u, v = "uuid-a", "uuid-b"
	return bodies(
		prt(u, 0, 4, ids(1, 2, 3), ids(2, 3), 2),
		prt(u, 3, 1, ids(1), ids(1), metadata.NoLeader),
		prt(v, 0, 2, ids(4, 1), ids(1), metadata.NoLeader),
		prt(u, 1, 1, ids(2, 1), ids(2), 2),
		prt(u, 2, 8, ids(3, 1, 2), ids(3, 2), 3),
	)
}

// checkDeparted fails unless broker id leads nothing and is in no ISR but
// as its last member.
func checkDeparted(t *testing.T, img *metadata.Image, id int32) {
	t.Helper()
	for _, tp := range img.Topics() {
		for _, p := range img.Partitions(tp.TopicUUID) {
			if p.Leader == id {
				t.Errorf("%s/%d still led by %d", tp.Name, p.PartitionID, id)
			}
			if slices.Contains(p.ISR, id) && len(p.ISR) > 1 {
				t.Errorf("%s/%d keeps %d in its ISR %v", tp.Name, p.PartitionID, id, p.ISR)
			}
		}
	}
}

// TestBrokerDepartureLeavesEveryISR: fencing (session timeout or PATCH),
// unregistering and controlled shutdown give the same partition changes,
// in one batch with the registration change.
func TestBrokerDepartureLeavesEveryISR(t *testing.T) {
	img := departureImage(t)
	change := func(status string) *metadata.BrokerRegistrationChangeBrokerRecord {
		return &metadata.BrokerRegistrationChangeBrokerRecord{BrokerID: 1, BrokerHost: "10.0.0.1", BrokerPort: "9092",
			SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: status, Epoch: 1}
	}
	tests := []struct {
		name   string
		status string
		build  func() ([]metadata.Record, bool, error)
	}{
		{"session timeout or controlled shutdown", metadata.StatusFenced, func() ([]metadata.Record, bool, error) {
			return buildBrokerDeparture(img, 1, metadata.StatusFenced, MaxPartitionsPerRequest)
		}},
		{"PATCH brokerStatus FENCED", metadata.StatusFenced, func() ([]metadata.Record, bool, error) {
			return buildPatchBroker(img, 1, brokerPatch{status: metadata.StatusFenced}, MaxPartitionsPerRequest)
		}},
		{"unregister", metadata.StatusClosed, func() ([]metadata.Record, bool, error) {
			return buildUnregisterBroker(img, 1, MaxPartitionsPerRequest)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, more, err := tt.build()
			if more {
				t.Fatal("more batches under the cap")
			}
			after := checkResult(t, img, recs, err, "", append(bodies(change(tt.status)), departureWant()...))
			checkDeparted(t, after, 1)
			if b, _ := after.Broker(1); b.BrokerStatus != tt.status {
				t.Fatalf("broker 1 is %s", b.BrokerStatus)
			}
			if got := leadersToMove(img, 1); got != 1 {
				t.Fatalf("leadersToMove = %d, want 1 (only a/0 has another leader)", got)
			}
		})
	}
}

// TestBrokerDepartureBeyondTheCap: a broker in more ISRs than one batch
// may change leaves in several batches, the first holding the
// registration change and the partitions it leads; the end state equals
// that of a single batch.
func TestBrokerDepartureBeyondTheCap(t *testing.T) {
	img := departureImage(t)
	want := departureWant()
	recs, more, err := buildBrokerDeparture(img, 1, metadata.StatusFenced, 2)
	if err != nil || !more {
		t.Fatalf("first batch: more=%v err=%v, want more", more, err)
	}
	if d := diffRecords(want[:2], recs[1:]); d != "" {
		t.Fatalf("first batch:\n%s", d)
	}
	cur := replayOK(t, img, recs)
	var got []metadata.Record
	got = append(got, recs[1:]...)
	for batch := 2; ; batch++ {
		recs, _, err := buildSettle(cur, 1, 2)
		if errors.Is(err, errSettled) {
			break
		}
		if err != nil || len(recs) == 0 || len(recs) > 2 {
			t.Fatalf("batch %d: %d records, %v", batch, len(recs), err)
		}
		cur = replayOK(t, cur, recs)
		got = append(got, recs...)
		if batch > 10 {
			t.Fatal("departure does not end")
		}
	}
	if d := diffRecords(want, got); d != "" {
		t.Fatalf("all batches:\n%s", d)
	}
	checkDeparted(t, cur, 1)

	one, _, err := buildBrokerDeparture(img, 1, metadata.StatusFenced, MaxPartitionsPerRequest)
	if err != nil {
		t.Fatal(err)
	}
	whole := replayOK(t, img, one)
	for _, tp := range whole.Topics() {
		for _, p := range whole.Partitions(tp.TopicUUID) {
			q, _ := cur.Partition(tp.TopicUUID, p.PartitionID)
			if fmt.Sprint(p) != fmt.Sprint(q) {
				t.Errorf("%s/%d: one batch %+v, several %+v", tp.Name, p.PartitionID, p, q)
			}
		}
	}

	// Once the broker is ALIVE again, the follow-up batches are those of
	// a return: it leads the offline partitions whose ISR holds it.
	back := replayOK(t, cur, []metadata.Record{{Body: &metadata.BrokerRegistrationChangeBrokerRecord{BrokerID: 1,
		BrokerHost: "10.0.0.1", BrokerPort: "9092", SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive, Epoch: 2}}})
	const u, v = "uuid-a", "uuid-b"
	recs, more, err = buildSettle(back, 1, 10)
	checkResult(t, back, recs, err, "", bodies(prt(u, 3, 2, ids(1), ids(1), 1), prt(v, 0, 3, ids(4, 1), ids(1), 1)))
	if more {
		t.Fatal("more after every offline partition was regained")
	}
}

// TestBrokerReturnRegainsOfflinePartitions: a fenced broker set ALIVE by
// PATCH, and a closed one registering again, lead the offline partitions
// whose last ISR member they are.
func TestBrokerReturnRegainsOfflinePartitions(t *testing.T) {
	img := departureImage(t)
	const u, v = "uuid-a", "uuid-b"
	regained := bodies(prt(u, 3, 2, ids(1), ids(1), 1), prt(v, 0, 3, ids(4, 1), ids(1), 1))

	fence, _, err := buildBrokerDeparture(img, 1, metadata.StatusFenced, MaxPartitionsPerRequest)
	if err != nil {
		t.Fatal(err)
	}
	fenced := replayOK(t, img, fence)
	recs, _, err := buildPatchBroker(fenced, 1, brokerPatch{status: metadata.StatusAlive}, MaxPartitionsPerRequest)
	alive := &metadata.BrokerRegistrationChangeBrokerRecord{BrokerID: 1, BrokerHost: "10.0.0.1", BrokerPort: "9092",
		SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive, Epoch: 2}
	checkResult(t, fenced, recs, err, "", append(bodies(alive), regained...))

	closeRecs, _, err := buildUnregisterBroker(img, 1, MaxPartitionsPerRequest)
	if err != nil {
		t.Fatal(err)
	}
	closed := replayOK(t, img, closeRecs)
	reg := registration{id: 1, host: "h", port: "9092", proto: metadata.ProtocolPlaintext}
	recs, _, err = buildRegisterBroker(closed, reg, "fresh", MaxPartitionsPerRequest)
	again := &metadata.RegisterBrokerRecord{InternalUUID: "fresh", BrokerID: 1, BrokerHost: "h", BrokerPort: "9092",
		SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive, Epoch: 2}
	checkResult(t, closed, recs, err, "", append(bodies(again), regained...))
}
