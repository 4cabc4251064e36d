// Package scalebench drives a YAKt cluster through its HTTP API at scale:
// it registers brokers, fills topics, runs small writes, heartbeats as
// brokers and watches the quorum. `yakt bench scale` and the scale tests
// of internal/testcluster share it, so the CI test exercises the same load
// the benchmark measures.
package scalebench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// NewClient is an HTTP client for load: kept-alive connections, enough of
// them per node for conns concurrent requests, and no transparent gzip
// (a caller that asks for gzip sees the bytes on the wire).
func NewClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr}
}

// APIError is a non-2xx answer.
type APIError struct {
	Method, URL string
	Status      int
	Code        string
	Body        string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s %s", e.Method, e.URL, e.Status, e.Code, e.Body)
}

// Do sends one JSON request and decodes a 2xx answer into out (if not
// nil). Any other status is an *APIError.
func Do(ctx context.Context, c *http.Client, method, url string, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return resp.Header, &APIError{Method: method, URL: url, Status: resp.StatusCode, Code: e.Error.Code, Body: string(data)}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		return resp.Header, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	return resp.Header, nil
}

// Quorum is the part of GET /v1/quorum the load needs.
type Quorum struct {
	NodeID        uint64         `json:"nodeId"`
	Stale         bool           `json:"stale"`
	LeaderID      int64          `json:"leaderId"`
	LeaderEpoch   uint64         `json:"leaderEpoch"`
	HighWatermark int64          `json:"highWatermark"`
	Voters        []QuorumMember `json:"voters"`
	Observers     []QuorumMember `json:"observers"`
}

// QuorumMember is a voter or observer in a Quorum.
type QuorumMember struct {
	NodeID      uint64 `json:"nodeId"`
	DirectoryID string `json:"directoryId"`
	HTTPAddress string `json:"httpAddress"`
}

// GetQuorum asks base for the quorum (the leader's view, relayed).
func GetQuorum(ctx context.Context, c *http.Client, base string) (Quorum, error) {
	var q Quorum
	_, err := Do(ctx, c, http.MethodGet, base+"/v1/quorum", nil, &q)
	return q, err
}

// FindLeader asks every node in turn until one names a live leader, and
// returns its id and term.
func FindLeader(ctx context.Context, c *http.Client, urls []string) (leader uint64, term uint64, err error) {
	for {
		for _, u := range urls {
			qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			q, qerr := GetQuorum(qctx, c, u)
			cancel()
			if qerr == nil && !q.Stale && q.LeaderID > 0 {
				return uint64(q.LeaderID), q.LeaderEpoch, nil
			}
			err = qerr
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("no leader known: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitReady waits until base answers GET /readyz with 200.
func WaitReady(ctx context.Context, c *http.Client, base string) error {
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := Do(rctx, c, http.MethodGet, base+"/readyz", nil, nil)
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %v)", base, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Snapshot is an entry of GET /v1/snapshots.
type Snapshot struct {
	Offset    int64  `json:"offset"`
	Term      uint64 `json:"term"`
	SizeBytes int64  `json:"sizeBytes"`
	CreatedAt string `json:"createdAt"`
}

// TakeSnapshot sends POST /v1/snapshots to base and times it.
func TakeSnapshot(ctx context.Context, c *http.Client, base string) (Snapshot, time.Duration, error) {
	var s Snapshot
	start := time.Now()
	_, err := Do(ctx, c, http.MethodPost, base+"/v1/snapshots", nil, &s)
	return s, time.Since(start), err
}

// LatestSnapshot is the newest entry of base's GET /v1/snapshots.
func LatestSnapshot(ctx context.Context, c *http.Client, base string) (Snapshot, error) {
	var list []Snapshot
	if _, err := Do(ctx, c, http.MethodGet, base+"/v1/snapshots", nil, &list); err != nil {
		return Snapshot{}, err
	}
	if len(list) == 0 {
		return Snapshot{}, fmt.Errorf("%s has no snapshot", base)
	}
	return list[0], nil
}
