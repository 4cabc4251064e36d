package api

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/yakt/yakt/contract"
)

// Retry-After (seconds) of a refused long poll and of a connection
// beyond the limit.
const (
	longPollRetryAfter   = "1"
	connLimitRetryAfter  = "1"
	overConnectionsLimit = 2 // beyond this many times the limit, connections are closed unread
)

// holdLongPoll takes a long-poll slot for a request about to wait for new
// records, or answers 429 TOO_MANY_LONG_POLLS with Retry-After and
// reports false. The caller calls release when it stops waiting.
func (s *Server) holdLongPoll(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	select {
	case s.longPolls <- struct{}{}:
		return func() { <-s.longPolls }, true
	default:
		w.Header().Set("Retry-After", longPollRetryAfter)
		s.writeError(w, r, contract.Errorf(contract.CodeTooManyLongPolls,
			"this node already holds %d long polls; retry in a moment, poll without maxWaitMs, or ask another node", cap(s.longPolls)))
		return nil, false
	}
}

// limitLongPolls runs next, a handler that waits for new records for as
// long as it runs (a dashboard event stream), in a long-poll slot.
func (s *Server) limitLongPolls(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := s.holdLongPoll(w, r)
		if !ok {
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

type connCtxKey struct{}

// LimitListener bounds the connections of l that are open at once to
// max, in a way that answers rather than stalls: a connection beyond max
// is still accepted, and its first request is answered 503
// CONNECTION_LIMIT with Retry-After and Connection: close by the Server's
// handler (which needs ConnContext as the http.Server's ConnContext), so
// a client learns why, even over TLS. Beyond overConnectionsLimit times
// max a connection is closed at once, unread: a flood must not cost a
// handshake each. With TLS wrap the result (tls.NewListener(LimitListener(l, n), conf)),
// so that net/http still sees *tls.Conn. max <= 0: no bound.
func LimitListener(l net.Listener, max int) net.Listener {
	if max <= 0 {
		return l
	}
	return &limitListener{Listener: l, max: int64(max)}
}

type limitListener struct {
	net.Listener
	max  int64
	open atomic.Int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.open.Add(1)
		lc := &limitedConn{Conn: c, l: l, over: n > l.max}
		if n > overConnectionsLimit*l.max {
			lc.Close()
			continue
		}
		return lc, nil
	}
}

// limitedConn is a connection LimitListener counts until it is closed.
type limitedConn struct {
	net.Conn
	l    *limitListener
	over bool // accepted beyond the limit: refuse its first request
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// ConnContext is the http.Server's ConnContext for a listener from
// LimitListener: it marks the requests of a connection accepted beyond
// the limit, which the Server's handler then refuses.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitedConn); ok && lc.over {
		return context.WithValue(ctx, connCtxKey{}, true)
	}
	return ctx
}

// limitConnections answers a request on a connection accepted beyond the
// listener's limit with 503 CONNECTION_LIMIT and closes the connection.
func (s *Server) limitConnections(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if over, _ := r.Context().Value(connCtxKey{}).(bool); over {
			h := w.Header()
			h.Set("Retry-After", connLimitRetryAfter)
			h.Set("Connection", "close")
			s.writeError(w, r, contract.Errorf(contract.CodeConnectionLimit,
				"this node holds as many connections as it is configured to; retry in a moment or ask another node"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
