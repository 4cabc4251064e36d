package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/inspect"
)

// The offline commands read a node's files (internal/inspect): they need
// no running cluster, and --endpoints is not theirs, except for the
// shell's live mode.

func newSnapshotStatusCmd(g *globals) *cobra.Command {
	cmd := command("status FILE", "Describe a snapshot file offline: offset, term, counts, checksum (verified)",
		`  yakt snapshot status backup.snap
  yakt snapshot status /var/lib/yakt/snap/0000000000001234.snap -o json`,
		exactArgs(1, "a snapshot file"), func(cmd *cobra.Command, args []string) error {
			info, err := inspect.SnapshotStatus(args[0])
			if err != nil {
				return &exitError{code: exitAPI, err: err}
			}
			if g.json() {
				return g.printJSON(info)
			}
			return writeOut(info.WriteTable(g.stdout))
		})
	cmd.Long = `Read a snapshot file (saved by 'yakt snapshot save', or one of a node's own) without a
cluster: its offset and term, format version, voters, how many brokers, topics and partitions it
holds, and its checksum. The whole file is read and every checksum verified; a damaged file is an
error (exit status 1) that names the check that failed.`
	return cmd
}

func newSnapshotRestoreCmd(g *globals) *cobra.Command {
	var opts inspect.RestoreOptions
	cmd := command("restore FILE", "Create a new cluster member's data directory from a snapshot file (offline)",
		`  # on each of the new cluster's three hosts, the same FILE, --voters and --cluster-id:
  yakt snapshot restore backup.snap --data-dir /var/lib/yakt --node-id 1 \
      --voters 1@10.0.0.1:7001,2@10.0.0.2:7001,3@10.0.0.3:7001 --cluster-id prod-restored
  yakt server --data-dir /var/lib/yakt --node-id 1 --voters ... --cluster-id prod-restored ...`,
		exactArgs(1, "a snapshot file"), func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.DataDir == "":
				return usageError(errors.New("--data-dir is required"))
			case opts.NodeID == 0:
				return usageError(errors.New("--node-id is required"))
			case opts.Voters == "":
				return usageError(errors.New("--voters is required"))
			case opts.ClusterID == "":
				return usageError(errors.New("--cluster-id is required: the restored cluster is a new one, and all its nodes get the same fresh id"))
			}
			ctx, cancel := g.context(false)
			defer cancel()
			if err := inspect.Restore(ctx, args[0], opts); err != nil {
				return &exitError{code: exitAPI, err: err}
			}
			fmt.Fprintf(g.stdout, "restored %s into %s as node %d of %s\n", args[0], opts.DataDir, opts.NodeID, opts.Voters)
			return nil
		})
	cmd.Long = `Restore a backup, as etcdctl snapshot restore does: lay down the data directory of one
member of a NEW cluster whose state is the snapshot's. Run it once per node, each with its own
--data-dir and --node-id and the same FILE, --voters and --cluster-id, then start the servers with
those same flags. The file is verified first; the directory must be empty or absent. Give the new
cluster a fresh --cluster-id so a node of the old cluster can never join it. Brokers must then fetch
the metadata again without an offset (docs/operations.md, "Back up and restore").`
	fs := cmd.Flags()
	fs.StringVar(&opts.DataDir, "data-dir", "", "the new node's data directory (must be empty or absent)")
	fs.Uint64Var(&opts.NodeID, "node-id", 0, "the new node's id (one of --voters)")
	fs.StringVar(&opts.Voters, "voters", "", "the new cluster's voters, as 'yakt server --voters' takes them: 1@host:port,...")
	fs.StringVar(&opts.ClusterID, "cluster-id", "", "the new cluster's id, the same for each of its nodes (required; yakt format draws fresh ones)")
	return cmd
}

func newLogDumpCmd(g *globals) *cobra.Command {
	var dataDir string
	var from uint64
	cmd := command("dump", "Print a stopped node's log, decoded into records (offline)",
		`  yakt log dump --data-dir /var/lib/yakt
  yakt log dump --data-dir /var/lib/yakt --from 1200 -o json | jq .`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				return usageError(errors.New("--data-dir is required"))
			}
			ctx, cancel := g.context(false)
			defer cancel()
			w := bufio.NewWriter(g.stdout)
			enc := json.NewEncoder(w)
			err := inspect.DumpLog(ctx, dataDir, from, func(e inspect.Entry) error {
				if g.json() {
					return enc.Encode(e)
				}
				return e.WriteText(w)
			})
			if ferr := w.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("write output: %w", ferr)
			}
			if err != nil {
				return &exitError{code: exitAPI, err: err}
			}
			return nil
		})
	cmd.Long = `Print the entries of a node's log from --from on, each decoded into its metadata records
(as kafka-dump-log --cluster-metadata-decoder does): offset, term, whether it is committed, and each
record's name and fields. When --from is older than the oldest entry the node still holds, the dump
starts with the snapshot the log continues from. It never writes to the directory, and refuses one
that a running node holds (stop the node, or read a copy). -o json prints one JSON object per entry.`
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the node's data directory")
	cmd.Flags().Uint64Var(&from, "from", 0, "first offset to print (0: everything the node holds)")
	return cmd
}

func newShellCmd(g *globals) *cobra.Command {
	var snapshot string
	cmd := command("shell", "Browse the metadata as a tree (ls, cd, cat, find) of a snapshot file or a live cluster",
		`  yakt shell --snapshot backup.snap
  yakt shell                                   # the cluster at --endpoints, as of now
  echo 'find /topics/orders' | yakt shell --snapshot backup.snap`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			root, err := g.shellTree(snapshot)
			if err != nil {
				return err
			}
			var opts []inspect.ShellOption
			in := cmd.InOrStdin()
			if f, ok := in.(*os.File); ok && isTerminal(f) {
				opts = append(opts, inspect.WithPrompt("yakt> "))
			}
			if err := inspect.Shell(in, g.stdout, root, opts...); err != nil {
				return &exitError{code: exitAPI, err: err}
			}
			return nil
		})
	cmd.Long = `Browse YAKt's metadata as kafka-metadata-shell does, as a tree: /brokers/<id>,
/topics/<name>/partitions/<n>, /producerIds and /cluster. Commands: ls [path], cd path, cat path,
find [path] [name-glob], pwd, help, exit. With --snapshot it reads a snapshot file offline;
without, it fetches the whole metadata of the cluster at --endpoints once (a ClientMgmt fetch) and
browses that. Commands are read from stdin, so a script can pipe them in; the exit status is 1 when
any command failed.`
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "browse this snapshot file instead of the live cluster")
	return cmd
}

// shellTree builds the shell's tree from a snapshot file or, with none,
// from one full fetch of the cluster.
func (g *globals) shellTree(snapshot string) (*inspect.Node, error) {
	if snapshot != "" {
		root, err := inspect.TreeFromSnapshotFile(snapshot)
		if err != nil {
			return nil, &exitError{code: exitAPI, err: err}
		}
		return root, nil
	}
	var root *inspect.Node
	err := g.call(func(ctx context.Context, c *client.Client) error {
		res, err := c.ClientFetch(ctx, client.FetchOptions{})
		if err != nil {
			return fmt.Errorf("fetch the metadata: %w", err)
		}
		root, err = inspect.TreeFromFetch(fmt.Sprint(g.endpoints), res)
		return err
	})
	return root, err
}

// writeOut classifies an error writing a report to stdout.
func writeOut(err error) error {
	if err != nil {
		return &exitError{code: exitAPI, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}
