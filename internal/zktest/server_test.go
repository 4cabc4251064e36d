package zktest

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestServerServesAndRestarts checks what tests built on Server rely on:
// it serves on Addr, data survives a kill -9 and restart on the same
// address, a session whose client comes back within its timeout keeps its
// ephemeral znode, and a stopped server refuses clients.
func TestServerServesAndRestarts(t *testing.T) {
	s := Start(t)
	conn := s.Connect(t, 10*time.Second)
	if _, err := conn.Create("/persistent", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /persistent: %v", err)
	}
	if _, err := conn.Create("/ephemeral", []byte("mine"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /ephemeral: %v", err)
	}
	session := conn.SessionID()
	addr := s.Addr()

	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("address changed across restart: %s -> %s", addr, s.Addr())
	}
	// The old client reconnects by itself and keeps its session: the
	// server restored the session from its log and the client was back
	// within the 10 s timeout.
	data, _, err := getRetrying(conn, "/persistent")
	if err != nil || string(data) != "kept" {
		t.Fatalf("after restart, /persistent = %q, %v; want kept", data, err)
	}
	if conn.SessionID() != session {
		t.Fatalf("session changed across a quick restart: %x -> %x", session, conn.SessionID())
	}
	st := existsStat(t, s, "/ephemeral")
	if st == nil || st.EphemeralOwner != session {
		t.Fatalf("after restart, /ephemeral = %+v; want owned by session %x", st, session)
	}

	// Closing the session removes its ephemeral znode at once.
	conn.Close()
	if st := existsStat(t, s, "/ephemeral"); st != nil {
		t.Fatalf("/ephemeral still there after its session closed: %+v", st)
	}

	s.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a stopped server accepted a connection")
	}
	s.Restart(t)
	if st := existsStat(t, s, "/persistent"); st == nil {
		t.Fatal("/persistent lost across stop and start")
	}
}

// TestServerSessionExpiresWhileDown: a session whose timeout passes while
// the server is down is expired when the server comes back, and its
// ephemeral znode is gone (what a migration sees when ZooKeeper is away
// longer than a broker's session).
func TestServerSessionExpiresWhileDown(t *testing.T) {
	s := Start(t)
	short, err := Dial(s.Addr(), MinSessionTimeout*2)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if _, err := short.Create("/short", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /short: %v", err)
	}
	s.Kill()
	// Its owner goes away while the server is down (the close cannot
	// reach the server). The restarted server restores the session from
	// its log, counts its timeout again and then expires it.
	short.Close()
	s.Restart(t)
	watcher := s.Connect(t, 10*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, _, err := watcher.Exists("/short")
		if err != nil {
			t.Fatalf("exists /short: %v", err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/short still there 30 s after its session's owner went away")
		}
		_, _, ch, err := watcher.ExistsW("/short")
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
		}
	}
}

func existsStat(t *testing.T, s *Server, path string) *zk.Stat {
	t.Helper()
	c, err := Dial(s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok, st, err := c.Exists(path)
	if err != nil {
		t.Fatalf("exists %s: %v", path, err)
	}
	if !ok {
		return nil
	}
	return st
}

// getRetrying reads path, retrying while the client reconnects after a
// server restart (requests in flight then fail with ErrConnectionClosed).
func getRetrying(c *zk.Conn, path string) ([]byte, *zk.Stat, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, st, err := c.Get(path)
		if err == nil || time.Now().After(deadline) ||
			!(errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)) {
			return data, st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
