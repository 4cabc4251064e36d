package api

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/ui"
)

// Config configures a Server.
type Config struct {
	Controller     *controller.Controller
	Gatherer       prometheus.Gatherer // for /metrics; nil: no metrics endpoint content
	RequestTimeout time.Duration       // per-request deadline for writes and barriers; default defaults.RequestTimeout
	Logger         *slog.Logger

	// ForwardDialTimeout bounds each dial of a follower to the leader
	// when it forwards a write; default defaults.ForwardDialTimeout. Keep it
	// well under the election timeout.
	ForwardDialTimeout time.Duration

	// ForwardOverHTTP makes followers forward writes to the leader as a
	// second HTTP request (the HTTP hop) instead of as a frame on the peer
	// connection (the peer hop, the default). The outcome rules are the
	// same; it is there to compare the two and as a fallback.
	ForwardOverHTTP bool

	// MaxFullFetches bounds the full metadata answers (snapshot mode) this
	// node streams at once; one more is refused with 503
	// TOO_MANY_FULL_FETCHES and Retry-After. Default defaults.MaxFullFetches.
	MaxFullFetches int

	// HeartbeatBatchInterval is how long a follower collects the
	// heartbeats of the BrokerMgmt fetches it serves before sending them
	// to the leader as one request; default
	// defaults.HeartbeatBatchInterval.
	HeartbeatBatchInterval time.Duration

	// MaxInFlightRequests bounds the requests this node handles at once
	// (a long poll counts while it waits); one more is refused with 503
	// OVERLOADED and Retry-After, so a flood of requests leaves the raft
	// loop CPU instead of starving it. Health checks, metrics and the
	// nodes' internal requests are never refused. 0: no bound.
	MaxInFlightRequests int

	// Access, when set, authenticates every request (client certificate
	// or bearer token) and authorizes it by its roles (auth package):
	// 401 UNAUTHENTICATED without a valid credential, 403 FORBIDDEN for
	// what the roles do not allow. nil: every request is auth.Anonymous.
	Access *auth.Store
	// NodeTLS, when set, is the TLS this node's own HTTPS requests to
	// other nodes use (forwarding over HTTP, relayed reads, the
	// dashboard's relays): it presents the node's certificate, which
	// makes the node the principal "node:<id>" there.
	NodeTLS *tls.Config
	// MaxLongPolls bounds the long polls (fetches and log reads that wait
	// for new records, dashboard event streams) waiting at once; one
	// more is refused with 429 TOO_MANY_LONG_POLLS and Retry-After.
	// Default defaults.MaxLongPolls.
	MaxLongPolls int
	// Migration connects the migration routes to this node's migration
	// driver (handlers_migration.go).
	Migration MigrationHooks
}

// Server holds the handlers. Create with New; serve Handler().
type Server struct {
	cfg     Config
	ctrl    *controller.Controller
	log     *slog.Logger
	handler http.Handler
	fwd     *forwarder
	// fullSlots holds a token per full answer being streamed
	// (cap MaxFullFetches).
	fullSlots chan struct{}
	hbBatch   *heartbeatBatcher
	// inflight holds a token per request being handled (cap
	// MaxInFlightRequests); nil: no bound.
	inflight chan struct{}
	// longPolls holds a token per request waiting for new records (cap
	// MaxLongPolls).
	longPolls chan struct{}
	dash      *ui.Handler // the dashboard at /ui (ui.go)
}

// Headers every response carries (docs/api.md).
const (
	HeaderNode      = "X-Yakt-Node"
	HeaderLeader    = "X-Yakt-Leader"
	HeaderOffset    = "X-Yakt-Offset"
	HeaderRequestID = "X-Request-Id"
	// headerForwarded marks a request a follower forwarded, so the node
	// that receives it never forwards it again.
	headerForwarded = "X-Yakt-Forwarded-By"
)

// route is one row of the route table.
type route struct {
	pattern string
	handler func(*Server, http.ResponseWriter, *http.Request)
	write   bool // writes run on the leader; followers forward them
	access  accessClass
}

// routes is the API's route table (docs/api.md), sorted by path then
// method.
var routes = []route{
	{"GET /healthz", (*Server).serveHealthz, false, accessOpen},
	{"GET /metrics", nil, false, accessRead}, // served by promhttp, see New
	{"GET /readyz", (*Server).serveReadyz, false, accessOpen},
	{"GET /v1/brokers", (*Server).serveListBrokers, false, accessRead},
	{"POST /v1/brokers", (*Server).serveRegisterBroker, true, accessBroker},
	{"DELETE /v1/brokers/{brokerId}", (*Server).serveUnregisterBroker, true, accessAdmin},
	{"GET /v1/brokers/{brokerId}", (*Server).serveGetBroker, false, accessRead},
	{"PATCH /v1/brokers/{brokerId}", (*Server).servePatchBroker, true, accessAdmin},
	{"GET /v1/brokers/{brokerId}/configs", (*Server).serveGetBrokerConfigs, false, accessRead},
	{"PATCH /v1/brokers/{brokerId}/configs", (*Server).servePatchBrokerConfigs, true, accessAdmin},
	{"POST /v1/brokers/{brokerId}/shutdown", (*Server).serveShutdownBroker, true, accessBroker},
	{"POST /v1/elections", (*Server).serveElectLeaders, true, accessAdmin},
	{heartbeatPattern, (*Server).serveBrokerHeartbeat, true, accessNode},
	{heartbeatBatchPattern, (*Server).serveBrokerHeartbeats, true, accessNode},
	{"GET /v1/cluster/configs", (*Server).serveGetClusterConfigs, false, accessRead},
	{"PATCH /v1/cluster/configs", (*Server).servePatchClusterConfigs, true, accessAdmin},
	{"GET /v1/log", (*Server).serveLog, false, accessRead},
	{"GET /v1/metadata", (*Server).serveClientFetch, false, accessRead},
	{"GET /v1/openapi.json", (*Server).serveOpenAPI, false, accessRead},
	{"POST /v1/metadata/fetch", (*Server).serveBrokerFetch, false, accessFetch}, // served here; its heartbeat goes to the leader
	{"GET /v1/migration", (*Server).serveMigrationStatus, false, accessRead},    // answered by the leader (forwarded)
	{"POST /v1/migration", (*Server).serveStartMigration, true, accessAdmin},
	{"POST /v1/migration/cutover", (*Server).serveCutoverMigration, true, accessAdmin},
	{"POST /v1/migration/finalize", (*Server).serveFinalizeMigration, true, accessAdmin},
	{"POST /v1/migration/rollback", (*Server).serveRollbackMigration, true, accessAdmin},
	{"GET /v1/node", (*Server).serveNode, false, accessRead},
	{"POST /v1/producer-ids", (*Server).serveAllocateProducerIDs, true, accessBroker},
	{"GET /v1/quorum", (*Server).serveQuorum, false, accessRead},
	{"POST /v1/quorum/leader", (*Server).serveTransferLeader, true, accessAdmin},
	{"DELETE /v1/quorum/members/{nodeId}", (*Server).serveRemoveMember, true, accessAdmin},
	{"POST /v1/quorum/observers", (*Server).serveAddObserver, true, accessAdmin},
	{"POST /v1/quorum/voters", (*Server).servePromoteVoter, true, accessAdmin},
	{"GET /v1/reassignments", (*Server).serveListReassignments, false, accessRead},
	{"POST /v1/reassignments", (*Server).serveAlterReassignments, true, accessAdmin},
	{"GET /v1/snapshots", (*Server).serveListSnapshots, false, accessRead},
	{"POST /v1/snapshots", (*Server).serveTakeSnapshot, false, accessAdmin},
	{"GET /v1/snapshots/latest", (*Server).serveLatestSnapshot, false, accessRead},
	{"GET /v1/topics", (*Server).serveListTopics, false, accessRead},
	{"POST /v1/topics", (*Server).serveCreateTopic, true, accessAdmin},
	{"DELETE /v1/topics/{name}", (*Server).serveDeleteTopic, true, accessAdmin},
	{"GET /v1/topics/{name}", (*Server).serveGetTopic, false, accessRead},
	{"GET /v1/topics/{name}/configs", (*Server).serveGetTopicConfigs, false, accessRead},
	{"PATCH /v1/topics/{name}/configs", (*Server).servePatchTopicConfigs, true, accessAdmin},
	{"POST /v1/topics/{name}/partitions", (*Server).serveCreatePartition, true, accessAdmin},
	{"GET /v1/topics/{name}/partitions/{partitionId}", (*Server).serveGetPartition, false, accessRead},
	{"POST /v1/topics/{name}/partitions/{partitionId}/isr", (*Server).serveAlterISR, true, accessBroker},
	{"POST /v1/topics/{name}/partitions/{partitionId}/replicas", (*Server).serveAddReplica, true, accessAdmin},
	{"DELETE /v1/topics/{name}/partitions/{partitionId}/replicas/{brokerId}", (*Server).serveRemoveReplica, true, accessAdmin},
}

// heartbeatPattern is the leader's part of a BrokerMgmt fetch, which a
// follower serving the fetch sends to the leader (fetch_full.go). It
// proposes nothing on the caller's behalf (an unfencing is the
// controller's own write) and is safe to repeat: an Idempotency-Key on
// it has no effect, and a follower may resend it.
const heartbeatPattern = "POST /v1/internal/broker-heartbeat"

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ForwardDialTimeout <= 0 {
		cfg.ForwardDialTimeout = defaults.ForwardDialTimeout
	}
	if cfg.MaxFullFetches <= 0 {
		cfg.MaxFullFetches = defaults.MaxFullFetches
	}
	if cfg.HeartbeatBatchInterval <= 0 {
		cfg.HeartbeatBatchInterval = defaults.HeartbeatBatchInterval
	}
	if cfg.MaxLongPolls <= 0 {
		cfg.MaxLongPolls = defaults.MaxLongPolls
	}
	s := &Server{cfg: cfg, ctrl: cfg.Controller, log: cfg.Logger,
		fullSlots: make(chan struct{}, cfg.MaxFullFetches), longPolls: make(chan struct{}, cfg.MaxLongPolls)}
	s.hbBatch = &heartbeatBatcher{s: s, interval: cfg.HeartbeatBatchInterval}
	if cfg.MaxInFlightRequests > 0 {
		s.inflight = make(chan struct{}, cfg.MaxInFlightRequests)
	}
	s.fwd = &forwarder{self: cfg.Controller.NodeID(), log: cfg.Logger,
		pooled: newForwardClient(cfg.ForwardDialTimeout, true, cfg.NodeTLS), fresh: newForwardClient(cfg.ForwardDialTimeout, false, cfg.NodeTLS),
		scheme: nodeScheme(cfg.NodeTLS), authOn: cfg.Access != nil,
		leader: func() (uint64, string, bool) {
			lead := s.ctrl.Leader()
			if lead == 0 {
				return 0, "", false
			}
			addr, ok := s.ctrl.PeerHTTPAddr(lead)
			// The peer hop needs no HTTP address (addr is for logs only).
			return lead, addr, ok || !cfg.ForwardOverHTTP
		}}
	if !cfg.ForwardOverHTTP {
		s.fwd.peers = cfg.Controller
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		if rt.handler == nil {
			continue
		}
		h := rt.handler
		internal := rt.pattern == heartbeatPattern || rt.pattern == heartbeatBatchPattern
		var hf http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(s, w, r) })
		// Logged where they run: on the leader, or here for a write that
		// runs on any node. Heartbeats are not: thousands a second would
		// drown the log, and they change nothing a broker asked for.
		if (rt.write || !strings.HasPrefix(rt.pattern, "GET ") && rt.pattern != "POST /v1/metadata/fetch") && !internal {
			hf = s.logWrite(hf)
		}
		if rt.write && !internal && !membershipPatterns[rt.pattern] {
			hf = s.idempotent(hf)
		}
		if rt.write {
			hf = s.onLeader(hf)
		}
		if !strings.HasPrefix(rt.pattern, "GET ") {
			hf = s.checkIdempotencyKey(hf)
		}
		mux.Handle(rt.pattern, s.authorize(rt.access, hf))
	}
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", s.authorize(accessRead, promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})))
	}
	s.newDashboard(mux)
	// NB: no catch-all "/" pattern, or the mux could not tell 404 from 405.
	s.handler = s.common(s.limitConnections(s.authenticate(s.limitInFlight(s.routeErrors(mux)))))
	// Served whatever this node's own setting: its peers choose their hop.
	cfg.Controller.ServeForwarded(s.serveForwarded)
	return s
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// AdminOnly serves h to admins (and member nodes) only, with the same
// headers, connection limit and authentication as the API: for handlers
// outside the API's routes, such as the profiler (--debug-pprof), that
// must not be open to whoever reaches the port.
func (s *Server) AdminOnly(h http.Handler) http.Handler {
	return s.common(s.limitConnections(s.authenticate(s.authorize(accessAdmin, h))))
}

type ctxKey int

const requestIDKey ctxKey = 0

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// common sets the headers every response carries, assigns a request id and
// turns a panic into a 500 instead of a dropped connection.
func (s *Server) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		h := w.Header()
		h.Set(HeaderRequestID, id)
		h.Set(HeaderNode, strconv.FormatUint(s.ctrl.NodeID(), 10))
		if lead := s.ctrl.Leader(); lead != 0 {
			h.Set(HeaderLeader, strconv.FormatUint(lead, 10))
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// overloadRetryAfter is the Retry-After of a request refused for
// MaxInFlightRequests, in seconds.
const overloadRetryAfter = "1"

// limitInFlight refuses a request beyond MaxInFlightRequests with 503
// OVERLOADED. Health checks, metrics and internal requests pass: refusing
// a heartbeat batch would fail many fetches at once, and an operator must
// still see an overloaded node.
func (s *Server) limitInFlight(next http.Handler) http.Handler {
	if s.inflight == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1/internal/") || p == "/healthz" || p == "/readyz" || p == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
		default:
			w.Header().Set("Retry-After", overloadRetryAfter)
			s.writeError(w, r, contract.Errorf(contract.CodeOverloaded,
				"this node is already handling %d requests; retry in a moment or ask another node", cap(s.inflight)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// onLeader runs writes on the leader: a follower forwards the request to
// the leader (forward.go) and relays its answer.
func (s *Server) onLeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.ctrl.IsLeader() {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get(headerForwarded) != "" {
			// Forwarded here by a node that took this one for the leader:
			// never forward twice; that node or its caller retries.
			s.writeError(w, r, contract.Errorf(contract.CodeNoLeader, "no leader is available to take the write; retry"))
			return
		}
		s.forward(w, r, next)
	})
}

// requestContext bounds a request by the configured timeout.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}

func isStale(r *http.Request) bool {
	v := r.URL.Query().Get("stale")
	return v == "true" || v == "1"
}

func setOffset(w http.ResponseWriter, offset int64) {
	w.Header().Set(HeaderOffset, strconv.FormatInt(offset, 10))
}

// contextWithExtra bounds a request by d instead of the default timeout.
func contextWithExtra(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}
