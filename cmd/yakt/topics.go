package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
)

func newTopicsCreateCmd(g *globals) *cobra.Command {
	var partitions, rf int32
	var configs []string
	cmd := command("create NAME", "Create a topic (and its partitions, placed rack-aware over the ALIVE brokers)",
		`  yakt topics create orders --partitions 6 --replication-factor 3
  yakt topics create audit                     # no partitions yet
  yakt topics create events --partitions 3 --config retention.ms=86400000 --config cleanup.policy=compact`,
		exactArgs(1, "a topic name"), func(cmd *cobra.Command, args []string) error {
			cfg, err := configMap(configs)
			if err != nil {
				return err
			}
			req := client.CreateTopicRequest{Name: args[0], Configs: cfg}
			if cmd.Flags().Changed("partitions") {
				req.Partitions = &partitions
			}
			if cmd.Flags().Changed("replication-factor") {
				req.ReplicationFactor = &rf
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				out, _, err := c.CreateTopic(ctx, req)
				if err != nil {
					return err
				}
				if g.json() {
					return g.printJSON(out)
				}
				_, err = fmt.Fprintf(g.stdout, "Created topic %s (TopicId %s, %d %s).\n", out.Topic.Name, out.Topic.TopicUUID,
					len(out.Partitions), plural(len(out.Partitions), "partition", "partitions"))
				return err
			})
		})
	cmd.Flags().Int32Var(&partitions, "partitions", 0, "partitions to create (default: none)")
	cmd.Flags().Int32Var(&rf, "replication-factor", 0, "replicas per partition (default: min(3, ALIVE brokers))")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "a topic config KEY=VALUE, set with the topic (repeatable; see yakt configs)")
	return cmd
}

func newTopicsListCmd(g *globals) *cobra.Command {
	return command("list", "List the topics with their partition counts",
		`  yakt topics list
  yakt topics list -o json | jq -r '.[].name'`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			return g.call(func(ctx context.Context, c *client.Client) error {
				topics, err := c.Topics(ctx)
				if err != nil {
					return err
				}
				if g.json() {
					if topics == nil {
						topics = []client.TopicSummary{}
					}
					return g.printJSON(topics)
				}
				var rows [][]string
				for _, t := range topics {
					rows = append(rows, []string{t.Name, strconv.Itoa(int(t.Partitions)), t.TopicUUID})
				}
				return g.table([]string{"TOPIC", "PARTITIONS", "TOPIC ID"}, rows)
			})
		})
}

func newTopicsDeleteCmd(g *globals) *cobra.Command {
	return command("delete NAME", "Delete a topic and its partitions",
		`  yakt topics delete orders`,
		exactArgs(1, "a topic name"), func(cmd *cobra.Command, args []string) error {
			return g.call(func(ctx context.Context, c *client.Client) error {
				rec, meta, err := c.DeleteTopic(ctx, args[0])
				if err != nil {
					return err
				}
				if g.json() {
					return g.printJSON(rec)
				}
				_, err = fmt.Fprintf(g.stdout, "Deleted topic %s (offset %d).\n", args[0], meta.Offset)
				return err
			})
		})
}

// describedTopic is one topic of `topics describe -o json`.
type describedTopic struct {
	Topic             string             `json:"topic"`
	TopicID           string             `json:"topicId"`
	PartitionCount    int                `json:"partitionCount"`
	ReplicationFactor int                `json:"replicationFactor"`
	Partitions        []client.Partition `json:"partitions"`
}

func newTopicsDescribeCmd(g *globals) *cobra.Command {
	var underReplicated, unavailable bool
	cmd := command("describe [NAME...]", "Describe topics in kafka-topics' layout (all topics without a NAME)",
		`  yakt topics describe orders
  yakt topics describe                                   # every topic
  yakt topics describe --under-replicated-partitions     # only partitions whose ISR lacks a replica
  yakt topics describe --unavailable-partitions -o json  # only partitions without an ALIVE leader`,
		cobra.ArbitraryArgs, func(cmd *cobra.Command, args []string) error {
			return g.call(func(ctx context.Context, c *client.Client) error {
				topics, alive, err := describeTopics(ctx, c, args, unavailable)
				if err != nil {
					return err
				}
				filtered := underReplicated || unavailable
				keep := func(p client.Partition) bool {
					if underReplicated && len(p.ISR) < len(p.Replicas) {
						return true
					}
					return unavailable && (p.Leader < 0 || !alive[p.Leader])
				}
				for i := range topics {
					if filtered {
						topics[i].Partitions = slices.DeleteFunc(topics[i].Partitions, func(p client.Partition) bool { return !keep(p) })
					}
				}
				if g.json() {
					if filtered {
						topics = slices.DeleteFunc(topics, func(t describedTopic) bool { return len(t.Partitions) == 0 })
					}
					if topics == nil {
						topics = []describedTopic{}
					}
					return g.printJSON(topics)
				}
				var b strings.Builder
				for _, t := range topics {
					// With a filter, kafka-topics prints the matching
					// partitions only, without the topic's line.
					if !filtered {
						fmt.Fprintf(&b, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\n",
							t.Topic, t.TopicID, t.PartitionCount, t.ReplicationFactor)
					}
					for _, p := range t.Partitions {
						leader := "none"
						if p.Leader >= 0 {
							leader = strconv.Itoa(int(p.Leader))
						}
						fmt.Fprintf(&b, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s", t.Topic, p.PartitionID, leader, ids(p.Replicas), ids(p.ISR))
						if len(p.AddingReplicas) > 0 {
							fmt.Fprintf(&b, "\tAdding Replicas: %s", ids(p.AddingReplicas))
						}
						if len(p.RemovingReplicas) > 0 {
							fmt.Fprintf(&b, "\tRemoving Replicas: %s", ids(p.RemovingReplicas))
						}
						b.WriteByte('\n')
					}
				}
				_, err = fmt.Fprint(g.stdout, b.String())
				return err
			})
		})
	cmd.Flags().BoolVar(&underReplicated, "under-replicated-partitions", false, "only partitions whose ISR is smaller than their replicas")
	cmd.Flags().BoolVar(&unavailable, "unavailable-partitions", false, "only partitions without a leader, or whose leader is not ALIVE")
	return cmd
}

// describeTopics reads the named topics, or every topic when none is
// named, and, when needed, which brokers are ALIVE. Every topic at once
// comes from one full ClientMgmt fetch (one request and one consistent
// image, however many topics there are).
func describeTopics(ctx context.Context, c *client.Client, names []string, needAlive bool) ([]describedTopic, map[int32]bool, error) {
	alive := map[int32]bool{}
	var out []describedTopic
	if len(names) == 0 {
		res, err := c.ClientFetch(ctx, client.FetchOptions{})
		if err != nil {
			return nil, nil, err
		}
		if res.Mode != "snapshot" {
			return nil, nil, fmt.Errorf("a fetch without an offset answered %q, not a snapshot", res.Mode)
		}
		var img contract.MetadataSnapshot
		if err := json.Unmarshal(res.Snapshot, &img); err != nil {
			return nil, nil, fmt.Errorf("decode the metadata snapshot: %w", err)
		}
		for _, b := range img.Brokers {
			alive[b.BrokerID] = b.BrokerStatus == contract.StatusAlive
		}
		byUUID := map[string][]client.Partition{}
		for _, p := range img.Partitions {
			byUUID[p.TopicUUID] = append(byUUID[p.TopicUUID], p)
		}
		for _, t := range img.Topics {
			out = append(out, described(client.TopicDetail{Topic: client.Topic{Name: t.Name, TopicUUID: t.TopicUUID}, Partitions: byUUID[t.TopicUUID]}))
		}
		slices.SortFunc(out, func(a, b describedTopic) int { return strings.Compare(a.Topic, b.Topic) })
		return out, alive, nil
	}
	for _, name := range names {
		d, err := c.Topic(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, described(d))
	}
	if needAlive {
		brokers, err := c.Brokers(ctx, "ALIVE")
		if err != nil {
			return nil, nil, err
		}
		for _, b := range brokers {
			alive[b.BrokerID] = true
		}
	}
	return out, alive, nil
}

func described(d client.TopicDetail) describedTopic {
	ps := slices.Clone(d.Partitions)
	slices.SortFunc(ps, func(a, b client.Partition) int { return int(a.PartitionID) - int(b.PartitionID) })
	t := describedTopic{Topic: d.Topic.Name, TopicID: d.Topic.TopicUUID, PartitionCount: len(ps), Partitions: ps}
	for _, p := range ps {
		t.ReplicationFactor = max(t.ReplicationFactor, len(p.Replicas))
	}
	if t.Partitions == nil {
		t.Partitions = []client.Partition{}
	}
	return t
}

// ids prints broker ids as kafka-topics does: 1,2,3.
func ids(v []int32) string {
	parts := make([]string, len(v))
	for i, id := range v {
		parts[i] = strconv.Itoa(int(id))
	}
	return strings.Join(parts, ",")
}

// brokerID parses a broker id argument.
func brokerID(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, usageError(fmt.Errorf("broker id %q: want a whole number from 0", s))
	}
	return int32(n), nil
}
