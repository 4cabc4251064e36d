package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/transport"
)

const (
	// Pauses between forwarding attempts: short, because the usual wait is
	// for an election that takes one election timeout.
	forwardMinBackoff = 10 * time.Millisecond
	forwardMaxBackoff = 200 * time.Millisecond
	// How often a resendable forward checks whether another node took
	// over the leadership while it waits on the old leader's answer.
	leaderWatchInterval = 50 * time.Millisecond
)

// errLeaderChanged cancels an attempt whose target is no longer the leader.
var errLeaderChanged = errors.New("api: leadership moved while forwarding")

// newForwardClient is an HTTP client followers forward writes with. It
// never shares http.DefaultTransport: its connections are only to
// leaders, and its dial timeout is its own. Deadlines come from each
// request's context, not from the client. keepAlive says whether it keeps
// connections open between requests. tlsConf (Config.NodeTLS), when set,
// is the TLS of its https requests.
func newForwardClient(dialTimeout time.Duration, keepAlive bool, tlsConf *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:     tlsConf,
			TLSHandshakeTimeout: dialTimeout,
			DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}).DialContext,
			DisableKeepAlives:   !keepAlive,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		// A leader's redirect is an answer to relay, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// peerForwarder sends a request to a peer on the peer connection
// (controller.Controller.ForwardRequest); errors wrapping transport.ErrRequestNotRun
// prove it did not run there.
type peerForwarder interface {
	ForwardRequest(ctx context.Context, to uint64, req *transport.Request) (*transport.Response, error)
}

// forwarder relays writes from a follower to the current leader.
type forwarder struct {
	// peers, when set, carries each attempt as a frame on the peer
	// connection to the leader (the peer hop); nil sends it as an HTTP
	// request with pooled or fresh (the HTTP hop). The outcome rules of
	// serve are the same for both.
	peers peerForwarder
	// pooled sends resendable requests over kept-alive connections.
	pooled *http.Client
	// fresh sends every other request over a new connection. A kept-alive
	// connection may have been closed by a leader that died a moment ago,
	// and a request written to it fails exactly as one the leader read
	// before dying: its outcome would be unknown. On a new connection a
	// dead leader is a refused dial, which is safe to retry.
	fresh *http.Client
	self  uint64
	// leader resolves the current leader and its HTTP address (which the
	// peer hop does not need); it is called before every attempt because
	// the leader may change between attempts. ok is false while no leader
	// is known.
	leader func() (id uint64, addr string, ok bool)
	log    *slog.Logger
	// scheme is the HTTP hop's: "https" with Config.NodeTLS.
	scheme string
	// authOn: requests carry their principal (HeaderPrincipal) to the
	// leader, which applies its own roles to it.
	authOn bool
}

// nodeScheme is the URL scheme of this node's requests to other nodes.
func nodeScheme(nodeTLS *tls.Config) string {
	if nodeTLS != nil {
		return "https"
	}
	return "http"
}

// setPrincipal puts r's principal in the headers h of its forward. The
// HTTP hop without a node certificate carries the caller's own
// Authorization instead (copied with the other headers), which the
// leader checks itself; with one, the certificate speaks for the node and
// the caller's token stays here.
func (f *forwarder) setPrincipal(h http.Header, r *http.Request, nodeCert bool) {
	h.Del(HeaderPrincipal)
	if !f.authOn {
		return
	}
	if nodeCert {
		h.Del("Authorization")
	}
	if p := principalOf(r); p.Name != "" && p.Node == 0 {
		h.Set(HeaderPrincipal, p.Name)
	}
}

// forwarded is a leader's complete answer, read before anything is
// relayed so that a connection lost mid-answer can still be retried.
type forwarded struct {
	status int
	header http.Header
	body   []byte
}

// serve forwards r (whose body was read into body) to the leader until it
// answers or ctx ends, and writes the answer to w. local runs the request
// on this node when it has become the leader meanwhile.
//
// The rules, which keep a write from being applied twice by forwarding:
//  1. A request that certainly did not reach the leader (refused or timed
//     out dial, a kept-alive connection the leader had already closed; on
//     the peer hop anything transport.ErrRequestNotRun proves, such as a
//     frame never written or a leader that refused it unrun) is sent
//     again, to whichever node leads by then, after a short pause.
//  2. A request that may have reached the leader is sent again only when
//     resendable: it carries an Idempotency-Key (the leader answers a
//     repeat with the first answer) or is a fetch's heartbeat, which
//     changes nothing but the broker's liveness. Otherwise the answer is 504 TIMEOUT: the
//     write may have taken effect.
//  3. A request that finds no leader known at all is answered 503
//     NO_LEADER at once; one whose leader vanished while it was being
//     forwarded waits for the next leader.
//  4. When ctx ends: 504 TIMEOUT if some attempt may have reached the
//     leader, else 503 NO_LEADER (nothing was applied).
func (f *forwarder) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, resendable bool, local func()) {
	backoff := forwardMinBackoff
	var (
		mayHaveApplied bool // some attempt may have reached a leader
		lastLeader     uint64
		lastErr        error
	)
	for {
		lead, addr, ok := f.leader()
		switch {
		case ok && lead == f.self:
			local()
			return
		case ok:
			lastLeader = lead
			ans, sent, err := f.once(ctx, r, body, lead, addr, resendable)
			if err == nil {
				ans.relay(w, membershipPatterns[r.Pattern])
				return
			}
			lastErr = err
			if sent && !resendable {
				f.log.Warn("forward to leader failed after the request was sent", "leader", lead, "addr", addr, "err", err, "request", requestID(r))
				msg := "connection to leader %d lost after the write was sent; it may have taken effect"
				if ctx.Err() != nil {
					msg = "leader %d did not answer in time; the write may have taken effect"
				}
				writeErr(w, contract.Errorf(contract.CodeTimeout, msg, lead))
				return
			}
			// Retried below: worth a trace, not a warning, as every
			// election makes a few of these.
			f.log.Debug("forward to leader failed; retrying", "leader", lead, "addr", addr, "sent", sent, "err", err, "request", requestID(r))
			mayHaveApplied = mayHaveApplied || sent
		case lastLeader == 0:
			// No leader was known when the request came: a node that
			// knows the quorum is lost says so at once rather than
			// holding the caller until the deadline.
			writeErr(w, contract.Errorf(contract.CodeNoLeader, "no leader is available to take the write; retry"))
			return
		default:
			lastErr = errors.New("no leader known")
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			if r.Context().Err() != nil {
				return // the caller left; no one reads an answer
			}
			f.log.Warn("forward to leader gave up at the request deadline", "leader", lastLeader, "err", lastErr, "request", requestID(r))
			if mayHaveApplied {
				writeErr(w, contract.Errorf(contract.CodeTimeout,
					"leader %d did not answer in time (%v); the write may have taken effect", lastLeader, lastErr))
			} else {
				writeErr(w, contract.Errorf(contract.CodeNoLeader,
					"no leader could take the write in time (%v); nothing was applied, retry", lastErr))
			}
			return
		}
		backoff = min(2*backoff, forwardMaxBackoff)
	}
}

// once sends one attempt to the leader lead at addr. sent reports whether
// the request may have reached the leader, which matters only on error.
func (f *forwarder) once(ctx context.Context, r *http.Request, body []byte, lead uint64, addr string, resendable bool) (ans forwarded, sent bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if resendable {
		// A resendable request need not wait out a leader that stopped
		// answering (a paused or partitioned process): once another node
		// leads, it is sent there.
		stop := make(chan struct{})
		done := make(chan struct{})
		defer func() { close(stop); <-done }()
		go func() {
			defer close(done)
			t := time.NewTicker(leaderWatchInterval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if l, _, ok := f.leader(); ok && l != lead {
						cancel(errLeaderChanged)
						return
					}
				}
			}
		}()
	}
	if f.peers != nil {
		return f.oncePeer(actx, r, body, lead)
	}
	var gotConn atomic.Bool // a connection was had: the request may have gone out
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) }})
	// bytes.Reader sets GetBody, so the transport itself resends the
	// request on a fresh connection when a kept-alive one turns out to be
	// closed before anything was written to it.
	scheme := f.scheme
	if scheme == "" {
		scheme = "http"
	}
	out, err := http.NewRequestWithContext(actx, r.Method, scheme+"://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return forwarded{}, false, fmt.Errorf("build request to leader %d: %w", lead, err)
	}
	copyHeader(out.Header, r.Header)
	out.Host = r.Host
	out.Header.Set(headerForwarded, strconv.FormatUint(f.self, 10))
	out.Header.Set(HeaderRequestID, requestID(r))
	f.setPrincipal(out.Header, r, scheme == "https")
	hc := f.fresh
	if resendable {
		hc = f.pooled
	}
	resp, err := hc.Do(out)
	if err != nil {
		err = attemptErr(actx, err)
		return forwarded{}, gotConn.Load() && !notSent(err), fmt.Errorf("forward to leader %d: %w", lead, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return forwarded{}, true, fmt.Errorf("read answer of leader %d: %w", lead, attemptErr(actx, err))
	}
	return forwarded{status: resp.StatusCode, header: resp.Header, body: data}, true, nil
}

// peerHeaders are the request headers the peer hop carries: what the
// leader's handlers read. X-Request-Id and X-Yakt-Forwarded-By are set
// by the follower.
var peerHeaders = []string{HeaderIdempotencyKey, "Content-Type"}

// oncePeer is once on the peer connection: one frame to the leader, one
// back. sent is false only when the transport proves the request did not
// run there.
func (f *forwarder) oncePeer(ctx context.Context, r *http.Request, body []byte, lead uint64) (ans forwarded, sent bool, err error) {
	h := make(http.Header, len(peerHeaders)+2)
	for _, k := range peerHeaders {
		if vs, ok := r.Header[k]; ok {
			h[k] = vs
		}
	}
	h[headerForwarded] = []string{strconv.FormatUint(f.self, 10)}
	h[HeaderRequestID] = []string{requestID(r)}
	f.setPrincipal(h, r, true)
	resp, err := f.peers.ForwardRequest(ctx, lead, &transport.Request{Method: r.Method, URI: r.URL.RequestURI(), Header: h, Body: body})
	if err != nil {
		return forwarded{}, !errors.Is(err, transport.ErrRequestNotRun),
			fmt.Errorf("forward to leader %d on the peer connection: %w", lead, attemptErr(ctx, err))
	}
	return forwarded{status: resp.Status, header: resp.Header, body: resp.Body}, true, nil
}

// serveForwarded runs a request a follower forwarded on the peer
// connection through this node's whole handler chain, as if it had come
// over HTTP, and returns the recorded answer. ctx carries the follower's
// deadline and ends when it gives up. from, the node the transport got it
// from (which TLS on the peer port authenticates), is its immediate
// principal: it may name the principal it forwards for (HeaderPrincipal).
func (s *Server) serveForwarded(ctx context.Context, from uint64, req *transport.Request) (resp *transport.Response, err error) {
	ctx = context.WithValue(ctx, peerFromKey, from)
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URI, bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("request forwarded by node %d: %w", from, err)
	}
	r.RequestURI = req.URI
	if req.Header != nil {
		r.Header = req.Header
	}
	rec := &captureWriter{header: http.Header{}}
	defer func() {
		// common turns panics into 500s but lets http.ErrAbortHandler
		// through, which over HTTP drops the connection: the follower
		// cannot know the outcome, and neither can it here.
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("handler aborted: %v", p)
		}
	}()
	s.handler.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	h := make(http.Header, len(rec.header))
	for k, vs := range rec.header {
		switch k {
		case HeaderNode, HeaderRequestID, "Content-Length":
			continue // relay drops them: the follower sets its own
		}
		// X-Yakt-Leader travels: relay keeps it only for a membership
		// change, whose leader after the change the follower may not know.
		if !hopByHop[k] {
			h[k] = vs
		}
	}
	return &transport.Response{Status: rec.status, Header: h, Body: rec.body.Bytes()}, nil
}

// attemptErr names why an attempt's context ended, if it did.
func attemptErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}

// relay writes the leader's answer. X-Yakt-Node, X-Yakt-Leader and
// X-Request-Id stay this node's (set by common): X-Yakt-Node names the
// node the client talked to, which is what clients map endpoints by. Every
// other header, X-Yakt-Offset and X-Yakt-Replayed among them, is the
// leader's. With leaderMoved (a membership change, which may move the
// leadership) the leader's X-Yakt-Leader wins too: it names the leader
// after the change, which this node may not know yet.
func (a forwarded) relay(w http.ResponseWriter, leaderMoved bool) {
	h := w.Header()
	for k, vs := range a.header {
		switch k {
		case HeaderLeader:
			if leaderMoved && len(vs) > 0 && vs[0] != "" {
				h.Set(HeaderLeader, vs[0])
			}
			continue
		case HeaderNode, HeaderRequestID, "Content-Length":
			continue
		}
		if hopByHop[k] {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110, 7.6.1); a relay never copies them.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if hopByHop[k] || k == "Content-Length" {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// notSent reports whether a forwarding error proves the request never
// reached the leader: the dial failed (refused, timed out), or the leader
// had closed the kept-alive connection as idle before the request was
// written to it.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	// net/http does not export this error; its text is its contract (it
	// is what the transport returns when the server closed an idle
	// connection before the request went out on it).
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "http: server closed idle connection" {
			return true
		}
	}
	return false
}

// forward runs a write on the leader for a follower: it reads the body
// (at most MaxBodyBytes, so it can be resent) and hands it to the
// forwarder, bounded by the request's deadline.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeError(w, r, contract.Errorf(contract.CodePayloadTooLarge, "request body exceeds %d bytes", MaxBodyBytes))
			return
		}
		s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "read request body: %v", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	s.fwd.serve(ctx, w, r, body, resendable(r), func() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// resendable reports whether a forward of r may be sent again after it
// may have reached the leader: the leader deduplicates a keyed write, and
// a fetch's heartbeat or a read the leader answers (GET /v1/migration)
// applies nothing on the caller's behalf. A membership change never is
// (membershipPatterns).
func resendable(r *http.Request) bool {
	if membershipPatterns[r.Pattern] {
		return false
	}
	return r.Header.Get(HeaderIdempotencyKey) != "" || r.Pattern == heartbeatPattern || r.Pattern == heartbeatBatchPattern ||
		r.Method == http.MethodGet
}

// Close stops serving requests peers forward here (they are refused
// unrun, so the follower sends them elsewhere) and releases the idle
// connections the HTTP hop keeps to the leader.
func (s *Server) Close() {
	s.ctrl.ServeForwarded(nil)
	s.fwd.pooled.CloseIdleConnections()
	s.dash.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeErr answers a coded error; forwarding's errors are all coded.
func writeErr(w http.ResponseWriter, err *contract.Error) {
	writeJSON(w, err.Code.Status(), contract.ErrorBody{Error: contract.ErrorDetail{Code: err.Code, Message: err.Message}})
}
