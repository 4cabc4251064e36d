package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/inspect"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/testcluster"
)

// fixture is what one real cluster left behind: its stopped nodes' data
// directories, a snapshot file saved through the API, and the state the
// API served when the snapshot was taken.
type fixture struct {
	dirs      []string
	snapFile  string
	snapSum   string // X-Yakt-Snapshot-Checksum
	snapIndex uint64
	atSnap    clusterState // read through the API just before the snapshot
	keyedAt   int64        // offset of the write made with an idempotency key
}

// clusterState is what the API serves: brokers, and topics with their
// partitions.
type clusterState struct {
	Brokers []client.Broker
	Topics  map[string]client.TopicDetail
}

func readState(ctx context.Context, t *testing.T, cl *client.Client) clusterState {
	t.Helper()
	brokers, err := cl.Brokers(ctx, "all")
	if err != nil {
		t.Fatalf("list brokers: %v", err)
	}
	topics, err := cl.Topics(ctx)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	st := clusterState{Brokers: brokers, Topics: map[string]client.TopicDetail{}}
	for _, tp := range topics {
		d, err := cl.Topic(ctx, tp.Name)
		if err != nil {
			t.Fatalf("describe topic %s: %v", tp.Name, err)
		}
		st.Topics[tp.Name] = d
	}
	return st
}

func newClient(t *testing.T, endpoints []string) *client.Client {
	t.Helper()
	cl, err := client.New(client.Config{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ptr[T any](v T) *T { return &v }

// TestOfflineTools runs one real 3-node cluster, saves a snapshot through
// the API, stops the cluster and runs every offline tool on what it left.
func TestOfflineTools(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testcluster.New(t, testcluster.Options{})
	cl := newClient(t, c.URLs())
	for i := int32(1); i <= 3; i++ {
		if _, _, err := cl.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: ptr(i), BrokerHost: "10.0.0." + fmt.Sprint(i),
			BrokerPort: contract.PortOf("9092"), RackID: fmt.Sprintf("r%d", i)}); err != nil {
			t.Fatalf("register broker %d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		name       string
		partitions int32
		rf         int32
	}{{"orders", 3, 3}, {"payments", 2, 2}, {"gone", 1, 1}} {
		if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: tc.name, Partitions: ptr(tc.partitions), ReplicationFactor: ptr(tc.rf)}); err != nil {
			t.Fatalf("create topic %s: %v", tc.name, err)
		}
	}
	if _, _, err := cl.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	if _, _, err := cl.AllocateProducerIDs(ctx, 1, -1); err != nil {
		t.Fatalf("allocate producer ids: %v", err)
	}
	_, meta, err := cl.CreateTopic(client.WithIdempotencyKey(ctx, "restore-test-key"), client.CreateTopicRequest{Name: "keyed", Partitions: ptr[int32](1), ReplicationFactor: ptr[int32](1)})
	if err != nil {
		t.Fatalf("create keyed topic: %v", err)
	}
	if err := c.WaitApplied(ctx, uint64(meta.Offset)); err != nil {
		t.Fatal(err)
	}

	f := &fixture{keyedAt: meta.Offset, atSnap: readState(ctx, t, cl)}
	c.Must(t, 1, http.MethodPost, "/v1/snapshots", nil, http.StatusCreated, "")
	latest := c.Must(t, 1, http.MethodGet, "/v1/snapshots/latest", nil, http.StatusOK, "")
	f.snapSum = latest.Header.Get("X-Yakt-Snapshot-Checksum")
	if _, err := fmt.Sscan(latest.Header.Get("X-Yakt-Snapshot-Offset"), &f.snapIndex); err != nil || f.snapIndex < uint64(f.keyedAt) {
		t.Fatalf("X-Yakt-Snapshot-Offset %q (%v), want at least %d", latest.Header.Get("X-Yakt-Snapshot-Offset"), err, f.keyedAt)
	}
	f.snapFile = filepath.Join(t.TempDir(), "backup.snap")
	if err := os.WriteFile(f.snapFile, latest.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	// A write after the snapshot: in the logs, not in the file.
	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "later", Partitions: ptr[int32](1), ReplicationFactor: ptr[int32](2)}); err != nil {
		t.Fatalf("create topic later: %v", err)
	}

	t.Run("RefusesRunningNode", func(t *testing.T) {
		err := inspect.DumpLog(ctx, c.DataDir(1), 0, func(inspect.Entry) error { return nil })
		if !errors.Is(err, storage.ErrDirInUse) {
			t.Fatalf("DumpLog on a running node's directory = %v, want ErrDirInUse", err)
		}
		if _, err := inspect.LogStatus(c.DataDir(2)); !errors.Is(err, storage.ErrDirInUse) {
			t.Fatalf("LogStatus on a running node's directory = %v, want ErrDirInUse", err)
		}
		// The node was not disturbed: it still takes writes.
		_, meta, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "still-writable"})
		if err != nil {
			t.Fatalf("write after the refused dump: %v", err)
		}
		// Every node's log ends with it when the cluster stops.
		if err := c.WaitApplied(ctx, uint64(meta.Offset)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ShellOverLiveFetch", func(t *testing.T) {
		res, err := cl.ClientFetch(ctx, client.FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		root, err := inspect.TreeFromFetch(strings.Join(c.URLs(), ","), res)
		if err != nil {
			t.Fatal(err)
		}
		out := runShell(t, root, "ls /\nls /topics\ncat /topics/later/partitions/0\ncat /cluster\n", nil)
		for _, want := range []string{"cluster\nbrokers/\ntopics/\n", "keyed/\nlater/\norders/\npayments/\nstill-writable/\n",
			`"partitionId": 0`, fmt.Sprintf(`"offset": %d`, res.HighWatermark), `"topics": 5`} {
			if !strings.Contains(out, want) {
				t.Errorf("shell output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "producerIds") {
			t.Errorf("a ClientMgmt fetch has no producer ids, yet the tree shows them:\n%s", out)
		}
		diff, err := cl.ClientFetch(ctx, client.FetchOptions{Offset: &res.HighWatermark})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inspect.TreeFromFetch("x", diff); err == nil {
			t.Error("TreeFromFetch accepted a diff")
		}
	})
	c.StopAll()
	for _, id := range c.IDs() {
		f.dirs = append(f.dirs, c.DataDir(id))
	}

	t.Run("SnapshotStatus", func(t *testing.T) { testSnapshotStatus(t, f) })
	t.Run("CorruptSnapshot", func(t *testing.T) { testCorruptSnapshot(t, f) })
	t.Run("DumpLog", func(t *testing.T) { testDumpLog(t, f) })
	t.Run("ShellOverSnapshotFile", func(t *testing.T) { testShell(t, f) })
	t.Run("RestoreRoundTrip", func(t *testing.T) { testRestore(t, f) })
}

func testSnapshotStatus(t *testing.T, f *fixture) {
	info, err := inspect.SnapshotStatus(f.snapFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Checksum != f.snapSum {
		t.Errorf("checksum %s, the server sent %s", info.Checksum, f.snapSum)
	}
	st, err := os.Stat(f.snapFile)
	if err != nil {
		t.Fatal(err)
	}
	want := inspect.Counts{
		Brokers: 3, AliveBrokers: 3, Topics: 3, Partitions: 6, ProducerIDBlocks: 1,
		NextProducerID: metadata.ProducerIDBlockSize,
	}
	got := info.Counts
	if got.IdempotencyKeys < 1 {
		t.Errorf("%d idempotency keys, want the keyed write's at least", got.IdempotencyKeys)
	}
	got.ImageOffset, got.LastRecordTime, got.IdempotencyKeys = 0, nil, 0
	if got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if info.ImageOffset != f.keyedAt || info.Offset != f.snapIndex || info.Term == 0 || info.SizeBytes != st.Size() ||
		info.FormatVersion != 3 || info.EncodingVersion != 2 || !slices.Equal(info.Voters, []uint64{1, 2, 3}) || info.LastRecordTime == nil {
		t.Errorf("status %+v", info)
	}

	var table bytes.Buffer
	if err := info.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("Offset            %d\n", info.Offset), "Checksum          " + f.snapSum + " (verified)",
		"Brokers           3 (alive 3, fenced 0, closed 0)", "Partitions        6 (offline 0, under-replicated 0)", "Voters            1,2,3"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"offset":`, `"term":`, `"checksum":"crc32c:`, `"brokers":3`, `"nextProducerId":1000`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func testCorruptSnapshot(t *testing.T, f *fixture) {
	good, err := os.ReadFile(f.snapFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bad  func([]byte) []byte
		want string
	}{
		{"header", func(b []byte) []byte { b[10] ^= 0xff; return b }, "header checksum mismatch"},
		{"data", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }, "checksum"},
		{"trailer", func(b []byte) []byte { b[len(b)-6] ^= 0x01; return b }, "trailer checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, ""},
		{"empty", func([]byte) []byte { return nil }, "shorter than the header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.snap")
			if err := os.WriteFile(path, tc.bad(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := inspect.SnapshotStatus(path)
			if !errors.Is(err, inspect.ErrCorruptSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SnapshotStatus of a damaged file = %v, want ErrCorruptSnapshot saying %q", err, tc.want)
			}
			t.Logf("%v", err)
			dir := filepath.Join(t.TempDir(), "restored")
			err = inspect.Restore(context.Background(), path, inspect.RestoreOptions{DataDir: dir, NodeID: 1, Voters: "1@127.0.0.1:1", ClusterID: "restored"})
			if !errors.Is(err, inspect.ErrCorruptSnapshot) {
				t.Fatalf("Restore of a damaged file = %v, want ErrCorruptSnapshot", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Restore of a damaged file left %s behind (%v)", dir, err)
			}
			if _, err := inspect.TreeFromSnapshotFile(path); !errors.Is(err, inspect.ErrCorruptSnapshot) {
				t.Errorf("TreeFromSnapshotFile of a damaged file = %v", err)
			}
		})
	}
	if _, err := inspect.SnapshotStatus(filepath.Join(t.TempDir(), "missing.snap")); err == nil || errors.Is(err, inspect.ErrCorruptSnapshot) {
		t.Errorf("a missing file = %v, want a plain error", err)
	}
}

func dumpAll(t *testing.T, dir string, from uint64) []inspect.Entry {
	t.Helper()
	var out []inspect.Entry
	if err := inspect.DumpLog(context.Background(), dir, from, func(e inspect.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("DumpLog(%s, %d): %v", dir, from, err)
	}
	return out
}

// recordNames lists "Name:topic-or-broker" for the entries' records.
func topicNames(ents []inspect.Entry) []string {
	var names []string
	for _, e := range ents {
		for _, b := range e.Batches {
			for _, r := range b.Records {
				if tr, ok := r.Body.(*metadata.TopicRecord); ok {
					names = append(names, tr.Name)
				}
			}
		}
	}
	return names
}

func testDumpLog(t *testing.T, f *fixture) {
	ents := dumpAll(t, f.dirs[0], 0)
	if len(ents) < 10 {
		for _, e := range ents {
			var b bytes.Buffer
			e.WriteText(&b)
			t.Log(b.String())
		}
		t.Fatalf("%d entries", len(ents))
	}
	for i, e := range ents {
		if e.Offset != uint64(i+1) {
			t.Fatalf("entry %d has offset %d: the log from 0 should run from 1 without gaps", i, e.Offset)
		}
		if e.Type == inspect.EntryUndecodable || e.Type == inspect.EntrySnapshot {
			t.Fatalf("entry %+v", e)
		}
	}
	// Bootstrap: one membership change per voter, then the first
	// leader's empty entry.
	for i := range 3 {
		cc := ents[i].ConfChange
		if ents[i].Type != inspect.EntryConfChange || cc == nil || len(cc.Changes) != 1 ||
			cc.Changes[0].Type != "ConfChangeAddNode" || cc.Changes[0].NodeID != uint64(i+1) {
			t.Errorf("entry %d: %+v", i+1, ents[i])
		}
	}
	if ents[3].Type != inspect.EntryNoop {
		t.Errorf("entry 4: %+v, want the first leader's noop", ents[3])
	}
	if got, want := topicNames(ents), []string{"orders", "payments", "gone", "keyed", "later", "still-writable"}; !slices.Equal(got, want) {
		t.Errorf("TopicRecords %v, want %v", got, want)
	}
	keyed := ents[f.keyedAt-1]
	if len(keyed.Batches) != 1 || keyed.Batches[0].IdempotencyKey != "restore-test-key" || !keyed.Committed {
		t.Errorf("the keyed write's entry: %+v", keyed)
	}
	for _, r := range keyed.Batches[0].Records {
		if r.Offset != f.keyedAt || r.Timestamp.IsZero() {
			t.Errorf("record %+v", r)
		}
	}

	// From an offset: only what follows.
	from := uint64(f.keyedAt)
	tail := dumpAll(t, f.dirs[0], from)
	if len(tail) == 0 || tail[0].Offset != from || tail[len(tail)-1].Offset != ents[len(ents)-1].Offset {
		t.Errorf("dump from %d: %d entries starting at %d", from, len(tail), tail[0].Offset)
	}

	// The text form, kafka-dump-log style, and the JSON form.
	var text bytes.Buffer
	for _, e := range ents[:f.keyedAt-1] { // the bootstrap, the noop, membership records, the brokers' registrations

		if err := e.WriteText(&text); err != nil {
			t.Fatal(err)
		}
	}
	if err := ents[f.keyedAt-1].WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offset: 1 term: 1 type: confChange committed: true\n  | ConfChangeAddNode nodeId: 1\n",
		"type: noop", "  | RegisterBrokerRecord timestamp: 20", `payload: {"internalUUID":`,
		"  | idempotencyKey: restore-test-key\n", `  | TopicRecord timestamp: `, `"name":"keyed"`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text dump lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(keyed)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"records"`, `"committed":true`, `"idempotencyKey":"restore-test-key"`, `"name":"TopicRecord"`, `"fields":{"topicUUID":`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON entry lacks %s: %s", want, b)
		}
	}

	// The out func's error stops the dump.
	stop := errors.New("enough")
	n := 0
	if err := inspect.DumpLog(context.Background(), f.dirs[1], 0, func(inspect.Entry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("DumpLog with a failing out = %v after %d entries", err, n)
	}

	li, err := inspect.LogStatus(f.dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	if li.NodeID != 1 || li.ClusterID != "testcluster" || li.SnapshotOffset != f.snapIndex || li.FirstOffset != 1 ||
		li.LastOffset != ents[len(ents)-1].Offset || li.Commit != li.LastOffset || li.Term == 0 || !slices.Equal(li.Voters, []uint64{1, 2, 3}) || li.TornTail != "" {
		t.Errorf("LogStatus %+v", li)
	}
	var table bytes.Buffer
	if err := li.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), fmt.Sprintf("Entries    1..%d", li.LastOffset)) {
		t.Errorf("table:\n%s", table.String())
	}
	if _, err := inspect.LogStatus(t.TempDir()); err == nil {
		t.Error("LogStatus of an empty directory succeeded")
	}
}

func runShell(t *testing.T, root *inspect.Node, script string, wantErr error) string {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, script)
		pw.Close()
	}()
	var out bytes.Buffer
	err := inspect.Shell(pr, &out, root)
	pr.Close()
	if !errors.Is(err, wantErr) {
		t.Fatalf("Shell = %v, want %v; output:\n%s", err, wantErr, out.String())
	}
	return out.String()
}

func testShell(t *testing.T, f *fixture) {
	root, err := inspect.TreeFromSnapshotFile(f.snapFile)
	if err != nil {
		t.Fatal(err)
	}
	script := `
# a comment, then every command
pwd
ls
ls /topics
cd /topics/orders/partitions
pwd
ls
cat 2
cd ..
cat topic
find / 1
find /brokers
cat /producerIds
ls /nope
cat /topics
cd /cluster
frobnicate
cat ../../cluster
help
exit
ls /should-not-run
`
	out := runShell(t, root, script, inspect.ErrCommandFailed)
	for _, want := range []string{
		"/\ncluster\nbrokers/\ntopics/\nproducerIds\n",
		"keyed/\norders/\npayments/\n",
		"/topics/orders/partitions\n0\n1\n2\n",
		`"partitionId": 2,`, `"replicas": [`, `"name": "orders"`,
		"/brokers/1\n/topics/orders/partitions/1\n/topics/payments/partitions/1\n",
		"/brokers\n/brokers/1\n/brokers/2\n/brokers/3\n",
		`"nextProducerId": 1000`,
		"ls: /nope: no such file or directory\n",
		"cat: /topics: is a directory\n",
		"cd: /cluster: not a directory\n",
		"frobnicate: unknown command (try help)\n",
		fmt.Sprintf(`"offset": %d,`, f.snapIndex), `"voters": [`, `"partitions": 6,`,
		"Commands (paths are absolute",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("shell output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "should-not-run") {
		t.Errorf("a command after exit ran:\n%s", out)
	}
	// A script without failures returns nil; a prompt is printed before
	// each command.
	var prompted bytes.Buffer
	if err := inspect.Shell(strings.NewReader("cd /brokers\npwd\n"), &prompted, root, inspect.WithPrompt("yakt> ")); err != nil {
		t.Fatal(err)
	}
	if got, want := prompted.String(), "yakt> yakt> /brokers\nyakt> \n"; got != want {
		t.Errorf("with a prompt: %q, want %q", got, want)
	}
}

func testRestore(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := t.TempDir()
	peers := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		peers[id] = testcluster.ReserveAddr(t)
	}
	voters := server.FormatVoters(peers)
	dirs := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		dirs[id] = filepath.Join(base, fmt.Sprintf("node-%d", id))
		if err := inspect.Restore(ctx, f.snapFile, inspect.RestoreOptions{DataDir: dirs[id], NodeID: id, Voters: voters,
			ClusterID: "restored", SegmentSizeBytes: 1 << 20}); err != nil {
			t.Fatalf("restore node %d: %v", id, err)
		}
	}
	// A second restore into a used directory is refused and changes nothing.
	err := inspect.Restore(ctx, f.snapFile, inspect.RestoreOptions{DataDir: dirs[1], NodeID: 1, Voters: voters, ClusterID: "restored"})
	if !errors.Is(err, inspect.ErrDataDirNotEmpty) {
		t.Fatalf("restore into a used directory = %v", err)
	}
	if err := inspect.Restore(ctx, f.snapFile, inspect.RestoreOptions{DataDir: t.TempDir(), NodeID: 4, Voters: voters}); err == nil {
		t.Fatal("restore of a node not among the voters succeeded")
	}
	// Without a cluster id nothing is written: a restored cluster is a
	// new one, and its nodes must be given the same fresh id.
	if err := inspect.Restore(ctx, f.snapFile, inspect.RestoreOptions{DataDir: filepath.Join(t.TempDir(), "no-id"), NodeID: 2, Voters: voters}); err == nil {
		t.Fatal("restore without a cluster id succeeded")
	}

	// Before starting: each directory holds the snapshot and nothing else.
	ents := dumpAll(t, dirs[1], 0)
	if len(ents) != 1 || ents[0].Type != inspect.EntrySnapshot || ents[0].Offset != f.snapIndex {
		t.Fatalf("restored log: %+v", ents)
	}
	// The snapshot entry's records are the image: a tree built from them
	// is the snapshot file's tree.
	fromRecs, err := inspect.TreeFromRecords("dump", ents[0].Batches[0].Records, int64(ents[0].Offset), true)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := inspect.TreeFromSnapshotFile(f.snapFile)
	if err != nil {
		t.Fatal(err)
	}
	script := "find /\ncat /producerIds /brokers/2 /topics/orders/partitions/1\n"
	if a, b := runShell(t, fromRecs, script, nil), runShell(t, fromFile, script, nil); a != b {
		t.Errorf("tree from the dumped records:\n%s\ntree from the file:\n%s", a, b)
	}
	li, err := inspect.LogStatus(dirs[3])
	if err != nil {
		t.Fatal(err)
	}
	if li.NodeID != 3 || li.ClusterID != "restored" || li.SnapshotOffset != f.snapIndex || li.Commit != f.snapIndex ||
		li.Vote != 0 || li.LastOffset != 0 || !slices.Equal(li.Voters, []uint64{1, 2, 3}) {
		t.Fatalf("restored directory: %+v", li)
	}

	// Three `yakt server` processes, started as docs/operations.md says.
	bin := testcluster.BuildYakt(t)
	var endpoints []string
	for id := uint64(1); id <= 3; id++ {
		httpAddr := testcluster.ReserveAddr(t)
		startServer(t, bin, id, "--node-id", fmt.Sprint(id), "--data-dir", dirs[id], "--voters", voters,
			"--cluster-id", "restored", "--listen-peer", peers[id], "--listen-http", httpAddr,
			"--heartbeat-interval", "50ms", "--election-timeout", "1s", "--broker-session-timeout", "1h")
		endpoints = append(endpoints, "http://"+httpAddr)
	}
	cl := newClient(t, endpoints)
	if got := readState(ctx, t, cl); !reflect.DeepEqual(got, f.atSnap) {
		t.Fatalf("restored cluster serves\n%+v\nthe snapshot's cluster served\n%+v", got, f.atSnap)
	}
	// The new cluster takes writes, and the keyed write's answer is
	// remembered across the restore.
	if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: "after-restore", Partitions: ptr[int32](2), ReplicationFactor: ptr[int32](3)}); err != nil {
		t.Fatalf("write to the restored cluster: %v", err)
	}
	_, meta, err := cl.CreateTopic(client.WithIdempotencyKey(ctx, "restore-test-key"), client.CreateTopicRequest{Name: "keyed", Partitions: ptr[int32](1), ReplicationFactor: ptr[int32](1)})
	if err != nil || !meta.Replayed || meta.Offset != f.keyedAt {
		t.Fatalf("repeating the keyed write: %+v %v, want its first answer at offset %d", meta, err, f.keyedAt)
	}
	if _, _, err := cl.AllocateProducerIDs(ctx, 2, -1); err != nil {
		t.Fatalf("allocate producer ids: %v", err)
	}
	res, err := cl.ClientFetch(ctx, client.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.HighWatermark <= int64(f.snapIndex) {
		t.Errorf("restored cluster's high watermark %d, not past the snapshot's %d", res.HighWatermark, f.snapIndex)
	}
}

// startServer runs `yakt server` with args until the test ends, then
// stops it with SIGTERM as an operator would; its log is shown when the
// test fails.
func startServer(t *testing.T, bin string, id uint64, args ...string) {
	t.Helper()
	var log testcluster.LogBuffer
	cmd := exec.Command(bin, append([]string{"server"}, args...)...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %d: %v", id, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("node %d exited: %v", id, err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("node %d did not stop within 20 s of SIGTERM", id)
		}
		if t.Failed() {
			t.Logf("node %d log:\n%s", id, log.Tail(40))
		}
	})
}
