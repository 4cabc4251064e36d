package zktest

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

	"github.com/yakt/yakt/internal/vfs"
)

// A restarted server binds the same port again, so the port must stay
// unusable by others while it is down: a port from the kernel's ephemeral
// range (port 0) could meanwhile become some connection's local port, or
// a client retrying 127.0.0.1:port could connect to itself. So the port
// is chosen outside that range and claimed with a lock file in the
// directory internal/testcluster's test nodes use for theirs (same file
// names, so the two never hand out the same port), held until the test
// process exits. zktest does not import testcluster: end-to-end tests
// there may import zktest.

// portDir is shared with internal/testcluster's port registry.
var portDir = filepath.Join(os.TempDir(), "yakt-test-ports")

var ports struct {
	mu    sync.Mutex
	given map[int]bool
	locks []*os.File // held until the process exits
}

// reservePort returns a port outside the kernel's ephemeral range that no
// other test process holds and that was free a moment ago.
func reservePort() (int, error) {
	lo, hi, err := ephemeralRange()
	if err != nil {
		return 0, err
	}
	// Candidates: [10000, lo) and (hi, 65535].
	var ranges [][2]int
	for _, r := range [][2]int{{10000, lo - 1}, {hi + 1, 65535}} {
		if r[0] <= r[1] {
			ranges = append(ranges, r)
		}
	}
	total := 0
	for _, r := range ranges {
		total += r[1] - r[0] + 1
	}
	if total < 1000 {
		return 0, fmt.Errorf("the ephemeral port range %d-%d leaves only %d ports above 10000 for test servers", lo, hi, total)
	}
	if err := os.MkdirAll(portDir, 0o777); err != nil {
		return 0, fmt.Errorf("port lock directory: %w", err)
	}
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	for range 2000 {
		n := rand.IntN(total)
		port := 0
		for _, r := range ranges {
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
		ports.given[port] = true
		f, err := os.OpenFile(filepath.Join(portDir, strconv.Itoa(port)+".lock"), os.O_RDONLY|os.O_CREATE, 0o666)
		if err != nil {
			return 0, fmt.Errorf("port lock file: %w", err)
		}
		if err := vfs.Flock(f); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue // another test process holds it
			}
			return 0, fmt.Errorf("lock port %d: %w", port, err)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			f.Close() // bound by a program that takes no lock
			continue
		}
		l.Close()
		ports.locks = append(ports.locks, f)
		return port, nil
	}
	return 0, fmt.Errorf("no free port found in %v (locks in %s)", ranges, portDir)
}

// ephemeralRange is the range Linux picks outgoing connections' local
// ports from.
func ephemeralRange() (lo, hi int, err error) {
	const file = "/proc/sys/net/ipv4/ip_local_port_range"
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return 32768, 65535, nil // not Linux: stay below every usual range
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", file, err)
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		lo, err1 := strconv.Atoi(f[0])
		hi, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && lo <= hi {
			return lo, hi, nil
		}
	}
	return 0, 0, fmt.Errorf("%s: not a port range: %q", file, b)
}
