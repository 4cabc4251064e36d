package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Beyond MaxInFlightRequests a request is refused with 503 OVERLOADED and
// Retry-After; health checks and the nodes' internal requests still pass,
// and a freed slot takes the next request.
func TestInFlightLimitShedsLoad(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(tLogWriter{t}, nil)), inflight: make(chan struct{}, 1)}
	entered, release := make(chan struct{}), make(chan struct{})
	h := s.limitInFlight(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/topics" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	held := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/v1/topics")
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	<-entered
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("/v1/brokers"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("request beyond the limit: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, p := range []string{"/healthz", "/readyz", "/v1/internal/broker-heartbeats"} {
		if resp := get(p); resp.StatusCode != http.StatusOK {
			t.Errorf("%s at the limit: %d, want it served", p, resp.StatusCode)
		}
	}
	close(release)
	if code := <-held; code != http.StatusOK {
		t.Fatalf("held request: %d", code)
	}
	if resp := get("/v1/brokers"); resp.StatusCode != http.StatusOK {
		t.Errorf("request after the slot was freed: %d, want 200", resp.StatusCode)
	}
}
