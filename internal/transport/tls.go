package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// tlsConn is a peer connection over TLS. Its Close closes the TCP
// connection at once, without the close_notify alert tls.Conn would
// write first: Close runs under the transport's lock and on behalf of
// goroutines that must not wait for a peer that stopped reading (the
// alert's write may block for seconds). Every stream is framed, so the
// other side tells a cut stream from a finished one without the alert.
type tlsConn struct{ *tls.Conn }

func (c *tlsConn) Close() error { return c.NetConn().Close() }

// Rate-limit keys (refusalKey.reason) of the TLS refusals; like
// refusalRestartPending they are not on the wire.
const (
	refusalTLSHandshake ack = 254 // the handshake failed (detail: remote host)
	refusalTLSIdentity  ack = 253 // the certificate names another node than the hello
)

// plainRefusal answers a dialer that spoke plain TCP to this TLS port,
// in the plain protocol it speaks, so it logs why instead of an EOF.
const plainRefusal = "this node's peer port requires TLS: configure the peer certificate, key and CA on the dialing node"

// clientTLS runs the dialer's TLS handshake on raw, within timeout,
// accepting only a certificate that names node peer (cfg says how).
func clientTLS(ctx context.Context, raw net.Conn, cfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	if err := raw.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return &tlsConn{tc}, nil
}

// serverTLS runs the acceptor's TLS handshake on raw, under the deadline
// the caller set. A failure is logged (rate-limited per remote host),
// counted, and answered in the plain protocol when the dialer spoke it.
func (t *Transport) serverTLS(raw net.Conn, log *slog.Logger) (*tlsConn, *tls.ConnectionState, bool) {
	tc := tls.Server(raw, t.cfg.TLS.ServerConfig())
	err := tc.HandshakeContext(t.ctx)
	if err == nil {
		st := tc.ConnectionState()
		return &tlsConn{tc}, &st, true
	}
	if t.ctx.Err() != nil {
		return nil, nil, false
	}
	if errors.Is(err, io.EOF) {
		// Closed before saying anything: a port probe or health check, or
		// a dialer that gave up. Nobody was refused.
		log.Debug("peer connection closed before the TLS handshake", "err", err)
		return nil, nil, false
	}
	var rh tls.RecordHeaderError
	plain := errors.As(err, &rh) && rh.Conn != nil
	if plain {
		// Not TLS at all: most likely a node without peer TLS configured,
		// whose plain hello this was. Tell it in words it can read.
		_, _ = rh.Conn.Write(notAdmittedAnswer(plainRefusal)) // closing anyway
	}
	t.refusedTLS.Add(1)
	if t.cfg.OnTLSRefused != nil {
		t.cfg.OnTLSRefused()
	}
	host, _, splitErr := net.SplitHostPort(raw.RemoteAddr().String())
	if splitErr != nil {
		host = raw.RemoteAddr().String()
	}
	level := slog.LevelDebug
	if t.shouldWarnRefusal(0, refusalTLSHandshake, host) {
		level = slog.LevelWarn
	}
	msg := "refused peer connection: TLS handshake failed (no certificate, one of another CA, expired, or naming no node of this cluster?)"
	if plain {
		msg = "refused peer connection: the peer does not speak TLS"
	}
	log.Log(t.ctx, level, msg, "err", err)
	return nil, nil, false
}

// checkIdentity refuses a hello whose node id is not the one the peer's
// verified certificate names: a node with a valid certificate must not
// speak for another.
func (t *Transport) checkIdentity(conn net.Conn, st *tls.ConnectionState, h *hello, log *slog.Logger) bool {
	id, err := t.cfg.TLS.NodeID(st)
	var reason string
	switch {
	case err != nil:
		reason = fmt.Sprintf("certificate names no node: %v", err)
	case id != h.from:
		reason = fmt.Sprintf("certificate names node %d, hello claims node %d", id, h.from)
	default:
		return true
	}
	_, _ = conn.Write(notAdmittedAnswer(reason)) // closing anyway
	t.refusedTLS.Add(1)
	if t.cfg.OnTLSRefused != nil {
		t.cfg.OnTLSRefused()
	}
	level := slog.LevelDebug
	if t.shouldWarnRefusal(h.from, refusalTLSIdentity, reason) {
		level = slog.LevelWarn
	}
	log.Log(t.ctx, level, "refused peer connection: its certificate names another node than it claims",
		"reason", reason, "certificate_node", id, "hello_node", h.from)
	return false
}
