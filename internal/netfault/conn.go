package netfault

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dir is a byte direction on a proxied connection.
type dir int

const (
	up   dir = iota // client (the dialing node) to server (the target)
	down            // server to client
)

// conn is one proxied connection: client accepted from the link's From
// node, server dialed to its To node.
//
// Goroutines: a reader per direction reads its source, applies drop, loss
// and delay, and queues chunks; a writer per direction waits out each
// chunk's delay and writes it. A connection accepted while its link was
// dropped has no server and only the up reader, which discards.
type conn struct {
	n      *Network
	link   *link
	client net.Conn
	server net.Conn // nil if accepted while dropped; set before the conn is registered, then fixed

	queue [2]chan chunk // per dir, bounded (queueChunks); nil without a server
	last  [2]time.Time  // per dir, latest delivery time queued; owned by that dir's reader
	done  chan struct{} // closed by close: readers and writers give up
	once  sync.Once     // guards close
	fins  atomic.Int32  // directions whose EOF was forwarded; at 2 the connection is closed

	// damaged is guarded by n.mu. Use: set when the connection loses
	// anything (bytes, an EOF, its connect) to a drop. Invariant: once set
	// nothing more is forwarded, and it is closed at the next heal of its
	// link (or at Close).
	damaged bool
}

// chunk is one read, to be written at at; eof chunks carry a half-close.
type chunk struct {
	data    []byte
	at      time.Time
	eof     bool
	delayed bool // a delay above zero was drawn for it
}

// serve owns an accepted connection: it dials the target, starts the other
// three goroutines and runs the up reader itself. Its wg slot was taken by
// acceptLoop.
func (n *Network) serve(l *link, client net.Conn) {
	defer n.wg.Done()
	c := &conn{n: n, link: l, client: client, done: make(chan struct{})}

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		client.Close()
		return
	}
	if l.dropped {
		// The SYN is lost with everything else: accept (the dialer sees
		// success, as the proxy's kernel answered), connect nothing,
		// discard what arrives, and leave it for Heal to close.
		c.damaged = true
		l.live[c] = struct{}{}
		n.mu.Unlock()
		c.read(up)
		return
	}
	n.mu.Unlock()

	d := net.Dialer{Timeout: dialTimeout}
	server, err := d.DialContext(n.ctx, "tcp", l.target)
	if err != nil {
		l.dialErrors.Add(1)
		resetConn(client)
		return
	}
	c.server = server
	c.queue[up] = make(chan chunk, queueChunks)
	c.queue[down] = make(chan chunk, queueChunks)

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	l.live[c] = struct{}{}
	n.wg.Add(3)
	n.mu.Unlock()

	go c.write(up)
	go c.write(down)
	go func() {
		defer n.wg.Done()
		c.read(down)
	}()
	c.read(up)
}

func (c *conn) src(d dir) net.Conn {
	if d == up {
		return c.client
	}
	return c.server
}

func (c *conn) dst(d dir) net.Conn {
	if d == up {
		return c.server
	}
	return c.client
}

// lost reports whether the link is dropped or the connection damaged, and
// if so marks it damaged. The caller must then discard what it holds.
// See setDrops for why this check and the mark share one critical section.
func (c *conn) lost() bool {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if c.link.dropped || c.damaged {
		c.damaged = true
		return true
	}
	return false
}

// read pumps src(d) into queue[d] until the source fails or the
// connection closes.
func (c *conn) read(d dir) {
	src := c.src(d)
	buf := make([]byte, chunkBytes)
	for {
		nr, err := src.Read(buf)
		if nr > 0 && !c.forward(d, buf[:nr]) {
			return
		}
		if err == nil {
			continue
		}
		if c.lost() {
			// A blackhole swallows the FIN or RST too; the other side
			// learns at Heal.
			return
		}
		if errors.Is(err, io.EOF) {
			select {
			case c.queue[d] <- chunk{at: c.last[d], eof: true}:
			case <-c.done:
			}
			return
		}
		c.close(true, nil) // reset, or closed under us: pass a reset on
		return
	}
}

// forward applies drop, loss and delay to one chunk read from src(d) and
// queues it. It returns false once the connection is closed.
func (c *conn) forward(d dir, p []byte) bool {
	l := c.link
	c.n.mu.Lock()
	if l.dropped || c.damaged {
		c.damaged = true
		c.n.mu.Unlock()
		l.blackholed.Add(int64(len(p)))
		return true
	}
	if l.loss > 0 && l.rng.Float64() < l.loss {
		c.n.mu.Unlock()
		c.close(true, &l.resets)
		return false
	}
	delay := l.delay
	if l.jitter > 0 {
		delay += time.Duration(l.rng.Int64N(2*int64(l.jitter)+1)) - l.jitter
	}
	c.n.mu.Unlock()

	at := time.Now().Add(max(delay, 0))
	if at.Before(c.last[d]) {
		at = c.last[d] // keep order: never overtake the previous chunk
	}
	c.last[d] = at
	select {
	case c.queue[d] <- chunk{data: bytes.Clone(p), at: at, delayed: delay > 0}:
		return true
	case <-c.done:
		return false
	}
}

// write delivers queue[d] to dst(d), each chunk no earlier than its time.
func (c *conn) write(d dir) {
	defer c.n.wg.Done()
	dst := c.dst(d)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var ch chunk
		select {
		case ch = <-c.queue[d]:
		case <-c.done:
			return
		}
		if wait := time.Until(ch.at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-c.done:
				return
			}
		}
		// NB: checked again at delivery, so a chunk queued before Drop is
		// not delivered after it.
		if c.lost() {
			c.link.blackholed.Add(int64(len(ch.data)))
			continue
		}
		if ch.eof {
			if err := dst.(*net.TCPConn).CloseWrite(); err != nil {
				c.close(true, nil)
				return
			}
			if c.fins.Add(1) == 2 {
				c.close(false, nil)
			}
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			c.close(true, nil)
			return
		}
		c.link.forwarded.Add(int64(len(ch.data)))
		if ch.delayed {
			c.link.delayed.Add(int64(len(ch.data)))
		}
	}
}

// close closes both sides, with a reset (SO_LINGER 0: unsent data is
// discarded and the peer reads ECONNRESET) if reset is set, and stops the
// connection's goroutines. If this call is the one that closes it, it
// first adds one to cause (if not nil), so a test that sees the close also
// sees the count. It must not be called with n.mu held.
func (c *conn) close(reset bool, cause *atomic.Int64) {
	c.once.Do(func() {
		if cause != nil {
			cause.Add(1)
		}
		c.n.mu.Lock()
		delete(c.link.live, c)
		c.n.mu.Unlock()
		close(c.done)
		for _, nc := range []net.Conn{c.client, c.server} {
			if nc == nil {
				continue
			}
			if reset {
				resetConn(nc)
			} else {
				nc.Close()
			}
		}
	})
}

// resetConn closes nc with an RST instead of a FIN.
func resetConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	nc.Close()
}
