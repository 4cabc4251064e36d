package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// newBenchCmd is `yakt bench scale|write`.
func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster of 3 server processes (see docs/operations.md)",
		Long: `'bench scale': start 3 server processes, fill them and measure; 'bench write': writes and reads
per second through the HTTP API of 3 server processes (see docs/operations.md).`,
		Example: `  yakt bench write --duration 30s
  yakt bench scale --partitions 200000 --brokers 1000`,
		Args: cobra.ArbitraryArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(stderr, "usage: yakt bench scale|write [flags]  (run 'yakt bench scale -h' or 'yakt bench write -h' for the flags)")
			return exitStatus(exitUsage)
		},
	}
	cmd.AddCommand(newBenchScaleCmd(stdout, stderr), newBenchWriteCmd(stdout, stderr))
	return cmd
}

// benchSetup ends a bench command's flag checks: it reports err (exit
// status 2), or makes the progress logger and finds this binary, which
// the bench runs as its servers. log is nil when the command must end
// with code.
func benchSetup(name string, err error, logLevel string, stderr io.Writer) (log *slog.Logger, bin string, code int) {
	if err == nil {
		log, err = newLogger(stderr, logLevel)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, "", 2
	}
	if bin, err = os.Executable(); err != nil {
		fmt.Fprintf(stderr, "%s: find this binary: %v\n", name, err)
		return nil, "", 1
	}
	return log, bin, 0
}

// benchServerArgs are the flags of every server a bench starts: quiet
// logs, then the user's --server-args (a later flag wins).
func benchServerArgs(extra string) []string {
	return append([]string{"--log-level", "warn"}, strings.Fields(extra)...)
}

// benchContext ends on Ctrl-C, SIGTERM or after timeout, so a bench
// command kills its servers and removes its directory in each case.
func benchContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// benchRuns calls one for runs 1..n, each on a fresh cluster. When a run
// fails, it prints the table of what was measured so far (measured says
// whether the failed run's partial result has anything), names the run
// on stderr and returns false.
func benchRuns[R any](ctx context.Context, name string, n int, stdout, stderr io.Writer,
	one func(i int) (R, error), measured func(R) bool, table func(io.Writer, []R) error) ([]R, bool) {
	var results []R
	for i := 1; i <= n; i++ {
		res, err := one(i)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (stopped: %v)", err, context.Cause(ctx))
			}
			if len(results) > 0 || measured(res) {
				// What was measured before the failing step is still worth having.
				fmt.Fprintf(stdout, "run %d stopped early; the figures so far:\n\n", i)
				_ = table(stdout, append(results, res))
			}
			fmt.Fprintf(stderr, "%s: run %d: %v\n", name, i, err)
			return results, false
		}
		results = append(results, res)
	}
	return results, true
}

// printJSON prints v indented and returns the exit status.
func printJSON(stdout, stderr io.Writer, name string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
