package scalebench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ClusterID is every Cluster's --cluster-id (the node certificates of a
// TLS cluster name it).
const ClusterID = "scalebench"

// Cluster is a cluster of `yakt server` processes on 127.0.0.1, started
// from bin, with data directories and logs under dir.
type Cluster struct {
	bin   string
	dir   string
	args  []string
	peer  map[uint64]string
	http  map[uint64]string
	mu    sync.Mutex
	procs map[uint64]*process

	// TLS, when set before the nodes start, is how this process reaches
	// their HTTPS: URL is https:// and WaitListening's checks use it.
	TLS *tls.Config
	// NodeArgs, when set, adds flags for node id alone (its own
	// certificate files) to the flags every node gets.
	NodeArgs func(id uint64) []string
}

type process struct {
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
	err    error
}

// NewCluster picks free ports for n nodes; nothing runs until Start.
// args are extra `yakt server` flags for every node.
func NewCluster(bin, dir string, n int, args ...string) (*Cluster, error) {
	c := &Cluster{bin: bin, dir: dir, args: args, peer: map[uint64]string{}, http: map[uint64]string{}, procs: map[uint64]*process{}}
	// All listeners stay open until every port is chosen, so no two
	// coincide; the ports are free for the servers once closed (the
	// kernel could hand one out again meanwhile; Start says so if it did).
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for id := uint64(1); id <= uint64(n); id++ {
		for _, m := range []map[uint64]string{c.peer, c.http} {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("pick a free port: %w", err)
			}
			ls = append(ls, l)
			m[id] = l.Addr().String()
		}
	}
	return c, nil
}

// IDs are the node ids, 1..n.
func (c *Cluster) IDs() []uint64 {
	ids := make([]uint64, 0, len(c.peer))
	for id := range c.peer {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// URL is node id's HTTP base URL.
func (c *Cluster) URL(id uint64) string {
	if c.TLS != nil {
		return "https://" + c.http[id]
	}
	return "http://" + c.http[id]
}

// URLs are every node's base URL.
func (c *Cluster) URLs() []string {
	var out []string
	for _, id := range c.IDs() {
		out = append(out, c.URL(id))
	}
	return out
}

// DataDir is node id's data directory.
func (c *Cluster) DataDir(id uint64) string { return filepath.Join(c.dir, fmt.Sprintf("node-%d", id)) }

// LogPath is node id's log file (every incarnation appends to it).
func (c *Cluster) LogPath(id uint64) string {
	return filepath.Join(c.dir, fmt.Sprintf("node-%d.log", id))
}

func (c *Cluster) voters() string {
	var parts []string
	for _, id := range c.IDs() {
		parts = append(parts, fmt.Sprintf("%d@%s", id, c.peer[id]))
	}
	return strings.Join(parts, ",")
}

// Launch starts node id's process without waiting for it.
func (c *Cluster) Launch(id uint64) error { return c.launch(id, nil) }

// LaunchJoining starts node id's process joining the running cluster
// through the other nodes (--join), as a replaced node is started.
func (c *Cluster) LaunchJoining(id uint64) error {
	var via []string
	for other, addr := range c.http {
		if other != id {
			via = append(via, addr)
		}
	}
	sort.Strings(via)
	return c.launch(id, []string{"--join", strings.Join(via, ",")})
}

func (c *Cluster) launch(id uint64, extra []string) error {
	if c.NodeArgs != nil {
		extra = append(extra[:len(extra):len(extra)], c.NodeArgs(id)...)
	}
	args := append([]string{"server",
		"--node-id", strconv.FormatUint(id, 10),
		"--data-dir", c.DataDir(id),
		"--listen-peer", c.peer[id],
		"--listen-http", c.http[id],
		"--voters", c.voters(),
		"--cluster-id", ClusterID,
	}, append(extra, c.args...)...)
	log, err := os.OpenFile(c.LogPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("node %d log: %w", id, err)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Should this process die without cleaning up, its servers die too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start node %d: %w", id, err)
	}
	p := &process{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.exited)
	}()
	c.mu.Lock()
	c.procs[id] = p
	c.mu.Unlock()
	return nil
}

// WaitListening waits until node id answers GET /healthz as itself.
func (c *Cluster) WaitListening(ctx context.Context, id uint64) error {
	c.mu.Lock()
	p := c.procs[id]
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("node %d is not running", id)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: c.TLS}}
	want := strconv.FormatUint(id, 10)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("node %d exited at start (%v); its log: %s\n%s", id, p.err, c.LogPath(id), c.LogTail(id, 2048))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(id)+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Yakt-Node") == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d does not answer /healthz: %w", id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartTemp starts a 3-node cluster of bin in a new temporary directory
// (named after prefix) and waits, for at most two minutes, until every
// node is ready. stop closes the cluster, logs each node's log tail first
// when failed is true, and removes the directory; call it even after an
// error.
func StartTemp(ctx context.Context, bin, prefix string, serverArgs []string, client *http.Client, log *slog.Logger) (cl *Cluster, stop func(failed bool), err error) {
	return StartTempWith(ctx, bin, prefix, serverArgs, client, log, nil)
}

// Setup prepares a cluster before it starts: it may write files into
// dir (the cluster's temporary directory) and return flags for every
// node, and then configure the cluster (for example its TLS).
type Setup func(dir string) (serverArgs []string, configure func(*Cluster), err error)

// StartTempWith is StartTemp with setup (nil: none) run first.
func StartTempWith(ctx context.Context, bin, prefix string, serverArgs []string, client *http.Client, log *slog.Logger, setup Setup) (cl *Cluster, stop func(failed bool), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, func(bool) {}, fmt.Errorf("temporary directory: %w", err)
	}
	configure := func(*Cluster) {}
	if setup != nil {
		extra, conf, err := setup(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, func(bool) {}, err
		}
		serverArgs = append(serverArgs[:len(serverArgs):len(serverArgs)], extra...)
		if conf != nil {
			configure = conf
		}
	}
	cl, err = NewCluster(bin, dir, 3, serverArgs...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, func(bool) {}, err
	}
	configure(cl)
	stop = func(failed bool) {
		if failed {
			cl.LogTails(log)
		}
		cl.Close()
		os.RemoveAll(dir)
	}
	log.Info("starting 3 yakt server processes", "dir", dir)
	if err := cl.LaunchAll(); err != nil {
		return cl, stop, err
	}
	if err := cl.WaitAllReady(ctx, client, 2*time.Minute); err != nil {
		return cl, stop, fmt.Errorf("start: %w", err)
	}
	return cl, stop, nil
}

// LaunchAll starts every node's process without waiting for them.
func (c *Cluster) LaunchAll() error {
	for _, id := range c.IDs() {
		if err := c.Launch(id); err != nil {
			return err
		}
	}
	return nil
}

// WaitAllReady waits, for at most limit, until every launched node
// answers /healthz as itself and then /readyz with 200: each can serve a
// linearizable read, so the cluster has a leader.
func (c *Cluster) WaitAllReady(ctx context.Context, client *http.Client, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, id := range c.IDs() {
		if err := c.WaitListening(ctx, id); err != nil {
			return err
		}
		if err := WaitReady(ctx, client, c.URL(id)); err != nil {
			return err
		}
	}
	return nil
}

// Start launches node id and waits until it listens.
func (c *Cluster) Start(ctx context.Context, id uint64) error {
	if err := c.Launch(id); err != nil {
		return err
	}
	return c.WaitListening(ctx, id)
}

// PID is node id's process id, 0 if it is not running.
func (c *Cluster) PID(id uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.procs[id]; p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// Terminate sends SIGTERM to node id and waits (at most 30 s, then
// SIGKILL) for it to exit.
func (c *Cluster) Terminate(id uint64) error {
	c.mu.Lock()
	p := c.procs[id]
	delete(c.procs, id)
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("node %d is not running", id)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM node %d: %w", id, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("node %d did not exit within 30 s of SIGTERM; killed", id)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return fmt.Errorf("node %d: %w", id, p.err)
	}
	if p.err != nil {
		return fmt.Errorf("node %d exited with %v; its log: %s", id, p.err, c.LogPath(id))
	}
	return nil
}

// Close kills every running node and waits for them.
func (c *Cluster) Close() {
	c.mu.Lock()
	procs := c.procs
	c.procs = map[uint64]*process{}
	c.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Kill()
	}
	for _, p := range procs {
		<-p.exited
	}
}

// LogTails logs the end of every node's log, for a run that failed.
func (c *Cluster) LogTails(log *slog.Logger) {
	for _, id := range c.IDs() {
		log.Error("node log tail", "node", id, "log", c.LogTail(id, 1500))
	}
}

// LogTail is the last n bytes of node id's log.
func (c *Cluster) LogTail(id uint64, n int64) string {
	f, err := os.Open(c.LogPath(id))
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, st.Size()-n)
	buf := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}
