// Command yakt runs YAKt, a KRaft-style metadata quorum.
//
//	yakt server --node-id 1 --data-dir DIR --listen-peer 127.0.0.1:7001 \
//	    --listen-http 127.0.0.1:8001 --voters 1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003
//	yakt dev [--nodes 3|5] [--brokers N] [--data-dir DIR]
//	yakt bench scale [--partitions N] [--brokers N] [--heartbeat-duration D] [--runs N] [--json]
//	yakt bench write [--clients 1,64,256] [--read-clients N] [--duration D] [--runs N] [--json]
//
// Every flag can also be set as an environment variable: --node-id is
// YAKT_NODE_ID. A flag given on the command line wins over the variable.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/yakt/yakt/internal/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "dev":
		return runDev(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "yakt: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `yakt — a KRaft-style metadata quorum

Commands:
  server   run one node of a cluster
  dev      run a whole local cluster (3 or 5 nodes) and simulated brokers in this process
  bench    'bench scale': start 3 server processes, fill them and measure; 'bench write': writes
           and reads per second through the HTTP API of 3 server processes (see docs/operations.md)

Run 'yakt <command> -h' for the flags of a command. Every flag may also be
given as a YAKT_ environment variable (--node-id = YAKT_NODE_ID).
`)
}

// parseFlags parses args, then fills every flag not given on the command
// line from its YAKT_ environment variable.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

func envName(flagName string) string {
	return "YAKT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseCommand registers the node flags on fs, parses args and makes the
// logger. When it cannot, it has said why on stderr and code is the exit
// status (0 for -h).
func parseCommand(fs *flag.FlagSet, nf *nodeFlags, args []string, stderr io.Writer) (log *slog.Logger, code int, ok bool) {
	nf.register(fs)
	err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, 0, false
	}
	if err == nil {
		log, err = newLogger(stderr, nf.logLevel)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return nil, 2, false
	}
	return log, 0, true
}

// newLogger logs text to a terminal and JSON otherwise.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: server.ReadableLogValues}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
