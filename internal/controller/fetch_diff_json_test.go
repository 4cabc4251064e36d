package controller

import (
	"bytes"
	"encoding/json"
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
		out := FetchResponse{Mode: "diff", HighWatermark: 9, Records: recs}
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
