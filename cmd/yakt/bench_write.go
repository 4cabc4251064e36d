package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/yakt/yakt/internal/writebench"
)

func newBenchWriteCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "write",
		Short: "Writes and reads per second through the HTTP API of 3 server processes",
		Example: `  yakt bench write
  yakt bench write --clients 1,16,64 --duration 30s --runs 3 --json > write.json`,
		Args: noArgs,
	}
	run := benchWriteFlags(cmd.Flags(), stdout, stderr)
	cmd.RunE = func(*cobra.Command, []string) error { return exitStatus(run()) }
	return cmd
}

// benchWriteFlags declares yakt bench write's flags on fs and returns
// what runs it once they are parsed. It starts three `yakt server`
// processes of this very binary per run and measures closed-loop topic
// creates and linearizable reads through the HTTP API, as users see them.
func benchWriteFlags(fs *pflag.FlagSet, stdout, stderr io.Writer) func() int {
	var (
		clients    = fs.String("clients", "1,64,256", "a write row for each of these client counts, comma-separated")
		readers    = fs.Int("read-clients", 64, "clients of the read row (0: no read row)")
		duration   = fs.Duration("duration", 10*time.Second, "each row's measured window")
		warmup     = fs.Duration("warmup", 2*time.Second, "load before each row's window, not recorded")
		runs       = fs.Int("runs", 1, "repeat on a fresh cluster this many times; the table shows medians")
		timeout    = fs.Duration("timeout", 30*time.Minute, "give up (and clean up) after this long")
		jsonOut    = fs.Bool("json", false, "print JSON instead of a table")
		serverArgs = fs.String("server-args", "", "extra flags of 'yakt server' for every node, space-separated (e.g. \"--debug-pprof\")")
		logLevel   = fs.String("log-level", "info", "progress log level on stderr: debug, info, warn or error")
	)
	return func() int {
		return runBenchWrite(clients, readers, runs, duration, warmup, timeout, jsonOut, serverArgs, logLevel, stdout, stderr)
	}
}

func runBenchWrite(clients *string, readers, runs *int, duration, warmup, timeout *time.Duration, jsonOut *bool,
	serverArgs, logLevel *string, stdout, stderr io.Writer) int {
	counts, err := parseCounts(*clients)
	if err == nil && (*runs < 1 || *readers < 0 || *duration <= 0 || *warmup < 0) {
		err = errors.New("--runs and --duration must be positive, --read-clients and --warmup at least 0")
	}
	log, bin, code := benchSetup("yakt bench write", err, *logLevel, stderr)
	if log == nil {
		return code
	}
	ctx, cancel := benchContext(*timeout)
	defer cancel()

	results, ok := benchRuns(ctx, "yakt bench write", *runs, stdout, stderr, func(i int) (writebench.Result, error) {
		log.Info("run", "run", i, "of", *runs)
		return writebench.Run(ctx, writebench.Config{
			Bin: bin, Clients: counts, ReadClients: *readers, Warmup: *warmup, Duration: *duration, Run: i,
			ServerArgs: benchServerArgs(*serverArgs), Log: log,
		})
	}, func(r writebench.Result) bool { return len(r.Rows) > 0 }, writebench.WriteTable)
	if !ok {
		return 1
	}
	if *jsonOut {
		out := map[string]any{
			"clients": counts, "readClients": *readers, "duration": duration.String(), "warmup": warmup.String(), "runs": results,
		}
		if len(results) > 1 {
			out["median"] = writebench.Median(results)
		}
		return printJSON(stdout, stderr, "yakt bench write", out)
	}
	what := "one run"
	if *runs > 1 {
		what = fmt.Sprintf("medians of %d runs, each on a fresh cluster", *runs)
	}
	fmt.Fprintf(stdout, "yakt bench write: 3 nodes on 127.0.0.1, fsync on, closed-loop clients spread over the nodes, warmup %v, window %v per row, %s\n\n",
		*warmup, *duration, what)
	if err := writebench.WriteTable(stdout, results); err != nil {
		fmt.Fprintln(stderr, "yakt bench write:", err)
		return 1
	}
	return 0
}

// parseCounts reads "1,64,256".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--clients %q: want positive whole numbers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
