package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/vfs"
)

// maxDevBrokers bounds --brokers: the simulation is for trying the API, not
// for load.
const maxDevBrokers = 100

func newDevCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole local cluster (3 or 5 nodes) and simulated brokers in this process",
		Long: `Run a whole local cluster in this process: 3 or 5 nodes on 127.0.0.1 (HTTP on 8001.., peers on
7001..) and simulated brokers that register and heartbeat through the API, for trying YAKt and its
commands. The data lives in a temporary directory removed on exit, unless --data-dir is given.
Ctrl-C stops it.

It is plain HTTP on 127.0.0.1, open to every local user. --secure turns on what a production
cluster has: it makes a throwaway CA, node certificates, client certificates for admin and reader
and an access file (in --certs-dir), starts the nodes with TLS and authentication, and prints
the variables and a curl command to use them (see docs/security.md).`,
		Example: `  yakt dev
  yakt dev --nodes 5 --brokers 6
  yakt dev --http-port 0 --peer-port 0     # any free ports
  yakt dev --secure                        # TLS, client certificates and tokens`,
		Args: noArgs,
	}
	run := devFlags(cmd.Flags(), stdout, stderr)
	cmd.RunE = func(*cobra.Command, []string) error { return exitStatus(run()) }
	return cmd
}

// devFlags declares yakt dev's flags on fs and returns what runs the
// cluster once they are parsed.
func devFlags(fs *pflag.FlagSet, stdout, stderr io.Writer) func() int {
	var (
		nodes     = fs.Int("nodes", 3, "cluster size: 3 or 5")
		dataDir   = fs.String("data-dir", "", "data directory (default: a temporary directory removed on exit)")
		httpBase  = fs.Int("http-port", 8001, "HTTP port of node 1; node i listens on http-port+i-1 (0: any free ports)")
		peerBase  = fs.Int("peer-port", 7001, "peer port of node 1; node i listens on peer-port+i-1 (0: any free ports)")
		kafkaBase = fs.Int("kafka-port", 9192, "Kafka protocol port of node 1; node i listens on kafka-port+i-1 (0: any free ports; none with --secure, as the Kafka port has no authentication)")
		brokers   = fs.Int("brokers", 3, "simulated brokers that register and heartbeat through the API (0: none)")
		brokerHB  = fs.Duration("broker-heartbeat-interval", 2*time.Second, "how often each simulated broker heartbeats (BrokerMgmt fetch)")
		nf        nodeFlags
		sec       devSecureFlags
	)
	fs.BoolVar(&sec.secure, "secure", false, "TLS and authentication: make a throwaway CA, certificates and an access file, and print how to use them")
	fs.StringVar(&sec.certsDir, "certs-dir", "", "where --secure writes its certificates, keys and access file (default: certs in the data directory)")
	nf.register(fs)
	return func() int {
		return runDev(nodes, dataDir, httpBase, peerBase, kafkaBase, brokers, brokerHB, &nf, &sec, stdout, stderr)
	}
}

// devSecureFlags are yakt dev's --secure and --certs-dir.
type devSecureFlags struct {
	secure   bool
	certsDir string
}

func runDev(nodes *int, dataDir *string, httpBase, peerBase, kafkaBase, brokers *int, brokerHB *time.Duration, nf *nodeFlags, secFlags *devSecureFlags, stdout, stderr io.Writer) int {
	log, code, ok := nf.logger("yakt dev", stderr)
	if !ok {
		return code
	}
	if *nodes != 3 && *nodes != 5 {
		fmt.Fprintln(stderr, "yakt dev: --nodes must be 3 or 5")
		return 2
	}
	if *brokers < 0 || *brokers > maxDevBrokers {
		fmt.Fprintf(stderr, "yakt dev: --brokers must be 0..%d\n", maxDevBrokers)
		return 2
	}
	if *brokers > 0 && (*brokerHB <= 0 || *brokerHB >= nf.sessionTimeout) {
		fmt.Fprintln(stderr, "yakt dev: --broker-heartbeat-interval must be above 0 and below --broker-session-timeout")
		return 2
	}
	if *httpBase < 0 || *peerBase < 0 || *kafkaBase < 0 {
		fmt.Fprintln(stderr, "yakt dev: --http-port, --peer-port and --kafka-port must be >= 0")
		return 2
	}
	base := server.Config{Logger: log}
	defer nf.startGCFloor()()
	if err := nf.apply(&base); err != nil {
		fmt.Fprintln(stderr, "yakt dev:", err)
		return 2
	}
	// Ctrl-C stops the start-up too (a cluster that never elects a leader
	// keeps the simulated brokers waiting to register).
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()

	var err error
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "yakt-dev-"); err != nil {
			fmt.Fprintln(stderr, "yakt dev:", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	// Every listener is bound before any node starts: the voter set must
	// name the peer addresses, which with port 0 are known only once bound.
	peerLs, err := listenAll(*nodes, *peerBase)
	if err != nil {
		fmt.Fprintln(stderr, "yakt dev: peers:", err)
		return 1
	}
	httpLs, err := listenAll(*nodes, *httpBase)
	if err != nil {
		closeAll(peerLs)
		fmt.Fprintln(stderr, "yakt dev: HTTP:", err)
		return 1
	}
	var kafkaLs []net.Listener
	if !secFlags.secure {
		if kafkaLs, err = listenAll(*nodes, *kafkaBase); err != nil {
			closeAll(peerLs)
			closeAll(httpLs)
			fmt.Fprintln(stderr, "yakt dev: Kafka:", err)
			return 1
		}
	}
	voters := map[uint64]string{}
	for i, l := range peerLs {
		voters[uint64(i+1)] = l.Addr().String()
	}
	var servers []*server.Server
	stopAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, s := range servers {
			wg.Add(1)
			go func() { defer wg.Done(); s.Stop(ctx) }()
		}
		wg.Wait()
	}
	// A new cluster gets a fresh id; a --data-dir from an earlier run
	// keeps the one its directories were formatted with.
	clusterID := newClusterID()
	if id, err := storage.ReadIdentity(vfs.OS, filepath.Join(dir, "node-1")); err == nil {
		clusterID = id.ClusterID
	}
	var pki *devPKI
	if secFlags.secure {
		certsDir := secFlags.certsDir
		if certsDir == "" {
			certsDir = filepath.Join(dir, "certs")
		}
		if pki, err = makeDevPKI(certsDir, clusterID, *nodes, *brokers); err != nil {
			closeAll(peerLs)
			closeAll(httpLs)
			closeAll(kafkaLs)
			fmt.Fprintln(stderr, "yakt dev --secure:", err)
			return 1
		}
	}
	for i := 1; i <= *nodes; i++ {
		cfg := base
		cfg.NodeID, cfg.DataDir, cfg.Voters = uint64(i), filepath.Join(dir, fmt.Sprintf("node-%d", i)), voters
		cfg.ClusterID = clusterID
		cfg.PeerListener, cfg.HTTPListener = peerLs[i-1], httpLs[i-1]
		if kafkaLs != nil {
			cfg.KafkaListener = kafkaLs[i-1]
		}
		if pki != nil {
			pki.configure(&cfg, i)
		}
		s, err := server.Start(cfg)
		if err != nil {
			log.Error("start node failed", "node", i, "err", err)
			closeAll(peerLs[i:])
			closeAll(httpLs[i:])
			if kafkaLs != nil {
				closeAll(kafkaLs[i:])
			}
			stopAll()
			return 1
		}
		servers = append(servers, s)
	}
	printDevNodes(stdout, servers, dir, pki != nil)

	sims, simsDone := startSimBrokers(ctx, *brokers, servers, *brokerHB, pki, log)
	if ctx.Err() == nil {
		printDevBrokers(stdout, sims, *brokerHB, nf.sessionTimeout)
		if pki != nil {
			pki.printUse(stdout, servers)
		}
		printDevTry(stdout, servers, len(sims), pki)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping the cluster...")
	simsDone() // brokers first: they would only log errors while the nodes stop
	stopAll()
	fmt.Fprintln(stdout, "stopped.")
	return 0
}

// listenAll binds n TCP listeners on 127.0.0.1: ports base..base+n-1, or
// any free ports when base is 0.
func listenAll(n, base int) ([]net.Listener, error) {
	var ls []net.Listener
	for i := range n {
		port := 0
		if base != 0 {
			port = base + i
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			closeAll(ls)
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// startSimBrokers starts n simulated brokers (ids 1..n, ports 9092.., racks
// r1..) against servers' HTTP endpoints and waits until each is registered
// or ctx ends. stop ends them and waits for their goroutines.
func startSimBrokers(ctx context.Context, n int, servers []*server.Server, interval time.Duration, pki *devPKI, log *slog.Logger) (sims []*simBroker, stop func()) {
	scheme := "http://"
	if pki != nil {
		scheme = "https://"
	}
	var endpoints []string
	for _, s := range servers {
		endpoints = append(endpoints, scheme+s.HTTPAddr())
	}
	// Its own transport, so that stopping closes its connections and no
	// request of a simulated broker shares a pool with anything else.
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	if pki != nil {
		tr.TLSClientConfig = pki.clientTLS()
	}
	httpc := &http.Client{Transport: tr}
	simCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var ready []chan struct{}
	for i := 1; i <= n; i++ {
		b := &simBroker{
			id: int32(i), port: 9091 + i, rack: fmt.Sprintf("r%d", i),
			endpoints: endpoints, next: (i - 1) % len(endpoints), interval: interval, httpc: httpc, log: log,
		}
		if pki != nil {
			b.token = pki.brokerTokens[int32(i)]
		}
		sims = append(sims, b)
		r := make(chan struct{})
		ready = append(ready, r)
		wg.Add(1)
		go func() { defer wg.Done(); b.run(simCtx, r) }()
	}
	for _, r := range ready {
		select {
		case <-r:
		case <-ctx.Done():
		}
	}
	return sims, func() {
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
	}
}

func printDevNodes(w io.Writer, servers []*server.Server, dir string, secure bool) {
	scheme, what := "http", ""
	if secure {
		scheme, what = "https", ", TLS and authentication on"
	}
	fmt.Fprintf(w, "YAKt dev cluster: %d nodes%s, data in %s\n\n", len(servers), what, dir)
	for i, s := range servers {
		if k := s.KafkaAddr(); k != "" {
			fmt.Fprintf(w, "  node %d  %s://%s  kafka %s\n", i+1, scheme, s.HTTPAddr(), k)
			continue
		}
		fmt.Fprintf(w, "  node %d  %s://%s\n", i+1, scheme, s.HTTPAddr())
	}
}

func printDevBrokers(w io.Writer, sims []*simBroker, interval, session time.Duration) {
	if len(sims) == 0 {
		fmt.Fprintln(w, "\nNo simulated brokers (--brokers 0): register your own, and heartbeat to keep them ALIVE.")
		return
	}
	fmt.Fprintf(w, "\nSimulated brokers, registered through the API; each heartbeats (POST /v1/metadata/fetch) every %v\n", interval)
	fmt.Fprintf(w, "(a broker silent for %v is fenced):\n\n", session)
	for _, b := range sims {
		fmt.Fprintf(w, "  broker %d  127.0.0.1:%d  rack %s\n", b.id, b.port, b.rack)
	}
}

func printDevTry(w io.Writer, servers []*server.Server, brokers int, pki *devPKI) {
	a, z := "http://"+servers[0].HTTPAddr(), "http://"+servers[len(servers)-1].HTTPAddr()
	curl := "curl -s"
	if pki != nil {
		a, z = "https://"+servers[0].HTTPAddr(), "https://"+servers[len(servers)-1].HTTPAddr()
		curl = fmt.Sprintf("curl -s --cacert %s --cert %s --key %s", pki.caFile, pki.adminCert, pki.adminKey)
	}
	create := fmt.Sprintf(`{"name":"orders","partitions":6,"replicationFactor":%d}`, min(brokers, 3))
	if brokers == 0 {
		create = `{"name":"orders"}`
	}
	fmt.Fprintf(w, `
Try:
  %[4]s %[1]s/v1/brokers
  %[4]s -XPOST %[1]s/v1/topics -d '%[3]s'
  %[4]s %[2]s/v1/topics/orders
  %[4]s %[1]s/v1/quorum
`, a, z, create, curl)
	if k := servers[0].KafkaAddr(); k != "" {
		fmt.Fprintf(w, "  kcat -L -b %s\n", k)
	}
	fmt.Fprint(w, "\nCtrl-C stops the cluster.\n")
}
