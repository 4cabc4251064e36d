package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/yakt/yakt/internal/scalebench"
)

func newBenchScaleCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Start 3 server processes, fill them with partitions and brokers, and measure",
		Example: `  yakt bench scale --partitions 200000 --brokers 1000 --heartbeat-duration 2m
  yakt bench scale --runs 3 --json > scale.json`,
		Args: noArgs,
	}
	run := benchScaleFlags(cmd.Flags(), stdout, stderr)
	cmd.RunE = func(*cobra.Command, []string) error { return exitStatus(run()) }
	return cmd
}

// benchScaleFlags declares yakt bench scale's flags on fs and returns
// what runs it once they are parsed. It starts three `yakt server`
// processes of this very binary, fills them through the HTTP API and
// prints what it measured. It never runs in CI: the CI-sized run of the
// same load is TestSnapshotAtScaleKeepsLeader (internal/testcluster).
func benchScaleFlags(fs *pflag.FlagSet, stdout, stderr io.Writer) func() int {
	var (
		partitions = fs.Int("partitions", 2000000, "partitions in all (a multiple of --partitions-per-topic)")
		perTopic   = fs.Int("partitions-per-topic", 10000, "partitions per created topic (at most 10,000, the API's limit per request)")
		brokers    = fs.Int("brokers", 10000, "brokers to register; each heartbeats from its registration on")
		hbDur      = fs.Duration("heartbeat-duration", 10*time.Minute, "the liveness window: heartbeats, small writes and a snapshot on the leader")
		hbPeriod   = fs.Duration("heartbeat-interval", 2*time.Second, "each broker's heartbeat interval (Kafka's default is 2 s)")
		hbWorkers  = fs.Int("heartbeat-workers", 2000, "goroutines (and kept-alive connections) sending heartbeats")
		fillConc   = fs.Int("fill-clients", 4, "concurrent topic creates during the fill")
		regConc    = fs.Int("register-clients", 64, "concurrent broker registrations")
		writeConc  = fs.Int("write-clients", 2, "clients making small writes (create and delete a one-partition topic) in the window")
		runs       = fs.Int("runs", 1, "repeat the whole run on a fresh cluster this many times; the table adds the medians")
		timeout    = fs.Duration("timeout", 3*time.Hour, "give up (and clean up) after this long")
		jsonOut    = fs.Bool("json", false, "print JSON instead of a table")
		serverArgs = fs.String("server-args", "", "extra flags of 'yakt server' for every node, space-separated (e.g. \"--snapshot-entries 10000\")")
		logLevel   = fs.String("log-level", "info", "progress log level on stderr: debug, info, warn or error")
	)
	return func() int {
		return runBenchScale(partitions, perTopic, brokers, hbWorkers, fillConc, regConc, writeConc, runs,
			hbDur, hbPeriod, timeout, jsonOut, serverArgs, logLevel, stdout, stderr)
	}
}

func runBenchScale(partitions, perTopic, brokers, hbWorkers, fillConc, regConc, writeConc, runs *int,
	hbDur, hbPeriod, timeout *time.Duration, jsonOut *bool, serverArgs, logLevel *string, stdout, stderr io.Writer) int {
	var err error
	if *runs < 1 || *perTopic < 1 || *perTopic > 10000 || *hbWorkers < 1 || *fillConc < 1 || *regConc < 1 || *writeConc < 1 || *hbPeriod <= 0 {
		err = errors.New("--runs, --partitions-per-topic (1..10000), --heartbeat-workers, the client counts and --heartbeat-interval must be positive")
	}
	if err == nil && (*partitions < 1 || *partitions%*perTopic != 0 || *brokers < 3) {
		err = fmt.Errorf("--partitions (%d) must be a positive multiple of --partitions-per-topic (%d), and --brokers (%d) at least 3 (replication factor 3)",
			*partitions, *perTopic, *brokers)
	}
	log, bin, code := benchSetup("yakt bench scale", err, *logLevel, stderr)
	if log == nil {
		return code
	}
	ctx, cancel := benchContext(*timeout)
	defer cancel()

	cfg := scalebench.Config{
		Bin: bin, Partitions: *partitions, PartitionsPerTopic: *perTopic, Brokers: *brokers,
		FillClients: *fillConc, RegisterClients: *regConc, WriteClients: *writeConc,
		HeartbeatWorkers: *hbWorkers, HeartbeatPeriod: *hbPeriod, HeartbeatDuration: *hbDur,
		ServerArgs: benchServerArgs(*serverArgs), Log: log,
	}
	results, ok := benchRuns(ctx, "yakt bench scale", *runs, stdout, stderr, func(i int) (scalebench.Result, error) {
		log.Info("run", "run", i, "of", *runs, "partitions", *partitions, "brokers", *brokers)
		return scalebench.Run(ctx, cfg)
	}, func(r scalebench.Result) bool { return len(r.Metrics) > 0 }, scalebench.WriteTable)
	if !ok {
		return 1
	}
	if *jsonOut {
		out := map[string]any{
			"partitions": *partitions, "partitionsPerTopic": *perTopic, "brokers": *brokers,
			"heartbeatDuration": hbDur.String(), "runs": results,
		}
		if len(results) > 1 {
			out["median"] = scalebench.Median(results)
		}
		return printJSON(stdout, stderr, "yakt bench scale", out)
	}
	fmt.Fprintf(stdout, "yakt bench scale: %d partitions (%d per topic, RF 3), %d brokers heartbeating every %v, window %v, 3 nodes on 127.0.0.1, fsync on\n\n",
		*partitions, *perTopic, *brokers, *hbPeriod, *hbDur)
	if err := scalebench.WriteTable(stdout, results); err != nil {
		fmt.Fprintln(stderr, "yakt bench scale:", err)
		return 1
	}
	return 0
}
