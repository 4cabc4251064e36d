package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
)

func newBrokersListCmd(g *globals) *cobra.Command {
	var status string
	cmd := command("list", "List the registered brokers",
		`  yakt brokers list
  yakt brokers list --status FENCED
  yakt brokers list -o json | jq '.[] | select(.brokerStatus != "ALIVE") | .brokerId'`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			switch status {
			case "all", "ALIVE", "FENCED", "CLOSED":
			default:
				return usageError(fmt.Errorf("--status %q: want all, ALIVE, FENCED or CLOSED", status))
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				brokers, err := c.Brokers(ctx, status)
				if err != nil {
					return err
				}
				if g.json() {
					if brokers == nil {
						brokers = []client.Broker{}
					}
					return g.printJSON(brokers)
				}
				var rows [][]string
				for _, b := range brokers {
					rows = append(rows, []string{strconv.Itoa(int(b.BrokerID)), b.BrokerHost, b.BrokerPort, orDash(b.RackID),
						b.BrokerStatus, strconv.FormatInt(b.Epoch, 10), orDash(b.SecurityProtocol)})
				}
				return g.table([]string{"ID", "HOST", "PORT", "RACK", "STATUS", "EPOCH", "PROTOCOL"}, rows)
			})
		})
	cmd.Flags().StringVar(&status, "status", "all", "all, ALIVE, FENCED or CLOSED")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newBrokersDescribeCmd(g *globals) *cobra.Command {
	return command("describe ID...", "Describe brokers: registration, status and epoch",
		`  yakt brokers describe 1
  yakt brokers describe 1 2 3 -o json`,
		cobra.MinimumNArgs(1), func(cmd *cobra.Command, args []string) error {
			var ids []int32
			for _, a := range args {
				id, err := brokerID(a)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				var brokers []client.Broker
				for _, id := range ids {
					b, err := c.Broker(ctx, id)
					if err != nil {
						return err
					}
					brokers = append(brokers, b)
				}
				if g.json() {
					return g.printJSON(brokers)
				}
				var out strings.Builder
				for i, b := range brokers {
					if i > 0 {
						out.WriteByte('\n')
					}
					fmt.Fprintf(&out, "BrokerId:          %d\nHost:              %s\nPort:              %s\nSecurityProtocol:  %s\nRack:              %s\nStatus:            %s\nEpoch:             %d\nIncarnationId:     %s\n",
						b.BrokerID, b.BrokerHost, b.BrokerPort, orDash(b.SecurityProtocol), orDash(b.RackID), b.BrokerStatus, b.Epoch, b.InternalUUID)
				}
				_, err := fmt.Fprint(g.stdout, out.String())
				return err
			})
		})
}

func newBrokersUnregisterCmd(g *globals) *cobra.Command {
	return command("unregister ID", "Unregister a broker (CLOSED): its partitions get new leaders and it leaves every ISR",
		`  yakt brokers unregister 4`,
		exactArgs(1, "a broker id"), func(cmd *cobra.Command, args []string) error {
			id, err := brokerID(args[0])
			if err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				rec, meta, err := c.UnregisterBroker(ctx, id)
				if err != nil {
					return err
				}
				if g.json() {
					return g.printJSON(rec)
				}
				_, err = fmt.Fprintf(g.stdout, "Unregistered broker %d: CLOSED (%s at offset %d).\n", id, recordName(rec), meta.Offset)
				return err
			})
		})
}

func newBrokersShutdownCmd(g *globals) *cobra.Command {
	return command("shutdown ID", "Controlled shutdown: move a broker's leaderships to other ISR members and fence it",
		`  yakt brokers shutdown 2      # before restarting broker 2 in a rolling restart`,
		exactArgs(1, "a broker id"), func(cmd *cobra.Command, args []string) error {
			id, err := brokerID(args[0])
			if err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				moved, _, err := c.ControlledShutdown(ctx, id)
				if err != nil {
					return err
				}
				if g.json() {
					return g.printJSON(map[string]any{"brokerId": id, "partitionsMoved": moved})
				}
				_, err = fmt.Fprintf(g.stdout, "Broker %d shut down: FENCED, %d %s moved to another leader.\n", id, moved, plural(int(moved), "partition", "partitions"))
				return err
			})
		})
}

func newProducerIDsCmd(g *globals) *cobra.Command {
	cmd := newGroup("producer-ids", "Allocate producer id blocks")
	cmd.Example = "  yakt producer-ids allocate --broker 1"
	var broker int32
	var first int64
	alloc := command("allocate", "Allocate a block of 1000 producer ids to an ALIVE broker",
		`  yakt producer-ids allocate --broker 1
  yakt producer-ids allocate --broker 1 --first-id 5000 -o json`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("broker") {
				return usageError(fmt.Errorf("--broker is required"))
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				blk, _, err := c.AllocateProducerIDs(ctx, broker, first)
				if err != nil {
					return err
				}
				if g.json() {
					return g.printJSON(blk)
				}
				_, err = fmt.Fprintf(g.stdout, "Allocated producer ids %d-%d to broker %d.\n", blk.FirstProducerID, blk.FirstProducerID+blk.Size-1, broker)
				return err
			})
		})
	alloc.Flags().Int32Var(&broker, "broker", 0, "the ALIVE broker the block is for (required)")
	alloc.Flags().Int64Var(&first, "first-id", -1, "the block's first id (default: the next free block)")
	cmd.AddCommand(alloc)
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
