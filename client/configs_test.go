package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/testcluster"
)

func TestClientConfigs(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 1})
	c.MustLeader()
	cl, err := client.New(client.Config{Endpoints: c.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "orders", Configs: map[string]string{"retention.ms": "1000"}}); err != nil {
		t.Fatal(err)
	}
	rc, err := cl.DescribeTopicConfigs(ctx, "orders", "retention.ms")
	if err != nil || len(rc.Configs) != 1 || *rc.Configs[0].Value != "1000" || rc.Configs[0].Source != "TOPIC" {
		t.Fatalf("DescribeTopicConfigs = %+v, %v", rc, err)
	}
	rc, meta, err := cl.AlterTopicConfigs(ctx, "orders", client.AlterConfigsRequest{Ops: []client.ConfigOp{
		client.DeleteConfig("retention.ms"), client.AppendConfig("cleanup.policy", "compact"), client.SetConfig("min.insync.replicas", "2")}})
	if err != nil || meta.Offset == 0 || rc.Offset < meta.Offset {
		t.Fatalf("AlterTopicConfigs = %+v %+v, %v", rc, meta, err)
	}
	for _, e := range rc.Configs {
		if e.Name == "cleanup.policy" && *e.Value != "delete,compact" || e.Name == "retention.ms" && e.Source != "DEFAULT" {
			t.Errorf("after the alter: %+v", e)
		}
	}
	_, _, err = cl.AlterTopicConfigs(ctx, "orders", client.AlterConfigsRequest{Ops: []client.ConfigOp{client.SubtractConfig("retention.ms", "1")}})
	if !errors.Is(err, client.ErrInvalidConfig) {
		t.Errorf("SUBTRACT from a number: %v", err)
	}
	if _, err := cl.DescribeTopicConfigs(ctx, "nope"); !errors.Is(err, client.ErrTopicNotFound) {
		t.Errorf("unknown topic: %v", err)
	}

	if _, _, err := cl.AlterBrokerConfigs(ctx, client.ClusterDefault, client.AlterConfigsRequest{Ops: []client.ConfigOp{client.SetConfig("min.insync.replicas", "3")}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.AlterBrokerConfigs(ctx, 4, client.AlterConfigsRequest{Ops: []client.ConfigOp{client.SetConfig("log.retention.hours", "1")}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		broker        int32
		name, value   string
		source        string
		wantResource  string
		wantResources int
	}{
		{client.ClusterDefault, "min.insync.replicas", "3", "CLUSTER_DEFAULT", "", 1},
		{4, "min.insync.replicas", "3", "CLUSTER_DEFAULT", "4", 1},
		{4, "log.retention.hours", "1", "BROKER", "4", 1},
	} {
		rc, err := cl.DescribeBrokerConfigs(ctx, tt.broker, tt.name)
		if err != nil || len(rc.Configs) != tt.wantResources || rc.Resource.Name != tt.wantResource ||
			*rc.Configs[0].Value != tt.value || rc.Configs[0].Source != tt.source {
			t.Errorf("DescribeBrokerConfigs(%d, %s) = %+v, %v", tt.broker, tt.name, rc, err)
		}
	}
	// The whole list without names.
	if rc, err := cl.DescribeBrokerConfigs(ctx, client.ClusterDefault); err != nil || len(rc.Configs) < 20 {
		t.Errorf("all cluster defaults: %d, %v", len(rc.Configs), err)
	}
}
