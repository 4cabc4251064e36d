package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/buildinfo"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/testcluster"
)

// cli runs yakt commands in this process against one cluster.
type cli struct {
	t   *testing.T
	eps string // --endpoints
}

// run runs `yakt --endpoints EPS args...` and returns what it printed and
// its exit status.
func (c cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"--endpoints", c.eps, "--timeout", "20s"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("yakt %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// json runs a command with -o json that must succeed and decodes its
// output into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("yakt %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs a command that must exit with code, saying want on stderr.
func (c cli) fails(code int, want string, args ...string) {
	c.t.Helper()
	out, errOut, got := c.run(args...)
	if got != code || !strings.Contains(errOut, want) {
		c.t.Fatalf("yakt %s: exit %d, stderr %q; want exit %d and %q\nstdout: %s", strings.Join(args, " "), got, errOut, code, want, out)
	}
}

// closedEndpoint is the URL of a port nothing listens on.
func closedEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestCLIAgainstACluster runs every online command against one real
// 3-node cluster, in an order that builds the state each step checks:
// brokers, topics, a fenced broker's under-replicated and unavailable
// partitions, a snapshot, the log; then it stops two nodes and checks
// what the commands say of a quorum without a leader.
func TestCLIAgainstACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	tc := testcluster.New(t, testcluster.Options{})
	x := cli{t: t, eps: strings.Join(tc.URLs(), ",")}
	api, err := client.New(client.Config{Endpoints: tc.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := int32(1); i <= 3; i++ {
		_, _, err := api.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: contract.Int32(i), BrokerHost: "10.0.0." + strconv.Itoa(int(i)),
			BrokerPort: contract.PortNumber(9092), RackID: fmt.Sprintf("r%d", i)})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("version", func(t *testing.T) {
		bi := buildinfo.Get()
		out := x.ok("version")
		want := fmt.Sprintf("yakt %s\ncommit: %s\ngo:     %s\n", bi.Version, bi.Commit, runtime.Version())
		if out != want {
			t.Fatalf("yakt version printed\n%s\nwant\n%s", out, want)
		}
		if got := x.ok("--version"); got != want {
			t.Fatalf("yakt --version printed\n%s\nwant what yakt version prints:\n%s", got, want)
		}
		var got buildinfo.Info
		x.json(&got, "version")
		if got != bi || got.GoVersion != runtime.Version() {
			t.Fatalf("yakt version -o json = %+v, want %+v", got, bi)
		}
		// Each node exports the same build as yakt_build_info.
		for _, ep := range api.Endpoints() {
			text, err := api.MetricsAt(ctx, ep)
			if err != nil {
				t.Fatal(err)
			}
			fams, err := parseMetrics(text)
			if err != nil {
				t.Fatal(err)
			}
			f := fams["yakt_build_info"]
			if f == nil || len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != 1 {
				t.Fatalf("%s: yakt_build_info is %v, want one gauge at 1", ep, f)
			}
			labels := map[string]string{}
			for _, l := range f.Metric[0].Label {
				labels[l.GetName()] = l.GetValue()
			}
			if want := map[string]string{"version": bi.Version, "commit": bi.Commit, "goversion": bi.GoVersion}; !maps.Equal(labels, want) {
				t.Errorf("%s: yakt_build_info labels %v, want %v", ep, labels, want)
			}
		}
	})

	t.Run("quorum describe", func(t *testing.T) {
		leader := tc.MustLeader() // as of now: a loaded machine may have elected another
		out := x.ok("quorum", "describe", "--status")
		for _, re := range []string{
			`(?m)^ClusterId:\s+testcluster$`,
			fmt.Sprintf(`(?m)^LeaderId:\s+%d$`, leader),
			`(?m)^LeaderEpoch:\s+[1-9]\d*$`,
			`(?m)^HighWatermark:\s+[1-9]\d*$`,
			`(?m)^MaxFollowerLag:\s+\d+$`,
			`(?m)^MaxFollowerLagTimeMs:\s+\d+$`,
			`(?m)^CurrentVoters:\s+\[\{"id": 1, "directoryId": "[A-Za-z0-9_-]{22}", "endpoints": \["127\.0\.0\.1:\d+"\]\}, \{"id": 2, .*\{"id": 3, [^\n]*\]$`,
			`(?m)^CurrentObservers:\s+\[\]$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("quorum describe --status lacks %s:\n%s", re, out)
			}
		}
		var st quorumStatus
		x.json(&st, "quorum", "describe", "--status")
		if st.LeaderID != int64(leader) || !slices.Equal(st.CurrentVoters, []uint64{1, 2, 3}) || st.Stale ||
			st.MaxFollowerLag == nil || st.HighWatermark < 4 {
			t.Errorf("quorum describe --status -o json = %+v", st)
		}

		out = x.ok("quorum", "describe", "--replication")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "NodeId DirectoryId LogEndOffset Lag LastFetchTimestamp LastCaughtUpTimestamp Status" {
			t.Fatalf("quorum describe --replication:\n%s", out)
		}
		now := time.Now().UnixMilli()
		for i, line := range lines[1:] {
			f := strings.Fields(line)
			status := "Follower"
			if f[0] == strconv.FormatUint(leader, 10) {
				status = "Leader"
			}
			fetched, _ := strconv.ParseInt(f[4], 10, 64)
			if f[0] != strconv.Itoa(i+1) || len(f[1]) != 22 || f[6] != status || now-fetched > 60_000 || fetched > now {
				t.Errorf("replica row %q: want node %d, %s, fetched within the last minute", line, i+1, status)
			}
		}
		var rep struct{ Replicas []quorumReplica }
		x.json(&rep, "quorum", "describe", "--replication")
		if len(rep.Replicas) != 3 || rep.Replicas[leader-1].Status != "Leader" || rep.Replicas[leader-1].LogEndOffset == nil {
			t.Errorf("quorum describe --replication -o json = %+v", rep)
		}
		x.fails(exitUsage, "exactly one of --status and --replication", "quorum", "describe")
	})

	t.Run("quorum add-voter checks the node it asks", func(t *testing.T) {
		// Node 1 answers at its HTTP address: it is not node 4.
		x.fails(exitAPI, "is node 1, not 4", "quorum", "add-voter", "--node-id", "4", "--http-address", strings.TrimPrefix(tc.URL(1), "http://"))
		out := x.ok("quorum", "describe", "--status")
		if !regexp.MustCompile(`(?m)^CurrentObservers:\s+\[\]$`).MatchString(out) {
			t.Errorf("a refused add-voter changed the quorum:\n%s", out)
		}
	})

	t.Run("endpoint status and health", func(t *testing.T) {
		leader := tc.MustLeader() // as of now: a loaded machine may have elected another
		out := x.ok("endpoint", "status")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "ENDPOINT") || !strings.Contains(lines[0], "RAFT APPLIED INDEX") {
			t.Fatalf("endpoint status:\n%s", out)
		}
		var rows []endpointStatus
		x.json(&rows, "endpoint", "status")
		leaders := 0
		for i, r := range rows {
			if r.Endpoint != tc.URLs()[i] || r.ID != uint64(i+1) || r.Version != buildinfo.Get().Version || r.RaftTerm == 0 ||
				r.RaftIndex == 0 || r.RaftAppliedIndex == 0 || len(r.Errors) > 0 || r.Leader != leader {
				t.Errorf("endpoint status row %d: %+v", i, r)
			}
			if r.IsLeader {
				leaders++
				if r.ID != leader {
					t.Errorf("node %d says it leads; the cluster's leader is %d", r.ID, leader)
				}
			}
			if !strings.Contains(lines[i+1], r.Endpoint) || !strings.Contains(lines[i+1], strconv.FormatUint(r.RaftTerm, 10)) {
				t.Errorf("table row %q does not match %+v", lines[i+1], r)
			}
		}
		if leaders != 1 {
			t.Errorf("%d endpoints lead, want 1", leaders)
		}

		out = x.ok("endpoint", "health")
		if n := strings.Count(out, " true "); n != 3 || !strings.HasPrefix(out, "ENDPOINT") {
			t.Fatalf("endpoint health, want 3 healthy:\n%s", out)
		}
		var health []endpointHealth
		x.json(&health, "endpoint", "health")
		for _, h := range health {
			if !h.Health || h.Error != "" || h.Took == "" {
				t.Errorf("endpoint health: %+v", h)
			}
		}

		// One dead endpoint among live ones: its row says why, and the
		// command exits 3.
		dead := closedEndpoint(t)
		withDead := cli{t: t, eps: x.eps + "," + dead}
		stdout, _, code := withDead.run("endpoint", "health")
		if code != exitUnavailable || !regexp.MustCompile(regexp.QuoteMeta(dead)+`\s+false\s+\S+\s+.*connection refused`).MatchString(stdout) {
			t.Errorf("endpoint health with a dead endpoint: exit %d\n%s", code, stdout)
		}
		stdout, _, code = withDead.run("endpoint", "status")
		if code != exitUnavailable || strings.Count(stdout, "\n") != 5 || !strings.Contains(stdout, "connection refused") {
			t.Errorf("endpoint status with a dead endpoint: exit %d\n%s", code, stdout)
		}
	})

	var ordersID string
	t.Run("topics", func(t *testing.T) {
		out := x.ok("topics", "create", "orders", "--partitions", "3", "--replication-factor", "3")
		m := regexp.MustCompile(`^Created topic orders \(TopicId ([0-9a-f-]{36}), 3 partitions\)\.\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("topics create printed %q", out)
		}
		ordersID = m[1]
		var created client.TopicDetail
		x.json(&created, "topics", "create", "audit")
		if created.Topic.Name != "audit" || len(created.Partitions) != 0 {
			t.Fatalf("topics create audit -o json = %+v", created)
		}
		x.fails(exitAPI, "TOPIC_ALREADY_EXISTS", "topics", "create", "orders")
		x.fails(exitAPI, "INVALID_TOPIC_NAME", "topics", "create", "bad/name")
		x.fails(exitUsage, "want a topic name", "topics", "create")

		out = x.ok("topics", "list")
		want := "TOPIC    PARTITIONS   TOPIC ID\naudit    0            " + created.Topic.TopicUUID + "\norders   3            " + ordersID + "\n"
		if out != want {
			t.Errorf("topics list printed\n%s\nwant\n%s", out, want)
		}
		var list []client.TopicSummary
		x.json(&list, "topics", "list")
		if len(list) != 2 || list[1] != (client.TopicSummary{Name: "orders", TopicUUID: ordersID, Partitions: 3}) {
			t.Errorf("topics list -o json = %+v", list)
		}

		out = x.ok("topics", "describe", "orders")
		layout := regexp.MustCompile(`^Topic: orders\tTopicId: ` + ordersID + `\tPartitionCount: 3\tReplicationFactor: 3\n` +
			`\tTopic: orders\tPartition: 0\tLeader: ([123])\tReplicas: ([123],[123],[123])\tIsr: ([123],[123],[123])\n` +
			`\tTopic: orders\tPartition: 1\tLeader: [123]\tReplicas: [123],[123],[123]\tIsr: [123],[123],[123]\n` +
			`\tTopic: orders\tPartition: 2\tLeader: [123]\tReplicas: [123],[123],[123]\tIsr: [123],[123],[123]\n$`)
		if m := layout.FindStringSubmatch(out); m == nil || m[2] != m[3] || !strings.HasPrefix(m[2], m[1]) {
			t.Errorf("topics describe orders, not in kafka-topics' layout (leader first in replicas, all in sync):\n%s", out)
		}
		// Every topic, from one full fetch, says the same of orders.
		if all := x.ok("topics", "describe"); !strings.HasPrefix(all, "Topic: audit\tTopicId: "+created.Topic.TopicUUID+"\tPartitionCount: 0\tReplicationFactor: 0\n") ||
			!strings.HasSuffix(all, out) {
			t.Errorf("topics describe (all) printed\n%s\nwant audit, then\n%s", all, out)
		}
		var desc []describedTopic
		x.json(&desc, "topics", "describe", "orders")
		if len(desc) != 1 || desc[0].TopicID != ordersID || desc[0].PartitionCount != 3 || desc[0].ReplicationFactor != 3 || len(desc[0].Partitions[2].ISR) != 3 {
			t.Errorf("topics describe orders -o json = %+v", desc)
		}
		if out := x.ok("topics", "describe", "--under-replicated-partitions"); out != "" {
			t.Errorf("under-replicated partitions in a healthy cluster:\n%s", out)
		}
		x.fails(exitAPI, `TOPIC_NOT_FOUND`, "topics", "describe", "nope")
	})

	t.Run("brokers", func(t *testing.T) {
		out := x.ok("brokers", "list")
		want := "ID   HOST       PORT   RACK   STATUS   EPOCH   PROTOCOL\n" +
			"1    10.0.0.1   9092   r1     ALIVE    0       PLAINTEXT\n" +
			"2    10.0.0.2   9092   r2     ALIVE    0       PLAINTEXT\n" +
			"3    10.0.0.3   9092   r3     ALIVE    0       PLAINTEXT\n"
		if out != want {
			t.Errorf("brokers list printed\n%s\nwant\n%s", out, want)
		}
		out = x.ok("brokers", "describe", "2")
		for _, re := range []string{`(?m)^BrokerId:\s+2$`, `(?m)^Host:\s+10\.0\.0\.2$`, `(?m)^Rack:\s+r2$`, `(?m)^Status:\s+ALIVE$`, `(?m)^IncarnationId:\s+[0-9a-f-]{36}$`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("brokers describe 2 lacks %s:\n%s", re, out)
			}
		}
		var bs []client.Broker
		x.json(&bs, "brokers", "describe", "1", "3")
		if len(bs) != 2 || bs[0].BrokerID != 1 || bs[1].BrokerID != 3 || bs[1].RackID != "r3" {
			t.Errorf("brokers describe 1 3 -o json = %+v", bs)
		}
		x.fails(exitAPI, "BROKER_NOT_FOUND", "brokers", "describe", "9")
		x.fails(exitUsage, "broker id", "brokers", "describe", "one")
		x.fails(exitUsage, "--status", "brokers", "list", "--status", "alive")

		// A partition only broker 3 holds goes offline when broker 3 shuts
		// down; orders' partitions lose it from their ISRs.
		if _, _, err := api.CreatePartition(ctx, "audit", client.CreatePartitionRequest{Replicas: []int32{3}}); err != nil {
			t.Fatal(err)
		}
		out = x.ok("brokers", "shutdown", "3")
		if !regexp.MustCompile(`^Broker 3 shut down: FENCED, [0-9]+ partitions? moved to another leader\.\n$`).MatchString(out) {
			t.Errorf("brokers shutdown 3 printed %q", out)
		}
		var fenced []client.Broker
		x.json(&fenced, "brokers", "list", "--status", "FENCED")
		if len(fenced) != 1 || fenced[0].BrokerID != 3 || fenced[0].Epoch != 1 {
			t.Errorf("brokers list --status FENCED -o json = %+v", fenced)
		}

		out = x.ok("topics", "describe", "--under-replicated-partitions")
		under := regexp.MustCompile(`(?m)^\tTopic: orders\tPartition: [012]\tLeader: [12]\tReplicas: [123],[123],[123]\tIsr: [12],[12]$`)
		if n := len(under.FindAllString(out, -1)); n != 3 || strings.Count(out, "\n") != 3 {
			t.Errorf("topics describe --under-replicated-partitions: want orders' 3 partitions without broker 3 in their ISRs:\n%s", out)
		}
		out = x.ok("topics", "describe", "--unavailable-partitions")
		if out != "\tTopic: audit\tPartition: 0\tLeader: none\tReplicas: 3\tIsr: 3\n" {
			t.Errorf("topics describe --unavailable-partitions printed %q, want audit's partition 0 alone", out)
		}
		var unavailable []describedTopic
		x.json(&unavailable, "topics", "describe", "audit", "orders", "--unavailable-partitions")
		if len(unavailable) != 1 || unavailable[0].Topic != "audit" || len(unavailable[0].Partitions) != 1 || unavailable[0].Partitions[0].Leader != -1 {
			t.Errorf("topics describe audit orders --unavailable-partitions -o json = %+v", unavailable)
		}

		out = x.ok("brokers", "unregister", "3")
		if !regexp.MustCompile(`^Unregistered broker 3: CLOSED \(BrokerRegistrationChangeBrokerRecord at offset [1-9]\d*\)\.\n$`).MatchString(out) {
			t.Errorf("brokers unregister 3 printed %q", out)
		}
		x.fails(exitAPI, "BROKER_NOT_ACTIVE", "brokers", "shutdown", "3")
		var closed []client.Broker
		x.json(&closed, "brokers", "list", "--status", "CLOSED")
		if len(closed) != 1 || closed[0].BrokerStatus != "CLOSED" {
			t.Errorf("brokers list --status CLOSED -o json = %+v", closed)
		}
	})

	t.Run("configs", func(t *testing.T) {
		x.ok("topics", "create", "events", "--config", "retention.ms=86400000", "--config", "cleanup.policy=compact")
		x.fails(exitAPI, "INVALID_CONFIG", "topics", "create", "events2", "--config", "retention.ms=soon")
		out := x.ok("configs", "describe", "--topic", "events")
		if !regexp.MustCompile(`(?m)^retention\.ms\s+86400000\s+TOPIC$`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^segment\.ms\s+604800000\s+DEFAULT$`).MatchString(out) || !strings.HasPrefix(out, "NAME") {
			t.Errorf("configs describe --topic printed\n%s", out)
		}
		out = x.ok("configs", "set", "--topic", "events", "min.insync.replicas=2", "cleanup.policy=compact,delete")
		if !regexp.MustCompile(`^Altered configs of topic events \(offset [1-9]\d*\)\.\n`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^min\.insync\.replicas\s+2\s+TOPIC$`).MatchString(out) || strings.Contains(out, "segment.ms") {
			t.Errorf("configs set printed\n%s", out)
		}
		x.fails(exitAPI, "INVALID_CONFIG", "configs", "set", "--topic", "events", "segment.ms=1", "compression.type=brotli")
		out = x.ok("configs", "set", "--topic", "events", "segment.ms=1", "--validate-only")
		if !strings.HasPrefix(out, "Validated (nothing changed)") {
			t.Errorf("configs set --validate-only printed\n%s", out)
		}
		x.ok("configs", "delete", "--topic", "events", "retention.ms")
		x.ok("configs", "set", "--cluster", "log.retention.hours=2")
		var rc client.ResourceConfigs
		x.json(&rc, "configs", "describe", "--topic", "events", "--name", "retention.ms", "--name", "segment.ms")
		if len(rc.Configs) != 2 || rc.Configs[0].Name != "retention.ms" || *rc.Configs[0].Value != "7200000" || rc.Configs[0].Source != "CLUSTER_DEFAULT" ||
			*rc.Configs[1].Value != "604800000" {
			t.Errorf("configs describe -o json = %+v", rc)
		}
		x.ok("configs", "set", "--broker", "2", "log.retention.hours=5")
		out = x.ok("configs", "describe", "--broker", "2", "--name", "log.retention.hours")
		if !regexp.MustCompile(`(?m)^log\.retention\.hours\s+5\s+BROKER$`).MatchString(out) {
			t.Errorf("configs describe --broker printed\n%s", out)
		}
		out = x.ok("configs", "describe", "--cluster", "--name", "log.retention.hours")
		if !regexp.MustCompile(`(?m)^log\.retention\.hours\s+2\s+CLUSTER_DEFAULT$`).MatchString(out) {
			t.Errorf("configs describe --cluster printed\n%s", out)
		}
		x.ok("configs", "delete", "--cluster", "log.retention.hours")
		x.fails(exitAPI, "TOPIC_NOT_FOUND", "configs", "describe", "--topic", "nope")
		x.fails(exitAPI, "INVALID_CONFIG", "configs", "describe", "--topic", "events", "--name", "retention")
		x.ok("topics", "delete", "events")
	})

	t.Run("producer-ids allocate", func(t *testing.T) {
		if out := x.ok("producer-ids", "allocate", "--broker", "1"); out != "Allocated producer ids 0-999 to broker 1.\n" {
			t.Errorf("producer-ids allocate printed %q", out)
		}
		var blk client.ProducerIDBlock
		x.json(&blk, "producer-ids", "allocate", "--broker", "2")
		if blk.FirstProducerID != 1000 || blk.Size != 1000 || recordName(blk.Record) != "ProducerIdsRecord" {
			t.Errorf("producer-ids allocate -o json = %+v", blk)
		}
		x.fails(exitAPI, "BROKER_NOT_ACTIVE", "producer-ids", "allocate", "--broker", "3")
		x.fails(exitUsage, "--broker is required", "producer-ids", "allocate")
	})

	t.Run("topics delete", func(t *testing.T) {
		if out := x.ok("topics", "delete", "audit"); !regexp.MustCompile(`^Deleted topic audit \(offset [1-9]\d*\)\.\n$`).MatchString(out) {
			t.Errorf("topics delete printed %q", out)
		}
		x.fails(exitAPI, "TOPIC_NOT_FOUND", "topics", "delete", "audit")
	})

	t.Run("snapshot save", func(t *testing.T) {
		leader := tc.MustLeader() // as of now: a loaded machine may have elected another
		dir := t.TempDir()
		file := filepath.Join(dir, "backup.snap")
		out := x.ok("snapshot", "save", file)
		m := regexp.MustCompile(`^Snapshot saved to ` + regexp.QuoteMeta(file) + `: offset (\d+), term (\d+), .* \((\d+) bytes\), (crc32c:[0-9a-f]{8}), from node (\d)\.\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("snapshot save printed %q", out)
		}
		snap, err := storage.ReadSnapshotFile(file)
		if err != nil {
			t.Fatalf("the saved file does not verify: %v", err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != strconv.FormatUint(snap.Metadata.Index, 10) || m[2] != strconv.FormatUint(snap.Metadata.Term, 10) ||
			m[3] != strconv.Itoa(len(data)) || m[4] != fmt.Sprintf("crc32c:%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))) ||
			m[5] != strconv.FormatUint(leader, 10) {
			t.Errorf("snapshot save said %q; the file has offset %d, term %d, %d bytes; the leader is %d", out, snap.Metadata.Index, snap.Metadata.Term, len(data), leader)
		}
		// Taken fresh: it holds everything committed before the command.
		if q, err := api.Quorum(ctx); err != nil || snap.Metadata.Index < uint64(q.HighWatermark)-1 {
			t.Errorf("the snapshot is at offset %d; the high watermark after it is %d (%v)", snap.Metadata.Index, q.HighWatermark, err)
		}
		if _, err := os.Stat(file + ".part"); !os.IsNotExist(err) {
			t.Errorf("%s.part is left behind: %v", file, err)
		}
		var saved savedSnapshot
		x.json(&saved, "snapshot", "save", "--take=false", file)
		if saved.File != file || saved.Offset != snap.Metadata.Index || saved.Checksum != m[4] {
			t.Errorf("snapshot save --take=false -o json = %+v, want the same snapshot again", saved)
		}
	})

	t.Run("snapshot save refuses a corrupted download", func(t *testing.T) {
		leader := tc.MustLeader() // as of now: a loaded machine may have elected another
		// A proxy that flips one byte of the snapshot on the way, and in
		// the second case also announces the checksum of what it sends:
		// the node's checksum catches the first, the file's own header and
		// body checksums the second.
		for _, announce := range []bool{false, true} {
			proxy := corruptingProxy(t, tc.URL(leader), announce)
			dir := t.TempDir()
			file := filepath.Join(dir, "backup.snap")
			want := "checksum mismatch"
			if announce {
				want = "verify " + file + ".part"
			}
			cli{t: t, eps: proxy}.fails(exitAPI, want, "snapshot", "save", file)
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
				t.Errorf("a refused download left %v", left)
			}
		}
	})

	t.Run("log tail", func(t *testing.T) {
		var recs []client.Record
		out := x.ok("log", "tail", "--from", "1", "--no-follow", "-o", "json")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r client.Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("log tail -o json line %q: %v", line, err)
			}
			recs = append(recs, r)
		}
		var names []string
		for i, r := range recs {
			if i > 0 && r.Offset < recs[i-1].Offset {
				t.Errorf("offsets go back: %d after %d", r.Offset, recs[i-1].Offset)
			}
			names = append(names, recordName(r))
		}
		for _, want := range []string{"RegisterBrokerRecord", "TopicRecord", "PartitionRecord", "ProducerIdsRecord", "RemoveTopicRecord"} {
			if !slices.Contains(names, want) {
				t.Errorf("log tail --from 1 has no %s: %v", want, names)
			}
		}
		out = x.ok("log", "tail", "--from", "1", "--limit", "2")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		first := regexp.MustCompile(`^(\d+)\t\d{4}-\d\d-\d\dT[\d:.]+Z\t(\w+)\t\{.*\}$`)
		if len(lines) != 2 || first.FindStringSubmatch(lines[0]) == nil || first.FindStringSubmatch(lines[0])[2] != recordName(recs[0]) {
			t.Errorf("log tail --limit 2 printed\n%s", out)
		}

		// Following: a record committed after the command started is
		// printed, and --limit ends it.
		end := recs[len(recs)-1].Offset
		type result struct {
			out, errOut string
			code        int
		}
		done := make(chan result, 1)
		go func() {
			var o, e bytes.Buffer
			code := run([]string{"--endpoints", x.eps, "log", "tail", "--from", strconv.FormatInt(end+1, 10), "--limit", "1", "--interval", "20ms"}, &o, &e)
			done <- result{o.String(), e.String(), code}
		}()
		if _, _, err := api.CreateTopic(ctx, client.CreateTopicRequest{Name: "followed"}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if r.code != 0 || !regexp.MustCompile(`^\d+\t\S+\tTopicRecord\t\{.*"name":"followed"\}\n$`).MatchString(r.out) {
				t.Errorf("log tail following: exit %d, printed %q, stderr %q", r.code, r.out, r.errOut)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("log tail did not print the new record within 30 s")
		}
		x.fails(exitUsage, "--from", "log", "tail", "--from", "0")
	})

	t.Run("log tail ends on Ctrl-C with status 0", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "log", "tail", "--endpoints", x.eps)
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The last offsets are printed first: once a line is there, the
		// command is following.
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("log tail printed nothing: %s", errOut.String())
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("log tail after Ctrl-C: %v, want exit status 0; stderr: %s", err, errOut.String())
		}
	})

	t.Run("environment", func(t *testing.T) {
		t.Setenv("YAKT_ENDPOINTS", x.eps)
		t.Setenv("YAKT_OUTPUT", "json")
		var out, errOut bytes.Buffer
		if code := run([]string{"topics", "list"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "[") {
			t.Fatalf("topics list with YAKT_ENDPOINTS and YAKT_OUTPUT=json: exit %d, %q %q", code, out.String(), errOut.String())
		}
		// A flag on the command line wins.
		out.Reset()
		if code := run([]string{"topics", "list", "-o", "table"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "TOPIC ") {
			t.Fatalf("topics list -o table beside YAKT_OUTPUT=json: exit %d, %q", code, out.String())
		}
		t.Setenv("YAKT_OUTPUT", "yaml")
		x.fails(exitUsage, `"yaml"`, "topics", "list")
	})

	t.Run("unreachable", func(t *testing.T) {
		dead := cli{t: t, eps: closedEndpoint(t) + "," + closedEndpoint(t)}
		for _, args := range [][]string{
			{"topics", "list"}, {"topics", "describe", "orders"}, {"quorum", "describe", "--status"},
			{"topics", "create", "x"}, {"snapshot", "save", filepath.Join(t.TempDir(), "x.snap")},
			{"quorum", "add-voter", "--node-id", "4", "--http-address", "127.0.0.1:1"},
			{"quorum", "add-observer", "--node-id", "4", "--directory-id", "AQEBAQEBAQEBAQEBAQEBAQ", "--peer-address", "127.0.0.1:1"},
			{"quorum", "promote", "--node-id", "4"}, {"quorum", "remove-voter", "--node-id", "3"}, {"quorum", "transfer-leader"},
		} {
			start := time.Now()
			dead.fails(exitUnavailable, "connection refused", append(args, "--timeout", "1s")...)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%v took %v with --timeout 1s", args, d)
			}
		}
	})

	t.Run("no leader", func(t *testing.T) {
		// Two of three nodes down: node 1 answers its own stale view,
		// without a leader, and is not healthy.
		survivor := uint64(1)
		for _, id := range tc.IDs() {
			if id != survivor {
				tc.Kill(id)
			}
		}
		one := cli{t: t, eps: tc.URL(survivor)}
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, errOut, code := one.run("quorum", "describe", "--status")
			if code == exitUnavailable && strings.Contains(out, "LeaderId:               -1\n") &&
				strings.Contains(errOut, "node 1's own last known view") && strings.Contains(errOut, "the quorum has no leader") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("quorum describe without a leader: exit %d\n%s\n%s", code, out, errOut)
			}
			time.Sleep(100 * time.Millisecond) // the survivor's election timeout has to pass
		}
		out, _, code := one.run("endpoint", "health")
		if code != exitUnavailable || !strings.Contains(out, " false ") {
			t.Errorf("endpoint health of a node without a leader: exit %d\n%s", code, out)
		}
		one.fails(exitUnavailable, "", "topics", "create", "late", "--timeout", "2s")
	})
}

// corruptingProxy forwards to target, flipping a byte in the middle of
// GET /v1/snapshots/latest's body; with announce it also rewrites
// X-Yakt-Snapshot-Checksum to the checksum of the bytes it sends.
func corruptingProxy(t *testing.T, target string, announce bool) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/snapshots/latest" || resp.StatusCode != http.StatusOK {
			return nil
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		data[len(data)/2] ^= 0x40
		if announce {
			resp.Header.Set("X-Yakt-Snapshot-Checksum", fmt.Sprintf("crc32c:%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))))
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCLIQuorumMembership changes a 3-node cluster's membership with the
// quorum commands: an observer that never runs is added, shown with its
// directory id, refused promotion within --timeout and removed; the
// leadership moves to a named voter. Needs the membership core.
func TestCLIQuorumMembership(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	tc := testcluster.New(t, testcluster.Options{})
	lead := tc.MustLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tc.WaitDirectoryIDs(ctx); err != nil {
		t.Fatal(err)
	}
	x := cli{t: t, eps: strings.Join(tc.URLs(), ",")}
	dir := storage.NewDirectoryID().String()
	peer := testcluster.ReserveAddr(t)

	out := x.ok("quorum", "add-observer", "--node-id", "4", "--directory-id", dir, "--peer-address", peer)
	if !regexp.MustCompile(`(?m)^4\s+` + dir + `\s.*Observer$`).MatchString(out) {
		t.Fatalf("add-observer printed:\n%s", out)
	}
	out = x.ok("quorum", "describe", "--status")
	if !strings.Contains(out, `CurrentObservers:       [{"id": 4, "directoryId": "`+dir+`"}]`) || strings.Contains(out, zeroDirectoryID) {
		t.Errorf("describe --status after adding observer 4, all directory ids known:\n%s", out)
	}
	out = x.ok("quorum", "describe", "--replication")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[4], "4 ") || strings.Contains(out, zeroDirectoryID) {
		t.Errorf("describe --replication: voters, then observer 4, all directory ids known:\n%s", out)
	}
	// It never runs, so it never catches up: refused (exit 1) within --timeout.
	start := time.Now()
	_, errOut, code := x.run("quorum", "add-voter", "--node-id", "4", "--timeout", "9s") // an observer already: no identity flags needed
	if code != exitAPI || !strings.Contains(errOut, "has not caught up") || time.Since(start) > 20*time.Second {
		t.Errorf("add-voter of an observer that never runs: exit %d after %v, stderr %q", code, time.Since(start), errOut)
	}
	x.fails(exitAPI, "MEMBER_NOT_FOUND", "quorum", "promote", "--node-id", "9")
	_, errOut, code = x.run("quorum", "remove-voter", "--node-id", "4", "--directory-id", dir)
	if code != 0 || !strings.Contains(errOut, "stop its process") {
		t.Errorf("remove-voter: exit %d, stderr %q", code, errOut)
	}
	to := uint64(1)
	if to == lead {
		to = 2
	}
	var st quorumStatus
	x.json(&st, "quorum", "transfer-leader", "--to", strconv.FormatUint(to, 10))
	if st.LeaderID != int64(to) || len(st.CurrentObservers) != 0 || len(st.Voters) != 3 {
		t.Errorf("transfer-leader --to %d: %+v", to, st)
	}
}
