package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func sp(s string) *string { return &s }

func setOp(name, value string) contract.ConfigOp {
	return contract.ConfigOp{Name: name, Op: contract.ConfigOpSet, Value: &value}
}

func topicRes(name string) contract.ConfigResource {
	return contract.ConfigResource{Type: contract.ConfigResourceTopic, Name: name}
}

// The contract's names and the log's are one vocabulary: the controller
// passes them through.
func TestConfigVocabularyMatches(t *testing.T) {
	for _, p := range [][2]string{
		{contract.ConfigResourceTopic, metadata.ConfigResourceTopic}, {contract.ConfigResourceBroker, metadata.ConfigResourceBroker},
		{contract.ConfigSourceTopic, metadata.ConfigSourceTopic}, {contract.ConfigSourceBroker, metadata.ConfigSourceBroker},
		{contract.ConfigSourceClusterDefault, metadata.ConfigSourceClusterDefault}, {contract.ConfigSourceDefault, metadata.ConfigSourceDefault},
	} {
		if p[0] != p[1] {
			t.Errorf("contract %q != metadata %q", p[0], p[1])
		}
	}
	if CodeForReason(metadata.ReasonInvalidConfig) != contract.CodeInvalidConfig {
		t.Errorf("INVALID_CONFIG reason maps to %s", CodeForReason(metadata.ReasonInvalidConfig))
	}
}

func TestBuildAlterConfigs(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), bodies(top("orders", "u1")),
		bodies(cfgRec(metadata.ConfigResourceTopic, "orders", "retention.ms", "1000"),
			cfgRec(metadata.ConfigResourceBroker, "", "log.cleanup.policy", "compact")))
	orders := topicRes("orders")
	tests := []struct {
		name     string
		res      contract.ConfigResource
		ops      []contract.ConfigOp
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "set, normalized", res: orders, ops: []contract.ConfigOp{setOp("min.insync.replicas", " 02 "), setOp("preallocate", "TRUE")},
			want: bodies(cfgRec("topic", "orders", "min.insync.replicas", "2"), cfgRec("topic", "orders", "preallocate", "true"))},
		{name: "delete a set one", res: orders, ops: []contract.ConfigOp{{Name: "retention.ms", Op: contract.ConfigOpDelete}},
			want: bodies(&metadata.ConfigRecord{ResourceType: "topic", ResourceName: "orders", Name: "retention.ms"})},
		{name: "set to the same value and delete an unset one change nothing", res: orders,
			ops: []contract.ConfigOp{setOp("retention.ms", "1000"), {Name: "segment.ms", Op: contract.ConfigOpDelete}}, want: []metadata.Body{}},
		{name: "append to the inherited list", res: orders, ops: []contract.ConfigOp{{Name: "cleanup.policy", Op: contract.ConfigOpAppend, Value: sp("delete")}},
			want: bodies(cfgRec("topic", "orders", "cleanup.policy", "compact,delete"))},
		{name: "subtract to nothing", res: orders, ops: []contract.ConfigOp{{Name: "cleanup.policy", Op: contract.ConfigOpSubtract, Value: sp("compact")}},
			wantCode: contract.CodeInvalidConfig},
		{name: "append to a number", res: orders, ops: []contract.ConfigOp{{Name: "retention.ms", Op: contract.ConfigOpAppend, Value: sp("5")}},
			wantCode: contract.CodeInvalidConfig},
		{name: "a bad value among good ones", res: orders, ops: []contract.ConfigOp{setOp("min.insync.replicas", "2"), setOp("retention.ms", "-2")},
			wantCode: contract.CodeInvalidConfig},
		{name: "unknown topic", res: topicRes("nope"), ops: []contract.ConfigOp{setOp("retention.ms", "5")}, wantCode: contract.CodeTopicNotFound},
		{name: "a broker that never registered", res: contract.ConfigResource{Type: "broker", Name: "9"},
			ops:  []contract.ConfigOp{setOp("log.retention.hours", "24")},
			want: bodies(cfgRec("broker", "9", "log.retention.hours", "24"))},
		{name: "the cluster default", res: contract.ConfigResource{Type: "broker"}, ops: []contract.ConfigOp{setOp("min.insync.replicas", "2")},
			want: bodies(cfgRec("broker", "", "min.insync.replicas", "2"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkConfigOps(tt.res.Type, tt.ops); err != nil {
				t.Fatal(err)
			}
			recs, err := buildAlterConfigs(img, tt.res, tt.ops)
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
			if tt.wantCode == contract.CodeInvalidConfig && !strings.Contains(err.Error(), tt.ops[len(tt.ops)-1].Name) {
				t.Errorf("message %q does not name the config", err)
			}
		})
	}
}

func TestCheckConfigOpsAndResources(t *testing.T) {
	for _, tt := range []struct {
		name string
		ops  []contract.ConfigOp
		want contract.Code
	}{
		{"unknown name", []contract.ConfigOp{setOp("retention.msx", "1")}, contract.CodeInvalidConfig},
		{"broker key on a topic", []contract.ConfigOp{setOp("log.retention.hours", "1")}, contract.CodeInvalidConfig},
		{"unknown op", []contract.ConfigOp{{Name: "retention.ms", Op: "PUT", Value: sp("1")}}, contract.CodeInvalidRequest},
		{"set without a value", []contract.ConfigOp{{Name: "retention.ms", Op: contract.ConfigOpSet}}, contract.CodeInvalidRequest},
		{"twice", []contract.ConfigOp{setOp("retention.ms", "1"), {Name: "retention.ms", Op: contract.ConfigOpDelete}}, contract.CodeInvalidRequest},
	} {
		if got := CodeOf(checkConfigOps(contract.ConfigResourceTopic, tt.ops)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if err := checkConfigOps(contract.ConfigResourceTopic, nil); err != nil {
		t.Errorf("no ops: %v", err)
	}
	for _, bad := range []contract.ConfigResource{{Type: "group", Name: "g"}, {Type: "broker", Name: "-1"}, {Type: "broker", Name: "01"},
		{Type: "broker", Name: "x"}, {Type: "broker", Name: "2147483648"}} {
		if CodeOf(checkConfigResource(bad)) != contract.CodeInvalidRequest {
			t.Errorf("resource %+v accepted", bad)
		}
	}
	if err := ValidateTopicConfigs(map[string]string{"retention.ms": "5", "cleanup.policy": "compact, delete"}); err != nil {
		t.Errorf("good topic configs: %v", err)
	}
	if CodeOf(ValidateTopicConfigs(map[string]string{"cleanup.policy": "compress"})) != contract.CodeInvalidConfig {
		t.Error("a bad cleanup.policy passed")
	}
}

// The inheritance chain: topic > cluster default (through the broker
// synonym, scaled) > built-in default; broker > cluster default > default.
func TestDescribeConfigsSources(t *testing.T) {
	img := imageOf(t, bodies(top("orders", "u1")),
		bodies(cfgRec("topic", "orders", "cleanup.policy", "compact"),
			cfgRec("broker", "", "log.retention.hours", "2"), cfgRec("broker", "", "min.insync.replicas", "2"),
			cfgRec("broker", "3", "min.insync.replicas", "3")))
	entry := func(rc contract.ResourceConfigs, name string) contract.ConfigEntry {
		for _, e := range rc.Configs {
			if e.Name == name {
				return e
			}
		}
		t.Fatalf("%s not described", name)
		return contract.ConfigEntry{}
	}
	check := func(rc contract.ResourceConfigs, name, value, source string) {
		t.Helper()
		e := entry(rc, name)
		got := "<null>"
		if e.Value != nil {
			got = *e.Value
		}
		if got != value || e.Source != source {
			t.Errorf("%s %q: %s = %s (%s), want %s (%s)", rc.Resource.Type, rc.Resource.Name, name, got, e.Source, value, source)
		}
	}
	topic := describeConfigs(img, topicRes("orders"), nil)
	check(topic, "cleanup.policy", "compact", "TOPIC")
	check(topic, "retention.ms", "7200000", "CLUSTER_DEFAULT")
	check(topic, "min.insync.replicas", "2", "CLUSTER_DEFAULT")
	check(topic, "segment.bytes", "1073741824", "DEFAULT")
	if len(topic.Configs) != len(metadata.ConfigKeys("topic")) || topic.Offset != img.Offset() {
		t.Errorf("%d configs at %d, want every topic config at %d", len(topic.Configs), topic.Offset, img.Offset())
	}
	b3 := describeConfigs(img, contract.ConfigResource{Type: "broker", Name: "3"}, nil)
	check(b3, "min.insync.replicas", "3", "BROKER")
	check(b3, "log.retention.hours", "2", "CLUSTER_DEFAULT")
	check(b3, "log.retention.ms", "<null>", "DEFAULT")
	cluster := describeConfigs(img, contract.ConfigResource{Type: "broker"}, []string{"min.insync.replicas", "auto.leader.rebalance.enable"})
	if len(cluster.Configs) != 2 {
		t.Fatalf("names filter: %+v", cluster.Configs)
	}
	check(cluster, "min.insync.replicas", "2", "CLUSTER_DEFAULT")
	check(cluster, "auto.leader.rebalance.enable", "true", "DEFAULT")
}

// Through a real node: an alter is one atomic batch (a bad op among good
// ones applies nothing), validate-only writes nothing, topic creation
// carries configs, and deleting the topic drops them.
func TestConfigsOnARealNode(t *testing.T) {
	c := startOneNode(t, &testClock{now: time.Unix(1_700_000_000, 0)}, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "bad", Configs: map[string]string{"retention.ms": "soon"}}); CodeOf(err) != contract.CodeInvalidConfig {
		t.Fatalf("create with a bad config: %v", err)
	}
	if _, ok := c.state.Image().Topic("bad"); ok {
		t.Fatal("a topic with a bad config was created")
	}
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "orders", Configs: map[string]string{"retention.ms": "60000", "cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	if got := c.state.Image().Configs("topic", "orders"); len(got) != 2 || got["retention.ms"] != "60000" {
		t.Fatalf("configs after create: %v", got)
	}
	before := c.state.Image().Offset()
	_, _, err := c.AlterConfigs(ctx, topicRes("orders"), contract.AlterConfigsRequest{Ops: []contract.ConfigOp{
		setOp("min.insync.replicas", "2"), setOp("compression.type", "brotli")}})
	if CodeOf(err) != contract.CodeInvalidConfig || !strings.Contains(err.Error(), "compression.type") {
		t.Fatalf("a bad op among good ones: %v", err)
	}
	rc, off, err := c.AlterConfigs(ctx, topicRes("orders"), contract.AlterConfigsRequest{ValidateOnly: true, Ops: []contract.ConfigOp{setOp("min.insync.replicas", "2")}})
	if err != nil || off != before {
		t.Fatalf("validate only: %v at %d", err, off)
	}
	if v := c.state.Image(); v.Offset() != before || v.Configs("topic", "orders")["min.insync.replicas"] != "" {
		t.Fatalf("a refused or validate-only alter wrote: offset %d -> %d, %v", before, v.Offset(), v.Configs("topic", "orders"))
	}
	if e := rc.Configs; len(e) == 0 || func() string {
		for _, x := range e {
			if x.Name == "min.insync.replicas" {
				return x.Source
			}
		}
		return ""
	}() != contract.ConfigSourceTopic {
		t.Errorf("validate only answers what it would be: %+v", rc)
	}
	rc, off, err = c.AlterConfigs(ctx, topicRes("orders"), contract.AlterConfigsRequest{Ops: []contract.ConfigOp{
		setOp("min.insync.replicas", "2"), {Name: "retention.ms", Op: contract.ConfigOpDelete}, {Name: "cleanup.policy", Op: contract.ConfigOpAppend, Value: sp("delete")}}})
	if err != nil || off <= before || rc.Offset < off {
		t.Fatalf("alter: %v at %d (answer at %d)", err, off, rc.Offset)
	}
	if got := c.state.Image().Configs("topic", "orders"); len(got) != 2 || got["min.insync.replicas"] != "2" || got["cleanup.policy"] != "compact,delete" {
		t.Fatalf("configs after alter: %v", got)
	}
	// Nothing to change: no write, the current state answers.
	cur := c.state.Image().Offset()
	if _, off, err := c.AlterConfigs(ctx, topicRes("orders"), contract.AlterConfigsRequest{Ops: []contract.ConfigOp{setOp("min.insync.replicas", "2")}}); err != nil || off != cur {
		t.Fatalf("unchanged alter: %v at %d, want %d", err, off, cur)
	}
	if _, err := c.DescribeConfigs(ctx, topicRes("orders"), []string{"nope"}, false); CodeOf(err) != contract.CodeInvalidConfig {
		t.Errorf("describe an unknown name: %v", err)
	}
	if _, _, err := c.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeConfigs(ctx, topicRes("orders"), nil, false); CodeOf(err) != contract.CodeTopicNotFound {
		t.Errorf("describe a deleted topic: %v", err)
	}
	if _, _, err := c.CreateTopic(ctx, contract.CreateTopicRequest{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	if got := c.state.Image().Configs("topic", "orders"); len(got) != 0 {
		t.Errorf("a re-created topic inherits the deleted one's configs: %v", got)
	}
	// Broker configs need no registered broker.
	if _, _, err := c.AlterConfigs(ctx, contract.ConfigResource{Type: "broker", Name: "5"}, contract.AlterConfigsRequest{Ops: []contract.ConfigOp{setOp("log.retention.hours", "1")}}); err != nil {
		t.Fatal(err)
	}
	// While ZooKeeper is authoritative, config writes are refused like
	// every other client write.
	driverCommit(t, ctx, c, metadata.MigrationImporting)
	_, _, err = c.AlterConfigs(ctx, topicRes("orders"), contract.AlterConfigsRequest{Ops: []contract.ConfigOp{setOp("retention.ms", "5")}})
	wantCode(t, "alter configs while importing", err, contract.CodeMigrationInProgress)
}
