package netfault_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/netfault"
)

const waitTimeout = 10 * time.Second

var seedFlag = flag.Int64("netfault.seed", 0, "seed for the fault network (0: time-based); tests log the one they use")

func testSeed(tb testing.TB) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	tb.Logf("netfault seed %d (rerun with -netfault.seed=%d)", seed, seed)
	return seed
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkGoroutines registers, as the test's last cleanup, a wait for the
// goroutine count to fall back to what it is now: everything the test
// started, the Network's goroutines included, must be gone.
func checkGoroutines(tb testing.TB) {
	base := runtime.NumGoroutine()
	tb.Cleanup(func() {
		deadline := time.Now().Add(waitTimeout)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				os.Stderr.Write(buf)
				tb.Errorf("goroutines leaked: %d, started with %d", runtime.NumGoroutine(), base)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}

// chunk is one read on a test server connection and when it returned.
type chunk struct {
	b  []byte
	at time.Time
}

// server is a node's real peer listener: it records what each accepted
// connection receives and, if echo is set, writes it back. On EOF an echo
// connection closes; a sink connection waits for the test's cleanup.
type server struct {
	ln       net.Listener
	echo     bool
	accepted chan *serverConn
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

type serverConn struct {
	net.Conn
	chunks chan chunk    // every read, in order
	closed chan struct{} // closed when a read fails (EOF or reset)
}

func startServer(tb testing.TB, echo bool) *server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{ln: ln, echo: echo, accepted: make(chan *serverConn, 1024)}
	s.wg.Add(1)
	go s.acceptLoop()
	tb.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &serverConn{Conn: c, chunks: make(chan chunk, 1<<14), closed: make(chan struct{})}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.accepted <- sc
		s.wg.Add(1)
		go s.serve(sc)
	}
}

func (s *server) serve(c *serverConn) {
	defer s.wg.Done()
	defer close(c.closed)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			c.chunks <- chunk{b: bytes.Clone(buf[:n]), at: time.Now()}
			if s.echo {
				if _, werr := c.Write(buf[:n]); werr != nil {
					c.Close()
					return
				}
			}
		}
		if err != nil {
			if s.echo {
				c.Close()
			}
			return
		}
	}
}

// next returns the next connection the server accepts.
func (s *server) next(tb testing.TB) *serverConn {
	tb.Helper()
	select {
	case c := <-s.accepted:
		return c
	case <-time.After(waitTimeout):
		tb.Fatal("timed out waiting for a connection to the server")
		return nil
	}
}

// noneAccepted fails if the server has accepted a connection not yet taken
// with next.
func (s *server) noneAccepted(tb testing.TB) {
	tb.Helper()
	select {
	case <-s.accepted:
		tb.Fatal("server accepted a connection it should never have seen")
	default:
	}
}

// expect reads chunks until want has arrived, and returns when the last of
// it did.
func (c *serverConn) expect(tb testing.TB, want string) time.Time {
	tb.Helper()
	var got []byte
	var at time.Time
	timeout := time.After(waitTimeout)
	for len(got) < len(want) {
		select {
		case ch := <-c.chunks:
			got = append(got, ch.b...)
			at = ch.at
		case <-timeout:
			tb.Fatalf("server got %q, want %q", got, want)
		}
	}
	if string(got) != want {
		tb.Fatalf("server got %q, want %q", got, want)
	}
	return at
}

// nothingReceived fails if any bytes reached the connection.
func (c *serverConn) nothingReceived(tb testing.TB) {
	tb.Helper()
	select {
	case ch := <-c.chunks:
		tb.Fatalf("server received %q through a dropped link", ch.b)
	default:
	}
}

// expectClosed waits for the connection's reads to fail.
func (c *serverConn) expectClosed(tb testing.TB) {
	tb.Helper()
	select {
	case <-c.closed:
	case <-time.After(waitTimeout):
		tb.Fatal("server connection still open")
	}
}

// cluster is a Network over n servers, ids 1..n.
type cluster struct {
	net     *netfault.Network
	servers map[uint64]*server
}

func newCluster(tb testing.TB, n int, echo bool) *cluster {
	tb.Helper()
	checkGoroutines(tb)
	c := &cluster{servers: make(map[uint64]*server)}
	targets := make(map[uint64]string)
	for id := uint64(1); id <= uint64(n); id++ {
		c.servers[id] = startServer(tb, echo)
		targets[id] = c.servers[id].ln.Addr().String()
	}
	nw, err := netfault.NewNetwork(targets, testSeed(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nw.Close)
	c.net = nw
	return c
}

// dial connects from's side of the from→to link.
func (c *cluster) dial(tb testing.TB, from, to uint64) net.Conn {
	tb.Helper()
	return dial(tb, c.net.Addr(from, to))
}

func dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

func write(tb testing.TB, conn net.Conn, s string) {
	tb.Helper()
	if _, err := conn.Write([]byte(s)); err != nil {
		tb.Fatalf("write %q: %v", s, err)
	}
}

// readExactly reads len(want) bytes from conn and compares.
func readExactly(tb testing.TB, conn net.Conn, want string) {
	tb.Helper()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(conn, got); err != nil {
		tb.Fatalf("read %q: got %q: %v", want, got, err)
	}
	if string(got) != want {
		tb.Fatalf("read %q, want %q", got, want)
	}
}

// expectBroken waits for conn to report EOF or a reset, with no data first.
func expectBroken(tb testing.TB, conn net.Conn) {
	tb.Helper()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 1024)
	n, err := conn.Read(buf)
	var ne net.Error
	switch {
	case n > 0:
		tb.Fatalf("read %q from a connection that should be broken", buf[:n])
	case err == nil:
		tb.Fatal("read returned nothing and no error")
	case errors.As(err, &ne) && ne.Timeout():
		tb.Fatal("connection still open")
	}
}
