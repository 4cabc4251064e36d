package metadata

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Fixture builders: short names for the records tests are made of.

func brk(id int32, epoch int64, status string) *RegisterBrokerRecord {
	return &RegisterBrokerRecord{
		InternalUUID: fmt.Sprintf("uuid-b%d-e%d", id, epoch), BrokerID: id,
		BrokerHost: fmt.Sprintf("10.0.0.%d", id), BrokerPort: "9092", SecurityProtocol: ProtocolPlaintext,
		BrokerStatus: status, RackID: "r1", Epoch: epoch,
	}
}

func chg(id int32, epoch int64, status string) *BrokerRegistrationChangeBrokerRecord {
	return &BrokerRegistrationChangeBrokerRecord{
		BrokerID: id, BrokerHost: fmt.Sprintf("10.0.1.%d", id), BrokerPort: "9093",
		SecurityProtocol: ProtocolSSL, BrokerStatus: status, Epoch: epoch,
	}
}

func top(name, uuid string) *TopicRecord { return &TopicRecord{TopicUUID: uuid, Name: name} }

func rmTop(name, uuid string) *RemoveTopicRecord {
	return &RemoveTopicRecord{TopicUUID: uuid, Name: name}
}

// prt is a partition with ISR = replicas and the first replica leading.
func prt(uuid string, id int32, epoch int64, replicas ...int32) *PartitionRecord {
	p := &PartitionRecord{
		PartitionID: id, TopicUUID: uuid, Replicas: replicas, ISR: append([]int32{}, replicas...),
		RemovingReplicas: []int32{}, AddingReplicas: []int32{}, Leader: NoLeader, PartitionEpoch: epoch,
	}
	if len(replicas) > 0 {
		p.Leader = replicas[0]
	}
	return p
}

// with returns a copy of p changed by f.
func with(p *PartitionRecord, f func(*PartitionRecord)) *PartitionRecord {
	c := p.clone()
	f(&c)
	return &c
}

func pid(broker int32, brokerEpoch, first int64) *ProducerIdsRecord {
	return &ProducerIdsRecord{BrokerID: broker, BrokerEpoch: brokerEpoch, ProducerID: first}
}

var t0 = time.Date(2026, 11, 21, 16, 4, 5, 123e6, time.UTC)

// recsAt wraps bodies as records at offsets from, from+1, ..., with
// timestamps a millisecond apart.
func recsAt(from int64, bodies ...Body) []Record {
	out := make([]Record, len(bodies))
	for i, b := range bodies {
		out[i] = Record{Offset: from + int64(i), Timestamp: t0.Add(time.Duration(from+int64(i)) * time.Millisecond), Body: b}
	}
	return out
}

// build replays bodies into Empty, one offset each, failing the test on
// any error.
func build(t testing.TB, bodies ...Body) *Image {
	t.Helper()
	d := NewDelta(Empty)
	recs := recsAt(1, bodies...)
	for _, r := range recs {
		if err := d.Replay(r); err != nil {
			t.Fatalf("build: replay %s at %d: %v", r.Body.RecordName(), r.Offset, err)
		}
	}
	return d.Apply(int64(len(bodies)))
}

// viewJSON renders an image for diffs: its full view, indented, and its
// migration state when it has one.
func viewJSON(im *Image) string {
	b, err := json.MarshalIndent(im.View(true), "", "  ")
	if err != nil {
		panic(err)
	}
	if m, ok := im.Migration(); ok {
		mb, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			panic(err)
		}
		b = append(append(b, "\nmigration "...), mb...)
	}
	for _, c := range im.configRecords() {
		b = append(append(b, "\nconfig "...), c.appendJSON(nil)...)
	}
	return string(b)
}

// diffImages returns "" when want and got are equal, else a -want +got
// diff of their views.
func diffImages(want, got *Image) string {
	w, g := viewJSON(want), viewJSON(got)
	if w == g && want.Equal(got) && got.Equal(want) {
		return ""
	}
	if w == g {
		return "views equal but Equal reports a difference"
	}
	return lineDiff(w, g)
}

// lineDiff is a small LCS line diff: "-" lines only in want, "+" lines
// only in got, " " lines in both.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			sb.WriteString("  " + a[i] + "\n")
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			sb.WriteString("+ " + b[j] + "\n")
			j++
		default:
			sb.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return sb.String()
}

// diffJSON diffs two values through their indented JSON.
func diffJSON(want, got any) string {
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		panic(err)
	}
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		panic(err)
	}
	if string(w) == string(g) {
		return ""
	}
	return lineDiff(string(w), string(g))
}

// scenario is a log exercising every record type and most transitions,
// one offset per record. Its final state has brokers 1-4 (3 CLOSED then
// re-registered, 4 FENCED), topics "orders" and "payments" (a third,
// "tmp", created and removed), partitions changed several times, and
// producer-id blocks with a gap.
func scenario() []Record {
	const o, p, tmp = "uuid-orders", "uuid-payments", "uuid-tmp"
	return recsAt(1,
		brk(1, 0, StatusAlive),
		brk(2, 0, StatusAlive),
		brk(3, 0, StatusAlive),
		top("orders", o),
		prt(o, 0, 0, 1, 2, 3),
		prt(o, 1, 0, 2, 3, 1),
		prt(o, 2, 0, 3, 1, 2),
		pid(1, 0, 0),
		top("tmp", tmp),
		prt(tmp, 0, 0, 1),
		chg(3, 1, StatusClosed),
		with(prt(o, 0, 1, 1, 2, 3), func(r *PartitionRecord) { r.ISR = []int32{1, 2} }),
		with(prt(o, 2, 1, 3, 1, 2), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{1, 2}, 1 }),
		pid(2, 0, 1000),
		rmTop("tmp", tmp),
		brk(4, 0, StatusAlive),
		top("payments", p),
		prt(p, 0, 0, 4, 1),
		with(prt(p, 0, 1, 4, 1, 2), func(r *PartitionRecord) { r.ISR, r.AddingReplicas = []int32{4, 1}, []int32{2} }),
		pid(4, 0, 5000),
		chg(4, 1, StatusFenced),
		brk(3, 2, StatusAlive),
		chg(1, 1, StatusAlive),
		pid(1, 1, 2000),
		mig(MigrationImporting, 0, 9000),
		with(prt(p, 0, 2, 4, 1, 2), func(r *PartitionRecord) { r.ISR, r.Leader = []int32{1}, 1 }),
		mig(MigrationFollowing, 77, 0),
	)
}

// mig is a migration state record with the given phase, zxid and
// NextProducerID, and progress 2 of 2.
func mig(phase string, zxid, nextProducerID int64) *ZkMigrationStateRecord {
	return &ZkMigrationStateRecord{Phase: phase, ZkConnect: "zk1:2181,zk2:2181/kafka", ZkClusterID: "zk-cluster",
		Zxid: zxid, NextProducerID: nextProducerID, TopicsImported: 2, TopicsTotal: 2}
}

// withMig returns a copy of m changed by f.
func withMig(m *ZkMigrationStateRecord, f func(*ZkMigrationStateRecord)) *ZkMigrationStateRecord {
	c := *m
	f(&c)
	return &c
}

// cfg is a ConfigRecord setting name to value.
func cfg(typ, res, name, value string) *ConfigRecord {
	return &ConfigRecord{ResourceType: typ, ResourceName: res, Name: name, Value: &value}
}

// unset is a ConfigRecord removing name.
func unset(typ, res, name string) *ConfigRecord {
	return &ConfigRecord{ResourceType: typ, ResourceName: res, Name: name}
}
