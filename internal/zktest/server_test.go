package zktest

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestServer checks what tests built on Server rely on: it serves on
// Addr; across a kill -9 and restart on the same address the data
// survives, a session whose client is back within its timeout keeps its
// ephemeral znode, and a session whose client went away while the server
// was down expires after the restart; a stopped server refuses clients.
func TestServer(t *testing.T) {
	t.Parallel()
	s := Start(t)
	conn := s.Connect(t, 10*time.Second)
	acl := zk.WorldACL(zk.PermAll)
	if _, err := conn.Create("/persistent", []byte("kept"), 0, acl); err != nil {
		t.Fatalf("create /persistent: %v", err)
	}
	if _, err := conn.Create("/ephemeral", []byte("mine"), zk.FlagEphemeral, acl); err != nil {
		t.Fatalf("create /ephemeral: %v", err)
	}
	session := conn.SessionID()
	short, err := Dial(s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if _, err := short.Create("/short", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatalf("create /short: %v", err)
	}
	addr := s.Addr()

	s.Kill()
	// /short's owner goes away while the server is down (its close cannot
	// reach the server).
	short.Close()
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
	// The restarted server restored /short's session too, counted its
	// timeout again, and expires it.
	waitGone(t, conn, "/short")

	// Closing a session removes its ephemeral znode at once.
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

// waitGone waits, by a watch, until path does not exist.
func waitGone(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		ok, _, ch, err := c.ExistsW(path)
		if err != nil {
			t.Fatalf("watch %s: %v", path, err)
		}
		if !ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s still there after 30 s", path)
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
// server restart (requests in flight then fail with ErrConnectionClosed,
// and go-zookeeper waits a second between failed connection rounds).
func getRetrying(c *zk.Conn, path string) ([]byte, *zk.Stat, error) {
	deadline := time.Now().Add(30 * time.Second)
	retry := time.NewTicker(50 * time.Millisecond)
	defer retry.Stop()
	for {
		data, st, err := c.Get(path)
		if err == nil || time.Now().After(deadline) ||
			!(errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)) {
			return data, st, err
		}
		<-retry.C
	}
}
