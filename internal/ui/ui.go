package ui

import (
	"bytes"
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// Defaults of Config.
const (
	// DefaultMaxStreams bounds the event streams a node serves at once:
	// each holds a connection and wakes at every commit, and a dashboard
	// is for a few operators, not for every client of the cluster.
	DefaultMaxStreams = 16
	// DefaultKeepAlive is how often an idle stream sends a comment, so
	// proxies and load balancers that cut idle connections (often after
	// 30 to 60 s) leave it open, and a client that has gone is noticed.
	DefaultKeepAlive = 15 * time.Second
)

// Config configures a Handler.
type Config struct {
	Controller *controller.Controller
	Logger     *slog.Logger
	// MaxStreams bounds concurrent GET /ui/events streams; one more is
	// refused with 503 OVERLOADED. Default DefaultMaxStreams.
	MaxStreams int
	// KeepAlive is the idle stream's comment interval; default
	// DefaultKeepAlive.
	KeepAlive time.Duration
	// RelayTLS, when set, is the TLS of the node's own requests to the
	// leader (https, presenting the node's certificate).
	RelayTLS *tls.Config
}

// Handler serves the dashboard. Create with New, register Routes, and
// Close it when the server stops so event streams end.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	page    *template.Template
	static  http.Handler
	streams chan struct{} // a token per open event stream

	base      context.Context // cancelled by Close: ends every stream
	closeBase context.CancelFunc
	closeOnce sync.Once
}

//go:embed templates static
var files embed.FS

var pageTemplate = template.Must(template.ParseFS(files, "templates/index.html"))

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(fmt.Sprintf("ui: embedded static files: %v", err)) // the embed directive guarantees the folder
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, page: pageTemplate,
		static:  http.StripPrefix("/ui/static/", http.FileServerFS(static)),
		streams: make(chan struct{}, cfg.MaxStreams)}
	h.base, h.closeBase = context.WithCancel(context.Background())
	return h
}

// Route is one pattern the dashboard serves (http.ServeMux syntax).
type Route struct {
	Pattern string
	Handler http.HandlerFunc
}

// Routes lists the dashboard's routes, sorted by path.
func (h *Handler) Routes() []Route {
	return []Route{
		{"GET /ui", h.servePage},
		{"GET /ui/{$}", h.servePage},
		{"GET /ui/api/brokers", h.serveBrokers},
		{"GET /ui/api/topics", h.serveTopics},
		{"GET /ui/events", h.serveEvents},
		{"GET /ui/static/{file}", h.serveStatic},
	}
}

// Patterns lists the patterns Routes registers, for checks that need no
// Handler (every route of a server is described in its OpenAPI document).
func Patterns() []string {
	var out []string
	for _, rt := range (&Handler{}).Routes() {
		out = append(out, rt.Pattern)
	}
	return out
}

// Close ends every event stream and refuses new ones; the page and its
// tables are still served.
func (h *Handler) Close() { h.closeOnce.Do(h.closeBase) }

type pageData struct {
	ClusterID string
	NodeID    uint64
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r) {
		return
	}
	var b bytes.Buffer
	if err := h.page.Execute(&b, pageData{ClusterID: h.cfg.Controller.ClusterID(), NodeID: h.cfg.Controller.NodeID()}); err != nil {
		h.log.Error("render dashboard", "err", err)
		writeError(w, contract.CodeInternal, "could not render the dashboard; see the server log")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// Everything the page uses is served here: nothing inline, nothing
	// from elsewhere.
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	// The files change only with the binary; revalidating is cheap and
	// keeps an upgraded node from serving an old script from the cache.
	w.Header().Set("Cache-Control", "no-cache")
	h.static.ServeHTTP(w, r)
}

// checkQuery refuses query parameters other than allowed, given twice,
// or empty, with 400 INVALID_REQUEST, and reports whether the request may
// go on.
func checkQuery(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for k, vs := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		switch {
		case !ok:
			writeError(w, contract.CodeInvalidRequest, fmt.Sprintf("unknown query parameter %q", truncate(k)))
			return false
		case len(vs) != 1:
			writeError(w, contract.CodeInvalidRequest, fmt.Sprintf("query parameter %q given more than once", k))
			return false
		case vs[0] == "":
			writeError(w, contract.CodeInvalidRequest, fmt.Sprintf("query parameter %q is empty", k))
			return false
		}
	}
	return true
}

// queryInt reads an optional integer parameter from lo to hi, def when
// absent; ok is false once it has answered 400.
func queryInt(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || v[0] == '+' || v[0] == '-' && lo >= 0 || n < lo || n > hi {
		writeError(w, contract.CodeInvalidRequest,
			fmt.Sprintf("query parameter %q must be an integer from %d to %d; got %q", name, lo, hi, truncate(v)))
		return 0, false
	}
	return n, true
}

func truncate(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "..."
	}
	return s
}

// writeError answers in the API's error shape and with the code's status
// (docs/api.md).
func writeError(w http.ResponseWriter, code contract.Code, msg string) {
	writeJSON(w, code.Status(), contract.ErrorBody{Error: contract.ErrorDetail{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"INTERNAL","message":"could not encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
