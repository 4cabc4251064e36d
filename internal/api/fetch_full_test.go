package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

// fullFetchServer is a Server with a controller over a fixed image, no
// raft node: enough for serveFull, which reads nothing else.
func fullFetchServer(t *testing.T, maxFull int) (*Server, controller.FetchResponse) {
	t.Helper()
	var recs []metadata.Record
	for b := range int32(3) {
		recs = append(recs, metadata.Record{Offset: 1, Body: &metadata.RegisterBrokerRecord{BrokerID: b, BrokerHost: "h", BrokerPort: "9092",
			SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive, RackID: "<r>"}})
	}
	for tp := range 3 {
		uuid := fmt.Sprintf("uuid-%d", tp)
		recs = append(recs, metadata.Record{Offset: 1, Body: &metadata.TopicRecord{TopicUUID: uuid, Name: fmt.Sprintf("t%d", tp)}})
		for p := range int32(50) {
			recs = append(recs, metadata.Record{Offset: 1, Body: &metadata.PartitionRecord{PartitionID: p, TopicUUID: uuid,
				Replicas: []int32{p % 3}, ISR: []int32{p % 3}, Leader: p % 3}})
		}
	}
	d := metadata.NewDelta(metadata.Empty)
	if err := d.ReplayBatch(recs); err != nil {
		t.Fatal(err)
	}
	sm := controller.NewStateMachine(0)
	prepared, err := sm.PrepareRestore(1, bytes.NewReader(metadata.EncodeSnapshot(d.Apply(1))))
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.SwapIn(1, prepared); err != nil {
		t.Fatal(err)
	}
	ctrl := controller.New(controller.Config{State: sm})
	out, err := ctrl.Fetch(context.Background(), controller.FetchRequest{Client: true, Stale: true})
	if err != nil || !out.Full() {
		t.Fatalf("fetch: %v %+v", err, out)
	}
	s := &Server{ctrl: ctrl, log: slog.New(slog.NewTextHandler(tLogWriter{t}, nil)), fullSlots: make(chan struct{}, maxFull)}
	return s, out
}

func TestFullAnswerGzipOnlyWhenAccepted(t *testing.T) {
	s, out := fullFetchServer(t, 4)
	want, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{
		{"", false}, {"gzip", true}, {"br, gzip;q=0.5", true}, {"x-gzip", true},
		{"gzip;q=0", false}, {"identity", false}, {"deflate, br", false}, {"GZIP ; Q=1", true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/metadata", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Encoding", tc.accept)
		}
		w := httptest.NewRecorder()
		s.serveFull(w, r, out)
		if w.Code != http.StatusOK || w.Header().Get("Vary") != "Accept-Encoding" || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("Accept-Encoding %q: %d %v", tc.accept, w.Code, w.Header())
		}
		body := w.Body.Bytes()
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tc.gzip {
			t.Fatalf("Accept-Encoding %q: gzip %v, want %v", tc.accept, got, tc.gzip)
		}
		if tc.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("Accept-Encoding %q: gunzip: %v", tc.accept, err)
			}
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("Accept-Encoding %q: body\n%s\nwant\n%s", tc.accept, body, want)
		}
	}
}

// stalledWriter is a client that stopped reading: Write blocks until
// release is closed.
type stalledWriter struct {
	header  http.Header
	started chan struct{} // closed at the first Write
	once    sync.Once
	release chan struct{}
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.release
	return len(b), nil
}

// Beyond MaxFullFetches answers at once, the next is refused with 503
// TOO_MANY_FULL_FETCHES and Retry-After, and served again once one ends.
func TestFullAnswersBeyondTheLimitAreRefused(t *testing.T) {
	const limit = 2
	s, out := fullFetchServer(t, limit)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range limit {
		w := &stalledWriter{header: http.Header{}, started: make(chan struct{}), release: release}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveFull(w, httptest.NewRequest(http.MethodGet, "/v1/metadata", nil), out)
		}()
		<-w.started
	}
	w := httptest.NewRecorder()
	s.serveFull(w, httptest.NewRequest(http.MethodGet, "/v1/metadata", nil), out)
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != string(contract.CodeTooManyFullFetches) || w.Header().Get("Retry-After") == "" {
		t.Fatalf("fetch beyond the limit: %d %v %s, want 503 TOO_MANY_FULL_FETCHES with Retry-After", w.Code, w.Header(), w.Body)
	}
	close(release)
	wg.Wait()
	w = httptest.NewRecorder()
	s.serveFull(w, httptest.NewRequest(http.MethodGet, "/v1/metadata", nil), out)
	if w.Code != http.StatusOK {
		t.Fatalf("fetch after the others ended: %d %s", w.Code, w.Body)
	}
}
