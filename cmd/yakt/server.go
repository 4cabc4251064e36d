package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/defaults"
	"github.com/yakt/yakt/internal/gcfloor"
	"github.com/yakt/yakt/internal/server"
)

// nodeFlags are the tuning flags shared by server and dev.
type nodeFlags struct {
	heartbeat        time.Duration
	electionTimeout  time.Duration
	snapshotEntries  uint64
	snapshotInterval time.Duration
	requestTimeout   time.Duration
	fullFetchAfter   time.Duration
	sessionTimeout   time.Duration
	snapshotBytes    uint64
	maxFullFetches   int
	maxInFlight      int
	maxConnections   int
	maxLongPolls     int
	maxHeaderBytes   int
	debugPprof       bool
	logLevel         string
	autoRebalance    bool
	imbalancePercent int
	imbalanceCheck   time.Duration
	gcFloorMiB       uint64
}

func (nf *nodeFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&nf.heartbeat, "heartbeat-interval", defaults.HeartbeatInterval, "raft heartbeat interval (one raft tick)")
	fs.DurationVar(&nf.electionTimeout, "election-timeout", defaults.ElectionTimeout, "raft election timeout (randomised up to twice this)")
	fs.Uint64Var(&nf.snapshotEntries, "snapshot-entries", defaults.SnapshotEntries, "take a snapshot after this many applied entries")
	fs.Uint64Var(&nf.snapshotBytes, "snapshot-bytes", defaults.SnapshotBytes, "also take a snapshot after this many bytes of applied log entries (and keep at most this many bytes of log before a snapshot)")
	fs.DurationVar(&nf.snapshotInterval, "snapshot-interval", defaults.SnapshotInterval, "also snapshot on this interval when anything changed")
	fs.DurationVar(&nf.requestTimeout, "request-timeout", defaults.RequestTimeout, "how long a write waits to commit before 504 TIMEOUT")
	fs.DurationVar(&nf.fullFetchAfter, "full-fetch-after", defaults.FullFetchAfter, "a metadata fetch by a timestamp older than this gets a full snapshot")
	fs.DurationVar(&nf.sessionTimeout, "broker-session-timeout", defaults.BrokerSessionTimeout, "the leader fences a broker that has not heartbeated (BrokerMgmt fetch) for this long")
	fs.IntVar(&nf.maxFullFetches, "max-full-fetches", defaults.MaxFullFetches, "full metadata answers (snapshot mode) a node streams at once; more are refused with 503 TOO_MANY_FULL_FETCHES and Retry-After")
	fs.IntVar(&nf.maxInFlight, "max-inflight-requests", defaults.MaxInFlightRequests, "API requests a node handles at once; more are refused with 503 OVERLOADED and Retry-After so the raft loop keeps its CPU; 0: no bound")
	fs.IntVar(&nf.maxConnections, "max-connections", defaults.MaxConnections, "open connections the HTTP port keeps at once; one more is answered 503 CONNECTION_LIMIT with Retry-After and closed")
	fs.IntVar(&nf.maxLongPolls, "max-long-polls", defaults.MaxLongPolls, "long polls (fetches and log reads waiting for records) a node holds at once; one more is refused with 429 TOO_MANY_LONG_POLLS and Retry-After")
	fs.IntVar(&nf.maxHeaderBytes, "max-header-bytes", defaults.MaxHeaderBytes, "largest request header the HTTP port reads")
	fs.BoolVar(&nf.debugPprof, "debug-pprof", false, "serve Go's profiler under /debug/pprof/ on the HTTP port (exposes internals: only where the port is trusted)")
	fs.StringVar(&nf.logLevel, "log-level", defaults.LogLevel, "debug, info, warn or error")
	fs.BoolVar(&nf.autoRebalance, "auto-leader-rebalance", true, "the leader moves partition leadership back to the preferred (first) replicas of brokers above --leader-imbalance-percent (Kafka's auto.leader.rebalance.enable)")
	fs.IntVar(&nf.imbalancePercent, "leader-imbalance-percent", controller.DefaultLeaderImbalancePercent, "a broker is rebalanced when more than this percentage of the partitions it is the preferred replica of are led by others (1-100)")
	fs.Uint64Var(&nf.gcFloorMiB, "gc-heap-floor-mib", defaults.GCHeapFloorMiB, "the Go collector lets the heap grow to at least this many MiB before it collects (far less GC CPU under writes while the state is small; no effect once the live heap is larger); 0: plain GOGC")
	fs.DurationVar(&nf.imbalanceCheck, "leader-imbalance-check-interval", controller.DefaultLeaderImbalanceInterval, "how often the leader checks leader imbalance")
}

func (nf *nodeFlags) apply(cfg *server.Config) error {
	if nf.heartbeat <= 0 || nf.electionTimeout < 2*nf.heartbeat {
		return errors.New("--election-timeout must be at least twice --heartbeat-interval")
	}
	cfg.TickInterval = nf.heartbeat
	cfg.ElectionTicks = int(nf.electionTimeout / nf.heartbeat)
	cfg.SnapshotEntries = nf.snapshotEntries
	cfg.SnapshotBytes = nf.snapshotBytes
	cfg.SnapshotInterval = nf.snapshotInterval
	cfg.RequestTimeout = nf.requestTimeout
	cfg.FullFetchAfter = nf.fullFetchAfter
	cfg.BrokerSessionTimeout = nf.sessionTimeout
	if nf.maxFullFetches < 1 {
		return errors.New("--max-full-fetches must be at least 1")
	}
	cfg.MaxFullFetches = nf.maxFullFetches
	if nf.maxInFlight < 0 {
		return errors.New("--max-inflight-requests must be 0 (no bound) or more")
	}
	cfg.MaxInFlightRequests = nf.maxInFlight
	if nf.maxConnections < 1 || nf.maxLongPolls < 1 || nf.maxHeaderBytes < 1024 {
		return errors.New("--max-connections and --max-long-polls must be at least 1, --max-header-bytes at least 1024")
	}
	cfg.MaxConnections, cfg.MaxLongPolls, cfg.MaxHeaderBytes = nf.maxConnections, nf.maxLongPolls, nf.maxHeaderBytes
	cfg.DebugPprof = nf.debugPprof
	if nf.imbalancePercent < 1 || nf.imbalancePercent > 100 {
		return errors.New("--leader-imbalance-percent must be 1..100")
	}
	if nf.imbalanceCheck < time.Second {
		return errors.New("--leader-imbalance-check-interval must be at least 1s")
	}
	cfg.AutoLeaderRebalance = nf.autoRebalance
	cfg.LeaderImbalancePercent, cfg.LeaderImbalanceCheckInterval = nf.imbalancePercent, nf.imbalanceCheck
	return nil
}

// startGCFloor applies --gc-heap-floor-mib to this process until the
// returned stop; it is process-wide, so only commands that own the
// process (server, dev) call it.
func (nf *nodeFlags) startGCFloor() (stop func()) {
	return gcfloor.Start(nf.gcFloorMiB << 20).Stop
}

// logger makes the logger of --log-level. When it cannot, it has said
// why on stderr and code is the exit status.
func (nf *nodeFlags) logger(name string, stderr io.Writer) (log *slog.Logger, code int, ok bool) {
	log, err := newLogger(stderr, nf.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, 2, false
	}
	return log, 0, true
}

func newServerCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run one node of a cluster",
		Long: `Run one node of a cluster: its raft peer port and its HTTP API.

A new cluster is bootstrapped by giving every first node the same --voters and --cluster-id
(each node's --node-id names its own entry); that formats each data directory and writes the
first voter set into the log. From then on the membership lives in the log: --voters only
bootstraps, and a later node joins a running cluster with --join (the HTTP address of any
member), as an observer that an operator promotes with 'yakt quorum add-voter'. A formatted
data directory remembers its cluster id, node id and directory id (see 'yakt format').

Safe by default: on an address other than loopback a node needs TLS (--tls-cert, --tls-key,
--tls-ca) and an --access-file, or --insecure for plain TCP on a network you trust (logged as a
warning at every start). SIGHUP reloads the certificate and access files; they are also
reloaded when they change. See docs/security.md.`,
		Example: `  # bootstrap a new cluster: the same --voters and --cluster-id on all three
  yakt server --node-id 1 --data-dir /var/lib/yakt --cluster-id prod-1 \
      --listen-peer 10.0.0.1:7001 --listen-http 10.0.0.1:8001 \
      --voters 1@10.0.0.1:7001,2@10.0.0.2:7001,3@10.0.0.3:7001 \
      --tls-cert /etc/yakt/node.crt --tls-key /etc/yakt/node.key --tls-ca /etc/yakt/ca.crt \
      --access-file /etc/yakt/access
  # a fourth node joins it as an observer
  yakt server --node-id 4 --data-dir /var/lib/yakt --listen-peer 10.0.0.4:7001 \
      --listen-http 10.0.0.4:8001 --join 10.0.0.1:8001 \
      --tls-cert /etc/yakt/node.crt --tls-key /etc/yakt/node.key --tls-ca /etc/yakt/ca.crt \
      --access-file /etc/yakt/access
  YAKT_NODE_ID=2 YAKT_DATA_DIR=/var/lib/yakt yakt server --voters ...`,
		Args: noArgs,
	}
	run := serverFlags(cmd.Flags(), stdout, stderr)
	cmd.RunE = func(*cobra.Command, []string) error { return exitStatus(run()) }
	return cmd
}

// serverFlags declares yakt server's flags on fs and returns what runs
// the server once they are parsed.
func serverFlags(fs *pflag.FlagSet, stdout, stderr io.Writer) func() int {
	var (
		o  serverOpts
		nf nodeFlags
	)
	fs.Uint64Var(&o.nodeID, "node-id", 0, "this node's id")
	fs.StringVar(&o.dataDir, "data-dir", "", "data directory (WAL and snapshots)")
	fs.StringVar(&o.listenPeer, "listen-peer", "", "address for raft peer traffic (default: this node's --voters address)")
	fs.StringVar(&o.listenHTTP, "listen-http", defaults.ListenHTTP, "address for the HTTP API")
	fs.StringVar(&o.advertiseHTTP, "advertise-http", "", "host:port of the HTTP API that the other nodes reach this one at (default: --listen-http; required when that is a wildcard address such as 0.0.0.0:8001)")
	fs.StringVar(&o.listenKafka, "listen-kafka", "", "address to serve the Kafka protocol on, for Kafka's own tools and clients (docs/kafka.md); none by default. It has no authentication: refused with --access-file")
	fs.StringVar(&o.advertiseKafka, "advertise-kafka", "", "host:port Kafka clients reach this node's --listen-kafka at, listed in Metadata (default: --listen-kafka; required when that is a wildcard address)")
	fs.StringVar(&o.advertisePeer, "advertise-peer", "", "host:port the other nodes dial this one's peer port at, recorded in the membership (default: this node's --voters entry, else --listen-peer; required when that is a wildcard address)")
	fs.StringVar(&o.voters, "voters", "", "bootstraps a new cluster: its first voters as id@host:port,... (peer addresses, Kafka's controller.quorum.voters form); ignored once the log exists, except as addresses of members the log has none for")
	fs.StringVar(&o.join, "join", "", "join a running cluster through these members' HTTP addresses (host:port,...): added as an observer, then promoted with 'yakt quorum add-voter'")
	fs.StringVar(&o.clusterID, "cluster-id", "", "the cluster's id: required to bootstrap a new cluster (the same on every node); a formatted data directory knows it")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM file of this node's certificate (DNS name node-<id>.<cluster-id> and the names it is reached at): turns on HTTPS and mutual TLS between peers, with --tls-key and --tls-ca (docs/security.md)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM file of --tls-cert's private key")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM file of the cluster's CA (several during a CA rotation): verifies peers and client certificates")
	fs.StringVar(&o.accessFile, "access-file", "", "file binding principals (client certificate names, token hashes) to roles: turns on authentication; required with TLS (docs/security.md)")
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain TCP (no TLS) on a non-loopback address: anyone who reaches the ports can change the cluster; only on a network you trust")
	nf.register(fs)
	return func() int { return runServer(&o, &nf, stdout, stderr) }
}

// serverOpts are yakt server's own flags.
type serverOpts struct {
	nodeID                          uint64
	dataDir, listenPeer, listenHTTP string
	advertiseHTTP, advertisePeer    string
	listenKafka, advertiseKafka     string
	voters, join, clusterID         string
	tlsCert, tlsKey, tlsCA          string
	accessFile                      string
	insecure                        bool
}

func runServer(o *serverOpts, nf *nodeFlags, stdout, stderr io.Writer) int {
	log, code, ok := nf.logger("yakt server", stderr)
	if !ok {
		return code
	}
	var vs map[uint64]string
	if o.voters != "" {
		var err error
		if vs, err = server.ParseVoters(o.voters); err != nil {
			fmt.Fprintln(stderr, "yakt server: --voters:", err)
			return 2
		}
	}
	var join []string
	for _, j := range strings.Split(o.join, ",") {
		if j = strings.TrimSpace(j); j != "" {
			join = append(join, j)
		}
	}
	switch {
	case o.dataDir == "":
		fmt.Fprintln(stderr, "yakt server: --data-dir is required")
		return 2
	case o.nodeID == 0:
		fmt.Fprintln(stderr, "yakt server: --node-id is required (a positive integer)")
		return 2
	}
	if o.listenPeer == "" {
		o.listenPeer = vs[o.nodeID]
	}
	if o.listenPeer == "" {
		fmt.Fprintf(stderr, "yakt server: --listen-peer is required when --voters has no entry for node %d\n", o.nodeID)
		return 2
	}
	if o.listenKafka != "" && o.accessFile != "" {
		fmt.Fprintln(stderr, "yakt server: --listen-kafka cannot be used with --access-file: the Kafka port has no authentication (no SASL or TLS), so it would let anyone around the access file")
		return 2
	}
	if o.advertiseKafka != "" && o.listenKafka == "" {
		fmt.Fprintln(stderr, "yakt server: --advertise-kafka needs --listen-kafka")
		return 2
	}
	cfg := server.Config{NodeID: o.nodeID, ClusterID: o.clusterID, DataDir: o.dataDir, Voters: vs, Join: join,
		ListenKafka: o.listenKafka, AdvertiseKafka: o.advertiseKafka,
		ListenPeer: o.listenPeer, ListenHTTP: o.listenHTTP, AdvertiseHTTP: o.advertiseHTTP, AdvertisePeer: o.advertisePeer, Logger: log,
		TLSCertFile: o.tlsCert, TLSKeyFile: o.tlsKey, TLSCAFile: o.tlsCA, AccessFile: o.accessFile, Insecure: o.insecure}
	if err := nf.apply(&cfg); err != nil {
		fmt.Fprintln(stderr, "yakt server:", err)
		return 2
	}
	// Signals are caught from before the start: one that arrives while
	// the node starts is handled once it runs, not by the default action
	// (SIGHUP would kill the process).
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigc)
	// SIGHUP reloads the certificate and access files now (they are also
	// polled): how an operator rotates them without waiting.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	defer nf.startGCFloor()()
	srv, err := server.Start(cfg)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	for {
		select {
		case <-hup:
			if err := srv.Reload(); err != nil {
				log.Error("reload on SIGHUP failed; keeping the files loaded before", "err", err)
			} else {
				log.Info("reloaded on SIGHUP")
			}
		case sig := <-sigc:
			log.Info("shutting down", "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			srv.Stop(ctx)
			cancel()
			return 0
		case <-srv.Node.Done():
			srv.Kill()
			log.Error("node stopped", "err", srv.Node.Err())
			return 1
		}
	}
}
