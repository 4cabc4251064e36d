package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/internal/metadata"
)

func describeConfigs(version int16, typ kmsg.ConfigResourceType, name string, names ...string) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = version
	req.IncludeSynonyms, req.IncludeDocumentation = version >= 1, version >= 3
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, names
	req.Resources = append(req.Resources, r)
	return req
}

// describeOne is the one resource's answer, by config name.
func (d apiTest) describeOne(t *testing.T, node uint64, req *kmsg.DescribeConfigsRequest) (int16, map[string]kmsg.DescribeConfigsResponseResourceConfig) {
	t.Helper()
	resp := serveVia[*kmsg.DescribeConfigsResponse](t, d, node, req)
	if len(resp.Resources) != 1 {
		t.Fatalf("DescribeConfigs: %d resources, want 1", len(resp.Resources))
	}
	r := resp.Resources[0]
	if r.ResourceType != req.Resources[0].ResourceType || r.ResourceName != req.Resources[0].ResourceName {
		t.Fatalf("DescribeConfigs answers for %v %q, asked %v %q", r.ResourceType, r.ResourceName, req.Resources[0].ResourceType, req.Resources[0].ResourceName)
	}
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range r.Configs {
		out[c.Name] = c
	}
	return r.ErrorCode, out
}

type alterOp struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

func str(s string) *string { return &s }

func incrementalAlter(validateOnly bool, typ kmsg.ConfigResourceType, name string, ops ...alterOp) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version, req.ValidateOnly = 1, validateOnly
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = typ, name
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = o.name, o.op, o.value
		r.Configs = append(r.Configs, c)
	}
	req.Resources = append(req.Resources, r)
	return req
}

func (d apiTest) alterOne(t *testing.T, node uint64, req *kmsg.IncrementalAlterConfigsRequest) int16 {
	t.Helper()
	resp := serveVia[*kmsg.IncrementalAlterConfigsResponse](t, d, node, req)
	if len(resp.Resources) != 1 || resp.Resources[0].ResourceName != req.Resources[0].ResourceName {
		t.Fatalf("IncrementalAlterConfigs: %+v, want one answer for %q", resp.Resources, req.Resources[0].ResourceName)
	}
	return resp.Resources[0].ErrorCode
}

func value(c kmsg.DescribeConfigsResponseResourceConfig) string {
	if c.Value == nil {
		return "<null>"
	}
	return *c.Value
}

func (d apiTest) testConfigs(t *testing.T) {
	const topic = kmsg.ConfigResourceTypeTopic
	const broker = kmsg.ConfigResourceTypeBroker
	lead := d.c.MustLeader()
	d.createTopic(t, "cfg", 1, 1)

	// v4 with synonyms and documentation; an unknown name is left out.
	code, got := d.describeOne(t, lead, describeConfigs(4, topic, "cfg", "retention.ms", "cleanup.policy", "no.such.config"))
	if code != 0 || len(got) != 2 {
		t.Fatalf("describe cfg: error %d, %d configs, want 0 and 2", code, len(got))
	}
	rm := got["retention.ms"]
	if value(rm) != "604800000" || rm.Source != kmsg.ConfigSourceDefaultConfig || rm.ConfigType != kmsg.ConfigTypeLong ||
		rm.Documentation == nil || len(rm.ConfigSynonyms) != 1 || rm.ReadOnly || rm.IsSensitive {
		t.Fatalf("retention.ms by default: %+v", rm)
	}
	if got["cleanup.policy"].ConfigType != kmsg.ConfigTypeList {
		t.Fatalf("cleanup.policy's type %v, want LIST", got["cleanup.policy"].ConfigType)
	}
	// v0: IsDefault is the only source information.
	if _, got := d.describeOne(t, lead, describeConfigs(0, topic, "cfg", "retention.ms")); !got["retention.ms"].IsDefault {
		t.Fatalf("v0 retention.ms by default: %+v", got["retention.ms"])
	}
	// Empty names: every config.
	if _, all := d.describeOne(t, lead, describeConfigs(2, topic, "cfg")); len(all) < 10 {
		t.Fatalf("describe every config of cfg: %d configs", len(all))
	}

	if code := d.alterOne(t, lead, incrementalAlter(false, topic, "cfg",
		alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("3600000")},
		alterOp{"cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, str("compact")})); code != 0 {
		t.Fatalf("SET and APPEND: %d", code)
	}
	_, got = d.describeOne(t, lead, describeConfigs(1, topic, "cfg", "retention.ms", "cleanup.policy"))
	if rm := got["retention.ms"]; value(rm) != "3600000" || rm.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms after SET: %+v", rm)
	}
	if cp := got["cleanup.policy"]; value(cp) != "delete,compact" || cp.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("cleanup.policy after APPEND: %+v", cp)
	}
	if code := d.alterOne(t, lead, incrementalAlter(false, topic, "cfg",
		alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil},
		alterOp{"cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, str("delete")})); code != 0 {
		t.Fatalf("DELETE and SUBTRACT: %d", code)
	}
	if code := d.alterOne(t, lead, incrementalAlter(true, topic, "cfg", alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("5")})); code != 0 {
		t.Fatalf("validate-only SET: %d", code)
	}
	_, got = d.describeOne(t, lead, describeConfigs(1, topic, "cfg", "retention.ms", "cleanup.policy"))
	if rm := got["retention.ms"]; value(rm) != "604800000" || rm.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("retention.ms after DELETE and a validate-only SET: %+v", rm)
	}
	if cp := got["cleanup.policy"]; value(cp) != "compact" {
		t.Fatalf("cleanup.policy after SUBTRACT: %+v", cp)
	}

	// Broker configs: the cluster default ("") and one broker's own.
	if code := d.alterOne(t, lead, incrementalAlter(false, broker, "", alterOp{"log.cleaner.delete.retention.ms", kmsg.IncrementalAlterConfigOpSet, str("1000")})); code != 0 {
		t.Fatalf("SET the cluster default: %d", code)
	}
	if _, got := d.describeOne(t, lead, describeConfigs(1, broker, "7", "log.cleaner.delete.retention.ms")); got["log.cleaner.delete.retention.ms"].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("broker 7 inheriting the cluster default: %+v", got)
	}
	// The topic inherits it through its broker synonym; the synonyms
	// list it, then the built-in default.
	_, got = d.describeOne(t, lead, describeConfigs(1, topic, "cfg", "delete.retention.ms"))
	if drm := got["delete.retention.ms"]; value(drm) != "1000" || drm.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || len(drm.ConfigSynonyms) != 2 ||
		drm.ConfigSynonyms[0].Name != "log.cleaner.delete.retention.ms" || drm.ConfigSynonyms[0].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig ||
		drm.ConfigSynonyms[1].Source != kmsg.ConfigSourceDefaultConfig || *drm.ConfigSynonyms[1].Value != "86400000" {
		t.Fatalf("topic's delete.retention.ms inherited from the cluster default: %+v", drm)
	}
	if code := d.alterOne(t, lead, incrementalAlter(false, broker, "7", alterOp{"log.cleaner.delete.retention.ms", kmsg.IncrementalAlterConfigOpSet, str("2000")})); code != 0 {
		t.Fatalf("SET on broker 7: %d", code)
	}
	if _, got := d.describeOne(t, lead, describeConfigs(1, broker, "7", "log.cleaner.delete.retention.ms")); value(got["log.cleaner.delete.retention.ms"]) != "2000" ||
		got["log.cleaner.delete.retention.ms"].Source != kmsg.ConfigSourceDynamicBrokerConfig || len(got["log.cleaner.delete.retention.ms"].ConfigSynonyms) != 3 {
		t.Fatalf("broker 7's own (synonyms: its own, the cluster default, the built-in default): %+v", got)
	}

	// Errors, per resource.
	alterCases := []struct {
		name string
		req  *kmsg.IncrementalAlterConfigsRequest
		want int16
	}{
		{"bad value", incrementalAlter(false, topic, "cfg", alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("soon")}), 40},
		{"unknown config", incrementalAlter(false, topic, "cfg", alterOp{"no.such.config", kmsg.IncrementalAlterConfigOpSet, str("1")}), 40},
		{"unknown topic", incrementalAlter(false, topic, "no-such-topic", alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("1")}), 3},
		{"bad broker name", incrementalAlter(false, broker, "x", alterOp{"log.cleaner.delete.retention.ms", kmsg.IncrementalAlterConfigOpSet, str("1")}), 42},
	}
	for _, tc := range alterCases {
		if code := d.alterOne(t, lead, tc.req); code != tc.want {
			t.Errorf("IncrementalAlterConfigs, %s: %d, want %d", tc.name, code, tc.want)
		}
	}
	if code, _ := d.describeOne(t, lead, describeConfigs(4, topic, "no-such-topic")); code != 3 {
		t.Errorf("describe an unknown topic: %d, want 3", code)
	}
	if code, _ := d.describeOne(t, lead, describeConfigs(4, broker, "-1")); code != 42 {
		t.Errorf("describe broker -1: %d, want 42", code)
	}
}

// testFollower sends the controller's APIs to a follower, which forwards
// them to the leader; reads it answers itself.
func (d apiTest) testFollower(t *testing.T) {
	lead := d.c.MustLeader()
	var f uint64
	for _, id := range d.c.IDs() {
		if id != lead {
			f = id
			break
		}
	}
	d.createTopic(t, "via-follower", 1, 1)
	if code := d.alterOne(t, f, incrementalAlter(false, kmsg.ConfigResourceTypeTopic, "via-follower", alterOp{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("60000")})); code != 0 {
		t.Fatalf("IncrementalAlterConfigs via a follower: %d", code)
	}
	if _, got := d.describeOne(t, f, describeConfigs(4, kmsg.ConfigResourceTypeTopic, "via-follower", "retention.ms")); value(got["retention.ms"]) != "60000" {
		t.Fatalf("DescribeConfigs on the follower right after: %+v", got)
	}

	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID, reg.ClusterID = 80, d.ctrl().ClusterID()
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Host, l.Port = "127.0.0.1", 9080
	reg.Listeners = append(reg.Listeners, l)
	if resp := serveVia[*kmsg.BrokerRegistrationResponse](t, d, f, reg); resp.ErrorCode != 0 {
		t.Fatalf("BrokerRegistration via a follower: %+v", resp)
	}
	if b := d.broker(t, 80); b.BrokerStatus != metadata.StatusAlive {
		t.Fatalf("broker 80 after registering via a follower: %+v", b)
	}
	if resp := serveVia[*kmsg.BrokerHeartbeatResponse](t, d, f, heartbeat(80, 0, 1<<40)); resp.ErrorCode != 0 || resp.IsFenced {
		t.Fatalf("BrokerHeartbeat via a follower: %+v", resp)
	}
	elect := serveVia[*kmsg.ElectLeadersResponse](t, d, f, elect(2, 0, "via-follower", 0))
	if len(elect.Topics) != 1 || len(elect.Topics[0].Partitions) != 1 || elect.Topics[0].Partitions[0].ErrorCode != 84 {
		t.Fatalf("ElectLeaders via a follower: %+v, want 84", elect)
	}
	if got := serveVia[*kmsg.ListPartitionReassignmentsResponse](t, d, f, kmsg.NewPtrListPartitionReassignmentsRequest()); got.ErrorCode != 0 {
		t.Fatalf("ListPartitionReassignments via a follower: %+v", got)
	}
}
