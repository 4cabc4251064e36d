package controller

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func TestElectLeader(t *testing.T) {
	alive := func(ok ...int32) func(int32) bool { return func(b int32) bool { return slices.Contains(ok, b) } }
	tests := []struct {
		name          string
		replicas, isr []int32
		eligible      func(int32) bool
		want          int32
	}{
		{"first in replica order", ids(1, 2, 3), ids(3, 2, 1), alive(1, 2, 3), 1},
		{"skips ineligible", ids(1, 2, 3), ids(1, 2, 3), alive(3), 3},
		{"skips replicas outside the ISR", ids(1, 2, 3), ids(3), alive(1, 2, 3), 3},
		{"no eligible ISR member", ids(1, 2), ids(1), alive(2), metadata.NoLeader},
		{"empty ISR", ids(1, 2), ids(), alive(1, 2), metadata.NoLeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := electLeader(tt.replicas, tt.isr, tt.eligible); got != tt.want {
				t.Fatalf("electLeader = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWithoutBroker(t *testing.T) {
	all := func(int32) bool { return true }
	only := func(ok ...int32) func(int32) bool { return func(b int32) bool { return slices.Contains(ok, b) } }
	tests := []struct {
		name     string
		in       *metadata.PartitionRecord
		broker   int32
		eligible func(int32) bool
		want     *metadata.PartitionRecord
	}{
		{"leader leaves: next in replica order leads", prt("u", 0, 3, ids(1, 2, 3), ids(1, 2, 3), 1), 1, all,
			prt("u", 0, 4, ids(1, 2, 3), ids(2, 3), 2)},
		{"leader leaves: ineligible successors skipped", prt("u", 0, 0, ids(1, 2, 3), ids(1, 2, 3), 1), 1, only(3),
			prt("u", 0, 1, ids(1, 2, 3), ids(2, 3), 3)},
		{"leader leaves: no one left", prt("u", 0, 0, ids(1, 2), ids(1), 1), 1, all,
			prt("u", 0, 1, ids(1, 2), ids(), metadata.NoLeader)},
		{"the leaving broker is never re-elected", prt("u", 0, 0, ids(1, 2), ids(1, 2), 1), 1, only(1),
			prt("u", 0, 1, ids(1, 2), ids(2), metadata.NoLeader)},
		{"follower leaves: leader kept", prt("u", 0, 0, ids(1, 2, 3), ids(1, 2, 3), 1), 2, all,
			prt("u", 0, 1, ids(1, 2, 3), ids(1, 3), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.in)
			got := withoutBroker(*tt.in, tt.broker, tt.eligible)
			if d := diffRecords(bodies(tt.want), []metadata.Record{{Body: &got}}); d != "" {
				t.Fatal(d)
			}
			if after, _ := json.Marshal(tt.in); string(after) != string(before) {
				t.Fatalf("input modified: %s -> %s", before, after)
			}
		})
	}
}

func TestCreatePartitionRequestValidate(t *testing.T) {
	p := func(id int32, replicas, isr []int32, leader int32) metadata.PartitionRecord {
		return *prt("", id, 0, replicas, isr, leader)
	}
	tests := []struct {
		name     string
		body     string
		want     metadata.PartitionRecord
		wantCode contract.Code
	}{
		{name: "defaults", body: `{"replicas":[3,1,2]}`, want: p(-1, ids(3, 1, 2), ids(3, 1, 2), 3)},
		{name: "null ISR is the default", body: `{"replicas":[3,1],"ISR":null}`, want: p(-1, ids(3, 1), ids(3, 1), 3)},
		{name: "explicit", body: `{"partitionId":4,"replicas":[1,2,3],"ISR":[2,3],"leader":3}`, want: p(4, ids(1, 2, 3), ids(2, 3), 3)},
		{name: "leader defaults to the first of the ISR", body: `{"replicas":[1,2,3],"ISR":[3,2]}`, want: p(-1, ids(1, 2, 3), ids(3, 2), 3)},
		{name: "negative partitionId", body: `{"partitionId":-1,"replicas":[1]}`, wantCode: contract.CodeInvalidRequest},
		{name: "no replicas", body: `{}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "empty replicas", body: `{"replicas":[]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "negative replica", body: `{"replicas":[1,-1]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "duplicate replica", body: `{"replicas":[1,2,1]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "empty ISR", body: `{"replicas":[1],"ISR":[]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "duplicate ISR member", body: `{"replicas":[1,2],"ISR":[2,2]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "ISR not within replicas", body: `{"replicas":[1,2],"ISR":[1,3]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "leader not in ISR", body: `{"replicas":[1,2],"ISR":[1],"leader":2}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "leader -1", body: `{"replicas":[1,2],"leader":-1}`, wantCode: contract.CodeInvalidReplicaAssignment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req contract.CreatePartitionRequest
			if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := validateCreatePartition(req)
			if code := CodeOf(err); code != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if d := diffRecords(bodies(&tt.want), []metadata.Record{{Body: &got}}); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestNextPartitionID(t *testing.T) {
	tests := []struct {
		name     string
		ids      []int32
		want     int32
		wantCode contract.Code
	}{
		{"none", nil, 0, ""},
		{"after the highest", []int32{0, 1, 5}, 6, ""},
		{"gaps are not filled", []int32{3}, 4, ""},
		{"exhausted", []int32{math.MaxInt32}, 0, contract.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []metadata.PartitionRecord
			for _, id := range tt.ids {
				parts = append(parts, metadata.PartitionRecord{PartitionID: id})
			}
			got, err := nextPartitionID(parts)
			if code := CodeOf(err); code != tt.wantCode || got != tt.want {
				t.Fatalf("nextPartitionID = %d, %q; want %d, %q", got, code, tt.want, tt.wantCode)
			}
		})
	}
}

// partitionImage: brokers 1-3 ALIVE, 4 FENCED, 5 CLOSED; topic "t" with
// partitions 0 (replicas 1,2,3; leader 1) and 2 (replica 1 alone), topic
// "empty" without partitions.
func partitionImage(t *testing.T) *metadata.Image {
	return imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusAlive, 0), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusFenced, 1), broker(5, metadata.StatusClosed, 1),
		bodies(top("t", "ut"), top("empty", "ue"),
			prt("ut", 0, 2, ids(1, 2, 3), ids(1, 2, 3), 1),
			prt("ut", 2, 0, ids(1), ids(1), 1)),
	)
}

func TestBuildCreatePartition(t *testing.T) {
	img := partitionImage(t)
	tests := []struct {
		name     string
		topic    string
		body     string
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "next free id", topic: "t", body: `{"replicas":[2,3]}`, want: bodies(prt("ut", 3, 0, ids(2, 3), ids(2, 3), 2))},
		{name: "first partition is 0", topic: "empty", body: `{"replicas":[1]}`, want: bodies(prt("ue", 0, 0, ids(1), ids(1), 1))},
		{name: "explicit id in a gap", topic: "t", body: `{"partitionId":1,"replicas":[1,4],"ISR":[1],"leader":1}`,
			want: bodies(prt("ut", 1, 0, ids(1, 4), ids(1), 1))},
		{name: "existing id", topic: "t", body: `{"partitionId":0,"replicas":[1]}`, wantCode: contract.CodePartitionAlreadyExists},
		{name: "unknown topic", topic: "nope", body: `{"replicas":[1]}`, wantCode: contract.CodeTopicNotFound},
		{name: "unregistered broker", topic: "t", body: `{"replicas":[1,9]}`, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "CLOSED broker", topic: "t", body: `{"replicas":[5,1]}`, wantCode: contract.CodeInvalidReplicaAssignment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req contract.CreatePartitionRequest
			if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
				t.Fatal(err)
			}
			p, err := validateCreatePartition(req)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			recs, err := buildCreatePartition(img, tt.topic, p)
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
		})
	}
}

func TestBuildAddReplica(t *testing.T) {
	img := partitionImage(t)
	added := prt("ut", 0, 3, ids(1, 2, 3, 4), ids(1, 2, 3), 1)
	added.AddingReplicas = ids(4)
	tests := []struct {
		name      string
		topic     string
		partition int32
		broker    int32
		wantCode  contract.Code
		want      []metadata.Body
	}{
		{name: "joins replicas and addingReplicas, not the ISR", topic: "t", partition: 0, broker: 4, want: bodies(added)},
		{name: "already a replica", topic: "t", partition: 0, broker: 2, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "CLOSED broker", topic: "t", partition: 0, broker: 5, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "unregistered broker", topic: "t", partition: 0, broker: 9, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "unknown partition", topic: "t", partition: 7, broker: 4, wantCode: contract.CodePartitionNotFound},
		{name: "unknown topic", topic: "nope", partition: 0, broker: 4, wantCode: contract.CodeTopicNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := buildAddReplica(img, tt.topic, tt.partition, tt.broker)
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
		})
	}
}

func TestBuildRemoveReplica(t *testing.T) {
	// Partition 0 of "t" is mid-reassignment: 4 is being added, 3 removed.
	reassigning := prt("ut", 0, 1, ids(1, 2, 3, 4), ids(1, 2, 3), 1)
	reassigning.AddingReplicas, reassigning.RemovingReplicas = ids(4), ids(3)
	img := imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusFenced, 1), broker(3, metadata.StatusAlive, 0), broker(4, metadata.StatusAlive, 0),
		bodies(top("t", "ut"), reassigning, prt("ut", 1, 0, ids(1), ids(1), 1)),
	)
	want := func(f func(p *metadata.PartitionRecord)) *metadata.PartitionRecord {
		p := prt("ut", 0, 2, nil, nil, 1)
		f(p)
		return p
	}
	tests := []struct {
		name      string
		topic     string
		partition int32
		broker    int32
		wantCode  contract.Code
		want      []metadata.Body
	}{
		{name: "leader leaves: the first ALIVE ISR member in replica order leads", topic: "t", partition: 0, broker: 1,
			want: bodies(want(func(p *metadata.PartitionRecord) {
				p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas, p.Leader = ids(2, 3, 4), ids(2, 3), ids(4), ids(3), 3
			}))},
		{name: "a removing replica leaves removingReplicas too", topic: "t", partition: 0, broker: 3,
			want: bodies(want(func(p *metadata.PartitionRecord) {
				p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas = ids(1, 2, 4), ids(1, 2), ids(4), ids()
			}))},
		{name: "an adding replica leaves addingReplicas too", topic: "t", partition: 0, broker: 4,
			want: bodies(want(func(p *metadata.PartitionRecord) {
				p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas = ids(1, 2, 3), ids(1, 2, 3), ids(), ids(3)
			}))},
		{name: "not a replica", topic: "t", partition: 0, broker: 9, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "last replica", topic: "t", partition: 1, broker: 1, wantCode: contract.CodeInvalidReplicaAssignment},
		{name: "unknown partition", topic: "t", partition: 7, broker: 1, wantCode: contract.CodePartitionNotFound},
		{name: "unknown topic", topic: "nope", partition: 0, broker: 1, wantCode: contract.CodeTopicNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := buildRemoveReplica(img, tt.topic, tt.partition, tt.broker)
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
		})
	}
}
