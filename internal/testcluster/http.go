package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"
)

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %q: %w", r.Body, err)
	}
	return nil
}

// ErrorCode is the API error code in the body, "" if none.
func (r *Response) ErrorCode() string {
	var e contract.ErrorBody
	_ = json.Unmarshal(r.Body, &e)
	return string(e.Error.Code)
}

// Do sends method path to node id. body is JSON-encoded unless it is a
// string or []byte, which are sent as is. It is for checking one node's
// raw answer (status, headers, error body) on purpose; API and NodeAPI
// are the way to get things done.
func (c *Cluster) Do(ctx context.Context, id uint64, method, path string, body any) (*Response, error) {
	return Do(ctx, c.Client, c.URL(id), method, path, body)
}

// Do sends one request to base+path.
func Do(ctx context.Context, client *http.Client, base, method, path string, body any) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Must sends method path to node id and fails the test unless the answer
// has the given status and error code ("" for none).
func (c *Cluster) Must(t testing.TB, id uint64, method, path string, body any, status int, code string) *Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, id, method, path, body)
	if err != nil {
		t.Fatalf("%s %s on node %d: %v", method, path, id, err)
	}
	if resp.Status != status || resp.ErrorCode() != code {
		t.Fatalf("%s %s on node %d = %d %s, want %d %s", method, path, id, resp.Status, resp.Body, status, code)
	}
	return resp
}
