package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/testcluster"
)

// TestElectAndReassignCommands runs yakt elect and yakt reassign against
// a real one-node cluster.
func TestElectAndReassignCommands(t *testing.T) {
	tc := testcluster.New(t, testcluster.Options{Nodes: 1})
	tc.MustLeader()
	x := cli{t: t, eps: strings.Join(tc.URLs(), ",")}
	api := tc.API()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for id := int32(1); id <= 4; id++ {
		if _, _, err := api.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "10.0.0.1", BrokerPort: contract.PortNumber(9090 + int(id))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := api.CreateTopic(ctx, client.CreateTopicRequest{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 2; p++ {
		two := int32(2)
		if _, _, err := api.CreatePartition(ctx, "t", contract.CreatePartitionRequest{PartitionID: &p, Replicas: []int32{1, 2, 3}, Leader: &two}); err != nil {
			t.Fatal(err)
		}
	}

	out := x.ok("elect", "--type", "preferred", "--topic", "t", "--partition", "0")
	if !strings.Contains(out, "TOPIC") || !hasRow(out, "t", "0", "1") {
		t.Fatalf("elect one partition:\n%s", out)
	}
	var res client.ElectLeadersResponse
	x.json(&res, "elect", "--type", "PREFERRED")
	if len(res.Results) != 1 || res.Results[0].Partition != 1 || res.Results[0].Leader == nil || *res.Results[0].Leader != 1 {
		t.Fatalf("elect all: %+v", res.Results)
	}
	if out := x.ok("elect", "--type", "preferred", "--topic", "t"); !strings.Contains(out, "ELECTION_NOT_NEEDED") {
		t.Fatalf("elect a topic whose leaders are preferred:\n%s", out)
	}
	if out := x.ok("elect", "--type", "unclean"); !strings.Contains(out, "No leader changed") {
		t.Fatalf("unclean election of a healthy cluster:\n%s", out)
	}
	x.fails(exitAPI, "1 partition failed", "elect", "--type", "preferred", "--topic", "t", "--partition", "9")

	if out := x.ok("reassign", "--topic", "t", "--partition", "0", "--replicas", "4,1"); !strings.Contains(out, "Reassigning t/0 to 4,1") {
		t.Fatalf("reassign:\n%s", out)
	}
	if out := x.ok("reassign", "list"); !strings.Contains(out, "REMOVING") || !hasRow(out, "t", "0", "4,1,2,3", "4", "2,3") {
		t.Fatalf("reassign list:\n%s", out)
	}
	var list []client.Reassignment
	x.json(&list, "reassign", "list", "--topic", "t")
	if len(list) != 1 || fmt.Sprint(list[0].Replicas) != "[4 1 2 3]" {
		t.Fatalf("reassign list -o json: %+v", list)
	}
	x.json(&list, "reassign", "list", "--topic", "other")
	if len(list) != 0 {
		t.Fatalf("reassign list of another topic: %+v", list)
	}
	if out := x.ok("reassign", "--cancel", "--topic", "t", "--partition", "0"); !strings.Contains(out, "Cancelled") {
		t.Fatalf("cancel:\n%s", out)
	}
	x.fails(exitAPI, "1 partition failed", "reassign", "--cancel", "--topic", "t", "--partition", "0")
	x.fails(exitAPI, "1 partition failed", "reassign", "--topic", "t", "--partition", "0", "--replicas", "1,9")

	for _, args := range [][]string{
		{"elect"},
		{"elect", "--type", "sideways"},
		{"elect", "--type", "preferred", "--partition", "1"},
		{"elect", "--type", "preferred", "--topic", "t", "--partition", "-1"},
		{"elect", "extra"},
		{"reassign", "--topic", "t", "--partition", "0"},
		{"reassign", "--topic", "t", "--partition", "0", "--replicas", "1", "--cancel"},
		{"reassign", "--topic", "t", "--replicas", "1"},
		{"reassign", "--topic", "t", "--partition", "0", "--replicas", "x"},
		{"reassign", "lst"},
		{"reassign", "list", "extra"},
	} {
		x.fails(exitUsage, "", args...)
	}
}

// TestLeaderRebalanceFlags: yakt's flags turn the rebalance on with
// Kafka's defaults, and can turn it off.
func TestLeaderRebalanceFlags(t *testing.T) {
	parse := func(args ...string) (server.Config, error) {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		var nf nodeFlags
		nf.register(fs)
		if err := fs.Parse(args); err != nil {
			return server.Config{}, err
		}
		var cfg server.Config
		return cfg, nf.apply(&cfg)
	}
	cfg, err := parse()
	if err != nil || !cfg.AutoLeaderRebalance || cfg.LeaderImbalancePercent != 10 || cfg.LeaderImbalanceCheckInterval != 5*time.Minute {
		t.Fatalf("defaults: %v %d %v, %v", cfg.AutoLeaderRebalance, cfg.LeaderImbalancePercent, cfg.LeaderImbalanceCheckInterval, err)
	}
	cfg, err = parse("--auto-leader-rebalance=false", "--leader-imbalance-percent", "25", "--leader-imbalance-check-interval", "30s")
	if err != nil || cfg.AutoLeaderRebalance || cfg.LeaderImbalancePercent != 25 || cfg.LeaderImbalanceCheckInterval != 30*time.Second {
		t.Fatalf("set: %v %d %v, %v", cfg.AutoLeaderRebalance, cfg.LeaderImbalancePercent, cfg.LeaderImbalanceCheckInterval, err)
	}
	if _, err := parse("--leader-imbalance-percent", "0"); err == nil {
		t.Fatal("--leader-imbalance-percent 0 accepted")
	}
}

// hasRow reports whether a table printed a line of exactly these fields.
func hasRow(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
