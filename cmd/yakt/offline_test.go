package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/inspect"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/testcluster"
)

// runWithInput runs a yakt command line with stdin, as a pipe gives it.
func runWithInput(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	switch ee, ok := errors.AsType[*exitError](err); {
	case err == nil:
	case ok:
		code = ee.code
		if ee.err != nil {
			fmt.Fprintf(&errOut, "%s: %v\n", cmd.CommandPath(), ee.err)
		}
	default:
		code = exitUsage
		fmt.Fprintf(&errOut, "%v\n", err)
	}
	return out.String(), errOut.String(), code
}

// topicsAsJSON is what `yakt topics describe -o json` says of a cluster:
// the state a restore must carry over.
func topicsAsJSON(t *testing.T, eps string) any {
	t.Helper()
	var v any
	x := cli{t: t, eps: eps}
	x.json(&v, "topics", "describe")
	return v
}

// TestOfflineCommands runs the commands that read files — snapshot
// status and restore, log dump, the shell over a snapshot — on what a
// real 3-node cluster left, and the shell over that cluster live. Then
// the saved snapshot is restored into three new data directories and a
// new cluster started on them serves the same topics and takes writes.
func TestOfflineCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two 3-node clusters")
	}
	tc := testcluster.New(t, testcluster.Options{})
	eps := strings.Join(tc.URLs(), ",")
	x := cli{t: t, eps: eps}
	api, err := client.New(client.Config{Endpoints: tc.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := int32(1); i <= 3; i++ {
		if _, _, err := api.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: contract.Int32(i),
			BrokerHost: "10.0.0." + strconv.Itoa(int(i)), BrokerPort: contract.PortNumber(9092), RackID: fmt.Sprintf("r%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	x.ok("topics", "create", "orders", "--partitions", "3", "--replication-factor", "3")
	x.ok("topics", "create", "payments", "--partitions", "2", "--replication-factor", "2")
	before := topicsAsJSON(t, eps)

	t.Run("ShellLive", func(t *testing.T) {
		out, errOut, code := runWithInput("ls /topics\ncat /topics/orders/partitions/2\n", "--endpoints", eps, "shell")
		if code != 0 || !strings.Contains(out, "orders") || !strings.Contains(out, "payments") || !strings.Contains(out, `"partitionId": 2`) {
			t.Fatalf("yakt shell (live): exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		// A failed command makes the exit status 1, so scripts notice.
		if _, _, code := runWithInput("cd /nowhere\n", "--endpoints", eps, "shell"); code != exitAPI {
			t.Fatalf("yakt shell with a failing command: exit %d, want %d", code, exitAPI)
		}
	})

	snap := filepath.Join(t.TempDir(), "backup.snap")
	x.ok("snapshot", "save", snap)
	// A write after the snapshot is in the logs, not in the file.
	x.ok("topics", "create", "later", "--partitions", "1", "--replication-factor", "1")

	t.Run("SnapshotStatus", func(t *testing.T) {
		var info inspect.SnapshotInfo
		x.json(&info, "snapshot", "status", snap)
		if info.Counts.Topics != 2 || info.Counts.Partitions != 5 || info.Counts.Brokers != 3 || info.Offset == 0 {
			t.Fatalf("yakt snapshot status -o json = %+v, want 2 topics, 5 partitions, 3 brokers", info)
		}
		table := x.ok("snapshot", "status", snap)
		for _, want := range []string{strconv.FormatUint(info.Offset, 10), info.Checksum} {
			if !strings.Contains(table, want) {
				t.Fatalf("yakt snapshot status does not show %q:\n%s", want, table)
			}
		}
		// A damaged copy is refused, naming the damage.
		b, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		bad := filepath.Join(t.TempDir(), "bad.snap")
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		x.fails(exitAPI, "corrupt", "snapshot", "status", bad)
	})

	t.Run("ShellOverSnapshot", func(t *testing.T) {
		out, errOut, code := runWithInput("find /topics\n", "shell", "--snapshot", snap)
		if code != 0 || !strings.Contains(out, "/topics/payments/partitions/1") || strings.Contains(out, "later") {
			t.Fatalf("yakt shell --snapshot: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	})

	t.Run("LogDump", func(t *testing.T) {
		x.fails(exitAPI, "in use", "log", "dump", "--data-dir", tc.DataDir(1))
		x.fails(exitUsage, "--data-dir is required", "log", "dump")
		tc.StopAll()
		out := x.ok("log", "dump", "--data-dir", tc.DataDir(1))
		for _, want := range []string{"TopicRecord", "later", "RegisterBrokerRecord"} {
			if !strings.Contains(out, want) {
				t.Fatalf("yakt log dump lacks %q:\n%s", want, out)
			}
		}
		// -o json: one entry per line, offsets rising.
		lines := strings.Split(strings.TrimSpace(x.ok("log", "dump", "--data-dir", tc.DataDir(1), "-o", "json")), "\n")
		var last uint64
		for i, l := range lines {
			var e inspect.Entry
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %d of yakt log dump -o json: %v: %s", i, err, l)
			}
			if i > 0 && e.Offset <= last {
				t.Fatalf("offsets not rising at line %d: %d after %d", i, e.Offset, last)
			}
			last = e.Offset
		}
	})

	t.Run("RestoreRoundTrip", func(t *testing.T) {
		peers := map[uint64]string{}
		for id := uint64(1); id <= 3; id++ {
			peers[id] = testcluster.ReserveAddr(t)
		}
		voters := server.FormatVoters(peers)
		base := t.TempDir()
		x.fails(exitUsage, "--voters is required", "snapshot", "restore", snap, "--data-dir", base, "--node-id", "1")
		var urls []string
		for id := uint64(1); id <= 3; id++ {
			dir := filepath.Join(base, fmt.Sprintf("node-%d", id))
			x.ok("snapshot", "restore", snap, "--data-dir", dir, "--node-id", fmt.Sprint(id), "--voters", voters, "--cluster-id", "restored")
			if id == 1 {
				x.fails(exitAPI, "not empty", "snapshot", "restore", snap, "--data-dir", dir, "--node-id", "1", "--voters", voters, "--cluster-id", "restored")
			}
			httpL, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s, err := server.Start(server.Config{NodeID: id, ClusterID: "restored", DataDir: dir, Voters: peers,
				ListenPeer: peers[id], HTTPListener: httpL, TickInterval: 50 * time.Millisecond, ElectionTicks: 20,
				BrokerSessionTimeout: time.Hour}) // the restored brokers never heartbeat: a slow run must not fence them
			if err != nil {
				t.Fatalf("start restored node %d: %v", id, err)
			}
			t.Cleanup(func() {
				sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer scancel()
				s.Stop(sctx)
			})
			urls = append(urls, "http://"+s.HTTPAddr())
		}
		restored := strings.Join(urls, ",")
		if after := topicsAsJSON(t, restored); !reflect.DeepEqual(after, before) {
			t.Fatalf("the restored cluster describes\n%v\nthe saved one described\n%v", after, before)
		}
		y := cli{t: t, eps: restored}
		y.ok("topics", "create", "after-restore", "--partitions", "1", "--replication-factor", "3")
		if out := y.ok("topics", "list"); !strings.Contains(out, "after-restore") {
			t.Fatalf("yakt topics list on the restored cluster:\n%s", out)
		}
	})
}
