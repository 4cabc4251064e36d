package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/metadata"
)

// A diff written by AppendDiffJSON is byte for byte what encoding/json
// made of it before, HTML escaping and empty lists included, so clients
// see no change.
func TestDiffJSONMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 29, 18, 0, 0, 123456789, time.UTC)
	for _, recs := range [][]metadata.Record{
		nil,
		{},
		{{Offset: 7, Timestamp: ts, Body: &metadata.TopicRecord{TopicUUID: "u-1", Name: "a<b>&c"}}},
		{
			{Offset: 8, Timestamp: ts, Body: &metadata.TopicRecord{TopicUUID: "u-2", Name: "x"}},
			{Offset: 9, Timestamp: ts.Add(time.Second), Body: &metadata.TopicRecord{TopicUUID: "u-3", Name: "y\u2028z"}},
		},
	} {
		out := FetchResponse{Mode: "diff", HighWatermark: 9, recs: recs}
		got, err := out.AppendDiffJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(struct {
			Mode          string            `json:"mode"`
			HighWatermark int64             `json:"highWatermark"`
			Records       []metadata.Record `json:"records"`
		}{out.Mode, out.HighWatermark, nonNilRecords(recs)}); err != nil {
			t.Fatal(err)
		}
		if string(got)+"\n" != want.String() {
			t.Errorf("diff JSON\n got %s\nwant %s", got, want.String())
		}
	}
}

// A diff Fetch answers from the tail's shared encodings is byte for byte
// what encoding/json makes of its records, on the first fetch (which
// encodes them) and on later ones (which copy), for brokers and for
// clients (no producer ids, no migration state).
func TestFetchDiffJSONFromTail(t *testing.T) {
	ts := time.Date(2026, 11, 29, 18, 0, 0, 123456789, time.UTC)
	sm := NewStateMachine(100)
	recs := []metadata.Record{
		{Offset: 5, Timestamp: ts, Body: &metadata.TopicRecord{TopicUUID: "u-1", Name: "a<b>&c"}},
		{Offset: 5, Timestamp: ts, Body: &metadata.PartitionRecord{TopicUUID: "u-1", Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1}},
		{Offset: 6, Timestamp: ts, Body: &metadata.ProducerIdsRecord{BrokerID: 1, ProducerID: 1000}},
		{Offset: 7, Timestamp: ts.Add(time.Second), Body: &metadata.RemoveTopicRecord{TopicUUID: "u-1", Name: "a<b>&c"}},
		{Offset: 7, Timestamp: ts.Add(time.Second), Body: &metadata.ZkMigrationStateRecord{Phase: metadata.MigrationImporting, ZkConnect: "zk:2181/k", Zxid: 9}},
	}
	sm.Tail().Append(recs)
	c := New(Config{State: sm})
	for _, tt := range []struct {
		name   string
		client bool
		want   []metadata.Record
	}{
		{"broker", false, recs},
		{"client", true, []metadata.Record{recs[0], recs[1], recs[3]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 3 {
				from := int64(4)
				out, err := c.Fetch(context.Background(), FetchRequest{Offset: &from, Stale: true, Client: tt.client})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(out.Records(), tt.want) {
					t.Fatalf("Records = %+v, want %+v", out.Records(), tt.want)
				}
				got, err := out.AppendDiffJSON(nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := json.Marshal(struct {
					Mode          string            `json:"mode"`
					HighWatermark int64             `json:"highWatermark"`
					Records       []metadata.Record `json:"records"`
				}{"diff", 7, tt.want})
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("fetch %d:\n got %s\nwant %s", i, got, want)
				}
			}
		})
	}
}
