// Package client is the Go client for YAKt's HTTP API (docs/api.md).
//
// A Client takes every node's base URL, learns which one leads from the
// X-Yakt-Leader / X-Yakt-Node headers of its answers and sends requests
// there first. It retries on 503 (no leader, not ready) and on failures to
// connect, with exponential backoff across nodes, until the context ends.
// A write whose connection broke after it was sent is not retried: it may
// have been applied, and the error wraps ErrUnknownOutcome.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Client.
type Config struct {
	// Endpoints are the nodes' base URLs, e.g. http://127.0.0.1:8001.
	Endpoints []string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the pause between retries
	// (defaults 20 ms and 1 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts caps tries per call (default 20); the context may end it sooner.
	MaxAttempts int
}

// Client talks to a YAKt cluster. Safe for concurrent use.
type Client struct {
	cfg       Config
	mu        sync.Mutex
	byNode    map[string]string // node id -> endpoint, learned from X-Yakt-Node
	leader    string            // leader's node id, from X-Yakt-Leader
	preferred int               // index into Endpoints to try first when the leader is unknown
}

// New returns a Client for the given endpoints.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("client: no endpoints")
	}
	for i, e := range cfg.Endpoints {
		cfg.Endpoints[i] = strings.TrimRight(e, "/")
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			cfg.Endpoints[i] = "http://" + cfg.Endpoints[i]
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
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
	return &Client{cfg: cfg, byNode: map[string]string{}}, nil
}

// ErrUnknownOutcome marks a write whose connection failed after the
// request was sent: it may or may not have been applied.
var ErrUnknownOutcome = errors.New("client: outcome unknown")

// Error is an error answered by the API, with its stable code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("yakt: %s (%d): %s", e.Code, e.Status, e.Message) }

// Is lets errors.Is match on the code: errors.Is(err, client.ErrTopicNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The API's error codes, for errors.Is.
var (
	ErrInvalidRequest             = &Error{Code: "INVALID_REQUEST"}
	ErrInvalidTopicName           = &Error{Code: "INVALID_TOPIC_NAME"}
	ErrInvalidReplicaAssignment   = &Error{Code: "INVALID_REPLICA_ASSIGNMENT"}
	ErrBrokerNotFound             = &Error{Code: "BROKER_NOT_FOUND"}
	ErrTopicNotFound              = &Error{Code: "TOPIC_NOT_FOUND"}
	ErrPartitionNotFound          = &Error{Code: "PARTITION_NOT_FOUND"}
	ErrBrokerAlreadyRegistered    = &Error{Code: "BROKER_ALREADY_REGISTERED"}
	ErrTopicAlreadyExists         = &Error{Code: "TOPIC_ALREADY_EXISTS"}
	ErrPartitionAlreadyExists     = &Error{Code: "PARTITION_ALREADY_EXISTS"}
	ErrBrokerNotActive            = &Error{Code: "BROKER_NOT_ACTIVE"}
	ErrStaleBrokerEpoch           = &Error{Code: "STALE_BROKER_EPOCH"}
	ErrProducerIDAlreadyAllocated = &Error{Code: "PRODUCER_ID_ALREADY_ALLOCATED"}
	ErrStalePartitionEpoch        = &Error{Code: "STALE_PARTITION_EPOCH"}
	ErrNotPartitionLeader         = &Error{Code: "NOT_PARTITION_LEADER"}
	ErrOffsetCompacted            = &Error{Code: "OFFSET_COMPACTED"}
	ErrPayloadTooLarge            = &Error{Code: "PAYLOAD_TOO_LARGE"}
	ErrNoLeader                   = &Error{Code: "NO_LEADER"}
	ErrNotReady                   = &Error{Code: "NOT_READY"}
	ErrTimeout                    = &Error{Code: "TIMEOUT"}
)

// Meta is what every answer says besides its body.
type Meta struct {
	Node   string // X-Yakt-Node: who answered
	Leader string // X-Yakt-Leader
	Offset int64  // X-Yakt-Offset on writes; 0 otherwise
}

// do sends one call, retrying as the package doc says, and decodes a 2xx
// body into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) (Meta, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return Meta{}, fmt.Errorf("client: encode request: %w", err)
		}
	}
	write := method != http.MethodGet
	backoff := c.cfg.MinBackoff
	var lastErr error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			d := backoff/2 + rand.N(backoff/2+1)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return Meta{}, fmt.Errorf("client: %s %s: %w (last error: %v)", method, path, ctx.Err(), lastErr)
			}
			backoff = min(2*backoff, c.cfg.MaxBackoff)
		}
		endpoint := c.pick(attempt)
		meta, retry, err := c.once(ctx, endpoint, method, path, body, out, write)
		if err == nil || !retry {
			return meta, err
		}
		lastErr = err
	}
	return Meta{}, fmt.Errorf("client: %s %s: gave up after %d attempts: %w", method, path, c.cfg.MaxAttempts, lastErr)
}

// pick chooses the endpoint for an attempt: the known leader first, then
// the others in turn.
func (c *Client) pick(attempt int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if attempt == 0 {
		if ep, ok := c.byNode[c.leader]; ok && c.leader != "" {
			return ep
		}
	}
	c.preferred = (c.preferred + min(attempt, 1)) % len(c.cfg.Endpoints)
	return c.cfg.Endpoints[c.preferred]
}

func (c *Client) once(ctx context.Context, endpoint, method, path string, body []byte, out any, write bool) (Meta, bool, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint+path, rd)
	if err != nil {
		return Meta{}, false, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Meta{}, false, fmt.Errorf("client: %s %s: %w", method, path, ctx.Err())
		}
		if write && !isDialError(err) {
			return Meta{}, false, fmt.Errorf("client: %s %s via %s: %w: %v", method, path, endpoint, ErrUnknownOutcome, err)
		}
		return Meta{}, true, fmt.Errorf("client: %s %s via %s: %w", method, path, endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Meta{}, !write, fmt.Errorf("client: read answer from %s: %w", endpoint, err)
	}
	meta := Meta{Node: resp.Header.Get("X-Yakt-Node"), Leader: resp.Header.Get("X-Yakt-Leader")}
	meta.Offset, _ = strconv.ParseInt(resp.Header.Get("X-Yakt-Offset"), 10, 64)
	c.learn(endpoint, meta)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return meta, false, fmt.Errorf("client: decode answer to %s %s: %w", method, path, err)
			}
		}
		return meta, false, nil
	}
	apiErr := &Error{Status: resp.StatusCode}
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
		apiErr.Code, apiErr.Message = eb.Error.Code, eb.Error.Message
	} else {
		apiErr.Code, apiErr.Message = "HTTP_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(data))
	}
	return meta, resp.StatusCode == http.StatusServiceUnavailable, apiErr
}

// learn records which node an endpoint is and who leads.
func (c *Client) learn(endpoint string, m Meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Node != "" && !strings.Contains(endpoint, "?") {
		c.byNode[m.Node] = endpoint
	}
	if m.Leader != "" {
		c.leader = m.Leader
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
