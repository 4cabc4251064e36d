// Package zktest runs a real ZooKeeper server for tests (the Debian
// package's 3.8, started on a free port with its own data directory) and
// writes znodes exactly as a ZooKeeper-mode Kafka 3.x cluster does, so
// migration tests read what a real cluster would hold.
//
// The three parts are independent of the migration code under test: the
// server is the real Java one, Kafka writes its JSON from templates taken
// from Kafka's own encoders (not from internal/zkformat, so our decoder is
// never checked against our encoder), and View reads the znodes back with
// encoding/json into its own types for checkers.
package zktest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/yakt/yakt/internal/testport"
	"github.com/yakt/yakt/internal/zkdial"
)

// Where the Debian packages put the server. zookeeper.jar's manifest
// names every jar it needs (Class-Path), so the class path is that jar
// plus an slf4j binding: slf4j-simple (from libslf4j-java, which the
// package depends on) writes the server's log to stderr, which goes to
// the log file; without a binding the server would log nothing.
const (
	zookeeperJar   = "/usr/share/java/zookeeper.jar"
	slf4jSimpleJar = "/usr/share/java/slf4j-simple.jar"
	mainClass      = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// TickTime is the server's tick. ZooKeeper bounds a session's timeout to
// [2, 20] ticks unless the config says otherwise; a short tick lets tests
// that want a session to expire ask for a short timeout (MinSessionTimeout)
// while clients may still ask for up to MaxSessionTimeout.
const (
	TickTime          = 100 * time.Millisecond
	MinSessionTimeout = 2 * TickTime
	MaxSessionTimeout = 60 * time.Second
)

// startTimeout bounds one start of the server, JVM start included, on a
// busy 2-core machine under the race detector.
const startTimeout = 60 * time.Second

// Server is one ZooKeeper server process owned by a test. Its methods may
// be called from several goroutines.
type Server struct {
	dir     string // the test's temp dir: zoo.cfg, data/, zookeeper.log
	cfgPath string
	logPath string
	addr    string
	java    string

	mu     sync.Mutex
	proc   *exec.Cmd
	exited chan struct{} // closed once proc has been waited for
}

// Start starts a ZooKeeper server on a free 127.0.0.1 port with a data
// directory in t.TempDir(), waits until it serves, and stops it when the
// test ends. Without Java or the zookeeper package it fails under CI=true
// and skips otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	java, err := findServer()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zktest: %v (.ci/run installs the Debian package zookeeper)", err)
		}
		t.Skipf("zktest: %v (install the Debian package zookeeper to run this test)", err)
	}
	dir := t.TempDir()
	s := &Server{
		dir:     dir,
		cfgPath: filepath.Join(dir, "zoo.cfg"),
		logPath: filepath.Join(dir, "zookeeper.log"),
		java:    java,
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("zktest: tail of %s:\n%s", s.logPath, s.LogTail(40))
		}
	})
	// The port is reserved for this test process, but a program that takes
	// no reservation could still bind it between the check and the JVM's
	// bind: try a few ports before giving up.
	var lastErr error
	for range 3 {
		port, err := testport.Reserve()
		if err != nil {
			t.Fatalf("zktest: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := s.writeConfig(port); err != nil {
			t.Fatalf("zktest: %v", err)
		}
		began := time.Now()
		if lastErr = s.start(); lastErr == nil {
			t.Logf("zktest: ZooKeeper serving on %s after %v (log %s)", s.addr, time.Since(began).Round(time.Millisecond), s.logPath)
			return s
		}
		s.Stop()
		if !strings.Contains(s.LogTail(200), "Address already in use") {
			break
		}
	}
	t.Fatalf("zktest: start ZooKeeper: %v", lastErr) // the cleanup shows the log's tail
	return nil
}

// findServer returns the java binary, or why the server cannot run here.
func findServer() (string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("no java on PATH: %w", err)
	}
	for _, jar := range []string{zookeeperJar, slf4jSimpleJar} {
		if _, err := os.Stat(jar); err != nil {
			return "", fmt.Errorf("ZooKeeper server jar missing: %w", err)
		}
	}
	return java, nil
}

// writeConfig writes a standalone server's zoo.cfg (no server.N lines, so
// QuorumPeerMain runs it standalone).
func (s *Server) writeConfig(port int) error {
	dataDir := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	cfg := strings.Join([]string{
		"tickTime=" + strconv.Itoa(int(TickTime/time.Millisecond)),
		"minSessionTimeout=" + strconv.Itoa(int(MinSessionTimeout/time.Millisecond)),
		"maxSessionTimeout=" + strconv.Itoa(int(MaxSessionTimeout/time.Millisecond)),
		"dataDir=" + dataDir,
		"clientPort=" + strconv.Itoa(port),
		"clientPortAddress=127.0.0.1",
		// Tests open one session per simulated broker: no per-host cap.
		"maxClientCnxns=0",
		// No admin HTTP server (it would take port 8080) and no
		// four-letter-word commands: tests speak the client protocol only.
		"admin.enableServer=false",
		"4lw.commands.whitelist=",
		"",
	}, "\n")
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("write zoo.cfg: %w", err)
	}
	return nil
}

// start launches the JVM and waits until the server answers a client
// request. The caller holds no lock.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	cmd := exec.Command(s.java,
		// A small heap and the serial collector: the data sets are small
		// (tens of thousands of znodes) and the machine has two cores.
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC",
		// The client-compiler only: the JVM starts much faster and the
		// server's throughput is still far above what tests ask.
		"-XX:TieredStopAtLevel=1",
		// No hsperfdata file in /tmp for every server a test starts.
		"-XX:-UsePerfData",
		"-Djava.net.preferIPv4Stack=true",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		"-cp", zookeeperJar+":"+slf4jSimpleJar,
		mainClass, s.cfgPath)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so Stop kills the JVM and anything it spawned;
	// Pdeathsig kills it if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "--- zktest: starting %s\n", strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start java: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		// The owner of the process: reaps it whenever it ends.
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.proc, s.exited = cmd, exited
	s.mu.Unlock()
	return waitServing(s.addr, exited, time.Now().Add(startTimeout))
}

// waitServing returns once a client session on addr answers a request,
// or an error when the process exits or the deadline passes.
func waitServing(addr string, exited <-chan struct{}, deadline time.Time) error {
	retry := time.NewTicker(20 * time.Millisecond)
	defer retry.Stop()
	var lastErr error
	// A connection accepted before the database is loaded may hang
	// without an answer (the server's close fails on its null database):
	// a probe gives up soon and the next one waits longer, so a slow
	// machine still gets its session.
	patience := 250 * time.Millisecond
	for {
		// The JVM takes a while to bind; a plain dial is the cheap probe
		// (go-zookeeper waits a second between failed connection rounds).
		if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
			lastErr = err
		} else {
			c.Close()
			// Listening comes before the database is loaded: only an
			// answered request says the server serves.
			if lastErr = ping(addr, exited, min(patience, time.Until(deadline))); lastErr == nil {
				return nil
			}
			patience = min(2*patience, 8*time.Second)
		}
		select {
		case <-exited:
			return fmt.Errorf("server exited before serving (last probe: %v)", lastErr)
		case <-retry.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not serving on %s after %v: %v", addr, startTimeout, lastErr)
		}
	}
}

// ping opens a session on addr and reads the root znode, giving up after
// patience.
func ping(addr string, exited <-chan struct{}, patience time.Duration) error {
	conn, events, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(quietLogger{}), zk.WithDialer(zkdial.Dialer(4*time.Second)))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	wait := time.NewTimer(patience)
	defer wait.Stop()
	for {
		select {
		case ev := <-events:
			switch ev.State {
			case zk.StateDisconnected, zk.StateExpired, zk.StateAuthFailed:
				// Too early: the server dropped the connection
				// ("ZooKeeperServer not running"); go-zookeeper would
				// wait a second before trying again, a new probe won't.
				return fmt.Errorf("dropped (%v)", ev.State)
			case zk.StateHasSession:
			default:
				continue
			}
			// The session answered; the request is the proof it serves.
			if _, _, err := conn.Exists("/"); err != nil {
				return fmt.Errorf("exists /: %w", err)
			}
			return nil
		case <-exited:
			return errors.New("server exited")
		case <-wait.C:
			return fmt.Errorf("no session (state %v)", conn.State())
		}
	}
}

// Addr is host:port clients connect to. It stays the same across restarts.
func (s *Server) Addr() string { return s.addr }

// LogPath is the server's log file.
func (s *Server) LogPath() string { return s.logPath }

// Restart kills the server and starts it again on the same port and data
// directory (a stopped server is just started). A session survives if
// its client reconnects within the session's timeout, counted by the
// restarted server from when it loaded the session again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	began := time.Now()
	if err := s.start(); err != nil {
		s.Stop()
		t.Fatalf("zktest: restart ZooKeeper: %v", err) // Start's cleanup shows the log's tail
	}
	t.Logf("zktest: ZooKeeper serving again on %s after %v", s.addr, time.Since(began).Round(time.Millisecond))
}

// Stop kills the server (SIGKILL to its process group, as a crash would)
// and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	proc, exited := s.proc, s.exited
	s.proc = nil
	s.mu.Unlock()
	if proc != nil {
		// The group id is the JVM's pid (Setpgid); ESRCH means it is gone.
		if err := syscall.Kill(-proc.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			proc.Process.Kill()
		}
	}
	// A concurrent Stop that found the process already taken still
	// returns only once it is gone.
	if exited != nil {
		<-exited
	}
}

// Kill is Stop, named for tests that mean a crash: the server stays down
// until Restart.
func (s *Server) Kill() { s.Stop() }

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Connect opens a client session to the server with the given session
// timeout; the test's cleanup closes it. It fails the test if the session
// is not established within the timeout.
func (s *Server) Connect(t testing.TB, sessionTimeout time.Duration) *zk.Conn {
	t.Helper()
	conn, err := Dial(s.addr, sessionTimeout)
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// Dial opens a client session to addr and waits until it is established
// (at most the session timeout, and at least 10 s on a busy machine).
func Dial(addr string, sessionTimeout time.Duration) (*zk.Conn, error) {
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(quietLogger{}), zk.WithDialer(zkdial.Dialer(sessionTimeout)))
	if err != nil {
		return nil, fmt.Errorf("connect to ZooKeeper at %s: %w", addr, err)
	}
	wait := time.NewTimer(max(sessionTimeout, 10*time.Second))
	defer wait.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				// The event channel is buffered and dropped when full
				// (go-zookeeper never blocks on it): nobody needs to read
				// it from here on.
				return conn, nil
			}
		case <-wait.C:
			conn.Close()
			return nil, fmt.Errorf("connect to ZooKeeper at %s: no session after %v (state %v)", addr, sessionTimeout, conn.State())
		}
	}
}

// quietLogger sends go-zookeeper's connection chatter to slog at debug
// level: a test's t.Log would panic when a connection logs after the test
// ended, and stderr noise hides real failures.
type quietLogger struct{}

func (quietLogger) Printf(format string, args ...any) {
	slog.Debug("zookeeper client", "msg", fmt.Sprintf(format, args...))
}
