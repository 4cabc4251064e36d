package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

// discardWriter is a ResponseWriter that keeps only the header and the
// byte count, as a client's connection would take the answer.
type discardWriter struct {
	header http.Header
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// diffServer is a Server over a state machine whose tail holds recs
// records of clients creating and deleting one-partition topics, no raft
// node: enough for fetches that read stale.
func diffServer(recs int) (*Server, *controller.StateMachine) {
	sm := controller.NewStateMachine(0)
	ts := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	var all []metadata.Record
	for i, off := 0, int64(1); len(all) < recs; i, off = i+1, off+1 {
		uuid := fmt.Sprintf("%08x-7d1c-4b6e-9a3f-%012x", i*2654435761, i)
		at := ts.Add(time.Duration(off) * time.Millisecond)
		if i%2 == 0 {
			reps := []int32{int32(i % 1000), int32(i+1) % 1000, int32(i+2) % 1000}
			all = append(all,
				metadata.Record{Offset: off, Timestamp: at, Body: &metadata.TopicRecord{TopicUUID: uuid, Name: fmt.Sprintf("bench-topic-%06d", i)}},
				metadata.Record{Offset: off, Timestamp: at, Body: &metadata.PartitionRecord{TopicUUID: uuid, Replicas: reps, ISR: reps, Leader: reps[0]}})
		} else {
			all = append(all, metadata.Record{Offset: off, Timestamp: at, Body: &metadata.RemoveTopicRecord{TopicUUID: uuid, Name: fmt.Sprintf("bench-topic-%06d", i-1)}})
		}
	}
	sm.Tail().Append(all)
	ctrl := controller.New(controller.Config{State: sm})
	return &Server{ctrl: ctrl, log: slog.New(slog.NewTextHandler(io.Discard, nil)), cfg: Config{RequestTimeout: 5 * time.Second}}, sm
}

// A diff answer is the records' JSON with its Content-Length, the same
// each time though its buffer is recycled, and a client's leaves out
// producer ids.
func TestServeFetchDiffAnswer(t *testing.T) {
	s, sm := diffServer(30)
	pids := metadata.Record{Offset: 100, Timestamp: time.Now(), Body: &metadata.ProducerIdsRecord{BrokerID: 1, ProducerID: 5000}}
	sm.Tail().Append([]metadata.Record{pids})
	all, err := sm.Tail().Since(10, 0)
	if err != nil || len(all) < 3 {
		t.Fatalf("tail: %d records, %v", len(all), err)
	}
	// This server's image is empty: the high watermark is the newest
	// record's the client gets.
	recs := all[:len(all)-1]
	want, err := json.Marshal(struct {
		Mode          string            `json:"mode"`
		HighWatermark int64             `json:"highWatermark"`
		Records       []metadata.Record `json:"records"`
	}{"diff", recs[len(recs)-1].Offset, recs})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		w := httptest.NewRecorder()
		s.serveClientFetch(w, httptest.NewRequest(http.MethodGet, "/v1/metadata?stale=true&offset=10", nil))
		if w.Code != http.StatusOK || w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
			t.Fatalf("answer %d: status %d, Content-Length %q for %d bytes", i, w.Code, w.Header().Get("Content-Length"), w.Body.Len())
		}
		if got := w.Body.String(); got != string(want)+"\n" {
			t.Fatalf("answer %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// BenchmarkServeFetchDiff is the serving node's HTTP part of a metadata
// fetch about 200 records behind, after routing: the query, the fetch
// from the tail, the answer's JSON and writing it.
func BenchmarkServeFetchDiff(b *testing.B) {
	s, _ := diffServer(20_000)
	r := httptest.NewRequest(http.MethodGet, "/v1/metadata?stale=true&offset=13200", nil)
	w := &discardWriter{header: http.Header{}}
	for b.Loop() {
		w.n = 0
		s.serveClientFetch(w, r)
	}
	b.ReportMetric(float64(w.n), "bytes/answer")
}

// BenchmarkDecodeBrokerFetch is decoding a heartbeat's POST
// /v1/metadata/fetch body.
func BenchmarkDecodeBrokerFetch(b *testing.B) {
	const body = `{"brokerId":417,"offset":1234567,"maxWaitMs":0}`
	w := &discardWriter{header: http.Header{}}
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/metadata/fetch", strings.NewReader(body))
		var req contract.BrokerFetchRequest
		if err := decodeBody(w, r, &req); err != nil || *req.BrokerID != 417 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHeartbeatBatch is the leader decoding a follower's
// batch of 100 heartbeats.
func BenchmarkDecodeHeartbeatBatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"heartbeats":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"brokerId":%d,"offset":%d}`, i, 1234567+i)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	w := &discardWriter{header: http.Header{}}
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/internal/broker-heartbeats", strings.NewReader(body))
		var req contract.HeartbeatBatchRequest
		if err := decodeHeartbeatBatch(w, r, &req); err != nil || len(req.Heartbeats) != 100 {
			b.Fatal(err)
		}
	}
}
