package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// counts returns yakt_http_requests_total by "method route code".
func counts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "yakt_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["method"]+" "+l["route"]+" "+l["code"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestInstrumentCountsByRoutePattern(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := Instrument(reg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/topics/orders", "/v1/topics/payments":
			w.WriteHeader(http.StatusNotFound)
		case "/v1/log":
			w.(http.Flusher).Flush() // a streaming answer: 200 once flushed
		case "/v1/quorum":
			panic(http.ErrAbortHandler)
		}
		// anything else: nothing written, an implicit 200
	}))
	serve := func(method, path string) {
		defer func() { _ = recover() }() // the abort is re-raised for net/http
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	serve("GET", "/v1/topics/orders")
	serve("GET", "/v1/topics/payments")
	serve("GET", "/v1/log")
	serve("GET", "/v1/quorum")
	serve("POST", "/v1/topics")
	serve("GET", "/no/such/path")
	serve("PUT", "/v1/topics") // no PUT route
	want := map[string]float64{
		"GET /v1/topics/{name} 404": 2,
		"GET /v1/log 200":           1,
		"GET /v1/quorum 500":        1,
		"POST /v1/topics 200":       1,
		" unmatched 200":            2,
	}
	got := counts(t, reg)
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
