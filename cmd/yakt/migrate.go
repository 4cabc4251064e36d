package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

// The migration commands (docs/migration.md), over the API of docs/api.md,
// "Migration from ZooKeeper".

// newMigrateCmd is the migrate group and its subcommands.
func newMigrateCmd(g *globals) *cobra.Command {
	cmd := newGroup("migrate", "Move a ZooKeeper-mode Kafka cluster's metadata into YAKt: start, watch, cut over, finalize, roll back")
	cmd.Long = `Migrate a ZooKeeper-mode Kafka cluster's metadata into YAKt without downtime (docs/migration.md).

'yakt migrate zookeeper --zk HOST:PORT[/chroot]' starts it: the leader imports every broker, topic and
partition from ZooKeeper (phase IMPORTING), then follows every later ZooKeeper change (FOLLOWING).
Until cutover ZooKeeper is the authority: YAKt refuses metadata writes with MIGRATION_IN_PROGRESS.
'yakt migrate cutover' makes YAKt the authority (DUAL_WRITE: its changes are written back to
ZooKeeper), 'yakt migrate finalize' stops writing to ZooKeeper (FINALIZED). Before finalize,
'yakt migrate rollback' hands authority back to ZooKeeper (DUAL_WRITE -> FOLLOWING), or stops a
migration that was not cut over (ABORTED). 'yakt migrate status' shows where it stands.`
	cmd.Example = `  yakt migrate zookeeper --zk zk1:2181,zk2:2181,zk3:2181/kafka
  yakt migrate status --watch
  yakt migrate cutover
  yakt migrate finalize`
	cmd.AddCommand(newMigrateZooKeeperCmd(g), newMigrateStatusCmd(g),
		newMigratePhaseCmd(g, "cutover", "Cut over: YAKt becomes the authority (FOLLOWING -> DUAL_WRITE)",
			"Refused while the migration is not FOLLOWING, and while the leader's driver reports znodes it\ncould not apply or is not connected to ZooKeeper (see 'yakt migrate status'): YAKt takes over\nonly the state ZooKeeper holds.",
			(*client.Client).CutoverMigration),
		newMigratePhaseCmd(g, "finalize", "Finalize: stop writing to ZooKeeper (DUAL_WRITE -> FINALIZED)",
			"After this ZooKeeper is neither read nor written: Kafka's ZooKeeper-mode brokers no longer see\nYAKt's changes. There is no rollback from FINALIZED.",
			(*client.Client).FinalizeMigration),
		newMigratePhaseCmd(g, "rollback", "Roll back: ZooKeeper is the authority again (DUAL_WRITE -> FOLLOWING), or stop (-> ABORTED)",
			"From DUAL_WRITE the leader writes every change YAKt made to ZooKeeper, then follows ZooKeeper\nagain. From IMPORTING or FOLLOWING the migration stops (ABORTED): what it imported stays.",
			(*client.Client).RollbackMigration))
	return cmd
}

func newMigrateZooKeeperCmd(g *globals) *cobra.Command {
	var zk string
	cmd := command("zookeeper", "Start a migration from the ZooKeeper ensemble at --zk",
		`  yakt migrate zookeeper --zk 10.0.0.5:2181
  yakt migrate zookeeper --zk zk1:2181,zk2:2181,zk3:2181/kafka --endpoints http://10.0.0.1:8001`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if zk == "" {
				return usageError(errors.New("--zk is required: HOST:PORT[,HOST:PORT...][/chroot]"))
			}
			if err := controller.ValidateZkConnect(zk); err != nil {
				return usageError(fmt.Errorf("--zk: %w", err))
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				st, _, err := c.StartMigration(ctx, zk)
				if err != nil {
					return err
				}
				if !g.json() {
					fmt.Fprintf(g.stderr, "migration started; follow it with 'yakt migrate status --watch'\n")
				}
				return g.printMigration(st)
			})
		})
	cmd.Long = `Start a migration from ZooKeeper. The leader first checks that ZooKeeper answers at --zk and reads
Kafka's cluster id from /cluster/id (ZOOKEEPER_UNAVAILABLE otherwise: nothing is started). A migration
starts when none has started, or after the last one was ABORTED or FAILED.`
	cmd.Flags().StringVar(&zk, "zk", "", "ZooKeeper's connect string: HOST:PORT[,HOST:PORT...][/chroot] (required)")
	return cmd
}

// newMigratePhaseCmd is cutover, finalize or rollback: op moves the
// migration on and answers its state.
func newMigratePhaseCmd(g *globals, name, short, long string, op func(*client.Client, context.Context) (client.MigrationStatus, client.Meta, error)) *cobra.Command {
	cmd := command(name, short, "  yakt migrate "+name+"\n  yakt migrate "+name+" -o json | jq .phase",
		noArgs, func(cmd *cobra.Command, args []string) error {
			return g.call(func(ctx context.Context, c *client.Client) error {
				st, _, err := op(c, ctx)
				if err != nil {
					return err
				}
				return g.printMigration(st)
			})
		})
	cmd.Long = short + ".\n\n" + long
	return cmd
}

func newMigrateStatusCmd(g *globals) *cobra.Command {
	var watch bool
	var interval time.Duration
	cmd := command("status", "Show where the migration stands: phase, zxid, import progress, the driver's activity and problems",
		`  yakt migrate status
  yakt migrate status --watch
  yakt migrate status -o json | jq .driver.problems`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usageError(errors.New("--interval must be positive"))
			}
			if !watch {
				return g.call(func(ctx context.Context, c *client.Client) error {
					st, err := c.MigrationStatus(ctx)
					if err != nil {
						return err
					}
					return g.printMigration(st)
				})
			}
			return failed(g.withClient(false, func(ctx context.Context, c *client.Client) error {
				return g.watchMigration(ctx, c, interval, isTerminal(g.stdout) && !g.json())
			}))
		})
	cmd.Long = `Show the migration's state as the leader knows it: phase (NONE when no migration has started), the
ZooKeeper transaction (zxid) applied so far, the import's progress, and the live report of the node
running the migration: what it is doing, ZooKeeper changes applied, YAKt changes written to ZooKeeper
and still pending (after cutover), and znodes it could not apply (problems).

--watch asks again every --interval until Ctrl-C, or until the migration is FINALIZED, ABORTED or
FAILED. On a terminal it draws a progress bar for the import and one status line; otherwise it prints
a line whenever something changed.`
	cmd.Flags().BoolVar(&watch, "watch", false, "keep watching until Ctrl-C or the migration ends")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "with --watch: how often to ask")
	return cmd
}

// printMigration prints st as JSON or as "Field: value" lines.
func (g *globals) printMigration(st client.MigrationStatus) error {
	if g.json() {
		return g.printJSON(st)
	}
	_, err := io.WriteString(g.stdout, migrationText(st))
	return failed(err)
}

// migrationText is the "Field: value" description of st.
func migrationText(st client.MigrationStatus) string {
	var b strings.Builder
	line := func(k, format string, args ...any) {
		fmt.Fprintf(&b, "%-17s %s\n", k+":", fmt.Sprintf(format, args...))
	}
	line("Phase", "%s", st.Phase)
	if st.Phase == client.MigrationPhaseNone {
		line("Offset", "%d", st.Offset)
		return b.String()
	}
	line("ZooKeeper", "%s", st.ZkConnect)
	line("ZkClusterId", "%s", st.ZkClusterID)
	line("Zxid", "%d (0x%x)", st.Zxid, st.Zxid)
	line("Topics", "%s", topicsProgress(st))
	line("Offset", "%d", st.Offset)
	if st.Error != "" {
		line("Error", "%s", st.Error)
	}
	d := st.Driver
	if d == nil {
		line("Driver", "%s", "none reporting (no migration runs, or the leader has just changed)")
		return b.String()
	}
	conn := "connected to ZooKeeper"
	if !d.ZkConnected {
		conn = "NOT connected to ZooKeeper"
	}
	line("Driver", "node %d, %s, %s", d.NodeID, d.Activity, conn)
	line("ChangesApplied", "%d (last lag %d ms)", d.ChangesApplied, d.LastLagMs)
	line("ZkWrites", "%d written, %d pending", d.ZkWrites, d.PendingZkWrites)
	line("Problems", "%d", len(d.Problems))
	for _, p := range d.Problems {
		fmt.Fprintf(&b, "  %s: %s\n", p.Path, p.Message)
	}
	return b.String()
}

func topicsProgress(st client.MigrationStatus) string {
	if st.TopicsTotal <= 0 {
		return fmt.Sprintf("%d imported", st.TopicsImported)
	}
	return fmt.Sprintf("%d/%d imported (%d%%)", st.TopicsImported, st.TopicsTotal, st.TopicsImported*100/st.TopicsTotal)
}

// migrationEnded reports whether phase will not change on its own.
func migrationEnded(phase string) bool {
	switch phase {
	case client.MigrationPhaseNone, metadata.MigrationFinalized, metadata.MigrationAborted, metadata.MigrationFailed:
		return true
	}
	return false
}

// watchMigration polls the status every interval until ctx ends (Ctrl-C:
// a normal end) or the migration ends. On a terminal (tty) it redraws
// one line with a bar for the import; otherwise it prints a line each
// time something changed. A poll the cluster cannot answer (a leader
// change) is reported and the watch goes on.
func (g *globals) watchMigration(ctx context.Context, c *client.Client, interval time.Duration, tty bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		pctx, cancel := context.WithTimeout(ctx, g.timeout)
		st, err := c.MigrationStatus(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			if tty && last != "" {
				fmt.Fprintln(g.stdout)
			}
			return nil
		case err != nil && !unavailable(err):
			if tty && last != "" {
				fmt.Fprintln(g.stdout)
			}
			return err
		case err != nil:
			fmt.Fprintf(g.stderr, "\n%s: no answer (%v); asking again\n", time.Now().Format(time.TimeOnly), err)
		default:
			if g.json() {
				if err := g.printJSON(st); err != nil {
					return err
				}
			} else if line := watchLine(st, tty); tty {
				fmt.Fprintf(g.stdout, "\r%s\x1b[K", line) // \x1b[K clears what a longer line left
				last = line
			} else if line != last {
				fmt.Fprintf(g.stdout, "%s %s\n", time.Now().Format(time.TimeOnly), line)
				last = line
			}
			if migrationEnded(st.Phase) {
				if tty {
					fmt.Fprintln(g.stdout)
					_, err := io.WriteString(g.stdout, migrationText(st))
					return failed(err)
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if tty && last != "" {
				fmt.Fprintln(g.stdout)
			}
			return nil
		case <-t.C:
		}
	}
}

// watchLine is one line of --watch: on a terminal with a bar while the
// import runs.
func watchLine(st client.MigrationStatus, tty bool) string {
	var b strings.Builder
	b.WriteString(st.Phase)
	if tty && st.Phase == metadata.MigrationImporting {
		b.WriteString(" " + importBar(st.TopicsImported, st.TopicsTotal, 30))
	}
	if st.Phase != client.MigrationPhaseNone {
		fmt.Fprintf(&b, " zxid=0x%x topics=%d/%d", st.Zxid, st.TopicsImported, st.TopicsTotal)
	}
	if d := st.Driver; d != nil {
		fmt.Fprintf(&b, " driver=%s applied=%d zkWrites=%d pending=%d problems=%d", d.Activity, d.ChangesApplied, d.ZkWrites, d.PendingZkWrites, len(d.Problems))
		if !d.ZkConnected {
			b.WriteString(" zk=disconnected")
		}
		if n := len(d.Problems); n > 0 {
			fmt.Fprintf(&b, " first=%s", d.Problems[0].Path)
		}
	}
	if st.Error != "" {
		fmt.Fprintf(&b, " error=%q", st.Error)
	}
	return b.String()
}

// importBar draws [=====     ] NN% for done of total (total 0: not
// known yet).
func importBar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]   ?%"
	}
	filled := min(int(int64(width)*done/total), width)
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), min(done*100/total, 100))
}
