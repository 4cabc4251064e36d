package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
)

// yakt elect and yakt reassign: Kafka's kafka-leader-election.sh and
// kafka-reassign-partitions.sh for one partition (or topic) at a time.
// Both print a row per partition; a partition that failed makes the exit
// status 1, except one that needed no election.

func newElectCmd(g *globals) *cobra.Command {
	var (
		typ       string
		topic     string
		partition int32
	)
	cmd := command("elect", "Elect leaders: the preferred (first) replica, or unclean (any alive replica) for offline partitions",
		`  yakt elect --type preferred                          # every partition of the cluster
  yakt elect --type preferred --topic orders
  yakt elect --type unclean --topic orders --partition 3`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			t := strings.ToUpper(typ)
			if t != client.ElectionPreferred && t != client.ElectionUnclean {
				return usageError(fmt.Errorf("--type %q: want preferred or unclean", typ))
			}
			req := client.ElectLeadersRequest{Type: t}
			switch {
			case cmd.Flags().Changed("partition") && topic == "":
				return usageError(errors.New("--partition needs --topic"))
			case cmd.Flags().Changed("partition") && partition < 0:
				return usageError(fmt.Errorf("--partition %d: want 0 or more", partition))
			case cmd.Flags().Changed("partition"):
				req.Partitions = []client.TopicPartitions{{Topic: topic, Partitions: []int32{partition}}}
			case topic != "":
				req.Partitions = []client.TopicPartitions{{Topic: topic}}
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				out, _, err := c.ElectLeaders(ctx, req)
				if err != nil {
					return err
				}
				rows, bad := resultRows(out.Results, contract.CodeElectionNotNeeded)
				if len(rows) == 0 && !g.json() {
					_, err := fmt.Fprintln(g.stdout, "No leader changed: every partition is led by the replica the election would pick.")
					return err
				}
				return g.report(out, []string{"TOPIC", "PARTITION", "LEADER", "ERROR"}, rows, bad)
			})
		})
	cmd.Flags().StringVar(&typ, "type", "", "preferred or unclean (required)")
	cmd.Flags().StringVar(&topic, "topic", "", "elect this topic's partitions only")
	cmd.Flags().Int32Var(&partition, "partition", 0, "elect this partition of --topic only")
	return cmd
}

// resultRows are the rows of per-partition results, and the exit status
// they call for: 1 when a partition failed with another code than ok.
func resultRows(results []client.PartitionResult, ok contract.Code) ([][]string, error) {
	var (
		rows   [][]string
		failed int
	)
	for _, r := range results {
		leader, msg := "", ""
		if r.Leader != nil {
			leader = strconv.Itoa(int(*r.Leader))
		}
		if r.Error != nil {
			msg = fmt.Sprintf("%s: %s", r.Error.Code, r.Error.Message)
			if r.Error.Code != ok {
				failed++
			}
		}
		rows = append(rows, []string{r.Topic, strconv.Itoa(int(r.Partition)), leader, msg})
	}
	if failed > 0 {
		return rows, &exitError{code: exitAPI, err: fmt.Errorf("%d %s failed", failed, plural(failed, "partition", "partitions"))}
	}
	return rows, nil
}

func newReassignCmd(g *globals) *cobra.Command {
	var (
		topic     string
		partition int32
		replicas  []int32
		cancel    bool
	)
	cmd := command("reassign", "Move a partition to other replicas (KIP-455), cancel a move, or list those in progress",
		`  yakt reassign --topic orders --partition 0 --replicas 4,2,3
  yakt reassign --cancel --topic orders --partition 0
  yakt reassign list`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			switch {
			case topic == "" || !cmd.Flags().Changed("partition"):
				return usageError(errors.New("--topic and --partition are required"))
			case partition < 0:
				return usageError(fmt.Errorf("--partition %d: want 0 or more", partition))
			case cancel == cmd.Flags().Changed("replicas"):
				return usageError(errors.New("give either --replicas (the target replicas, preferred first) or --cancel"))
			case !cancel && len(replicas) == 0:
				return usageError(errors.New("--replicas must list at least one broker id"))
			}
			pr := client.PartitionReassignment{Topic: topic, Partition: partition}
			if !cancel {
				pr.Replicas = replicas
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				out, _, err := c.AlterReassignments(ctx, client.ReassignRequest{Partitions: []client.PartitionReassignment{pr}})
				if err != nil {
					return err
				}
				rows, bad := resultRows(out.Results, "")
				if bad == nil && !g.json() {
					what := fmt.Sprintf("Reassigning %s/%d to %s; 'yakt reassign list' shows it until the new replicas are in sync.", topic, partition, joinIDs(replicas))
					if cancel {
						what = fmt.Sprintf("Cancelled the reassignment of %s/%d.", topic, partition)
					}
					_, err := fmt.Fprintln(g.stdout, what)
					return err
				}
				return g.report(out, []string{"TOPIC", "PARTITION", "LEADER", "ERROR"}, rows, bad)
			})
		})
	cmd.Flags().StringVar(&topic, "topic", "", "the partition's topic")
	cmd.Flags().Int32Var(&partition, "partition", 0, "the partition")
	cmd.Flags().Int32SliceVar(&replicas, "replicas", nil, "the target replica ids, the preferred leader first (1,2,3)")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the partition's reassignment in progress: back to its original replicas")
	cmd.AddCommand(newReassignListCmd(g))
	return cmd
}

func newReassignListCmd(g *globals) *cobra.Command {
	var topic string
	cmd := command("list", "List the reassignments in progress",
		`  yakt reassign list
  yakt reassign list --topic orders -o json`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			return g.call(func(ctx context.Context, c *client.Client) error {
				out, err := c.ListReassignments(ctx, topic)
				if err != nil {
					return err
				}
				if g.json() {
					return g.printJSON(out.Reassignments)
				}
				var rows [][]string
				for _, r := range out.Reassignments {
					rows = append(rows, []string{r.Topic, strconv.Itoa(int(r.Partition)), joinIDs(r.Replicas), joinIDs(r.AddingReplicas), joinIDs(r.RemovingReplicas)})
				}
				return g.table([]string{"TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"}, rows)
			})
		})
	cmd.Flags().StringVar(&topic, "topic", "", "list this topic's reassignments only")
	return cmd
}

// joinIDs prints broker ids as 1,2,3.
func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}
