package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
	"github.com/yakt/yakt/internal/ui"
)

// dashboard serves a ui.Handler of node 1 of a one-node cluster (the
// controller and commit stream are real) with small limits.
func dashboard(t *testing.T, maxStreams int, keepAlive time.Duration) (*testcluster.Cluster, *ui.Handler, string) {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Leader(ctx); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	s := c.Server(1)
	h := ui.New(ui.Config{Controller: s.Controller, MaxStreams: maxStreams, KeepAlive: keepAlive})
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close) // before srv.Close: streams end, so Close does not wait on them
	return c, h, srv.URL
}

// sse reads one event stream.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

func openStream(t *testing.T, ctx context.Context, url string, header http.Header) (*sse, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}, resp
}

// next returns the next block (an event or a comment) as its lines.
func (s *sse) next() ([]string, error) {
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines, nil
		}
		lines = append(lines, line)
	}
}

type recordsEvent struct {
	HighWatermark int64 `json:"highWatermark"`
	Count         int   `json:"count"`
	Records       []struct {
		Name   string          `json:"name"`
		Offset int64           `json:"offset"`
		Fields json.RawMessage `json:"fields"`
	} `json:"records"`
}

// untilRecord reads events until a records event holds a record named
// name whose fields contain text; it returns that event's id.
func (s *sse) untilRecord(t *testing.T, name, text string) string {
	t.Helper()
	for {
		block, err := s.next()
		if err != nil {
			t.Fatalf("stream ended before a %s with %q: %v", name, text, err)
		}
		var event, id, data string
		for _, l := range block {
			switch {
			case strings.HasPrefix(l, "event: "):
				event = l[len("event: "):]
			case strings.HasPrefix(l, "id: "):
				id = l[len("id: "):]
			case strings.HasPrefix(l, "data: "):
				data = l[len("data: "):]
			}
		}
		if event != "records" {
			continue
		}
		var ev recordsEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("records event data %q: %v", data, err)
		}
		if fmt.Sprint(ev.HighWatermark) != id || ev.Count < len(ev.Records) || len(ev.Records) == 0 {
			t.Fatalf("records event id %s, data %s", id, data)
		}
		for _, r := range ev.Records {
			if r.Name == name && strings.Contains(string(r.Fields), text) {
				return id
			}
		}
	}
}

func TestEventStream(t *testing.T) {
	c, h, base := dashboard(t, 2, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, _ := openStream(t, ctx, base+"/ui/events", nil)
	if block, err := a.next(); err != nil || len(block) != 1 || block[0] != "retry: 2000" {
		t.Fatalf("first block %q, %v", block, err)
	}
	// Idle: keepalive comments.
	if block, err := a.next(); err != nil || len(block) != 1 || block[0] != ": keepalive" {
		t.Fatalf("idle stream sent %q, %v; want a keepalive comment", block, err)
	}
	c.Must(t, 1, "POST", "/v1/topics", map[string]any{"name": "first"}, http.StatusCreated, "")
	id := a.untilRecord(t, "TopicRecord", `"name":"first"`)

	// A stream resumed from that id sees what came after, not before.
	c.Must(t, 1, "POST", "/v1/topics", map[string]any{"name": "second"}, http.StatusCreated, "")
	b, _ := openStream(t, ctx, base+"/ui/events", http.Header{"Last-Event-Id": {id}})
	if block, err := b.next(); err != nil || block[0] != "retry: 2000" {
		t.Fatalf("first block %q, %v", block, err)
	}
	block, err := b.next()
	if err != nil || !strings.Contains(strings.Join(block, "\n"), `"name":"second"`) || strings.Contains(strings.Join(block, "\n"), `"name":"first"`) {
		t.Fatalf("resumed stream's first event %q, %v: want topic second only", block, err)
	}

	// The bound: a third stream is refused while two are open.
	if _, resp := openStream(t, ctx, base+"/ui/events", nil); resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"OVERLOADED"`) {
			t.Fatalf("third stream's body %s", body)
		}
	}
	// A client that goes frees its slot.
	a.resp.Body.Close()
	var d *sse
	if err := testcluster.WaitFor(ctx, func() bool {
		s, resp := openStream(t, ctx, base+"/ui/events", nil)
		if s == nil {
			resp.Body.Close()
			return false
		}
		d = s
		return true
	}); err != nil {
		t.Fatalf("the slot of a closed stream was not freed: %v", err)
	}

	// Close ends the open streams.
	h.Close()
	for name, s := range map[string]*sse{"resumed": b, "new": d} {
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, s.r)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Errorf("%s stream ended with %v", name, err)
			}
		case <-ctx.Done():
			t.Fatalf("%s stream still open after Close", name)
		}
	}
	if _, resp := openStream(t, ctx, base+"/ui/events", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream after Close: %d, want 503", resp.StatusCode)
	}

	// Bad input is a JSON error, never a stream.
	for _, q := range []string{"?from=-1", "?from=x", "?form=1", "?from=1&from=2"} {
		resp, err := http.Get(base + "/ui/events" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"INVALID_REQUEST"`) {
			t.Errorf("/ui/events%s: %d %s, want 400 INVALID_REQUEST", q, resp.StatusCode, body)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %s: %v", url, body, err)
	}
}

type topicRow struct {
	Name            string `json:"name"`
	Partitions      int    `json:"partitions"`
	UnderReplicated int    `json:"underReplicated"`
	Offline         int    `json:"offline"`
}

type topicPage struct {
	Topics []topicRow `json:"topics"`
	Next   *string    `json:"next"`
}

func TestTablesCountAndPage(t *testing.T) {
	c, _, base := dashboard(t, 0, 0)
	for id := 1; id <= 3; id++ {
		c.Must(t, 1, "POST", "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": fmt.Sprintf("10.0.0.%d", id), "brokerPort": 9092}, http.StatusCreated, "")
	}
	for _, name := range []string{"a", "b", "c"} {
		c.Must(t, 1, "POST", "/v1/topics", map[string]any{"name": name, "partitions": 3, "replicationFactor": 2}, http.StatusCreated, "")
	}
	// b/0 loses a follower from its ISR: under-replicated. Then its
	// leader leaves: b/0 has no one left to lead it, offline.
	var p struct {
		Leader         int32   `json:"leader"`
		PartitionEpoch int64   `json:"partitionEpoch"`
		Replicas       []int32 `json:"replicas"`
	}
	if err := c.Must(t, 1, "GET", "/v1/topics/b/partitions/0", nil, http.StatusOK, "").JSON(&p); err != nil {
		t.Fatal(err)
	}
	c.Must(t, 1, "POST", "/v1/topics/b/partitions/0/isr", map[string]any{"brokerId": p.Leader, "partitionEpoch": p.PartitionEpoch, "ISR": []int32{p.Leader}}, http.StatusOK, "")

	var page topicPage
	getJSON(t, base+"/ui/api/topics?limit=2", &page)
	if len(page.Topics) != 2 || page.Topics[0].Name != "a" || page.Topics[1].Name != "b" || page.Next == nil || *page.Next != "b" {
		t.Fatalf("first page %+v", page)
	}
	if got := page.Topics[1]; got.Partitions != 3 || got.UnderReplicated != 1 || got.Offline != 0 {
		t.Fatalf("topic b: %+v, want 3 partitions, 1 under-replicated", got)
	}
	c.Must(t, 1, "DELETE", fmt.Sprintf("/v1/brokers/%d", p.Leader), nil, http.StatusOK, "")
	page = topicPage{}
	getJSON(t, base+"/ui/api/topics?limit=2&after=a", &page)
	if len(page.Topics) != 2 || page.Topics[0].Name != "b" || page.Next != nil {
		t.Fatalf("second page %+v", page)
	}
	if got := page.Topics[0]; got.Offline != 1 {
		t.Fatalf("topic b after its leader left: %+v, want 1 offline", got)
	}

	var brokers struct {
		LeaderView bool `json:"leaderView"`
		Brokers    []struct {
			BrokerID        int32  `json:"brokerId"`
			Status          string `json:"status"`
			LastHeartbeatMs *int64 `json:"lastHeartbeatMs"`
		} `json:"brokers"`
		Next *int32 `json:"next"`
	}
	getJSON(t, base+"/ui/api/brokers?limit=2", &brokers)
	if !brokers.LeaderView || len(brokers.Brokers) != 2 || brokers.Next == nil || *brokers.Next != 2 {
		t.Fatalf("brokers page %+v", brokers)
	}
	for _, b := range brokers.Brokers {
		if (b.Status == "CLOSED") != (b.LastHeartbeatMs == nil) {
			t.Errorf("broker %d %s: lastHeartbeatMs %v", b.BrokerID, b.Status, b.LastHeartbeatMs)
		}
	}

	for _, q := range []string{"/ui/api/topics?limit=0", "/ui/api/topics?limit=501", "/ui/api/topics?x=1", "/ui/api/brokers?after=-1", "/ui?x=1"} {
		resp, err := http.Get(base + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"INVALID_REQUEST"`) {
			t.Errorf("%s: %d %s, want 400 INVALID_REQUEST", q, resp.StatusCode, body)
		}
	}
	// The page and its files are served, with a policy that allows
	// nothing from elsewhere.
	for _, path := range []string{"/ui", "/ui/", "/ui/static/app.js", "/ui/static/style.css"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if strings.HasPrefix(path, "/ui/static/") {
			continue
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if !strings.Contains(string(body), `<td`) && !strings.Contains(string(body), `id="topics"`) {
			t.Errorf("%s: not the dashboard: %.200s", path, body)
		}
	}
}
