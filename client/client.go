// Package client is the Go client for YAKt's HTTP API (docs/api.md).
//
// A Client takes every node's base URL, learns which one leads from the
// X-Yakt-Leader / X-Yakt-Node headers of its answers and sends requests
// there first. Between attempts it backs off exponentially and moves to
// another node.
//
// # Writes
//
// Every write carries an Idempotency-Key: a random one (NewIdempotencyKey)
// unless the context names one (WithIdempotencyKey). The cluster answers a
// repeat of a key with the first answer (Meta.Replayed is then true), so
// the client resends a write with the same key whenever it cannot know
// what became of it — a 504 TIMEOUT, a connection lost after the request
// was sent, an attempt that timed out — and also after a 503 (NO_LEADER,
// NOT_READY) or a failed connection, until an answer settles it or the
// context ends. Give every write a context with a deadline. Config's
// MaxAttempts does not apply to writes.
//
// A write ends with its answer: success, or an *Error that says it was
// not applied. Only when the context ends while some attempt's outcome is
// still unknown does the error wrap ErrUnknownOutcome (besides the
// context's error and the last attempt's error); a 504 TIMEOUT answered
// by the server matches ErrUnknownOutcome too.
//
// # Reads
//
// Reads are retried after a 503, a 429 (TOO_MANY_LONG_POLLS) or a
// connection error, up to MaxAttempts tries or until the context ends,
// never sooner than an answer's Retry-After. A long poll
// (FetchOptions.MaxWait) gets an attempt deadline of
// Config.RequestTimeout plus its wait.
//
// # Security
//
// For https:// endpoints set Config.TLS (TLSFromFiles: the cluster's CA,
// and a client certificate when the cluster knows the client by one);
// Config.Token sends a bearer token instead. A 401 UNAUTHENTICATED or
// 403 FORBIDDEN is final, never retried (ErrUnauthenticated,
// ErrForbidden).
//
// # Types
//
// Requests and answers are package contract's types (the names here are
// aliases of them). Broker ids, partition ids and partition counts are int32 (Kafka's
// types); epochs, offsets and producer ids are int64; the quorum's node
// ids are uint64.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yakt/yakt/contract"
)

// Config configures a Client.
type Config struct {
	// Endpoints are the nodes' base URLs, e.g. http://127.0.0.1:8001 or
	// https://10.0.0.1:8001; a bare host:port is https when TLS is set,
	// else http. New copies the slice.
	Endpoints []string
	// HTTPClient sends the requests. The default has a transport of its
	// own that dials with a 2 s timeout, and no overall timeout: each
	// attempt is bounded by RequestTimeout instead. A client given here
	// should not set Timeout either, or long polls past it fail.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt (default 15 s); a long poll's
	// attempt gets RequestTimeout plus its MaxWait. Keep it above the
	// servers' --request-timeout, so a slow write is answered 504 by the
	// server rather than cut off here.
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the pause between retries
	// (defaults 20 ms and 1 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts caps the tries of a read (default 20); the context may
	// end it sooner. Writes are not capped: they retry until an answer
	// settles them or their context ends.
	MaxAttempts int
	// ListPageSize is how many items Topics and Brokers ask each page of
	// a list for (default 5000; the server takes at most contract.MaxListLimit).
	ListPageSize int
	// TLS is used for https:// endpoints (see TLSFromFiles); ignored when
	// HTTPClient is given (configure its transport instead).
	TLS *tls.Config
	// Token, when set, is sent as "Authorization: Bearer <token>" with
	// every request.
	Token string
}

// TLSFromFiles builds a client TLS configuration: caFile (PEM) verifies
// the servers (empty: the system's roots); certFile and keyFile, both or
// neither, are the client certificate.
func TLSFromFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = roots
	}
	switch {
	case certFile != "" && keyFile != "":
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client: certificate %s and key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case certFile != "" || keyFile != "":
		return nil, errors.New("client: a client certificate needs both its certificate and its key file")
	}
	return cfg, nil
}

// Client talks to a YAKt cluster. Safe for concurrent use.
type Client struct {
	cfg       Config
	mu        sync.Mutex
	byNode    map[uint64]string // node id -> endpoint, learned from X-Yakt-Node
	leader    uint64            // leader's node id, from X-Yakt-Leader; 0 if unknown
	preferred int               // index into Endpoints to try first when the leader is unknown
}

// New returns a Client for the given endpoints.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("client: no endpoints")
	}
	eps := make([]string, len(cfg.Endpoints))
	for i, e := range cfg.Endpoints {
		e = strings.TrimRight(e, "/")
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			if cfg.TLS != nil {
				e = "https://" + e
			} else {
				e = "http://" + e
			}
		}
		eps[i] = e
	}
	cfg.Endpoints = eps
	if cfg.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		if cfg.TLS != nil {
			tr.TLSClientConfig = cfg.TLS.Clone()
		}
		cfg.HTTPClient = &http.Client{Transport: tr}
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 20 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 20
	}
	if cfg.ListPageSize <= 0 {
		cfg.ListPageSize = defaultListPageSize
	}
	return &Client{cfg: cfg, byNode: map[uint64]string{}}, nil
}

// Close releases the client's idle connections. The client stays usable.
func (c *Client) Close() { c.cfg.HTTPClient.CloseIdleConnections() }

// ErrUnknownOutcome marks a write that may or may not have been applied:
// the context ended while an attempt's outcome was unknown (its
// connection broke after the request was sent, or the server answered
// 504 TIMEOUT). A server's 504 TIMEOUT *Error matches it as well.
var ErrUnknownOutcome = errors.New("client: outcome unknown")

// idempotencyKeyHeader is the header the cluster deduplicates writes by.
const idempotencyKeyHeader = contract.HeaderIdempotencyKey

type keyCtx struct{}

// WithIdempotencyKey returns a context whose writes carry key instead of
// a random one, so a write retried across calls — or across processes —
// is applied once: the cluster answers a repeat with the first answer.
// Use one key per write: the same key on a different request is refused
// with IDEMPOTENCY_KEY_REUSED. A key is 1 to contract.MaxIdempotencyKeyLength printable ASCII characters, without leading or trailing spaces.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// NewIdempotencyKey returns a random key: 128 bits from crypto/rand, in hex.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's contract)
	return hex.EncodeToString(b[:])
}

func idempotencyKey(ctx context.Context) (string, error) {
	key, ok := ctx.Value(keyCtx{}).(string)
	if !ok {
		return NewIdempotencyKey(), nil
	}
	if err := contract.ValidateIdempotencyKey(key); err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	if key[0] == ' ' || key[len(key)-1] == ' ' {
		// HTTP drops a header value's outer spaces: the server would see
		// another key.
		return "", fmt.Errorf("client: idempotency key %q: no leading or trailing spaces", key)
	}
	return key, nil
}

// Error is an error answered by the API, with its stable code.
type Error struct {
	Status  int
	Code    contract.Code // "HTTP_<status>" when the answer carried none
	Message string
	// RetryAfter is the answer's Retry-After (whole seconds), 0 if none:
	// the client waits at least this long before its next attempt.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("yakt: %s (%d): %s", e.Code, e.Status, e.Message) }

// Is lets errors.Is match on the code: errors.Is(err, client.ErrTopicNotFound).
// A TIMEOUT also matches ErrUnknownOutcome: the write may still commit.
func (e *Error) Is(target error) bool {
	if target == ErrUnknownOutcome {
		return e.Code == contract.CodeTimeout
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The API's error codes (contract.Code...), for errors.Is.
var (
	ErrInvalidRequest             = &Error{Code: contract.CodeInvalidRequest}
	ErrInvalidTopicName           = &Error{Code: contract.CodeInvalidTopicName}
	ErrInvalidReplicaAssignment   = &Error{Code: contract.CodeInvalidReplicaAssignment}
	ErrBrokerNotFound             = &Error{Code: contract.CodeBrokerNotFound}
	ErrTopicNotFound              = &Error{Code: contract.CodeTopicNotFound}
	ErrPartitionNotFound          = &Error{Code: contract.CodePartitionNotFound}
	ErrNotFound                   = &Error{Code: contract.CodeNotFound}
	ErrMethodNotAllowed           = &Error{Code: contract.CodeMethodNotAllowed}
	ErrOffsetOutOfRange           = &Error{Code: contract.CodeOffsetOutOfRange}
	ErrIdempotencyKeyReused       = &Error{Code: contract.CodeIdempotencyKeyReused}
	ErrBrokerAlreadyRegistered    = &Error{Code: contract.CodeBrokerAlreadyRegistered}
	ErrTopicAlreadyExists         = &Error{Code: contract.CodeTopicAlreadyExists}
	ErrPartitionAlreadyExists     = &Error{Code: contract.CodePartitionAlreadyExists}
	ErrBrokerNotActive            = &Error{Code: contract.CodeBrokerNotActive}
	ErrStaleBrokerEpoch           = &Error{Code: contract.CodeStaleBrokerEpoch}
	ErrProducerIDAlreadyAllocated = &Error{Code: contract.CodeProducerIDAlreadyAllocated}
	ErrStalePartitionEpoch        = &Error{Code: contract.CodeStalePartitionEpoch}
	ErrNotPartitionLeader         = &Error{Code: contract.CodeNotPartitionLeader}
	ErrOffsetCompacted            = &Error{Code: contract.CodeOffsetCompacted}
	ErrPayloadTooLarge            = &Error{Code: contract.CodePayloadTooLarge}
	ErrNoLeader                   = &Error{Code: contract.CodeNoLeader}
	ErrNotReady                   = &Error{Code: contract.CodeNotReady}
	ErrTooManyFullFetches         = &Error{Code: contract.CodeTooManyFullFetches}
	ErrOverloaded                 = &Error{Code: contract.CodeOverloaded}
	ErrTimeout                    = &Error{Code: contract.CodeTimeout}
	ErrUnauthenticated            = &Error{Code: contract.CodeUnauthenticated}
	ErrForbidden                  = &Error{Code: contract.CodeForbidden}
	ErrTooManyLongPolls           = &Error{Code: contract.CodeTooManyLongPolls}
	ErrConnectionLimit            = &Error{Code: contract.CodeConnectionLimit}
)

// Meta is what every answer says besides its body.
type Meta struct {
	Node     uint64 // X-Yakt-Node: who answered
	Leader   uint64 // X-Yakt-Leader; 0 if the node knew none
	Offset   int64  // X-Yakt-Offset on writes; 0 otherwise
	Replayed bool   // X-Yakt-Replayed: the answer to an earlier attempt with the same key
}

// call is one API call.
type call struct {
	method, path string
	in, out      any
	// write: sent with an Idempotency-Key and retried until answered.
	write bool
	// maxWait is a long poll's wait, added to the attempt deadline.
	maxWait time.Duration
	// unkeyed: a write sent without an Idempotency-Key (the server would
	// ignore it).
	unkeyed bool
	// once: a write that must not be resent after it may have been
	// applied; its unknown outcome ends the call (ErrUnknownOutcome).
	once bool
}

// outcome is what an attempt tells the retry loop.
type outcome int

const (
	settled      outcome = iota // an answer (or an error that retrying cannot fix)
	notApplied                  // nothing was applied; retry
	maybeApplied                // the write may have been applied; retry with the same key
)

// do sends a call whose kind follows its method: anything but GET is a
// write.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (Meta, error) {
	return c.run(ctx, call{method: method, path: path, in: in, out: out, write: method != http.MethodGet})
}

// run sends one call, retrying as the package doc says, and decodes a 2xx
// body into cl.out (when non-nil).
func (c *Client) run(ctx context.Context, cl call) (Meta, error) {
	var body []byte
	if cl.in != nil {
		var err error
		if body, err = json.Marshal(cl.in); err != nil {
			return Meta{}, fmt.Errorf("client: encode request: %w", err)
		}
	}
	var key string
	if cl.write && !cl.unkeyed {
		var err error
		if key, err = idempotencyKey(ctx); err != nil {
			return Meta{}, err
		}
	}
	backoff := c.cfg.MinBackoff
	var (
		lastErr  error
		lastEP   string
		unknown  bool // some attempt of this write may have been applied
		attempts int
	)
	for {
		if !cl.write && attempts >= c.cfg.MaxAttempts {
			return Meta{}, fmt.Errorf("client: %s %s: gave up after %d attempts: %w", cl.method, cl.path, attempts, lastErr)
		}
		if attempts > 0 {
			d := backoff/2 + mrand.N(backoff/2+1)
			if apiErr, ok := errors.AsType[*Error](lastErr); ok {
				d = max(d, apiErr.RetryAfter)
			}
			if err := sleep(ctx, d); err != nil {
				return Meta{}, c.giveUp(ctx, cl, unknown, lastErr)
			}
			backoff = min(2*backoff, c.cfg.MaxBackoff)
		}
		attempts++
		endpoint := c.pick(lastEP)
		meta, out, err := c.once(ctx, endpoint, cl, body, key)
		switch out {
		case settled:
			return meta, err
		case maybeApplied:
			unknown = true
			if cl.once {
				return meta, fmt.Errorf("client: %s %s: %w: %w", cl.method, cl.path, ErrUnknownOutcome, err)
			}
		}
		if ctx.Err() == nil || lastErr == nil || out != notApplied {
			// An attempt that only ran out of the call's time says less
			// than the one before it (a refused connection, a 503).
			lastErr = err
		}
		lastEP = endpoint
		if ctx.Err() != nil {
			return Meta{}, c.giveUp(ctx, cl, unknown, lastErr)
		}
	}
}

// giveUp is the error of a call whose context ended before an answer
// settled it.
func (c *Client) giveUp(ctx context.Context, cl call, unknown bool, last error) error {
	if unknown {
		return fmt.Errorf("client: %s %s: %w: %w (last error: %w)", cl.method, cl.path, ErrUnknownOutcome, ctx.Err(), last)
	}
	return fmt.Errorf("client: %s %s: %w (last error: %w)", cl.method, cl.path, ctx.Err(), last)
}

// pick chooses the endpoint for an attempt: the known leader, unless it
// is the endpoint that just failed, else the next endpoint in turn.
func (c *Client) pick(failed string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ep, ok := c.byNode[c.leader]; ok && c.leader != 0 && ep != failed {
		return ep
	}
	if failed != "" {
		c.preferred = (c.preferred + 1) % len(c.cfg.Endpoints)
		if c.cfg.Endpoints[c.preferred] == failed {
			c.preferred = (c.preferred + 1) % len(c.cfg.Endpoints)
		}
	}
	return c.cfg.Endpoints[c.preferred]
}

// once sends one attempt to endpoint and classifies what came of it.
func (c *Client) once(ctx context.Context, endpoint string, cl call, body []byte, key string) (Meta, outcome, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout+cl.maxWait)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, endpoint+cl.path, rd)
	if err != nil {
		return Meta{}, settled, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(idempotencyKeyHeader, key)
	}
	c.authorize(req)
	// Lost after it may have been sent: a write's outcome is unknown; a
	// read is simply asked again.
	lost := notApplied
	if cl.write {
		lost = maybeApplied
	}
	// A request that never got a connection was not sent, whatever its
	// error says: a deadline that ends a slow dial is no outcome unknown.
	var gotConn atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	}))
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
			// The server's certificate is not one the client trusts:
			// nothing was sent, and asking again gets the same answer.
			return Meta{}, settled, fmt.Errorf("client: %s %s via %s: %w", cl.method, cl.path, endpoint, err)
		}
		if isDialError(err) || !gotConn.Load() {
			lost = notApplied
		}
		return Meta{}, lost, fmt.Errorf("client: %s %s via %s: %w", cl.method, cl.path, endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Meta{}, lost, fmt.Errorf("client: read answer to %s %s from %s: %w", cl.method, cl.path, endpoint, err)
	}
	meta := Meta{Replayed: resp.Header.Get(contract.HeaderReplayed) == "true"}
	meta.Node, _ = strconv.ParseUint(resp.Header.Get(contract.HeaderNode), 10, 64)
	meta.Leader, _ = strconv.ParseUint(resp.Header.Get(contract.HeaderLeader), 10, 64)
	meta.Offset, _ = strconv.ParseInt(resp.Header.Get(contract.HeaderOffset), 10, 64)
	c.learn(endpoint, meta)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if cl.out != nil {
			if err := json.Unmarshal(data, cl.out); err != nil {
				return meta, settled, fmt.Errorf("client: decode answer to %s %s: %w", cl.method, cl.path, err)
			}
		}
		return meta, settled, nil
	}
	apiErr := &Error{Status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		apiErr.RetryAfter = time.Duration(secs) * time.Second
	}
	var eb contract.ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
		apiErr.Code, apiErr.Message = eb.Error.Code, eb.Error.Message
	} else {
		apiErr.Code, apiErr.Message = contract.Code("HTTP_"+strconv.Itoa(resp.StatusCode)), strings.TrimSpace(string(data))
	}
	// 401 and 403 are final: the same credential gets the same answer
	// from every node. 429 (too many long polls) and 503 (overloaded, no
	// leader, connection limit) did nothing: retried after Retry-After.
	// ZOOKEEPER_UNAVAILABLE is final too: the leader could not reach
	// ZooKeeper, which no other node of this cluster changes.
	switch {
	case apiErr.Code == contract.CodeZooKeeperUnavailable:
		return meta, settled, apiErr
	case resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusTooManyRequests:
		return meta, notApplied, apiErr
	case resp.StatusCode == http.StatusGatewayTimeout && cl.write:
		return meta, maybeApplied, apiErr
	}
	return meta, settled, apiErr
}

// authorize adds the bearer token, when the client has one, to req.
func (c *Client) authorize(req *http.Request) {
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
}

// learn records which node an endpoint is and who leads.
func (c *Client) learn(endpoint string, m Meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Node != 0 {
		c.byNode[m.Node] = endpoint
	}
	if m.Leader != 0 {
		c.leader = m.Leader
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
