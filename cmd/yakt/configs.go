package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
)

// configTarget is the resource a configs command names: exactly one of
// --topic, --broker and --cluster.
type configTarget struct {
	topic   string
	broker  int32
	cluster bool
}

func (t *configTarget) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.topic, "topic", "", "a topic's configs")
	cmd.Flags().Int32Var(&t.broker, "broker", 0, "a broker's configs (the id need not be registered)")
	cmd.Flags().BoolVar(&t.cluster, "cluster", false, "the cluster-wide broker defaults every broker inherits")
}

// check says which resource the flags name, or a usage error.
func (t *configTarget) check(cmd *cobra.Command) error {
	n := 0
	for _, f := range []string{"topic", "broker", "cluster"} {
		if cmd.Flags().Changed(f) {
			n++
		}
	}
	switch {
	case n != 1:
		return usageError(errors.New("name exactly one of --topic, --broker and --cluster"))
	case cmd.Flags().Changed("topic") && t.topic == "":
		return usageError(errors.New("--topic is empty"))
	case cmd.Flags().Changed("broker") && t.broker < 0:
		return usageError(fmt.Errorf("--broker %d: want a broker id >= 0", t.broker))
	}
	return nil
}

func (t *configTarget) describe(ctx context.Context, c *client.Client, names []string) (client.ResourceConfigs, error) {
	switch {
	case t.topic != "":
		return c.DescribeTopicConfigs(ctx, t.topic, names...)
	case t.cluster:
		return c.DescribeBrokerConfigs(ctx, client.ClusterDefault, names...)
	}
	return c.DescribeBrokerConfigs(ctx, t.broker, names...)
}

func (t *configTarget) alter(ctx context.Context, c *client.Client, req client.AlterConfigsRequest) (client.ResourceConfigs, client.Meta, error) {
	switch {
	case t.topic != "":
		return c.AlterTopicConfigs(ctx, t.topic, req)
	case t.cluster:
		return c.AlterBrokerConfigs(ctx, client.ClusterDefault, req)
	}
	return c.AlterBrokerConfigs(ctx, t.broker, req)
}

func (t *configTarget) String() string {
	switch {
	case t.topic != "":
		return "topic " + t.topic
	case t.cluster:
		return "the cluster default"
	}
	return fmt.Sprintf("broker %d", t.broker)
}

// printConfigs shows a describe's answer as kafka-configs lists it: one
// config a line with its value and where it comes from.
func (g *globals) printConfigs(rc client.ResourceConfigs, only map[string]bool) error {
	if g.json() {
		return g.printJSON(rc)
	}
	var rows [][]string
	for _, e := range rc.Configs {
		if only != nil && !only[e.Name] {
			continue
		}
		v := "null"
		if e.Value != nil {
			v = *e.Value
		}
		rows = append(rows, []string{e.Name, v, e.Source})
	}
	return g.table([]string{"NAME", "VALUE", "SOURCE"}, rows)
}

func newConfigsDescribeCmd(g *globals) *cobra.Command {
	var t configTarget
	var names []string
	cmd := command("describe", "Show the effective configs of a topic, a broker or the cluster default, and where each comes from",
		`  yakt configs describe --topic orders
  yakt configs describe --broker 1 --name log.retention.hours
  yakt configs describe --cluster -o json`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if err := t.check(cmd); err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				rc, err := t.describe(ctx, c, names)
				if err != nil {
					return err
				}
				return g.printConfigs(rc, nil)
			})
		})
	t.register(cmd)
	cmd.Flags().StringArrayVar(&names, "name", nil, "show only this config (repeatable)")
	return cmd
}

func newConfigsSetCmd(g *globals) *cobra.Command {
	var t configTarget
	var validateOnly bool
	cmd := command("set KEY=VALUE...", "Set configs of a topic, a broker or the cluster default; all of them, or none",
		`  yakt configs set --topic orders retention.ms=86400000 cleanup.policy=compact,delete
  yakt configs set --cluster min.insync.replicas=2
  yakt configs set --broker 1 log.retention.hours=24 --validate-only`,
		cobra.MinimumNArgs(1), func(cmd *cobra.Command, args []string) error {
			if err := t.check(cmd); err != nil {
				return err
			}
			kv, err := parseConfigPairs(args)
			if err != nil {
				return err
			}
			req := client.AlterConfigsRequest{ValidateOnly: validateOnly}
			for _, p := range kv {
				req.Ops = append(req.Ops, client.SetConfig(p[0], p[1]))
			}
			return g.alterConfigs(&t, req)
		})
	t.register(cmd)
	cmd.Flags().BoolVar(&validateOnly, "validate-only", false, "check the change and show the result without making it")
	return cmd
}

func newConfigsDeleteCmd(g *globals) *cobra.Command {
	var t configTarget
	cmd := command("delete KEY...", "Remove config settings: each inherits again (cluster default, then built-in default)",
		`  yakt configs delete --topic orders retention.ms
  yakt configs delete --cluster min.insync.replicas`,
		cobra.MinimumNArgs(1), func(cmd *cobra.Command, args []string) error {
			if err := t.check(cmd); err != nil {
				return err
			}
			var req client.AlterConfigsRequest
			for _, k := range args {
				if k == "" || strings.Contains(k, "=") {
					return usageError(fmt.Errorf("%q: want a config name (no =VALUE)", k))
				}
				req.Ops = append(req.Ops, client.DeleteConfig(k))
			}
			return g.alterConfigs(&t, req)
		})
	t.register(cmd)
	return cmd
}

// alterConfigs sends req and shows the changed configs' new values.
func (g *globals) alterConfigs(t *configTarget, req client.AlterConfigsRequest) error {
	return g.call(func(ctx context.Context, c *client.Client) error {
		rc, meta, err := t.alter(ctx, c, req)
		if err != nil {
			return err
		}
		if g.json() {
			return g.printJSON(rc)
		}
		verb := "Altered"
		if req.ValidateOnly {
			verb = "Validated (nothing changed)"
		}
		if _, err := fmt.Fprintf(g.stdout, "%s configs of %s (offset %d).\n", verb, t, meta.Offset); err != nil {
			return err
		}
		only := map[string]bool{}
		for _, op := range req.Ops {
			only[op.Name] = true
		}
		return g.printConfigs(rc, only)
	})
}

// parseConfigPairs reads KEY=VALUE arguments (the value may hold '=' and
// be empty); a key given twice is a usage error.
func parseConfigPairs(args []string) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usageError(fmt.Errorf("%q: want KEY=VALUE", a))
		}
		if seen[k] {
			return nil, usageError(fmt.Errorf("config %s is given twice", k))
		}
		seen[k] = true
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// configMap is parseConfigPairs as a map, for topics create --config.
func configMap(args []string) (map[string]string, error) {
	kv, err := parseConfigPairs(args)
	if err != nil || len(kv) == 0 {
		return nil, err
	}
	out := make(map[string]string, len(kv))
	for _, p := range kv {
		out[p[0]] = p[1]
	}
	return out, nil
}
