// Package server assembles one YAKt node: storage, raft node, peer
// transport, controller and the HTTP API, with their listeners. cmd/yakt
// and the test clusters start nodes through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/kafka"
	"github.com/yakt/yakt/internal/migration"
	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/transport"
	"github.com/yakt/yakt/internal/vfs"
)

// Config is everything a node needs; cmd/yakt maps flags onto it.
type Config struct {
	NodeID uint64
	// ClusterID is required to bootstrap a new cluster; a formatted data
	// directory supplies it (and a different one given here is refused),
	// and a joining node learns it from the member it joins through.
	ClusterID string
	DataDir   string
	// Voters bootstraps a new cluster (node id -> peer address) when the
	// data directory holds no log yet. Once the cluster runs, its
	// membership lives in the log and Voters only names the address of a
	// member the log has none for (clusters bootstrapped before member
	// records).
	Voters map[uint64]string
	// Join lists HTTP addresses (host:port or URLs) of members of a
	// running cluster. A node with an empty log joins through them: it
	// learns the cluster id and the members (formatting an unformatted
	// directory), starts without bootstrapping and asks the leader to add
	// it as an observer, until that is done. Promoting it to voter is the
	// operator's step (yakt quorum add-voter).
	Join []string
	// AdvertisePeer is the peer address the other nodes dial this one at,
	// recorded in the membership. Default: this node's Voters entry, else
	// the bound peer address (refused when that is a wildcard address).
	AdvertisePeer string
	// PeerDialAddrs: see raftnode.Config (tests' fault network).
	PeerDialAddrs map[uint64]string

	ListenPeer string // used when PeerListener is nil
	ListenHTTP string // used when HTTPListener is nil
	// AdvertiseHTTP is the HTTP address this node gives its peers (they
	// relay reads to the leader's and list every voter's). Default: the
	// bound HTTP address, which must then name one interface: on a
	// wildcard address (0.0.0.0, [::]) the node refuses to start
	// without it, since peers would take "[::]:8001" for themselves.
	AdvertiseHTTP string
	PeerListener  net.Listener // optional, already bound
	HTTPListener  net.Listener // optional, already bound
	// ListenKafka (or KafkaListener, already bound) serves the Kafka
	// protocol (internal/kafka); both empty: no Kafka listener. The Kafka
	// port has no authentication, so it is refused together with an
	// AccessFile.
	ListenKafka   string
	KafkaListener net.Listener
	// AdvertiseKafka is the host:port Kafka clients and the other nodes
	// reach this node's Kafka listener at (listed in Metadata). Default:
	// the bound address, refused when it is a wildcard address.
	AdvertiseKafka string

	TickInterval     time.Duration
	ElectionTicks    int
	SnapshotEntries  uint64
	SnapshotBytes    uint64 // default defaults.SnapshotBytes
	SnapshotInterval time.Duration
	CompactionMargin uint64
	SegmentSizeBytes int64
	FS               vfs.FS // storage's file system; nil: the real one (tests crash or fail it)
	RequestTimeout   time.Duration
	FullFetchAfter   time.Duration // default defaults.FullFetchAfter
	// BrokerSessionTimeout: default defaults.BrokerSessionTimeout.
	BrokerSessionTimeout time.Duration
	// ForwardDialTimeout bounds a follower's dial to the leader when it
	// forwards a write; default defaults.ForwardDialTimeout.
	ForwardDialTimeout time.Duration
	// ForwardOverHTTP: followers forward writes as a second HTTP request
	// instead of on the peer connection (see api.Config).
	ForwardOverHTTP bool
	// MaxFullFetches bounds the full metadata answers the node streams at
	// once; default defaults.MaxFullFetches.
	MaxFullFetches int
	// MaxInFlightRequests bounds the API requests the node handles at
	// once; beyond it a request is refused with 503 OVERLOADED and
	// Retry-After. 0: no bound. See api.Config.
	MaxInFlightRequests int
	// DebugPprof serves net/http/pprof under /debug/pprof/ on the HTTP
	// port, for profiling a node under load. Off by default: it exposes
	// internals and lets any caller spend the node's CPU.
	DebugPprof bool
	// LivenessInterval is how often the leader checks broker sessions
	// (default defaults.LivenessInterval); 0 with a test clock is fine,
	// tests call FenceExpired.
	LivenessInterval time.Duration
	Clock            controller.Clock // default the system clock; tests inject one

	// AutoLeaderRebalance runs the leader's automatic preferred leader
	// rebalance (Kafka's auto.leader.rebalance.enable): every
	// LeaderImbalanceCheckInterval (default 5 minutes), each broker with
	// more than LeaderImbalancePercent (default 10; 0 takes the default)
	// of its preferred partitions led by others gets them back where it
	// is alive and in sync. Off in the zero Config, so in-process nodes
	// keep the leaders their tests set; cmd/yakt turns it on by default.
	AutoLeaderRebalance          bool
	LeaderImbalancePercent       int
	LeaderImbalanceCheckInterval time.Duration

	// UnsafeReadsWithoutBarrier is a deliberate bug for the fault tests
	// (see controller.Config); cmd/yakt never sets it.
	UnsafeReadsWithoutBarrier bool

	// TLSCertFile, TLSKeyFile and TLSCAFile (PEM) turn TLS on for both
	// listeners: HTTPS on the HTTP port and mutual TLS on the peer port,
	// where the certificate must name this node (certs.NodeName). All
	// three or none. They are reloaded when they change and on Reload.
	TLSCertFile, TLSKeyFile, TLSCAFile string
	// AccessFile binds principals to roles and holds token hashes (auth
	// package); required with TLS. Reloaded like the certificates.
	AccessFile string
	// Insecure allows plain TCP on a listener bound to a non-loopback
	// address; without it such a node refuses to start. A warning is
	// logged at every start.
	Insecure bool
	// MaxConnections bounds the open connections of the HTTP listener;
	// beyond it a connection is answered 503 CONNECTION_LIMIT with
	// Retry-After and closed. Default defaults.MaxConnections.
	MaxConnections int
	// MaxLongPolls: see api.Config.
	MaxLongPolls int
	// MaxHeaderBytes bounds a request's header; default
	// defaults.MaxHeaderBytes.
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds how long a connection may take to send a
	// request's header, so slow senders (slowloris) cannot hold
	// connections; IdleTimeout closes kept-alive connections idle that
	// long. Defaults defaults.ReadHeaderTimeout and defaults.IdleTimeout.
	ReadHeaderTimeout, IdleTimeout time.Duration

	// Registry receives the node's metrics; nil creates a private one.
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// Server is a running node.
type Server struct {
	cfg        Config
	Node       *raftnode.Node
	State      *controller.StateMachine
	Controller *controller.Controller
	// Migration is the node's migration driver (tests prepare a cutover
	// through it directly).
	Migration *migration.Driver
	http      *http.Server
	api       *api.Server
	kafka     *kafka.Server // nil without a Kafka listener
	kafkaDone chan struct{} // closed when kafka.Serve returns
	httpL     net.Listener
	log       *slog.Logger
	served    chan struct{} // closed when http.Serve returns

	stopLiveness context.CancelFunc
	livenessDone chan struct{} // closed when the liveness loop returns
	// migrationDone is closed when the migration driver returns; it runs
	// on stopLiveness's context.
	migrationDone chan struct{}
	// rebalanceDone is closed when the leader rebalance loop returns (at
	// once when AutoLeaderRebalance is off); it runs on stopLiveness's
	// context too.
	rebalanceDone chan struct{}

	stopJoining context.CancelFunc // nil unless joining
	joinDone    chan struct{}      // closed when the join loop returns

	sec       *security
	stopWatch func() // stops polling the certificate and access files, and waits
}

// Start is StartContext without a deadline.
func Start(cfg Config) (*Server, error) { return StartContext(context.Background(), cfg) }

// StartContext binds the listeners (when not given), starts the node and
// serves HTTP. It returns once the node is running; the cluster may not
// have a leader yet. ctx bounds only the start: a node whose snapshot is
// lost waits in it for a peer to serve a replacement (raftnode.StartContext).
func StartContext(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = defaults.MaxConnections
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = defaults.ReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaults.IdleTimeout
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = defaults.MaxHeaderBytes
	}
	if (cfg.ListenKafka != "" || cfg.KafkaListener != nil) && cfg.AccessFile != "" {
		return nil, errKafkaWithAuth
	}
	sec, err := loadSecurity(&cfg)
	if err != nil {
		return nil, err
	}
	peerL := cfg.PeerListener
	if peerL == nil {
		if peerL, err = net.Listen("tcp", cfg.ListenPeer); err != nil {
			return nil, fmt.Errorf("listen for peers on %s: %w", cfg.ListenPeer, err)
		}
	}
	httpL := cfg.HTTPListener
	if httpL == nil {
		if httpL, err = net.Listen("tcp", cfg.ListenHTTP); err != nil {
			peerL.Close()
			return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.ListenHTTP, err)
		}
	}
	kafkaL := cfg.KafkaListener
	if kafkaL == nil && cfg.ListenKafka != "" {
		if kafkaL, err = net.Listen("tcp", cfg.ListenKafka); err != nil {
			peerL.Close()
			httpL.Close()
			return nil, fmt.Errorf("listen for Kafka clients on %s: %w", cfg.ListenKafka, err)
		}
	}
	fail := func(err error) (*Server, error) {
		peerL.Close()
		httpL.Close()
		if kafkaL != nil {
			kafkaL.Close()
		}
		return nil, err
	}
	var advertiseKafka string
	if kafkaL != nil {
		if advertiseKafka, err = advertisedKafka(cfg.AdvertiseKafka, kafkaL.Addr()); err != nil {
			return fail(err)
		}
	}
	// Before anything is written to the data directory: a refused start
	// leaves no trace.
	if err := sec.checkExposure(&cfg, cfg.Logger.With("node", cfg.NodeID), map[string]net.Listener{"peer": peerL, "HTTP": httpL, "Kafka": kafkaL}); err != nil {
		return fail(err)
	}
	advertise, err := advertisedHTTP(cfg.AdvertiseHTTP, httpL.Addr())
	if err != nil {
		return fail(err)
	}
	advertisePeer, err := advertisedPeer(cfg.AdvertisePeer, cfg.Voters[cfg.NodeID], peerL.Addr())
	if err != nil {
		return fail(err)
	}
	if cfg.ClusterID != "" {
		if err := sec.checkIdentity(cfg.NodeID, cfg.ClusterID); err != nil {
			return fail(err)
		}
	}
	join, err := resolveIdentity(ctx, &cfg, sec)
	if err != nil {
		return fail(err)
	}
	// A joining node learns its cluster id only now.
	if err := sec.checkIdentity(cfg.NodeID, cfg.ClusterID); err != nil {
		return fail(err)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	registerBuildInfo(cfg.Registry)
	registerTLSMetrics(cfg.Registry, sec)
	log := cfg.Logger.With("node", cfg.NodeID)
	state := controller.NewStateMachine(0)
	peers := cfg.Voters
	if join != nil {
		peers = join.peers
	}
	// A nil *certs.PeerTLS in the interface would not be nil.
	var peerTLS transport.PeerTLS
	if sec.tlsOn() {
		peerTLS = sec.files.ForPeers(cfg.ClusterID)
	}
	node, err := raftnode.StartContext(ctx, raftnode.Config{
		NodeID:           cfg.NodeID,
		ClusterID:        cfg.ClusterID,
		Peers:            peers,
		Join:             len(cfg.Join) > 0,
		PeerListener:     peerL,
		PeerAddr:         advertisePeer,
		PeerDialAddrs:    cfg.PeerDialAddrs,
		PeerTLS:          peerTLS,
		HTTPAddr:         advertise,
		KafkaAddr:        advertiseKafka,
		DataDir:          cfg.DataDir,
		StateMachine:     state,
		TickInterval:     cfg.TickInterval,
		ElectionTicks:    cfg.ElectionTicks,
		SnapshotEntries:  cfg.SnapshotEntries,
		SnapshotBytes:    cfg.SnapshotBytes,
		SnapshotInterval: cfg.SnapshotInterval,
		CompactionMargin: cfg.CompactionMargin,
		SegmentSizeBytes: cfg.SegmentSizeBytes,
		FS:               cfg.FS,
		Metrics:          raftnode.NewMetrics(cfg.Registry),
		Logger:           cfg.Logger,
	})
	if err != nil {
		return fail(err)
	}
	registerTransportMetrics(cfg.Registry, node)
	ctrl := controller.New(controller.Config{Node: node, ClusterID: cfg.ClusterID, FS: cfg.FS, State: state, Logger: log,
		Clock: cfg.Clock, FullFetchAfter: cfg.FullFetchAfter, BrokerSessionTimeout: cfg.BrokerSessionTimeout,
		UnsafeReadsWithoutBarrier: cfg.UnsafeReadsWithoutBarrier})
	cfg.Registry.MustRegister(ctrl.MetricsCollector())
	var nodeTLS *tls.Config
	if sec.tlsOn() {
		nodeTLS = sec.files.HTTPClientConfig()
	}
	driver := migration.New(migration.Config{Controller: ctrl, NodeID: cfg.NodeID, Logger: log})
	apiServer := api.New(api.Config{
		Controller: ctrl, Gatherer: cfg.Registry,
		RequestTimeout: cfg.RequestTimeout, ForwardDialTimeout: cfg.ForwardDialTimeout, ForwardOverHTTP: cfg.ForwardOverHTTP, Logger: log,
		MaxFullFetches: cfg.MaxFullFetches, MaxInFlightRequests: cfg.MaxInFlightRequests,
		Access: sec.access, NodeTLS: nodeTLS, MaxLongPolls: cfg.MaxLongPolls,
		Migration: api.MigrationHooks{Check: migration.CheckZooKeeper, Status: driver.Status, PrepareCutover: driver.PrepareCutover},
	})
	var handler http.Handler = api.Instrument(cfg.Registry, apiServer.Handler())
	if cfg.DebugPprof {
		handler = withPprof(handler, apiServer.AdminOnly)
	}
	s := &Server{
		cfg: cfg, Node: node, State: state, Controller: ctrl, Migration: driver, api: apiServer, httpL: httpL, log: log, served: make(chan struct{}),
		sec: sec,
		http: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			ConnContext:       api.ConnContext,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	if kafkaL != nil {
		ks, err := kafka.New(kafka.Config{Controller: ctrl, Listener: kafkaL, Advertise: advertiseKafka, Logger: log,
			MaxConnections: cfg.MaxConnections, RequestTimeout: cfg.RequestTimeout})
		if err != nil {
			apiServer.Close()
			node.Stop()
			httpL.Close()
			kafkaL.Close()
			return nil, err
		}
		s.kafka, s.kafkaDone = ks, make(chan struct{})
		go func() {
			defer close(s.kafkaDone)
			if err := ks.Serve(); err != nil {
				log.Error("Kafka listener stopped", "err", err)
			}
		}()
	}
	s.startWatching()
	if cfg.LivenessInterval <= 0 {
		cfg.LivenessInterval = defaults.LivenessInterval
	}
	livenessCtx, stopLiveness := context.WithCancel(context.Background())
	s.stopLiveness = stopLiveness
	s.livenessDone = make(chan struct{})
	go func() {
		defer close(s.livenessDone)
		ctrl.RunLiveness(livenessCtx, cfg.LivenessInterval)
	}()
	// The migration driver lives as long as the liveness loop: both act
	// only while this node leads, and both stop before the node does.
	s.migrationDone = make(chan struct{})
	go func() {
		defer close(s.migrationDone)
		driver.Run(livenessCtx)
	}()
	s.rebalanceDone = make(chan struct{})
	go func() {
		defer close(s.rebalanceDone)
		if !cfg.AutoLeaderRebalance {
			return
		}
		percent := cfg.LeaderImbalancePercent
		if percent <= 0 {
			percent = controller.DefaultLeaderImbalancePercent
		}
		ctrl.RunLeaderRebalance(livenessCtx, controller.RebalanceConfig{Interval: cfg.LeaderImbalanceCheckInterval, ImbalancePercent: percent})
	}()
	go func() {
		defer close(s.served)
		if err := s.http.Serve(sec.wrapHTTP(httpL, cfg.MaxConnections)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "err", err)
		}
	}()
	if len(cfg.Join) > 0 {
		s.startJoin(cfg.Join)
	}
	log.Info("node started", "cluster", cfg.ClusterID, "tls", sec.tlsOn(), "authentication", sec.access != nil, "directory_id", node.DirectoryID().String(), "peer_address", advertisePeer, "http", httpL.Addr().String(), "advertisedHTTP", advertise, "advertisedKafka", advertiseKafka, "peer", peerL.Addr().String(), "data", cfg.DataDir,
		"incarnation", fmt.Sprintf("%016x", node.Incarnation()))
	return s, nil
}

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpL.Addr().String() }

// KafkaAddr is the bound Kafka address, "" without a Kafka listener.
func (s *Server) KafkaAddr() string {
	if s.kafka == nil {
		return ""
	}
	return s.kafka.Addr().String()
}

// errKafkaWithAuth refuses a Kafka listener on a node that authenticates:
// the Kafka port would be a way around it.
var errKafkaWithAuth = errors.New("--listen-kafka cannot be used with --access-file: the Kafka port has no authentication (no SASL or TLS) and would let anyone around the access file; run the Kafka listener only on a cluster without authentication")

// advertisedKafka is the Kafka address a node gives clients and peers:
// the one configured, else the bound one unless it is a wildcard address.
func advertisedKafka(configured string, bound net.Addr) (string, error) {
	if configured != "" {
		if _, _, err := net.SplitHostPort(configured); err != nil {
			return "", fmt.Errorf("advertised Kafka address %q: %w", configured, err)
		}
		return configured, nil
	}
	if tcp, ok := bound.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("the Kafka listener listens on every interface (%s): set --advertise-kafka to the host:port clients reach this node at", bound)
	}
	return bound.String(), nil
}

// Stop shuts the node down: when it leads, it first hands leadership to
// the most up-to-date follower (bounded by ctx), then stops serving HTTP
// and stops the raft node.
func (s *Server) Stop(ctx context.Context) {
	if s.Node.IsLeader() {
		tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := s.Node.TransferLeadership(tctx); err != nil {
			s.log.Warn("leadership transfer before shutdown failed", "err", err)
		} else {
			s.log.Info("handed leadership over before shutdown", "leader", s.Node.Leader())
		}
		cancel()
	}
	s.Kill()
}

// Kill stops at once without handing leadership over (tests use it to model
// a crash of the process; data already fsynced stays).
func (s *Server) Kill() {
	// Like a crash: in-flight requests lose their connections, their
	// callers cannot know the outcome.
	s.http.Close()
	<-s.served
	if s.kafka != nil {
		_ = s.kafka.Close()
		<-s.kafkaDone
	}
	s.api.Close()
	s.stopLiveness()
	<-s.livenessDone
	<-s.migrationDone
	<-s.rebalanceDone
	s.stopJoin()
	s.stopWatch()
	s.Node.Stop()
}

// ParseVoters parses KRaft's "id@host:port,id@host:port" voter list.
func ParseVoters(s string) (map[uint64]string, error) {
	out := make(map[uint64]string)
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, addr, ok := strings.Cut(part, "@")
		if !ok {
			return nil, fmt.Errorf("voter %q: want id@host:port", part)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("voter %q: id must be a positive integer", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("voter %q: %w", part, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("voter id %d listed twice", id)
		}
		out[id] = addr
	}
	if len(out) == 0 {
		return nil, errors.New("no voters given")
	}
	return out, nil
}

// FormatVoters is the inverse of ParseVoters, sorted by id.
func FormatVoters(voters map[uint64]string) string {
	ids := make([]uint64, 0, len(voters))
	for id := range voters {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d@%s", id, voters[id])
	}
	return strings.Join(parts, ",")
}

// withPprof serves net/http/pprof's handlers under /debug/pprof/, each
// through guard (admins only when the node authenticates), and
// everything else with api.
func withPprof(api http.Handler, guard func(http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", guard(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	mux.Handle("/", api)
	return mux
}

// advertisedHTTP is the HTTP address a node gives its peers: the one
// configured, else the bound one unless it is a wildcard address.
func advertisedHTTP(configured string, bound net.Addr) (string, error) {
	if configured != "" {
		if _, _, err := net.SplitHostPort(configured); err != nil {
			return "", fmt.Errorf("advertised HTTP address %q: %w", configured, err)
		}
		return configured, nil
	}
	if tcp, ok := bound.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("the HTTP API listens on every interface (%s): set --advertise-http to the host:port the other nodes reach this one at", bound)
	}
	return bound.String(), nil
}

// advertisedPeer is the peer address this node records in the
// membership: the one configured, else its --voters entry, else the bound
// one unless it is a wildcard address.
func advertisedPeer(configured, voter string, bound net.Addr) (string, error) {
	if configured == "" {
		configured = voter
	}
	if configured != "" {
		if _, _, err := net.SplitHostPort(configured); err != nil {
			return "", fmt.Errorf("advertised peer address %q: %w", configured, err)
		}
		return configured, nil
	}
	if tcp, ok := bound.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("the peer port listens on every interface (%s): set --advertise-peer to the host:port the other nodes reach this one at", bound)
	}
	return bound.String(), nil
}
