package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runMainEnv makes the test binary act as the yakt binary, so a test can
// run `yakt dev` as a real process without building it first.
const runMainEnv = "YAKT_CMD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The quickstart test runs README's time scale compressed: the session
// timeout is 3 s instead of 9 s (long enough that a busy machine does not
// fence a simulated broker that heartbeats), heartbeats come every 0.5 s
// instead of 2 s, and the pause between two commands (a person reading the answer and
// typing the next) is longer than the session timeout, so that a broker
// that does not heartbeat is fenced before the next command runs.
const (
	qsSessionTimeout = 3 * time.Second
	qsHeartbeat      = 500 * time.Millisecond
	qsPause          = 3500 * time.Millisecond
)

// TestQuickstartAtAPersonsPace types README's quickstart commands into one
// shell, as a person would, against a real `yakt dev` process, pausing
// longer than the broker session timeout before each, and checks every
// answer. It fails when README's commands drift from what the test knows.
func TestQuickstartAtAPersonsPace(t *testing.T) {
	t.Parallel() // mostly pauses
	if testing.Short() {
		t.Skip("takes about 35 s of deliberate pauses")
	}
	for _, tool := range []string{"sh", "curl", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the quickstart test runs README's commands and needs %s: %v", tool, err)
		}
	}
	cmds := quickstartCommands(t, "../../README.md")
	dev := startDev(t, "--http-port", "0", "--peer-port", "0", "--kafka-port", "0",
		"--broker-session-timeout", qsSessionTimeout.String(), "--broker-heartbeat-interval", qsHeartbeat.String())

	steps := []struct {
		has   string // the command contains this
		check func(t *testing.T, out string) error
		retry bool // until check passes: the state it expects comes on the leader's next liveness check
	}{
		{has: "/v1/brokers ", check: wantSimulatedBrokersAlive},
		{has: `"replicationFactor":3`, check: wantOrders},
		{has: "/v1/topics/orders", check: wantOrders},
		{has: `/v1/metadata/fetch -d '{"brokerId":1}'`, check: wantBrokerSnapshot},
		{has: "/v1/metadata?offset=5", check: wantDiffWithOrders},
		{has: "/v1/quorum", check: wantQuorum},
		{has: "/metrics | grep yakt_raft", check: wantContains("yakt_raft_has_leader 1")},
		{has: "while sleep", check: wantContains("")},
		{has: `"brokerId":4,`, check: wantRegistered(4)},
		{has: "/v1/brokers/4", check: wantStatus(4, "ALIVE")},
		{has: "kill $!", check: wantContains("")},
		{has: "/v1/brokers/4", check: wantStatus(4, "FENCED"), retry: true},
	}
	if len(cmds) != len(steps) {
		t.Fatalf("README's quickstart has %d commands, the test knows %d: update the steps of this test\n%s",
			len(cmds), len(steps), strings.Join(cmds, "\n"))
	}
	sh := startShell(t)
	for i, step := range steps {
		cmd := dev.rewrite(t, cmds[i])
		if !strings.Contains(cmds[i], step.has) {
			t.Fatalf("README command %d is %q; the test expects one containing %q", i+1, cmds[i], step.has)
		}
		time.Sleep(qsPause) // a person reads the last answer and types this command
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, code := sh.run(t, cmd)
			err := step.check(t, out)
			if code != 0 {
				err = fmt.Errorf("exit status %d", code)
			}
			if err == nil {
				break
			}
			if !step.retry || time.Now().After(deadline) {
				t.Fatalf("README command %d\n  %s\nran as\n  %s\nanswered %s: %v", i+1, cmds[i], cmd, out, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// After half a minute of commands the simulated brokers must never have
	// been fenced: still ALIVE, still at epoch 0 (a fence or unfence would
	// have raised it).
	resp, err := http.Get("http://" + dev.addrs[0] + "/v1/brokers?status=all")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var all struct{ Brokers []brokerView }
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatalf("GET /v1/brokers?status=all: %v: %s", err, body)
	}
	for _, b := range all.Brokers {
		if b.BrokerID <= 3 && (b.BrokerStatus != "ALIVE" || b.Epoch != 0) {
			t.Errorf("simulated broker %d is %s at epoch %d, want ALIVE at epoch 0 (never fenced)", b.BrokerID, b.BrokerStatus, b.Epoch)
		}
	}
	sh.stop(t)
	dev.stop(t)
}

// quickstartCommands returns the shell commands of the ```sh blocks in
// README's Quickstart section, a command continued with \ as one.
func quickstartCommands(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Quickstart\n")
	if start < 0 {
		t.Fatalf("%s has no \"## Quickstart\" section", path)
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	var cmds []string
	var cur string
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in = true
		case in && strings.HasPrefix(line, "```"):
			in = false
		case in && strings.TrimSpace(line) != "":
			cur += line
			if strings.HasSuffix(line, `\`) {
				cur += "\n"
				continue
			}
			cmds = append(cmds, cur)
			cur = ""
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("%s: no commands in the Quickstart's sh blocks", path)
	}
	return cmds
}

// devProcess is a running `yakt dev`.
type devProcess struct {
	cmd    *exec.Cmd
	addrs  []string // HTTP address of node i+1
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed when Wait returned; then err is set
	err    error
}

func startDev(t *testing.T, args ...string) *devProcess {
	t.Helper()
	d := &devProcess{stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(os.Args[0], append([]string{"dev", "--log-level", "info"}, args...)...)
	// Only the flags given here configure it: a YAKT_ variable of the
	// caller's environment would set a flag not given.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "YAKT_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	d.cmd.Env = append(d.cmd.Env, runMainEnv+"=1")
	// Should the test binary be killed (a test run interrupted), its dev
	// cluster dies with it instead of running on with ports held.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	banner := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.stdout.Write(append(sc.Bytes(), '\n'))
			if sc.Text() == "Ctrl-C stops the cluster." {
				close(banner)
			}
		}
		d.err = d.cmd.Wait() // after the last read, as os/exec requires
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("yakt dev stdout:\n%s\nyakt dev stderr (last 8 KiB):\n%s", d.stdout, lastBytes(d.stderr.String(), 8<<10))
		}
	})
	select {
	case <-banner:
	case <-d.exited:
		t.Fatalf("yakt dev exited during start-up: %v", d.err)
	case <-time.After(60 * time.Second):
		t.Fatalf("yakt dev did not print its banner within 60 s")
	}
	nodeLine := regexp.MustCompile(`(?m)^  node (\d+)  https?://(\S+)(?:  kafka \S+)?$`)
	for i, m := range nodeLine.FindAllStringSubmatch(d.stdout.String(), -1) {
		if m[1] != strconv.Itoa(i+1) {
			t.Fatalf("yakt dev printed node %s as the node number %d:\n%s", m[1], i+1, d.stdout)
		}
		d.addrs = append(d.addrs, m[2])
	}
	if len(d.addrs) != 3 {
		t.Fatalf("yakt dev printed %d node addresses, want 3:\n%s", len(d.addrs), d.stdout)
	}
	return d
}

// rewrite points a README command at this process's nodes and runs its
// heartbeat loop on the test's time scale.
func (d *devProcess) rewrite(t *testing.T, cmd string) string {
	t.Helper()
	for i, a := range d.addrs {
		cmd = strings.ReplaceAll(cmd, fmt.Sprintf("127.0.0.1:%d", 8001+i), a)
	}
	if regexp.MustCompile(`127\.0\.0\.1:800\d`).MatchString(cmd) {
		t.Fatalf("README command %q names a node the test does not run", cmd)
	}
	return strings.ReplaceAll(cmd, "sleep 2;", fmt.Sprintf("sleep %g;", qsHeartbeat.Seconds()))
}

// stop sends Ctrl-C (SIGINT) and checks that the process stops cleanly.
func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("yakt dev did not exit within 30 s of SIGINT")
	}
	if d.err != nil {
		t.Fatalf("yakt dev after SIGINT: %v, want exit status 0", d.err)
	}
	if !strings.Contains(d.stdout.String(), "\nstopped.\n") {
		t.Fatalf("yakt dev exited without saying it stopped:\n%s", d.stdout)
	}
	if s := d.stderr.String(); strings.Contains(s, `"level":"ERROR"`) {
		t.Errorf("yakt dev logged errors:\n%s", lastBytes(s, 8<<10))
	}
}

// shell is one `sh` that commands are typed into, as into a terminal: jobs
// started with & live on, and $! names the last one.
type shell struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{}
}

var markerLine = regexp.MustCompile(`^@@qs-done (\d+)$`)

func startShell(t *testing.T) *shell {
	t.Helper()
	s := &shell{cmd: exec.Command("sh"), lines: make(chan string, 1000), done: make(chan struct{})}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its background jobs go with it
	s.cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	var err error
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	go func() { s.cmd.Wait(); pw.Close(); close(s.done) }()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	})
	return s
}

// run types cmd and returns what it printed and its exit status.
func (s *shell) run(t *testing.T, cmd string) (string, int) {
	t.Helper()
	if _, err := fmt.Fprintf(s.in, "%s\nprintf '\\n@@qs-done %%d\\n' $?\n", cmd); err != nil {
		t.Fatalf("type into sh: %v", err)
	}
	var out []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("sh exited running %q; it printed:\n%s", cmd, strings.Join(out, "\n"))
			}
			if m := markerLine.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				return strings.TrimSpace(strings.Join(out, "\n")), code
			}
			out = append(out, line)
		case <-timeout:
			t.Fatalf("%q did not finish within 30 s; it printed:\n%s", cmd, strings.Join(out, "\n"))
		}
	}
}

// stop ends the shell and every job it started.
func (s *shell) stop(t *testing.T) {
	t.Helper()
	s.in.Close()
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("sh did not exit")
	}
}

type brokerView struct {
	BrokerID     int32  `json:"brokerId"`
	BrokerHost   string `json:"brokerHost"`
	BrokerPort   string `json:"brokerPort"`
	BrokerStatus string `json:"brokerStatus"`
	RackID       string `json:"rackId"`
	Epoch        int64  `json:"epoch"`
}

type partitionView struct {
	PartitionID int32   `json:"partitionId"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"ISR"`
	Leader      int32   `json:"leader"`
}

func decode(out string, v any) error {
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("not the expected JSON: %w", err)
	}
	return nil
}

func wantSimulatedBrokersAlive(_ *testing.T, out string) error {
	var ans struct{ Brokers []brokerView }
	if err := decode(out, &ans); err != nil {
		return err
	}
	if len(ans.Brokers) != 3 {
		return fmt.Errorf("%d ALIVE brokers, want the 3 simulated ones", len(ans.Brokers))
	}
	for i, b := range ans.Brokers {
		want := brokerView{BrokerID: int32(i + 1), BrokerHost: "127.0.0.1", BrokerPort: strconv.Itoa(9092 + i),
			BrokerStatus: "ALIVE", RackID: fmt.Sprintf("r%d", i+1)}
		if b != want {
			return fmt.Errorf("broker %d is %+v, want %+v", i+1, b, want)
		}
	}
	return nil
}

// wantOrders checks a topic answer: orders with 6 partitions of 3
// replicas each, on brokers 1-3, led by an ISR member.
func wantOrders(_ *testing.T, out string) error {
	var ans struct {
		Topic      struct{ Name string }
		Partitions []partitionView
	}
	if err := decode(out, &ans); err != nil {
		return err
	}
	if ans.Topic.Name != "orders" || len(ans.Partitions) != 6 {
		return fmt.Errorf("topic %q with %d partitions, want orders with 6", ans.Topic.Name, len(ans.Partitions))
	}
	return checkPartitions(ans.Partitions)
}

func checkPartitions(ps []partitionView) error {
	for _, p := range ps {
		seen := map[int32]bool{}
		for _, r := range p.Replicas {
			seen[r] = r >= 1 && r <= 3
		}
		if len(p.Replicas) != 3 || len(seen) != 3 || !seen[1] || !seen[2] || !seen[3] {
			return fmt.Errorf("partition %d has replicas %v, want brokers 1, 2 and 3", p.PartitionID, p.Replicas)
		}
		if len(p.ISR) != 3 || !seen[p.Leader] {
			return fmt.Errorf("partition %d: ISR %v leader %d, want all 3 replicas in sync and one of them leading", p.PartitionID, p.ISR, p.Leader)
		}
	}
	return nil
}

func wantBrokerSnapshot(_ *testing.T, out string) error {
	var ans struct {
		Mode     string
		Snapshot *struct {
			Brokers    []brokerView
			Topics     []struct{ Name string }
			Partitions []partitionView
		}
	}
	if err := decode(out, &ans); err != nil {
		return err
	}
	if ans.Mode != "snapshot" || ans.Snapshot == nil {
		return fmt.Errorf("mode %q, want a snapshot", ans.Mode)
	}
	if len(ans.Snapshot.Brokers) != 3 || len(ans.Snapshot.Topics) != 1 || ans.Snapshot.Topics[0].Name != "orders" || len(ans.Snapshot.Partitions) != 6 {
		return errors.New("want 3 brokers and topic orders with 6 partitions")
	}
	for _, b := range ans.Snapshot.Brokers {
		if b.BrokerStatus != "ALIVE" {
			return fmt.Errorf("broker %d is %s", b.BrokerID, b.BrokerStatus)
		}
	}
	return checkPartitions(ans.Snapshot.Partitions)
}

func wantDiffWithOrders(_ *testing.T, out string) error {
	var ans struct {
		Mode    string
		Records []struct {
			Name   string
			Offset int64
			Fields struct{ Name string }
		}
	}
	if err := decode(out, &ans); err != nil {
		return err
	}
	if ans.Mode != "diff" {
		return fmt.Errorf("mode %q, want diff", ans.Mode)
	}
	for _, r := range ans.Records {
		if r.Offset <= 5 {
			return fmt.Errorf("record at offset %d in a diff since offset 5", r.Offset)
		}
		if r.Name == "TopicRecord" && r.Fields.Name == "orders" {
			return nil
		}
	}
	return errors.New("no TopicRecord for orders in the diff")
}

func wantQuorum(_ *testing.T, out string) error {
	var ans struct {
		LeaderID int64 `json:"leaderId"`
		Voters   []struct {
			NodeID int64 `json:"nodeId"`
		}
	}
	if err := decode(out, &ans); err != nil {
		return err
	}
	if ans.LeaderID < 1 || ans.LeaderID > 3 || len(ans.Voters) != 3 {
		return fmt.Errorf("leader %d with %d voters, want a leader among 3 voters", ans.LeaderID, len(ans.Voters))
	}
	return nil
}

func wantRegistered(id int32) func(*testing.T, string) error {
	return func(_ *testing.T, out string) error {
		var rec struct {
			Name   string
			Fields brokerView
		}
		if err := decode(out, &rec); err != nil {
			return err
		}
		if rec.Name != "RegisterBrokerRecord" || rec.Fields.BrokerID != id || rec.Fields.BrokerStatus != "ALIVE" {
			return fmt.Errorf("want the RegisterBrokerRecord of broker %d, ALIVE", id)
		}
		return nil
	}
}

func wantStatus(id int32, status string) func(*testing.T, string) error {
	return func(_ *testing.T, out string) error {
		var b brokerView
		if err := decode(out, &b); err != nil {
			return err
		}
		if b.BrokerID != id || b.BrokerStatus != status {
			return fmt.Errorf("broker %d is %s, want broker %d %s", b.BrokerID, b.BrokerStatus, id, status)
		}
		return nil
	}
}

func wantContains(s string) func(*testing.T, string) error {
	return func(_ *testing.T, out string) error {
		if !strings.Contains(out, s) {
			return fmt.Errorf("want it to contain %q", s)
		}
		return nil
	}
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
