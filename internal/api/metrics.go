package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yakt/yakt/internal/ui"
)

// Instrument counts and times the requests h serves, by route pattern
// (the route table's and the dashboard's, so a path with ids in it is one series, and a path
// no route matches is route "unmatched"), method and status code:
// yakt_http_requests_total and yakt_http_request_duration_seconds. It
// wraps the whole API handler, so requests refused before routing (503
// OVERLOADED) and panics turned into 500 are counted too. reg nil: not
// registered.
func Instrument(reg prometheus.Registerer, h http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "yakt_http_requests_total",
		Help: "HTTP API requests served, by route pattern, method and status code."}, []string{"method", "route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "yakt_http_request_duration_seconds",
		Help:    "HTTP API request latency by route pattern and method (long polls included: look at them by route).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 17)}, []string{"method", "route"})
	if reg != nil {
		reg.MustRegister(requests, latency)
	}
	// A mux of the route table's patterns, only for looking them up: the
	// API's own mux sets Request.Pattern on a request copy this wrapper
	// never sees.
	patterns := http.NewServeMux()
	known := make(map[string]bool, len(routes))
	all := ui.Patterns()
	for _, rt := range routes {
		all = append(all, rt.pattern)
	}
	for _, p := range all {
		patterns.Handle(p, http.NotFoundHandler())
		known[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, route := "", "unmatched"
		if _, p := patterns.Handler(r); known[p] {
			method, route, _ = strings.Cut(p, " ")
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// Deferred, so a handler that aborts (http.ErrAbortHandler,
			// a broken stream) is counted too, as the 500 it ends as.
			p := recover()
			code := sw.code
			switch {
			case code != 0:
			case p != nil:
				code = http.StatusInternalServerError
			default:
				code = http.StatusOK
			}
			requests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
			latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			if p != nil {
				panic(p)
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int // 0 until the header is written
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming answers streaming through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.code == 0 {
			w.code = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
