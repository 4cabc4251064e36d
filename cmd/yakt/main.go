// Command yakt runs YAKt, a KRaft-style metadata quorum, and operates it.
//
//	yakt server --node-id 1 --data-dir DIR --listen-peer 127.0.0.1:7001 \
//	    --listen-http 127.0.0.1:8001 --voters 1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003
//	yakt dev [--nodes 3|5] [--brokers N] [--data-dir DIR] [--secure]
//	yakt bench scale|write [flags]
//	yakt quorum describe --status | --replication
//	yakt quorum add-voter | add-observer | promote | remove-voter | transfer-leader --node-id N
//	yakt endpoint status | health
//	yakt topics create | list | describe | delete
//	yakt brokers list | describe | unregister | shutdown
//	yakt producer-ids allocate --broker N
//	yakt snapshot save FILE | status FILE | restore FILE --data-dir D --node-id N --voters V
//	yakt log tail [--from N] | dump --data-dir D [--from N]
//	yakt migrate zookeeper --zk HOST:PORT[/chroot] | status [--watch] | cutover | finalize | rollback
//	yakt shell [--snapshot FILE]
//	yakt token create --principal NAME [--role ROLE]
//	yakt version
//
// Every flag can also be set as an environment variable: --node-id is
// YAKT_NODE_ID, --endpoints YAKT_ENDPOINTS. A flag given on the command
// line wins over the variable. The commands are built with cobra, the
// command library of etcdctl and kubectl, so they behave as operators of
// those expect (--help on every command, flags anywhere after the
// command, shell completion).
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/yakt/yakt/internal/buildinfo"
	"github.com/yakt/yakt/internal/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	if ee, ok := errors.AsType[*exitError](err); ok {
		if ee.err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), ee.err)
		}
		return ee.code
	}
	// Anything else is cobra's own refusal of the command line (unknown
	// command or flag, wrong arguments), or a flag value it could not
	// parse: a usage error.
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
	return exitUsage
}

// groups are the command groups other files add subcommands to. Each is
// created once, in newRootCmd.
type groups struct {
	snapshot, log, quorum, topics, brokers, configs *cobra.Command
}

// newRootCmd builds the whole command tree. Commands write to stdout and
// stderr, never to os.Stdout directly, so tests run them in process.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "yakt",
		Short: "YAKt, a KRaft-style metadata quorum: run it, and operate it",
		Long: `YAKt is a KRaft-style metadata quorum. 'yakt server' runs one node and 'yakt dev' a local
cluster; the other commands operate a running cluster through its HTTP API, from any node.

Every flag may also be given as a YAKT_ environment variable (--node-id is YAKT_NODE_ID,
--endpoints YAKT_ENDPOINTS); a flag on the command line wins over the variable.

` + exitCodesHelp,
		Example: `  yakt dev
  yakt quorum describe --status
  yakt --endpoints http://10.0.0.1:8001,http://10.0.0.2:8001 topics list -o json
  YAKT_ENDPOINTS=http://10.0.0.1:8001 yakt endpoint health
  yakt --endpoints https://10.0.0.1:8001 --cacert ca.crt --cert admin.crt --key admin.key topics list
  YAKT_TOKEN=@/etc/yakt/reader.token yakt --endpoints https://10.0.0.1:8001 --cacert ca.crt brokers list`,
		Version:       buildinfo.Get().Version,
		SilenceErrors: true, // run prints them, with the exit status they map to
		SilenceUsage:  true, // a failed request is not a usage mistake
		// No Args: cobra then refuses an unknown command with suggestions
		// ("Did you mean this? server").
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(stderr)
			_ = cmd.Help()
			return &exitError{code: exitUsage}
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			return g.check()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate(versionTemplate)
	usage := root.UsageTemplate()
	root.SetUsageTemplate(usage +
		"\nExit status: 0 success, 1 the cluster refused the request, 2 usage error, 3 the cluster\ncould not answer (unreachable, no leader, --timeout); see 'yakt --help'.\n")
	// server, dev and bench run a cluster: the operating flags and exit
	// statuses are not theirs to show.
	runUsage := strings.Replace(usage, "{{if .HasAvailableInheritedFlags}}\n\nGlobal Flags:\n{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}", "", 1)
	g.register(root.PersistentFlags())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(err)
	})

	root.AddGroup(&cobra.Group{ID: "run", Title: "Run a cluster:"},
		&cobra.Group{ID: "ops", Title: "Operate a running cluster (--endpoints):"})
	for _, c := range []*cobra.Command{newServerCmd(stdout, stderr), newDevCmd(stdout, stderr), newBenchCmd(stdout, stderr)} {
		c.GroupID = "run"
		c.SetUsageTemplate(runUsage)
		root.AddCommand(c)
	}
	format := newFormatCmd(g)
	format.GroupID = "run"
	root.AddCommand(format)

	gr := groups{
		snapshot: newGroup("snapshot", "Save a snapshot of a running cluster; look into and restore snapshot files"),
		log:      newGroup("log", "Read the metadata log"),
		quorum:   newGroup("quorum", "Describe the raft quorum (kafka-metadata-quorum's fields); add, promote and remove its members"),
		topics:   newGroup("topics", "Create, list, describe and delete topics"),
		brokers:  newGroup("brokers", "List, describe, unregister and shut down brokers"),
		configs:  newGroup("configs", "Describe and change topic and broker configs (retention.ms, cleanup.policy, min.insync.replicas, ...)"),
	}
	gr.snapshot.Example = "  yakt snapshot save backup.snap"
	gr.log.Example = "  yakt log tail --from 1 --no-follow"
	gr.quorum.Example = "  yakt quorum describe --status\n  yakt quorum describe --replication\n  yakt quorum add-voter --node-id 4 --http-address 10.0.0.4:8001"
	gr.topics.Example = "  yakt topics create orders --partitions 6\n  yakt topics describe orders"
	gr.brokers.Example = "  yakt brokers list\n  yakt brokers shutdown 2"
	gr.configs.Example = "  yakt configs describe --topic orders\n  yakt configs set --topic orders retention.ms=86400000"
	// Online subcommands beside offline ones (snapshot status and
	// restore, log dump, shell: offline.go, over internal/inspect).
	gr.snapshot.AddCommand(newSnapshotSaveCmd(g), newSnapshotStatusCmd(g), newSnapshotRestoreCmd(g))
	gr.log.AddCommand(newLogTailCmd(g), newLogDumpCmd(g))
	gr.quorum.AddCommand(newQuorumCmds(g)...)
	gr.topics.AddCommand(newTopicsCreateCmd(g), newTopicsListCmd(g), newTopicsDescribeCmd(g), newTopicsDeleteCmd(g))
	gr.brokers.AddCommand(newBrokersListCmd(g), newBrokersDescribeCmd(g), newBrokersUnregisterCmd(g), newBrokersShutdownCmd(g))
	gr.configs.AddCommand(newConfigsDescribeCmd(g), newConfigsSetCmd(g), newConfigsDeleteCmd(g))
	for _, c := range []*cobra.Command{gr.quorum, newEndpointCmd(g), gr.topics, gr.brokers, gr.configs, newElectCmd(g), newReassignCmd(g), newProducerIDsCmd(g),
		gr.snapshot, gr.log, newMigrateCmd(g), newShellCmd(g), newTokenCmd(g), newVersionCmd(g)} {
		c.GroupID = "ops"
		root.AddCommand(c)
	}
	return root
}

// newGroup is a command that only holds subcommands. Without one (or with
// an unknown one) it shows its help and exits with the usage status.
func newGroup(name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Help()
			if len(args) > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("unknown command %q", args[0])}
			}
			return &exitError{code: exitUsage}
		},
	}
}

// noArgs refuses positional arguments with the message the commands have
// always given.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(args, " "))
	}
	return nil
}

// applyEnv fills every flag of fs not given on the command line from its
// YAKT_ environment variable.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil || f.Name == "help" || f.Name == "version" {
			return
		}
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageError(fmt.Errorf("%s=%q: %w", env, v, e))
			}
		}
	})
	return err
}

func envName(flagName string) string {
	return "YAKT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newLogger logs text to a terminal and JSON otherwise.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: server.ReadableLogValues}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
