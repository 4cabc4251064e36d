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
			closed = n == 0 // EOF: the peer sent FIN
		case err == syscall.EAGAIN, err == syscall.EINTR:
		default:
			closed = true // ECONNRESET and the like
		}
	})
	return closed || err != nil
}
