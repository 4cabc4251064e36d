package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/yakt/yakt/internal/server"
)

func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("yakt dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		nodes    = fs.Int("nodes", 3, "cluster size: 3 or 5")
		dataDir  = fs.String("data-dir", "", "data directory (default: a temporary directory removed on exit)")
		httpBase = fs.Int("http-port", 8001, "HTTP port of node 1; node i listens on http-port+i-1")
		peerBase = fs.Int("peer-port", 7001, "peer port of node 1; node i listens on peer-port+i-1")
		nf       nodeFlags
	)
	log, code, ok := parseCommand(fs, &nf, args, stderr)
	if !ok {
		return code
	}
	if *nodes != 3 && *nodes != 5 {
		fmt.Fprintln(stderr, "yakt dev: --nodes must be 3 or 5")
		return 2
	}
	var err error
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "yakt-dev-"); err != nil {
			fmt.Fprintln(stderr, "yakt dev:", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	voters := map[uint64]string{}
	for i := 1; i <= *nodes; i++ {
		voters[uint64(i)] = fmt.Sprintf("127.0.0.1:%d", *peerBase+i-1)
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
	for i := 1; i <= *nodes; i++ {
		cfg := server.Config{
			NodeID: uint64(i), DataDir: filepath.Join(dir, fmt.Sprintf("node-%d", i)), Voters: voters,
			ListenPeer: voters[uint64(i)], ListenHTTP: fmt.Sprintf("127.0.0.1:%d", *httpBase+i-1), Logger: log,
		}
		if err := nf.apply(&cfg); err != nil {
			fmt.Fprintln(stderr, "yakt dev:", err)
			return 2
		}
		s, err := server.Start(cfg)
		if err != nil {
			log.Error("start node failed", "node", i, "err", err)
			stopAll()
			return 1
		}
		servers = append(servers, s)
	}
	printDevBanner(stdout, servers, dir)

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigc)
	<-sigc
	fmt.Fprintln(stdout, "\nstopping the cluster...")
	stopAll()
	fmt.Fprintln(stdout, "stopped.")
	return 0
}

func printDevBanner(w io.Writer, servers []*server.Server, dir string) {
	fmt.Fprintf(w, "YAKt dev cluster: %d nodes, data in %s\n\n", len(servers), dir)
	for i, s := range servers {
		fmt.Fprintf(w, "  node %d  http://%s\n", i+1, s.HTTPAddr())
	}
	a := servers[0].HTTPAddr()
	fmt.Fprintf(w, `
Try:
  curl -s http://%[1]s/v1/quorum
  curl -s -XPOST http://%[1]s/v1/topics -d '{"name":"orders"}'
  curl -s http://%[2]s/v1/topics/orders
  curl -s http://%[1]s/metrics | grep yakt_raft

Ctrl-C stops the cluster.
`, a, servers[len(servers)-1].HTTPAddr())
}
