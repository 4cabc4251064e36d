package migration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/zkdial"
)

// zkSessionTimeout is the ZooKeeper session timeout the driver asks for:
// short enough that a dead driver's session (and so a stale view) ends
// soon, long enough to ride out a server restart.
const zkSessionTimeout = 6 * time.Second

// parseConnect splits a connect string, host:port[,host:port...][/chroot],
// into its servers and its chroot ("" for none). The chroot is applied by
// the driver itself as a path prefix: it must be seen in watch events too.
func parseConnect(s string) (servers []string, root string, err error) {
	s = strings.TrimSpace(s)
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, root = s[:i], strings.TrimRight(s[i:], "/")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", contract.Errorf(contract.CodeInvalidRequest, "zkConnect %q names no ZooKeeper server (want host:port[,host:port...][/chroot])", s)
	}
	if strings.Contains(root, "//") {
		return nil, "", contract.Errorf(contract.CodeInvalidRequest, "zkConnect %q: chroot %q is not a valid znode path", s, root)
	}
	return servers, root, nil
}

// slogZK routes the ZooKeeper client's own log lines to slog at debug:
// it logs every reconnect, which the driver reports itself.
type slogZK struct{ log *slog.Logger }

func (l slogZK) Printf(format string, args ...any) {
	l.log.Debug("zookeeper client: " + fmt.Sprintf(format, args...))
}

// zkSession is one ZooKeeper session of the driver, with the bookkeeping
// of which watches are armed and which znodes changed. Watches are
// one-shot: a znode whose watch fired is re-read with a new watch; one
// still armed is re-read without, so the client never stacks watches.
type zkSession struct {
	conn *zk.Conn
	root string
	log  *slog.Logger

	mu sync.Mutex
	// armedData and armedChild are the paths (without root) with a data
	// (or existence) watch and a child watch set. Guarded by mu.
	armedData  map[string]bool
	armedChild map[string]bool
	// dirty are the paths whose watch fired since the last take, with
	// when the first of them fired. Guarded by mu.
	dirty     map[string]bool
	firstFire time.Time
	// fullRead: the session was lost or a watch dropped, so everything
	// must be read again. connected: the session is usable. Guarded by mu.
	fullRead  bool
	connected bool
	expired   bool
	// wake is signalled (without blocking) on every event.
	wake chan struct{}
	// closed is set once the run closed the session.
	closed atomic.Bool
}

// dialZK opens a session to zkConnect; it returns at once, the session
// connects in the background (connected reports when).
func dialZK(zkConnect string, log *slog.Logger) (*zkSession, error) {
	servers, root, err := parseConnect(zkConnect)
	if err != nil {
		return nil, err
	}
	s := &zkSession{root: root, log: log, armedData: map[string]bool{}, armedChild: map[string]bool{},
		dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
	conn, _, err := zk.Connect(servers, zkSessionTimeout, zk.WithLogger(slogZK{log}), zk.WithLogInfo(false), zk.WithEventCallback(s.event), zk.WithDialer(zkdial.Dialer(zkSessionTimeout)))
	if err != nil {
		return nil, contract.Errorf(contract.CodeZooKeeperUnavailable, "connect to ZooKeeper %s: %v", zkConnect, err)
	}
	s.conn = conn
	return s, nil
}

func (s *zkSession) close() {
	s.closed.Store(true)
	s.conn.Close()
}

// event is the client's callback for every event, on its receive
// goroutine: it must not block.
func (s *zkSession) event(ev zk.Event) {
	s.mu.Lock()
	switch ev.Type {
	case zk.EventSession:
		switch ev.State {
		case zk.StateHasSession:
			if !s.connected {
				// Reconnected: whatever the session kept, read everything
				// again (idempotent) rather than trust what was missed.
				s.fullRead = true
			}
			s.connected = true
		case zk.StateExpired:
			// The server dropped the session and its watches.
			clear(s.armedData)
			clear(s.armedChild)
			s.connected, s.expired, s.fullRead = false, true, true
		case zk.StateDisconnected, zk.StateConnecting, zk.StateAuthFailed:
			s.connected = false
		}
	case zk.EventNotWatching:
		if p, ok := s.rel(ev.Path); ok {
			delete(s.armedData, p)
			delete(s.armedChild, p)
		}
		s.fullRead = true
	case zk.EventNodeCreated, zk.EventNodeDataChanged, zk.EventNodeDeleted, zk.EventNodeChildrenChanged:
		p, ok := s.rel(ev.Path)
		if !ok {
			break
		}
		switch ev.Type {
		case zk.EventNodeChildrenChanged:
			delete(s.armedChild, p)
		case zk.EventNodeDeleted:
			delete(s.armedData, p)
			delete(s.armedChild, p)
		default:
			delete(s.armedData, p)
		}
		if len(s.dirty) == 0 {
			s.firstFire = time.Now()
		}
		s.dirty[p] = true
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// rel strips the chroot from a server path.
func (s *zkSession) rel(p string) (string, bool) {
	if s.root == "" {
		return p, true
	}
	if p == s.root {
		return "/", true
	}
	if strings.HasPrefix(p, s.root+"/") {
		return p[len(s.root):], true
	}
	return "", false
}

func (s *zkSession) abs(p string) string { return s.root + p }

// isConnected reports whether the session is usable now.
func (s *zkSession) isConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// waitConnected waits until the session is usable.
func (s *zkSession) waitConnected(ctx context.Context) error {
	for {
		if s.isConnected() {
			return nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// takeDirty returns the changed paths since the last call, when the first
// of them changed, and whether everything must be read again.
func (s *zkSession) takeDirty() (paths map[string]bool, first time.Time, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	paths, first, full = s.dirty, s.firstFire, s.fullRead
	s.dirty, s.fullRead = map[string]bool{}, false
	return paths, first, full
}

// startFull is called as a full read begins: what asked for one is
// covered by it (a session change during the read asks again).
func (s *zkSession) startFull() {
	s.mu.Lock()
	s.fullRead = false
	s.mu.Unlock()
}

// markFull asks for a full read (a read failed midway).
func (s *zkSession) markFull() {
	s.mu.Lock()
	s.fullRead = true
	s.mu.Unlock()
}

// arm marks path's watch of the kind as set before the request that sets
// it goes out, so an event that fires right after the answer is never
// lost to a mark made later; it reports whether the watch was already
// set (then the read goes without one).
func (s *zkSession) arm(m map[string]bool, p string) (already bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m[p] {
		return true
	}
	m[p] = true
	return false
}

func (s *zkSession) disarm(m map[string]bool, p string) {
	s.mu.Lock()
	delete(m, p)
	s.mu.Unlock()
}

// get reads a znode's data and keeps a watch on it: a data watch when it
// exists, an existence watch when not (exists false, no error).
func (s *zkSession) get(p string) (data []byte, st *zk.Stat, exists bool, err error) {
	for {
		if s.arm(s.armedData, p) {
			data, st, err = s.conn.Get(s.abs(p))
		} else {
			data, st, _, err = s.conn.GetW(s.abs(p))
			if err != nil {
				s.disarm(s.armedData, p)
			}
		}
		if err == nil {
			return data, st, true, nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return nil, nil, false, fmt.Errorf("read %s: %w", p, err)
		}
		ok, err := s.exists(p)
		if err != nil || !ok {
			return nil, nil, false, err
		}
		// Created between the two requests: read it (its data watch is set).
	}
}

// exists checks a znode and keeps a watch on it.
func (s *zkSession) exists(p string) (bool, error) {
	var ok bool
	var err error
	if s.arm(s.armedData, p) {
		ok, _, err = s.conn.Exists(s.abs(p))
	} else {
		ok, _, _, err = s.conn.ExistsW(s.abs(p))
		if err != nil {
			s.disarm(s.armedData, p)
		}
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", p, err)
	}
	return ok, nil
}

// children lists a znode's children and keeps a child watch on it (an
// existence watch when it does not exist: exists false, no error).
func (s *zkSession) children(p string) (names []string, st *zk.Stat, exists bool, err error) {
	for {
		if s.arm(s.armedChild, p) {
			names, st, err = s.conn.Children(s.abs(p))
		} else {
			names, st, _, err = s.conn.ChildrenW(s.abs(p))
			if err != nil {
				s.disarm(s.armedChild, p)
			}
		}
		if err == nil {
			return names, st, true, nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return nil, nil, false, fmt.Errorf("list %s: %w", p, err)
		}
		ok, err := s.exists(p)
		if err != nil || !ok {
			return nil, nil, false, err
		}
	}
}

// parallel runs fn for i in [0, n) on up to workers goroutines and
// returns the first error. The client pipelines the requests of
// concurrent callers on its one connection, so this is how thousands of
// znodes are read in one round trip's time each per worker.
func parallel(n, workers int, fn func(i int) error) error {
	if n == 0 {
		return nil
	}
	workers = min(workers, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || first != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
