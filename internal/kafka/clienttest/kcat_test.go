package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// kcatView is what kcat -L shows, in either form.
type kcatView struct {
	Controller int32
	Brokers    map[int32]string                    // id -> host:port
	Topics     map[string]map[int32]partitionState // name -> partitions
}

// kcatJSON is kcat -L -J's document (kcat's json.c).
type kcatJSON struct {
	ControllerID int32 `json:"controllerid"`
	Brokers      []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
			Replicas  []struct {
				ID int32 `json:"id"`
			} `json:"replicas"`
			ISRs []struct {
				ID int32 `json:"id"`
			} `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

func parseKcatJSON(t testing.TB, out []byte) kcatView {
	t.Helper()
	var doc kcatJSON
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("kcat -L -J printed no JSON document (%v):\n%s", err, out)
	}
	v := kcatView{Controller: doc.ControllerID, Brokers: map[int32]string{}, Topics: map[string]map[int32]partitionState{}}
	for _, b := range doc.Brokers {
		v.Brokers[b.ID] = b.Name
	}
	for _, tp := range doc.Topics {
		if tp.Error != "" {
			t.Errorf("kcat -L -J: topic %s has error %q", tp.Topic, tp.Error)
		}
		ps := map[int32]partitionState{}
		for _, p := range tp.Partitions {
			s := partitionState{Leader: p.Leader, Replicas: []int32{}, ISR: []int32{}}
			for _, r := range p.Replicas {
				s.Replicas = append(s.Replicas, r.ID)
			}
			for _, r := range p.ISRs {
				s.ISR = append(s.ISR, r.ID)
			}
			ps[p.Partition] = s
		}
		v.Topics[tp.Topic] = ps
	}
	return v
}

var (
	kcatBrokerLine    = regexp.MustCompile(`^  broker (-?\d+) at (\S+?)( \(controller\))?$`)
	kcatTopicLine     = regexp.MustCompile(`^  topic "([^"]*)" with (\d+) partitions:`)
	kcatPartitionLine = regexp.MustCompile(`^    partition (\d+), leader (-?\d+), replicas: ([-\d,]*), isrs: ([-\d,]*)`)
)

// parseKcatText reads kcat -L's text form:
//
//	3 brokers:
//	 broker 1 at 127.0.0.1:40123 (controller)
//	1 topics:
//	 topic "orders" with 3 partitions:
//	   partition 0, leader 101, replicas: 101,102, isrs: 101,102
func parseKcatText(t testing.TB, out []byte) kcatView {
	t.Helper()
	v := kcatView{Controller: -1, Brokers: map[int32]string{}, Topics: map[string]map[int32]partitionState{}}
	var topic string
	for _, line := range strings.Split(string(out), "\n") {
		if m := kcatBrokerLine.FindStringSubmatch(line); m != nil {
			id := atoi32(t, m[1])
			v.Brokers[id] = m[2]
			if m[3] != "" {
				v.Controller = id
			}
		} else if m := kcatTopicLine.FindStringSubmatch(line); m != nil {
			topic = m[1]
			v.Topics[topic] = map[int32]partitionState{}
		} else if m := kcatPartitionLine.FindStringSubmatch(line); m != nil {
			v.Topics[topic][atoi32(t, m[1])] = partitionState{Leader: atoi32(t, m[2]), Replicas: ids(t, m[3]), ISR: ids(t, m[4])}
		}
	}
	return v
}

func atoi32(t testing.TB, s string) int32 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		t.Fatalf("kcat printed %q where a number belongs: %v", s, err)
	}
	return int32(n)
}

func ids(t testing.TB, s string) []int32 {
	out := []int32{}
	for _, f := range strings.Split(s, ",") {
		if f != "" {
			out = append(out, atoi32(t, f))
		}
	}
	return out
}

// kcat runs kcat -L (with extra args) against addr.
func kcat(t testing.TB, ctx context.Context, addr string, args ...string) []byte {
	t.Helper()
	args = append([]string{"-L", "-b", addr, "-m", "10"}, args...)
	cmd := exec.CommandContext(ctx, "kcat", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// TestKcat lists the cluster with kcat -L and -L -J from every node and
// checks that brokers, topics, partitions, leaders, replicas and ISRs are
// exactly what the HTTP API shows.
func TestKcat(t *testing.T) {
	needTool(t, "kcat", "-V")
	c := startCluster(t)
	ctx := ctxFor(t, 60*time.Second)

	// Topics of every shape: several partitions, none, and a partition
	// whose only replica is fenced (no leader, leader -1).
	for _, req := range []contract.CreateTopicRequest{
		{Name: "orders", Partitions: ptr(int32(3)), ReplicationFactor: ptr(int32(2))},
		{Name: "payments", Partitions: ptr(int32(1)), ReplicationFactor: ptr(int32(3))},
		{Name: "empty"},
		{Name: "leaderless"},
	} {
		if _, _, err := c.API().CreateTopic(ctx, req); err != nil {
			t.Fatalf("create topic %s: %v", req.Name, err)
		}
	}
	registerBroker(t, ctx, c, 105)
	createPartition(t, ctx, c, "leaderless", []int32{105}, nil, 105)
	if _, _, err := c.API().PatchBroker(ctx, 105, contract.PatchBrokerRequest{BrokerStatus: ptr(contract.StatusFenced)}); err != nil {
		t.Fatalf("fence broker 105: %v", err)
	}

	want := httpView(t, ctx, c)
	if p := want.Topics["leaderless"][0]; p.Leader != contract.NoLeader {
		t.Fatalf("leaderless-0 has leader %d after fencing its only replica", p.Leader)
	}
	for _, id := range c.IDs() {
		addr := c.KafkaAddr(id)
		var js, text []byte
		want.Controller = int32(underOneLeader(t, c, func() {
			js, text = kcat(t, ctx, addr, "-J"), kcat(t, ctx, addr)
		}))
		checkKcatView(t, "kcat -L -J -b "+addr, parseKcatJSON(t, js), want)
		checkKcatView(t, "kcat -L -b "+addr, parseKcatText(t, text), want)
		if t.Failed() || testing.Verbose() {
			t.Logf("kcat -L -J -b %s:\n%s\nkcat -L -b %s:\n%s", addr, js, addr, text)
		}
		if t.Failed() {
			return
		}
	}
}

// httpView is what kcat must show, read from the HTTP API (all but the
// controller).
func httpView(t testing.TB, ctx context.Context, c *testcluster.Cluster) kcatView {
	t.Helper()
	v := kcatView{Brokers: nodeBrokers(t, c), Topics: map[string]map[int32]partitionState{}}
	list, err := c.API().Topics(ctx)
	if err != nil {
		t.Fatalf("GET /v1/topics: %v", err)
	}
	for _, tp := range list {
		d := topicDetail(t, ctx, c, tp.Name)
		if d == nil {
			t.Fatalf("GET /v1/topics/%s: gone", tp.Name)
		}
		v.Topics[tp.Name] = httpPartitions(d)
	}
	return v
}

func checkKcatView(t testing.TB, what string, got, want kcatView) {
	t.Helper()
	if got.Controller != want.Controller {
		t.Errorf("%s: controller %d, want the leader %d", what, got.Controller, want.Controller)
	}
	if !mapsEqual(got.Brokers, want.Brokers) {
		t.Errorf("%s: brokers %v, want the nodes' Kafka addresses %v", what, got.Brokers, want.Brokers)
	}
	var gotNames, wantNames []string
	for n := range got.Topics {
		gotNames = append(gotNames, n)
	}
	for n := range want.Topics {
		wantNames = append(wantNames, n)
	}
	slices.Sort(gotNames)
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("%s: topics %v, HTTP API lists %v", what, gotNames, wantNames)
		return
	}
	for _, n := range wantNames {
		samePartitions(t, what+" topic "+n, got.Topics[n], want.Topics[n])
	}
}
