package transport

import (
	"net"
	"syscall"
)

// peerClosed reports whether the peer has already closed conn (or reset
// it), without consuming anything: a peek that does not wait. It may run
// while another goroutine reads conn: Control does not take the read lock.
func peerClosed(conn net.Conn) bool {
	if cc, ok := conn.(*countingConn); ok {
		conn = cc.Conn
	}
	tlsOn := false
	if tc, ok := conn.(*tlsConn); ok {
		// Peek below the TLS record layer. Our peers close without an
		// alert (tlsConn.Close), so the FIN is what shows the close.
		conn, tlsOn = tc.NetConn(), true
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil:
			// EOF: the peer sent FIN. Over TLS an alert record (type 21)
			// waiting to be read also ends the stream: close_notify or a
			// fatal error.
			closed = n == 0 || (tlsOn && b[0] == 21)
		case err == syscall.EAGAIN, err == syscall.EINTR:
		default:
			closed = true // ECONNRESET and the like
		}
	})
	return closed || err != nil
}
