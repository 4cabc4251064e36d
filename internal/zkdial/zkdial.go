// Package zkdial connects the ZooKeeper client (github.com/go-zookeeper/zk)
// so that a server which accepts a connection but never answers the
// session handshake is given up on as quickly as a silent established
// connection is. The client waits ten receive timeouts (ten times two
// thirds of the session timeout) for that answer, and a ZooKeeper server
// that is still loading its database after a restart accepts connections
// without answering them: a client can hang there for a minute or more
// while the server is long ready. Capping every I/O deadline at one
// receive timeout makes it try again instead.
package zkdial

import (
	"net"
	"time"

	"github.com/go-zookeeper/zk"
)

// Dialer returns a zk.Dialer (for zk.WithDialer) for sessions of
// sessionTimeout: it dials with the timeout the client asks for, and caps
// the read and write deadlines the client sets on the connection at the
// client's own receive timeout.
func Dialer(sessionTimeout time.Duration) zk.Dialer {
	limit := sessionTimeout * 2 / 3 // the client's receive timeout
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &cappedConn{Conn: c, limit: limit}, nil
	}
}

// cappedConn brings any deadline further than limit ahead in to limit.
type cappedConn struct {
	net.Conn
	limit time.Duration
}

func (c *cappedConn) capped(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	if max := time.Now().Add(c.limit); t.After(max) {
		return max
	}
	return t
}

func (c *cappedConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.capped(t)) }
func (c *cappedConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.capped(t)) }
func (c *cappedConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.capped(t)) }
