package zkdial

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

type discard struct{}

func (discard) Printf(string, ...any) {}

// A server that accepts connections and never answers the handshake (as
// ZooKeeper does while it loads its database) must be tried again within
// about a receive timeout, not after ten of them.
func TestSilentHandshakeIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
			accepted.Add(1)
		}
	}()
	const session = 1500 * time.Millisecond // receive timeout 1 s; uncapped, the handshake waits 10 s
	conn, _, err := zk.Connect([]string{ln.Addr().String()}, session, zk.WithLogger(discard{}), zk.WithDialer(Dialer(session)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for accepted.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling a counter the accept loop raises
	}
	conn.Close()
	ln.Close()
	<-done
	for _, c := range held {
		c.Close()
	}
	if n := accepted.Load(); n < 2 {
		t.Fatalf("the client made %d connection(s) in 8 s to a server that never answers; want a second attempt after about one receive timeout", n)
	}
}
