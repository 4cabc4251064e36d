package testcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestBadInputIsRefusedAndChangesNothing sends every kind of bad input
// docs/api.md promises to refuse, through a follower and the leader: each gets
// its status and stable code in the JSON error shape, with a message that
// names no Go type, and leaves the metadata exactly as it was.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "10.0.0.1", "brokerPort": 9092}, http.StatusCreated, "")
	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "my.topic", "partitions": 1, "replicationFactor": 1}, http.StatusCreated, "")

	const (
		bad      = http.StatusBadRequest
		notFound = http.StatusNotFound
		conflict = http.StatusConflict
	)
	type row struct {
		name         string
		method, path string
		body         any // string: sent as is
		status       int
		code         string
		wantMsg      string // a substring of the message
		check        func(t *testing.T, r *testcluster.Response)
	}
	allow := func(methods ...string) func(t *testing.T, r *testcluster.Response) {
		return func(t *testing.T, r *testcluster.Response) {
			got := r.Header.Get("Allow")
			for _, m := range methods {
				if !strings.Contains(got, m) {
					t.Fatalf("Allow = %q, want it to list %s", got, m)
				}
			}
		}
	}
	post, get := http.MethodPost, http.MethodGet
	rows := []row{
		// Strict bodies.
		{name: "duplicate key", method: post, path: "/v1/topics", body: `{"name":"a","name":"b"}`, status: bad, code: "INVALID_REQUEST", wantMsg: `duplicate field "name"`},
		{name: "field name in another case", method: post, path: "/v1/topics", body: `{"Name":"x"}`, status: bad, code: "INVALID_REQUEST", wantMsg: `unknown field "Name"`},
		{name: "unknown field", method: post, path: "/v1/topics", body: `{"name":"x","color":"red"}`, status: bad, code: "INVALID_REQUEST", wantMsg: `unknown field "color"`},
		{name: "array body", method: post, path: "/v1/topics", body: `[]`, status: bad, code: "INVALID_REQUEST", wantMsg: "must be a JSON object, got an array"},
		{name: "string body", method: post, path: "/v1/brokers", body: `"x"`, status: bad, code: "INVALID_REQUEST", wantMsg: "must be a JSON object"},
		{name: "number body", method: post, path: "/v1/producer-ids", body: `1`, status: bad, code: "INVALID_REQUEST", wantMsg: "must be a JSON object"},
		{name: "null body", method: post, path: "/v1/topics", body: `null`, status: bad, code: "INVALID_REQUEST", wantMsg: "must be a JSON object, got null"},
		{name: "empty body", method: post, path: "/v1/topics", body: ``, status: bad, code: "INVALID_REQUEST", wantMsg: "empty"},
		{name: "trailing data", method: post, path: "/v1/topics", body: `{"name":"x"} {"name":"y"}`, status: bad, code: "INVALID_REQUEST", wantMsg: "after the JSON object"},
		{name: "wrong type", method: post, path: "/v1/topics", body: `{"name":"x","partitions":"3"}`, status: bad, code: "INVALID_REQUEST", wantMsg: `field "partitions" must be an integer`},
		{name: "body over 1 MiB", method: post, path: "/v1/topics", body: `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, status: http.StatusRequestEntityTooLarge, code: "PAYLOAD_TOO_LARGE"},

		// Kafka's topic rules.
		{name: "non-ASCII topic name quoted as a character", method: post, path: "/v1/topics", body: `{"name":"naïve"}`, status: bad, code: "INVALID_TOPIC_NAME", wantMsg: "'ï'"},
		{name: "topic colliding by '.' and '_'", method: post, path: "/v1/topics", body: `{"name":"my_topic"}`, status: bad, code: "INVALID_TOPIC_NAME", wantMsg: `collides with the existing topic "my.topic"`},
		{name: "existing topic", method: post, path: "/v1/topics", body: `{"name":"my.topic"}`, status: conflict, code: "TOPIC_ALREADY_EXISTS"},
		{name: "reserved internal topic", method: post, path: "/v1/topics", body: `{"name":"__consumer_offsets"}`, status: bad, code: "INVALID_TOPIC_NAME", wantMsg: "reserved"},
		{name: "topic named ..", method: post, path: "/v1/topics", body: `{"name":".."}`, status: bad, code: "INVALID_TOPIC_NAME"},
		{name: "topic name of 250 characters", method: post, path: "/v1/topics", body: `{"name":"` + strings.Repeat("t", 250) + `"}`, status: bad, code: "INVALID_TOPIC_NAME"},

		// String fields.
		{name: "rackId of 5,000 characters", method: post, path: "/v1/brokers",
			body: `{"brokerId":2,"brokerHost":"h","brokerPort":9092,"rackId":"` + strings.Repeat("r", 5000) + `"}`, status: bad, code: "INVALID_REQUEST", wantMsg: "rackId is 5000 characters long"},
		{name: "rackId with a control character", method: post, path: "/v1/brokers",
			body: `{"brokerId":2,"brokerHost":"h","brokerPort":9092,"rackId":"r\u0007"}`, status: bad, code: "INVALID_REQUEST", wantMsg: "rackId"},
		{name: "brokerHost with spaces, slashes and markup", method: post, path: "/v1/brokers",
			body: `{"brokerId":2,"brokerHost":"h h / <script>","brokerPort":9092}`, status: bad, code: "INVALID_REQUEST", wantMsg: "brokerHost must be a host name or an IP address"},
		{name: "PATCH brokerHost with markup", method: http.MethodPatch, path: "/v1/brokers/1", body: `{"brokerHost":"<b>"}`, status: bad, code: "INVALID_REQUEST", wantMsg: "brokerHost"},
		{name: "brokerHost of 256 bytes", method: post, path: "/v1/brokers",
			body: `{"brokerId":2,"brokerHost":"` + strings.Repeat("a.", 128) + `","brokerPort":9092}`, status: bad, code: "INVALID_REQUEST", wantMsg: "the limit is 255"},
		{name: "unknown securityProtocol", method: post, path: "/v1/brokers",
			body: `{"brokerId":2,"brokerHost":"h","brokerPort":9092,"securityProtocol":"plaintext"}`, status: bad, code: "INVALID_REQUEST", wantMsg: "securityProtocol"},

		// Routes.
		{name: "unknown route", method: get, path: "/v1/nope", status: notFound, code: "NOT_FOUND"},
		{name: "unknown route with a write method", method: post, path: "/v2/topics", body: `{}`, status: notFound, code: "NOT_FOUND"},
		{name: "wrong method on a collection", method: http.MethodPut, path: "/v1/topics", body: `{}`, status: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED", check: allow("GET", "POST")},
		{name: "wrong method on an item", method: post, path: "/v1/brokers/1", body: `{}`, status: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED", check: allow("GET", "PATCH", "DELETE")},

		// Query parameters.
		{name: "stale=yes", method: get, path: "/v1/topics?stale=yes", status: bad, code: "INVALID_REQUEST", wantMsg: "true, false, 1 or 0"},
		{name: "stale empty", method: get, path: "/v1/topics?stale=", status: bad, code: "INVALID_REQUEST", wantMsg: "empty"},
		{name: "stale twice", method: get, path: "/v1/topics?stale=1&stale=0", status: bad, code: "INVALID_REQUEST", wantMsg: "2 times"},
		{name: "stale=yes on quorum", method: get, path: "/v1/quorum?stale=yes", status: bad, code: "INVALID_REQUEST"},
		{name: "unknown query parameter", method: get, path: "/v1/metadata?ofset=1", status: bad, code: "INVALID_REQUEST", wantMsg: `unknown query parameter "ofset"`},
		{name: "query parameter on a write", method: post, path: "/v1/topics?stale=true", body: `{"name":"q"}`, status: bad, code: "INVALID_REQUEST", wantMsg: "takes none"},
		{name: "offset not an integer", method: get, path: "/v1/metadata?offset=abc", status: bad, code: "INVALID_REQUEST", wantMsg: `"offset"`},
		{name: "offset negative", method: get, path: "/v1/metadata?offset=-1", status: bad, code: "INVALID_REQUEST"},
		{name: "offset with a sign", method: get, path: "/v1/metadata?offset=%2B1", status: bad, code: "INVALID_REQUEST"},
		{name: "maxWaitMs over the cap", method: get, path: "/v1/metadata?offset=0&maxWaitMs=60001", status: bad, code: "INVALID_REQUEST", wantMsg: `"maxWaitMs"`},
		{name: "timestamp not RFC 3339", method: get, path: "/v1/metadata?timestamp=yesterday", status: bad, code: "INVALID_REQUEST", wantMsg: "RFC 3339"},
		{name: "status unknown", method: get, path: "/v1/brokers?status=yes", status: bad, code: "INVALID_REQUEST", wantMsg: "status"},
		{name: "status empty", method: get, path: "/v1/brokers?status=", status: bad, code: "INVALID_REQUEST"},
		{name: "fromOffset not an integer", method: get, path: "/v1/log?fromOffset=x", status: bad, code: "INVALID_REQUEST", wantMsg: `"fromOffset"`},
		{name: "limit 0", method: get, path: "/v1/log?limit=0", status: bad, code: "INVALID_REQUEST", wantMsg: `"limit"`},
		{name: "limit over the cap", method: get, path: "/v1/log?limit=10001", status: bad, code: "INVALID_REQUEST"},

		// Fetch offsets past the high watermark.
		{name: "broker fetch past the high watermark", method: post, path: "/v1/metadata/fetch", body: `{"brokerId":1,"offset":999999}`,
			status: conflict, code: "OFFSET_OUT_OF_RANGE", check: wantHighWatermark(c, lead)},
		{name: "client fetch past the high watermark", method: get, path: "/v1/metadata?offset=999999",
			status: conflict, code: "OFFSET_OUT_OF_RANGE", check: wantHighWatermark(c, lead)},
	}
	goTypes := regexp.MustCompile(`int(8|16|32|64)|\[\]|\*|struct|map\[|controller\.|api\.`)
	for _, node := range []uint64{followers(c, lead)[0], lead} {
		for _, tt := range rows {
			t.Run(fmt.Sprintf("node %d/%s", node, tt.name), func(t *testing.T) {
				before := state(t, c, lead)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				resp, err := c.Do(ctx, node, tt.method, tt.path, tt.body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != tt.status || resp.ErrorCode() != tt.code {
					t.Fatalf("%s %s = %d %.300s, want %d %s", tt.method, tt.path, resp.Status, resp.Body, tt.status, tt.code)
				}
				var e struct {
					Error struct{ Message string } `json:"error"`
				}
				if err := json.Unmarshal(resp.Body, &e); err != nil || e.Error.Message == "" {
					t.Fatalf("not the JSON error shape: %.300s", resp.Body)
				}
				if !strings.Contains(e.Error.Message, tt.wantMsg) || goTypes.MatchString(e.Error.Message) {
					t.Fatalf("message %q: want it to mention %q and name no Go type", e.Error.Message, tt.wantMsg)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type %q", ct)
				}
				if off := resp.Header.Get("X-Yakt-Offset"); off != "" {
					t.Fatalf("a refused request carries X-Yakt-Offset %s", off)
				}
				if tt.check != nil {
					tt.check(t, resp)
				}
				if after := state(t, c, lead); !bytes.Equal(before, after) {
					t.Fatalf("the refused request changed the metadata:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	}

	t.Run("an empty diff has records: []", func(t *testing.T) {
		hw := highWatermark(t, c, lead)
		for _, node := range c.IDs() {
			for _, r := range []struct{ method, path, body string }{
				{post, "/v1/metadata/fetch", fmt.Sprintf(`{"brokerId":1,"offset":%d}`, hw)},
				{get, fmt.Sprintf("/v1/metadata?offset=%d&stale=false", hw), ""},
			} {
				var body any
				if r.body != "" {
					body = r.body
				}
				resp := c.Must(t, node, r.method, r.path, body, http.StatusOK, "")
				if !bytes.Contains(resp.Body, []byte(`"records":[]`)) || !bytes.Contains(resp.Body, []byte(`"mode":"diff"`)) {
					t.Fatalf("node %d %s %s: %s, want an empty diff with \"records\":[]", node, r.method, r.path, resp.Body)
				}
			}
		}
	})
}

// state is the cluster's metadata as the leader serves it (a snapshot
// fetch), for before/after comparisons.
func state(t *testing.T, c *testcluster.Cluster, node uint64) []byte {
	t.Helper()
	return c.Must(t, node, http.MethodGet, "/v1/metadata", nil, http.StatusOK, "").Body
}

func highWatermark(t *testing.T, c *testcluster.Cluster, node uint64) int64 {
	t.Helper()
	var s struct {
		HighWatermark int64 `json:"highWatermark"`
	}
	if err := json.Unmarshal(state(t, c, node), &s); err != nil {
		t.Fatal(err)
	}
	return s.HighWatermark
}

// wantHighWatermark checks that an OFFSET_OUT_OF_RANGE answer carries
// the cluster's high watermark beside the error.
func wantHighWatermark(c *testcluster.Cluster, node uint64) func(t *testing.T, r *testcluster.Response) {
	return func(t *testing.T, r *testcluster.Response) {
		var body struct {
			HighWatermark *int64 `json:"highWatermark"`
		}
		if err := r.JSON(&body); err != nil || body.HighWatermark == nil {
			t.Fatalf("no highWatermark in %s (%v)", r.Body, err)
		}
		if want := highWatermark(t, c, node); *body.HighWatermark != want {
			t.Fatalf("highWatermark %d, want %d", *body.HighWatermark, want)
		}
	}
}
