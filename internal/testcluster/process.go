package testcluster

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/server"
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

// Processes is a cluster of real `yakt server` processes.
type Processes struct {
	t      testing.TB
	bin    string
	voters map[uint64]string
	http   map[uint64]string
	dirs   map[uint64]string
	Args   []string // extra flags for every node
	mu     sync.Mutex
	procs  map[uint64]*exec.Cmd
	logs   map[uint64]*LogBuffer
	Client *http.Client
}

// StartProcesses starts n `yakt server` processes and kills them when the
// test ends.
func StartProcesses(t testing.TB, bin string, n int, args ...string) *Processes {
	t.Helper()
	p := &Processes{
		t: t, bin: bin, Args: args,
		voters: map[uint64]string{}, http: map[uint64]string{}, dirs: map[uint64]string{},
		procs: map[uint64]*exec.Cmd{}, logs: map[uint64]*LogBuffer{},
		Client: &http.Client{Timeout: 10 * time.Second},
	}
	base := t.TempDir()
	for i := 1; i <= n; i++ {
		id := uint64(i)
		p.voters[id] = freeAddr(t)
		p.http[id] = freeAddr(t)
		p.dirs[id] = filepath.Join(base, fmt.Sprintf("node-%d", i))
	}
	t.Cleanup(func() {
		p.KillAll()
		if t.Failed() {
			for id, buf := range p.logs {
				t.Logf("--- node %d log (last 4 KiB) ---\n%s", id, buf.Tail(4096))
			}
		}
	})
	for i := 1; i <= n; i++ {
		p.Start(uint64(i))
	}
	return p
}

// IDs are the node ids, 1..N.
func (p *Processes) IDs() []uint64 { return nodeIDs(len(p.voters)) }

// URL is node id's HTTP base URL.
func (p *Processes) URL(id uint64) string { return "http://" + p.http[id] }

// URLs are every node's HTTP base URL, stopped ones included.
func (p *Processes) URLs() []string { return urls(p.IDs(), p.URL) }

// Start starts node id's process.
func (p *Processes) Start(id uint64) {
	p.t.Helper()
	args := append([]string{"server",
		"--node-id", strconv.FormatUint(id, 10),
		"--data-dir", p.dirs[id],
		"--listen-peer", p.voters[id],
		"--listen-http", p.http[id],
		"--voters", server.FormatVoters(p.voters),
		"--heartbeat-interval", "20ms", "--election-timeout", "200ms",
	}, p.Args...)
	cmd := exec.Command(p.bin, args...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logs[id] == nil {
		p.logs[id] = &LogBuffer{}
	}
	cmd.Stdout = p.logs[id]
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start node %d: %v", id, err)
	}
	p.procs[id] = cmd
}

// Kill9 sends SIGKILL to node id and reaps it.
func (p *Processes) Kill9(id uint64) {
	p.mu.Lock()
	cmd := p.procs[id]
	delete(p.procs, id)
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// KillAll SIGKILLs every node at once.
func (p *Processes) KillAll() {
	p.mu.Lock()
	cmds := p.procs
	p.procs = map[uint64]*exec.Cmd{}
	p.mu.Unlock()
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(syscall.SIGKILL)
	}
	for _, cmd := range cmds {
		_ = cmd.Wait()
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
	cmd := p.procs[id]
	delete(p.procs, id)
	p.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("node %d is not running", id)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return cmd.Wait()
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
	cmd := p.procs[id]
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signal %v to node %d: %v", sig, id, err)
	}
}

// Running reports whether node id's process was started and not killed.
func (p *Processes) Running(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.procs[id] != nil
}
