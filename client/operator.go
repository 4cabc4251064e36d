package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/yakt/yakt/contract"
)

// Operator calls. Most calls go to whichever node leads; an operator also
// asks one particular node about itself (is it healthy, which term and
// index has it reached, what does its /metrics say, what is its newest
// snapshot). The methods ending in At make exactly one attempt at the
// endpoint given, one of Endpoints(), and do not retry elsewhere.

// Endpoints returns the client's endpoints as normalised by New (scheme
// added, trailing slash removed), in the order given.
func (c *Client) Endpoints() []string { return append([]string(nil), c.cfg.Endpoints...) }

// PingAt asks endpoint who it is and which leader it knows (GET /healthz):
// Meta.Node and Meta.Leader.
func (c *Client) PingAt(ctx context.Context, endpoint string) (Meta, error) {
	meta, _, err := c.once(ctx, endpoint, call{method: http.MethodGet, path: "/healthz"}, nil, "")
	return meta, err
}

// Readiness is GET /readyz's answer.
type Readiness = contract.Readiness

// ReadyAt asks endpoint whether it is ready (GET /readyz): Status
// contract.Ready when it can serve a linearizable read now. A node that
// answers "not ready" (503) is a Readiness with its Reason and a nil
// error; the error is for a node that gave no such answer.
func (c *Client) ReadyAt(ctx context.Context, endpoint string) (Readiness, Meta, error) {
	status, meta, body, err := c.getAt(ctx, endpoint, "/readyz", 1<<20)
	if err != nil {
		return Readiness{}, meta, err
	}
	var r Readiness
	if status != http.StatusOK && status != http.StatusServiceUnavailable {
		return Readiness{}, meta, fmt.Errorf("client: GET /readyz at %s: HTTP %d: %.200s", endpoint, status, body)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Readiness{}, meta, fmt.Errorf("client: decode GET /readyz at %s: %w", endpoint, err)
	}
	if (status == http.StatusOK) != (r.Status == contract.Ready) {
		return Readiness{}, meta, fmt.Errorf("client: GET /readyz at %s: HTTP %d with status %q", endpoint, status, r.Status)
	}
	return r, meta, nil
}

// QuorumAt returns endpoint's own view of the quorum (GET
// /v1/quorum?stale=true): its term, commit index and log end, whether or
// not it leads.
func (c *Client) QuorumAt(ctx context.Context, endpoint string) (Quorum, Meta, error) {
	var out Quorum
	meta, _, err := c.once(ctx, endpoint, call{method: http.MethodGet, path: "/v1/quorum?stale=true", out: &out}, nil, "")
	return out, meta, err
}

// MetricsAt returns endpoint's GET /metrics, Prometheus's text format.
func (c *Client) MetricsAt(ctx context.Context, endpoint string) ([]byte, error) {
	status, _, body, err := c.getAt(ctx, endpoint, "/metrics", 64<<20)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("client: GET /metrics at %s: HTTP %d: %.200s", endpoint, status, body)
	}
	return body, nil
}

// SnapshotsAt lists endpoint's snapshot files, newest first.
func (c *Client) SnapshotsAt(ctx context.Context, endpoint string) ([]Snapshot, error) {
	var out []Snapshot
	_, _, err := c.once(ctx, endpoint, call{method: http.MethodGet, path: "/v1/snapshots", out: &out}, nil, "")
	return out, err
}

// TakeSnapshotAt makes endpoint take a snapshot of everything it has
// applied (POST /v1/snapshots), which may take up to 2 minutes on a
// large cluster; ctx should allow for that.
func (c *Client) TakeSnapshotAt(ctx context.Context, endpoint string) (Snapshot, error) {
	var out Snapshot
	cl := call{method: http.MethodPost, path: "/v1/snapshots", out: &out, maxWait: 2 * time.Minute}
	_, _, err := c.once(ctx, endpoint, cl, nil, "")
	return out, err
}

// SnapshotDownload is an open GET /v1/snapshots/latest. Close its Body.
type SnapshotDownload struct {
	Body     io.ReadCloser
	Node     uint64 // who sends it
	Offset   uint64 // contract.HeaderSnapshotOffset
	Checksum string // contract.HeaderSnapshotChecksum: "crc32c:%08x" of the whole file
	Size     int64  // bytes to come; -1 if not said
}

// LatestSnapshotAt starts downloading endpoint's newest snapshot file.
// Config.RequestTimeout bounds the wait for the answer to begin; the
// body is then read for as long as ctx allows. A node without a snapshot
// answers 503 NOT_READY.
func (c *Client) LatestSnapshotAt(ctx context.Context, endpoint string) (*SnapshotDownload, error) {
	ctx, cancel := context.WithCancel(ctx)
	started := time.AfterFunc(c.cfg.RequestTimeout, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/v1/snapshots/latest", nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("client: %w", err)
	}
	c.authorize(req)
	resp, err := c.cfg.HTTPClient.Do(req)
	if !started.Stop() && err == nil {
		// The timer fired as the answer came: the body is already cut off.
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("client: GET /v1/snapshots/latest via %s: %w", endpoint, err)
	}
	meta := metaOf(resp.Header)
	c.learn(endpoint, meta)
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, errorOf(resp, data)
	}
	d := &SnapshotDownload{Body: cancelOnClose{resp.Body, cancel}, Node: meta.Node, Checksum: resp.Header.Get(contract.HeaderSnapshotChecksum), Size: resp.ContentLength}
	d.Offset, _ = strconv.ParseUint(resp.Header.Get(contract.HeaderSnapshotOffset), 10, 64)
	return d, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// getAt sends one GET to endpoint and reads up to limit bytes of its
// answer, whatever its status.
func (c *Client) getAt(ctx context.Context, endpoint, path string, limit int64) (int, Meta, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
	if err != nil {
		return 0, Meta{}, nil, fmt.Errorf("client: %w", err)
	}
	c.authorize(req)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, Meta{}, nil, fmt.Errorf("client: GET %s via %s: %w", path, endpoint, err)
	}
	defer resp.Body.Close()
	meta := metaOf(resp.Header)
	c.learn(endpoint, meta)
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, meta, nil, fmt.Errorf("client: read answer to GET %s from %s: %w", path, endpoint, err)
	}
	return resp.StatusCode, meta, data, nil
}

func metaOf(h http.Header) Meta {
	m := Meta{Replayed: h.Get(contract.HeaderReplayed) == "true"}
	m.Node, _ = strconv.ParseUint(h.Get(contract.HeaderNode), 10, 64)
	m.Leader, _ = strconv.ParseUint(h.Get(contract.HeaderLeader), 10, 64)
	m.Offset, _ = strconv.ParseInt(h.Get(contract.HeaderOffset), 10, 64)
	return m
}

// errorOf is the *Error of a non-2xx answer.
func errorOf(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var eb contract.ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	} else {
		e.Code, e.Message = contract.Code("HTTP_"+strconv.Itoa(resp.StatusCode)), string(data)
	}
	return e
}
