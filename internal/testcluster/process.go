package testcluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/server"
	"github.com/yakt/yakt/internal/testport"
)

// BuildYakt compiles cmd/yakt into a temporary directory and returns the
// binary's path.
func BuildYakt(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "yakt")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/yakt")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/yakt: %v\n%s", err, out)
	}
	return bin
}

// The raft timing of every process (a later flag in Args overrides it):
// production's election timeout, robust on a loaded machine, where a
// shorter one elects new leaders whenever a process is starved for a few
// hundred milliseconds.
const (
	processHeartbeat       = "50ms"
	processElectionTimeout = "1s"
)

// Processes is a cluster of real `yakt server` processes.
type Processes struct {
	t      testing.TB
	bin    string
	base   string            // parent of the data directories
	boot   string            // --voters of the nodes that bootstrapped the cluster
	voters map[uint64]string // every node's peer address, added ones included
	http   map[uint64]string
	dirs   map[uint64]string
	Args   []string // extra flags for every node
	mu     sync.Mutex
	procs  map[uint64]*proc
	logs   map[uint64]*LogBuffer
	// joining are the nodes started with --join (the others' HTTP
	// addresses) rather than the bootstrap flags.
	joining map[uint64]bool
	Client  *http.Client
	// portWait is how long Start keeps relaunching a process whose port
	// is in use.
	portWait time.Duration
	sec      *security // with ProcessOptions.TLS
}

// processClusterID is the cluster id of the process clusters.
const processClusterID = "testcluster-processes"

// ProcessOptions tune StartProcessesWith.
type ProcessOptions struct {
	Nodes int
	// TLS starts every process with TLS and authentication on
	// (--tls-cert, --tls-key, --tls-ca, --access-file), as
	// Options.TLS does for in-process clusters; Client speaks HTTPS as
	// admin.
	TLS  bool
	Args []string // extra flags for every node
}

// StartProcesses starts n `yakt server` processes and kills them when the
// test ends.
func StartProcesses(t testing.TB, bin string, n int, args ...string) *Processes {
	t.Helper()
	return StartProcessesWith(t, bin, ProcessOptions{Nodes: n, Args: args})
}

// StartProcessesWith starts opts.Nodes `yakt server` processes and kills
// them when the test ends.
func StartProcessesWith(t testing.TB, bin string, opts ProcessOptions) *Processes {
	t.Helper()
	n := opts.Nodes
	p := &Processes{
		t: t, bin: bin, Args: opts.Args,
		voters: map[uint64]string{}, http: map[uint64]string{}, dirs: map[uint64]string{},
		procs: map[uint64]*proc{}, logs: map[uint64]*LogBuffer{}, joining: map[uint64]bool{},
		// Generous: a -race build takes a while to exec on a loaded machine.
		portWait: 15 * time.Second,
	}
	p.base = t.TempDir()
	if opts.TLS {
		p.sec = newSecurity(t, filepath.Join(p.base, "tls"), processClusterID)
	}
	p.Client = httpClient(10*time.Second, p.clientTLS("admin"))
	if opts.TLS {
		t.Cleanup(p.Client.CloseIdleConnections)
	}
	for i := 1; i <= n; i++ {
		p.AddNode(uint64(i))
	}
	p.boot = server.FormatVoters(p.voters)
	t.Cleanup(func() {
		p.KillAll()
		if t.Failed() {
			p.mu.Lock()
			defer p.mu.Unlock()
			for id, buf := range p.logs {
				t.Logf("--- node %d log (last 16 KiB) ---\n%s", id, buf.Tail(16<<10))
			}
		}
	})
	for i := 1; i <= n; i++ {
		p.Start(uint64(i))
	}
	return p
}

// IDs are the node ids, 1..N, added ones included.
func (p *Processes) IDs() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return nodeIDs(len(p.voters))
}

// AddNode reserves node id's ports and data directory without starting
// it: StartJoining starts it. Ids are added in order, after the
// bootstrapping ones (IDs stay 1..N).
func (p *Processes) AddNode(id uint64) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != uint64(len(p.voters))+1 {
		p.t.Fatalf("add node %d: the next id is %d", id, len(p.voters)+1)
	}
	p.voters[id] = ReserveAddr(p.t)
	p.http[id] = ReserveAddr(p.t)
	p.dirs[id] = filepath.Join(p.base, fmt.Sprintf("node-%d", id))
}

// StartJoining starts node id with --join and every other node's HTTP
// address instead of the bootstrap flags, from then on (restarts too): on
// an empty data directory it formats it with a new directory id and asks
// to be added as an observer until it is.
func (p *Processes) StartJoining(id uint64) {
	p.t.Helper()
	p.mu.Lock()
	p.joining[id] = true
	p.mu.Unlock()
	p.Start(id)
}

// WipeDataDir deletes node id's data directory, as a lost disk would: it
// comes back with a new directory id. The node must be stopped.
func (p *Processes) WipeDataDir(id uint64) {
	p.t.Helper()
	if p.Running(id) {
		p.t.Fatalf("wipe node %d's data directory: it is running", id)
	}
	if err := os.RemoveAll(p.dirs[id]); err != nil {
		p.t.Fatalf("wipe node %d's data directory: %v", id, err)
	}
}

// PeerAddr is node id's peer address.
func (p *Processes) PeerAddr(id uint64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.voters[id]
}

// URL is node id's HTTP base URL.
func (p *Processes) URL(id uint64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return scheme(p.sec != nil) + p.http[id]
}

// URLs are every node's HTTP base URL, stopped ones included.
func (p *Processes) URLs() []string { return urls(p.IDs(), p.URL) }

// Start starts node id's process and waits until it answers GET /healthz
// as node id (so it holds both its ports: it binds them first). A process that
// exits before that fails the test with its output; one that found its
// port in use is started again for a while first (it exits before
// touching its data directory, so a retry is safe), as the port may be
// held by the previous incarnation's sockets for a moment.
func (p *Processes) Start(id uint64) {
	p.t.Helper()
	deadline := time.Now().Add(p.portWait)
	for {
		pr, log, from := p.launch(id)
		err := p.waitListening(id, pr)
		if err == nil {
			p.mu.Lock()
			p.procs[id] = pr
			p.mu.Unlock()
			return
		}
		out := log.Since(from)
		if strings.Contains(out, "address already in use") && time.Now().Before(deadline) {
			_ = Pace(context.Background(), 50*time.Millisecond) // waiting on the kernel
			continue
		}
		if strings.Contains(out, "address already in use") {
			p.t.Fatalf("start node %d: its port (peer %s, HTTP %s) stayed in use for %v, though reserved for this "+
				"test process in %s; a program that does not take the lock files holds it:\n%s",
				id, p.PeerAddr(id), p.URL(id), p.portWait, testport.Dir, out)
		}
		p.t.Fatalf("start node %d: %v; its output:\n%s", id, err, out)
	}
}

// proc is one running `yakt server` process.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been reaped
	err    error         // its exit error; read after exited is closed
}

// launch starts node id's process and a goroutine that reaps it. It
// returns the process, the node's log and the log's length before it.
func (p *Processes) launch(id uint64) (*proc, *LogBuffer, int) {
	var tlsArgs []string
	if p.sec != nil {
		cert, key := p.sec.node(id)
		tlsArgs = []string{"--tls-cert", cert, "--tls-key", key,
			"--tls-ca", p.sec.path("ca.pem"), "--access-file", p.sec.path("access")}
	}
	p.mu.Lock()
	args := []string{"server",
		"--node-id", strconv.FormatUint(id, 10),
		"--data-dir", p.dirs[id],
		"--listen-peer", p.voters[id],
		"--listen-http", p.http[id],
		"--cluster-id", processClusterID,
		"--heartbeat-interval", processHeartbeat, "--election-timeout", processElectionTimeout,
	}
	args = append(args, tlsArgs...)
	if p.joining[id] {
		join := othersHTTP(p.http, id)
		if p.sec != nil {
			for i, a := range join {
				join[i] = scheme(true) + a
			}
		}
		args = append(args, "--join", strings.Join(join, ","))
	} else {
		args = append(args, "--voters", p.boot)
	}
	cmd := exec.Command(p.bin, append(args, p.Args...)...)
	if p.logs[id] == nil {
		p.logs[id] = &LogBuffer{}
	}
	log := p.logs[id]
	p.mu.Unlock()
	from := log.Len()
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start node %d: %v", id, err)
	}
	pr := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		close(pr.exited)
	}()
	return pr, log, from
}

// waitListening waits until node id answers GET /healthz on its HTTP
// port, naming itself (whatever else may listen there would not), or
// returns an error if the process exits first or takes over 60 s.
func (p *Processes) waitListening(id uint64, pr *proc) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: p.clientTLS("")}}
	want := strconv.FormatUint(id, 10)
	for {
		select {
		case <-pr.exited:
			return fmt.Errorf("the process exited at start: %v", pr.err)
		default:
		}
		resp, err := Do(ctx, client, p.URL(id), http.MethodGet, "/healthz", nil)
		if err == nil && resp.Status == http.StatusOK && resp.Header.Get("X-Yakt-Node") == want {
			return nil
		}
		if err := waitTick(ctx); err != nil {
			p.kill(pr)
			return fmt.Errorf("no answer to GET /healthz on %s within 60 s: %w", p.URL(id), err)
		}
	}
}

// kill SIGKILLs pr and waits until it is reaped.
func (p *Processes) kill(pr *proc) {
	_ = pr.cmd.Process.Signal(syscall.SIGKILL)
	<-pr.exited
}

// Kill9 sends SIGKILL to node id and reaps it.
func (p *Processes) Kill9(id uint64) {
	p.mu.Lock()
	pr := p.procs[id]
	delete(p.procs, id)
	p.mu.Unlock()
	if pr != nil {
		p.kill(pr)
	}
}

// KillAll SIGKILLs every node at once.
func (p *Processes) KillAll() {
	p.mu.Lock()
	cmds := p.procs
	p.procs = map[uint64]*proc{}
	p.mu.Unlock()
	for _, pr := range cmds {
		_ = pr.cmd.Process.Signal(syscall.SIGKILL)
	}
	for _, pr := range cmds {
		<-pr.exited
	}
}

// WaitReady waits until every node answers /readyz with 200.
func (p *Processes) WaitReady(ctx context.Context) error {
	for _, id := range p.IDs() {
		for {
			resp, err := Do(ctx, p.Client, p.URL(id), http.MethodGet, "/readyz", nil)
			if err == nil && resp.Status == http.StatusOK {
				break
			}
			if werr := waitTick(ctx); werr != nil {
				return fmt.Errorf("node %d not ready: %v (last: %v)", id, werr, err)
			}
		}
	}
	return nil
}

// Terminate sends SIGTERM to node id and waits for it to exit, returning
// its exit error (nil for exit code 0).
func (p *Processes) Terminate(id uint64) error {
	p.mu.Lock()
	pr := p.procs[id]
	delete(p.procs, id)
	p.mu.Unlock()
	if pr == nil {
		return fmt.Errorf("node %d is not running", id)
	}
	if err := pr.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	<-pr.exited
	return pr.err
}

// Log returns the tail of node id's output.
func (p *Processes) Log(id uint64) string {
	p.mu.Lock()
	buf := p.logs[id]
	p.mu.Unlock()
	if buf == nil {
		return ""
	}
	return buf.Tail(1 << 20)
}

// Pause freezes node id with SIGSTOP, like a long GC pause or a stalled
// VM: its sockets stay open but it answers nothing until Resume.
func (p *Processes) Pause(id uint64) { p.signal(id, syscall.SIGSTOP) }

// Resume continues a paused node with SIGCONT.
func (p *Processes) Resume(id uint64) { p.signal(id, syscall.SIGCONT) }

func (p *Processes) signal(id uint64, sig syscall.Signal) {
	p.mu.Lock()
	pr := p.procs[id]
	p.mu.Unlock()
	if pr == nil {
		return
	}
	if err := pr.cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signal %v to node %d: %v", sig, id, err)
	}
}

// Running reports whether node id's process was started and not killed.
func (p *Processes) Running(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.procs[id] != nil
}

// Quorum is node id's answer to GET /v1/quorum, its own view when stale
// (never forwarded), the leader's otherwise.
func (p *Processes) Quorum(ctx context.Context, id uint64, stale bool) (contract.Quorum, error) {
	path := "/v1/quorum"
	if stale {
		path += "?stale=true"
	}
	var q contract.Quorum
	resp, err := Do(ctx, p.Client, p.URL(id), http.MethodGet, path, nil)
	if err != nil {
		return q, fmt.Errorf("node %d: GET %s: %w", id, path, err)
	}
	if resp.Status != http.StatusOK {
		return q, fmt.Errorf("node %d: GET %s: %d %s", id, path, resp.Status, resp.Body)
	}
	return q, resp.JSON(&q)
}

// Metric is the value of the unlabelled counter or gauge name in node
// id's /metrics.
func (p *Processes) Metric(ctx context.Context, id uint64, name string) (float64, error) {
	resp, err := Do(ctx, p.Client, p.URL(id), http.MethodGet, "/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("node %d: GET /metrics: %w", id, err)
	}
	if resp.Status != http.StatusOK {
		return 0, fmt.Errorf("node %d: GET /metrics: %d", id, resp.Status)
	}
	sc := bufio.NewScanner(bytes.NewReader(resp.Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("node %d: no metric %s in /metrics", id, name)
}

// clientTLS is the HTTPS configuration of a client authenticating as
// principal's client certificate ("": none); nil without TLS.
func (p *Processes) clientTLS(principal string) *tls.Config {
	if p.sec == nil {
		return nil
	}
	return p.sec.clientTLS(principal)
}

// ClientTLS is Cluster.ClientTLS for the processes.
func (p *Processes) ClientTLS(principal string) *tls.Config { return p.clientTLS(principal) }

func (p *Processes) mustTLS() *security {
	p.t.Helper()
	if p.sec == nil {
		p.t.Fatal("the processes run without TLS (ProcessOptions.TLS)")
	}
	return p.sec
}

// Token is principal's bearer token (one of TLSPrincipals).
func (p *Processes) Token(principal string) string {
	s := p.mustTLS()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[principal]
}

// CAFile is the CA bundle the processes verify peers and clients by.
func (p *Processes) CAFile() string { return p.mustTLS().path("ca.pem") }

// WriteAccess replaces the access file every process reads (atomically);
// Reload or the processes' own polling picks it up.
func (p *Processes) WriteAccess(lines []string) { p.mustTLS().setAccess(lines) }

// RotateNodeCerts issues every node a fresh certificate and key and
// writes them over the old files (atomically); Reload or the processes'
// own polling picks them up.
func (p *Processes) RotateNodeCerts() { p.mustTLS().rotateNodes() }

// Reload sends SIGHUP to every running node, so each reads its
// certificate, key, CA and access files again, and waits until each has
// logged that it did.
func (p *Processes) Reload() {
	p.t.Helper()
	const done = "reloaded on SIGHUP"
	for _, id := range p.IDs() {
		if !p.Running(id) {
			continue
		}
		p.mu.Lock()
		log := p.logs[id]
		p.mu.Unlock()
		from := log.Len()
		p.signal(id, syscall.SIGHUP)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := WaitFor(ctx, func() bool { return strings.Contains(log.Since(from), done) })
		cancel()
		if err != nil {
			p.t.Fatalf("node %d did not log %q after SIGHUP: %v; its output since:\n%s", id, done, err, log.Since(from))
		}
	}
}

// AccessLine is Cluster.AccessLine for the processes.
func (p *Processes) AccessLine(principal, roles string) string {
	s := p.mustTLS()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accessLine(principal, roles)
}

// ServedCertificate is the certificate node id's HTTP port presents in
// a new handshake now.
func (p *Processes) ServedCertificate(id uint64) *x509.Certificate {
	p.t.Helper()
	cert, err := servedCertificate(strings.TrimPrefix(p.URL(id), "https://"), p.mustTLS().clientTLS(""))
	if err != nil {
		p.t.Fatalf("node %d: %v", id, err)
	}
	return cert
}
