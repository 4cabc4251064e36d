// Package testport hands out TCP ports to tests whose servers must rebind
// the same port after a restart: raft nodes of internal/testcluster,
// `yakt server` processes, and the ZooKeeper servers of internal/zktest.
package testport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/yakt/yakt/internal/vfs"
)

// Nodes rebind their ports on every restart, and `yakt server` processes
// cannot be handed an open socket, so a port must stay unusable by anyone
// else for as long as the test process may still restart a node on it.
// Three things could take a released port in between, and each is ruled
// out:
//
//   - another test process (`go test ./...` runs packages in parallel):
//     every port is claimed with an exclusive flock on a file of its own in
//     Dir, held open until this process exits (the kernel releases it
//     then, even after a crash), and ports whose lock is held are skipped;
//   - the kernel, for an outgoing connection's local port or a listener
//     bound to port 0 (the fault proxies): ports are chosen outside the
//     kernel's ephemeral range, and the test fails if there is no room;
//   - this process itself: a port is handed out at most once per process.
//
// A port is bound once before it is handed out, so one held by a program
// that knows nothing of the lock files is skipped too.

// Dir holds one lock file per claimed port, shared by every test process
// on the machine; error messages name it.
var Dir = filepath.Join(os.TempDir(), "yakt-test-ports")

const (
	// portFloor keeps clear of the well-known and commonly configured
	// service ports.
	portFloor = 10000
	// minPortRoom is the fewest candidate ports the registry accepts: below
	// it, parallel test processes would soon run out.
	minPortRoom = 2000
	// portTries bounds the search for a free port.
	portTries = 4000
)

var ports struct {
	mu     sync.Mutex
	ranges [][2]int     // candidate ports, inclusive; set by the first call
	given  map[int]bool // handed out (or found unusable) by this process
	locks  []*os.File   // held until the process exits; never closed
}

// Addr returns 127.0.0.1:port with a port that no other test
// process holds, that the kernel never picks for an ephemeral port, that
// this process has not handed out before and that was free a moment ago.
// The port stays reserved for the whole life of the test process, so
// nodes may release and rebind it as often as they restart. The test
// fails if no port can be reserved.
func Addr(t testing.TB) string {
	t.Helper()
	port, err := Reserve()
	if err != nil {
		t.Fatalf("reserve a test port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Reserve is Addr's port, for callers that report errors themselves.
func Reserve() (int, error) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.ranges == nil {
		r, err := candidatePorts()
		if err != nil {
			return 0, err
		}
		if err := os.MkdirAll(Dir, 0o777); err != nil {
			return 0, fmt.Errorf("port lock directory: %w", err)
		}
		ports.ranges, ports.given = r, map[int]bool{}
	}
	total := 0
	for _, r := range ports.ranges {
		total += r[1] - r[0] + 1
	}
	for range portTries {
		n := rand.IntN(total)
		port := 0
		for _, r := range ports.ranges {
			if size := r[1] - r[0] + 1; n >= size {
				n -= size
				continue
			}
			port = r[0] + n
			break
		}
		if ports.given[port] {
			continue
		}
		f, err := lockPort(port)
		if err != nil {
			return 0, err
		}
		if f == nil {
			continue // another test process holds it
		}
		ports.given[port] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			f.Close() // bound by a program that takes no lock: leave it
			continue
		}
		l.Close()
		ports.locks = append(ports.locks, f)
		return port, nil
	}
	return 0, fmt.Errorf("no free port among %d tries in %v (locks in %s; %d handed out by this process)",
		portTries, ports.ranges, Dir, len(ports.locks))
}

// lockPort takes port's lock file, or returns nil if another process
// holds it. Lock files are never removed: removing one while another
// process opens it would let two processes each lock a different file for
// the same port.
func lockPort(port int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(Dir, strconv.Itoa(port)+".lock"), os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("port lock file: %w", err)
	}
	if err := vfs.Flock(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock port %d: %w", port, err)
	}
	return f, nil
}

// ephemeralRangeFile is where Linux says which ports it picks for
// outgoing connections and port-0 listeners.
const ephemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// candidatePorts are the ports from portFloor up that lie outside the
// kernel's ephemeral range.
func candidatePorts() ([][2]int, error) {
	lo, hi := 32768, 60999 // Linux's default, below BSD's and IANA's 49152
	b, err := os.ReadFile(ephemeralRangeFile)
	switch {
	case err == nil:
		if lo, hi, err = parsePortRange(string(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", ephemeralRangeFile, err)
		}
	case errors.Is(err, os.ErrNotExist):
		hi = 65535 // not Linux: keep below every usual ephemeral range
	default:
		return nil, fmt.Errorf("read the ephemeral port range: %w", err)
	}
	return portRoom(lo, hi)
}

func parsePortRange(s string) (lo, hi int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("want two ports, got %q", s)
	}
	if lo, err = strconv.Atoi(f[0]); err == nil {
		hi, err = strconv.Atoi(f[1])
	}
	if err != nil || lo > hi {
		return 0, 0, fmt.Errorf("not a port range: %q", s)
	}
	return lo, hi, nil
}

// portRoom returns the ranges of [portFloor, 65535] outside [lo, hi], or
// an error saying how to make room when they are too small.
func portRoom(lo, hi int) ([][2]int, error) {
	var out [][2]int
	size := 0
	for _, r := range [][2]int{{portFloor, min(lo-1, 65535)}, {max(hi+1, portFloor), 65535}} {
		if r[0] <= r[1] {
			out = append(out, r)
			size += r[1] - r[0] + 1
		}
	}
	if size < minPortRoom {
		return nil, fmt.Errorf("the kernel's ephemeral port range %d-%d leaves only %d ports in %d-65535 for test nodes, "+
			"which must rebind theirs on restart without the kernel handing them to other sockets meanwhile; "+
			"need %d: narrow it, e.g. sysctl -w net.ipv4.ip_local_port_range='32768 60999'",
			lo, hi, size, portFloor, minPortRoom)
	}
	return out, nil
}
