package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

func TestMigrateUsageErrorsExit2(t *testing.T) {
	dead := []string{"--endpoints", "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"migrate"},
		{"migrate", "bogus"},
		{"migrate", "zookeeper"},
		{"migrate", "zookeeper", "--zk", "no-port"},
		{"migrate", "zookeeper", "--zk", "zk:2181/a//b"},
		{"migrate", "zookeeper", "zk:2181"},
		{"migrate", "status", "--interval", "0s"},
		{"migrate", "status", "extra"},
		{"migrate", "cutover", "now"},
		{"migrate", "rollback", "--zk", "zk:2181"},
	} {
		var out, errOut bytes.Buffer
		if code := run(append(dead, args...), &out, &errOut); code != exitUsage || errOut.Len() == 0 {
			t.Errorf("yakt %s: exit %d, stderr %q; want exit 2 and a message", strings.Join(args, " "), code, errOut.String())
		}
	}
}

func TestMigrationText(t *testing.T) {
	if got := migrationText(client.MigrationStatus{Phase: "NONE", Offset: 4}); got != "Phase:            NONE\nOffset:           4\n" {
		t.Errorf("no migration:\n%s", got)
	}
	st := client.MigrationStatus{Phase: "FOLLOWING", ZkConnect: "zk:2181/kafka", ZkClusterID: "kc", Zxid: 0x10000002a,
		TopicsImported: 250, TopicsTotal: 1000, Offset: 77,
		Driver: &client.MigrationDriverStatus{NodeID: 2, Activity: "following", ChangesApplied: 12, ZkWrites: 3, PendingZkWrites: 1, LastLagMs: 40,
			Problems: []client.MigrationProblem{{Path: "/brokers/topics/a", Message: "malformed JSON; topic not applied"}}}}
	got := migrationText(st)
	for _, want := range []string{
		"Phase:            FOLLOWING\n", "ZooKeeper:        zk:2181/kafka\n", "Zxid:             4294967338 (0x10000002a)\n",
		"Topics:           250/1000 imported (25%)\n", "Driver:           node 2, following, NOT connected to ZooKeeper\n",
		"ChangesApplied:   12 (last lag 40 ms)\n", "ZkWrites:         3 written, 1 pending\n", "Problems:         1\n",
		"  /brokers/topics/a: malformed JSON; topic not applied\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status text lacks %q:\n%s", want, got)
		}
	}
	st.Driver = nil
	if got := migrationText(st); !strings.Contains(got, "Driver:           none reporting") {
		t.Errorf("without a driver report:\n%s", got)
	}
}

func TestMigrationWatchLineAndBar(t *testing.T) {
	for _, tt := range []struct {
		done, total int64
		want        string
	}{
		{0, 0, "[          ]   ?%"},
		{0, 10, "[          ]   0%"},
		{5, 10, "[=====     ]  50%"},
		{10, 10, "[==========] 100%"},
		{12, 10, "[==========] 100%"},
	} {
		if got := importBar(tt.done, tt.total, 10); got != tt.want {
			t.Errorf("importBar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
	st := client.MigrationStatus{Phase: "IMPORTING", Zxid: 0x2a, TopicsImported: 3, TopicsTotal: 4,
		Driver: &client.MigrationDriverStatus{Activity: "importing", ZkConnected: true, ChangesApplied: 9,
			Problems: []client.MigrationProblem{{Path: "/brokers/ids/7"}}}}
	tty, plain := watchLine(st, true), watchLine(st, false)
	if !strings.HasPrefix(tty, "IMPORTING [") || !strings.Contains(tty, "]  75% zxid=0x2a topics=3/4") {
		t.Errorf("terminal line: %q", tty)
	}
	if want := "IMPORTING zxid=0x2a topics=3/4 driver=importing applied=9 zkWrites=0 pending=0 problems=1 first=/brokers/ids/7"; plain != want {
		t.Errorf("plain line: %q, want %q", plain, want)
	}
}

// TestCLIMigration runs the migrate commands against a real node. With
// no ZooKeeper a start is refused; the migration the watch follows is
// started on the leader's controller with a check that answers.
func TestCLIMigration(t *testing.T) {
	tc := testcluster.New(t, testcluster.Options{Nodes: 1})
	lead := tc.MustLeader()
	x := cli{t: t, eps: strings.Join(tc.URLs(), ",")}

	if out := x.ok("migrate", "status"); !strings.HasPrefix(out, "Phase:            NONE\n") {
		t.Fatalf("migrate status without a migration:\n%s", out)
	}
	nowhere := testcluster.ReserveAddr(t)
	x.fails(exitAPI, "ZOOKEEPER_UNAVAILABLE", "migrate", "zookeeper", "--zk", nowhere)
	x.fails(exitAPI, "MIGRATION_PHASE", "migrate", "cutover")
	x.fails(exitAPI, "MIGRATION_PHASE", "migrate", "finalize")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := tc.Server(lead).Controller.StartMigration(ctx, contract.MigrationStartRequest{ZkConnect: nowhere},
		func(context.Context, string) (string, error) { return "kafka-1", nil }); err != nil {
		t.Fatal(err)
	}
	var st client.MigrationStatus
	x.json(&st, "migrate", "status")
	if st.Phase != "IMPORTING" || st.ZkConnect != nowhere || st.ZkClusterID != "kafka-1" {
		t.Fatalf("migrate status -o json: %+v", st)
	}
	x.fails(exitAPI, "MIGRATION_IN_PROGRESS", "topics", "create", "during")

	// The watch prints a line while IMPORTING, goes on until the rollback
	// ends the migration, prints that, and exits 0. Its output is read
	// as it comes, so the rollback follows the first line.
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	code := make(chan int, 1)
	go func() {
		c := run([]string{"--endpoints", x.eps, "--timeout", "20s", "migrate", "status", "--watch", "--interval", "20ms"}, pw, &errOut)
		pw.Close()
		code <- c
	}()
	// A watch that never ends fails the test instead of hanging it.
	stuck := time.AfterFunc(30*time.Second, func() { pr.CloseWithError(errors.New("the watch did not end within 30s")) })
	defer stuck.Stop()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.Contains(lines.Text(), " IMPORTING zxid=") {
		pr.Close()
		t.Fatalf("the watch's first line: %q (%v)", lines.Text(), lines.Err())
	}
	first := lines.Text()
	x.ok("migrate", "rollback")
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	if lines.Err() != nil {
		t.Fatalf("the watch printed %q then: %v", first, lines.Err())
	}
	if c := <-code; c != 0 || len(rest) != 1 || !strings.Contains(rest[0], " ABORTED zxid=") {
		t.Fatalf("migrate status --watch: exit %d, stdout:\n%s\n%s\nstderr: %s", c, first, strings.Join(rest, "\n"), errOut.String())
	}
	var after client.MigrationStatus
	if err := json.Unmarshal([]byte(x.ok("migrate", "status", "-o", "json")), &after); err != nil || after.Phase != "ABORTED" {
		t.Fatalf("after rollback: %+v, %v", after, err)
	}
	x.ok("topics", "create", "after")
}
