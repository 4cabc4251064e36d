package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// python is Debian's interpreter, the one python3-kafka installs into
// (a python3 earlier on PATH, a virtualenv's or pyenv's, lacks it).
const python = "/usr/bin/python3"

// kafkaAdmin runs testdata/kafka_admin.py and decodes its JSON answer.
func kafkaAdmin(t testing.TB, ctx context.Context, out any, addr string, args ...string) {
	t.Helper()
	args = append([]string{"testdata/kafka_admin.py", addr}, args...)
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("python3 %s printed %q: %v\nstderr:\n%s", strings.Join(args, " "), stdout, err, stderr.String())
	}
}

// TestKafkaPython creates and deletes topics and describes the cluster
// with kafka-python's KafkaAdminClient through a follower, and checks
// each through the HTTP API.
func TestKafkaPython(t *testing.T) {
	needTool(t, python, "-c", "import kafka.admin")
	c := startCluster(t)
	ctx := ctxFor(t, 90*time.Second)
	addr := c.KafkaAddr(follower(t, c))

	var created map[string]*string
	kafkaAdmin(t, ctx, &created, addr, "create", "py-orders:3:2", "py-single:1:1")
	for _, name := range []string{"py-orders", "py-single"} {
		if e := created[name]; e != nil {
			t.Fatalf("create_topics %s: %s", name, *e)
		}
	}
	for name, want := range map[string][2]int{"py-orders": {3, 2}, "py-single": {1, 1}} {
		d := topicDetail(t, ctx, c, name)
		if d == nil || len(d.Partitions) != want[0] {
			t.Fatalf("HTTP API after create_topics %s: %+v, want %d partitions", name, d, want[0])
		}
		for _, p := range d.Partitions {
			if len(p.Replicas) != want[1] {
				t.Errorf("%s-%d replicas %v, want %d", name, p.PartitionID, p.Replicas, want[1])
			}
		}
	}

	kafkaAdmin(t, ctx, &created, addr, "create", "py-orders:1:1", "py-wide:1:"+strconv.Itoa(len(brokerIDs)+1), "bad/name:1:1")
	for name, want := range map[string]string{
		"py-orders": "TopicAlreadyExistsError",
		"py-wide":   "InvalidReplicationFactorError",
		"bad/name":  "InvalidTopicError",
	} {
		if got := created[name]; got == nil || *got != want {
			t.Errorf("create_topics %s: %v, want %s", name, deref(got), want)
		}
	}
	if d := topicDetail(t, ctx, c, "py-wide"); d != nil {
		t.Errorf("a refused create_topics made py-wide: %+v", d)
	}

	var deleted map[string]*string
	kafkaAdmin(t, ctx, &deleted, addr, "delete", "py-single", "py-missing")
	if e := deleted["py-single"]; e != nil {
		t.Errorf("delete_topics py-single: %s", *e)
	}
	if e := deleted["py-missing"]; e == nil || *e != "UnknownTopicOrPartitionError" {
		t.Errorf("delete_topics of a missing topic: %v, want UnknownTopicOrPartitionError", deref(e))
	}
	if d := topicDetail(t, ctx, c, "py-single"); d != nil {
		t.Errorf("HTTP API still has py-single after delete_topics: %+v", d)
	}
	if d := topicDetail(t, ctx, c, "py-orders"); d == nil {
		t.Error("delete_topics of another topic removed py-orders")
	}

	var cluster struct {
		ClusterID    string `json:"cluster_id"`
		ControllerID int32  `json:"controller_id"`
		Brokers      []struct {
			NodeID int32  `json:"node_id"`
			Host   string `json:"host"`
			Port   int    `json:"port"`
		} `json:"brokers"`
	}
	lead := underOneLeader(t, c, func() { kafkaAdmin(t, ctx, &cluster, addr, "describe-cluster") })
	got := map[int32]string{}
	for _, b := range cluster.Brokers {
		got[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
	}
	if cid := clusterID(t, ctx, c); cluster.ClusterID != cid || cluster.ControllerID != int32(lead) || !mapsEqual(got, nodeBrokers(t, c)) {
		t.Errorf("describe_cluster: cluster %q controller %d brokers %v, want %q, the leader %d, %v",
			cluster.ClusterID, cluster.ControllerID, got, cid, lead, nodeBrokers(t, c))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<no error>"
	}
	return *s
}
