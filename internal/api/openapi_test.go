package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/testcluster"
)

// loadOpenAPI parses and validates the served document as OpenAPI 3.
func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid OpenAPI 3: %v", err)
	}
	return doc
}

// operations lists the document's operations as "METHOD /path".
func operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// routed lists the router's patterns as "METHOD /path", in OpenAPI's
// path syntax (a ServeMux "{$}" anchor is the path itself).
func routed() []string {
	var out []string
	for _, p := range api.RoutePatterns() {
		out = append(out, strings.TrimSuffix(p, "{$}"))
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIDescribesEveryRoute: every route the router serves is in the
// document, with its method, and every operation in the document is
// routed.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPI())
	ops, routes := operations(doc), routed()
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q is not described in internal/api/openapi.json", r)
		}
	}
	for _, op := range ops {
		if !slices.Contains(routes, op) {
			t.Errorf("operation %q in internal/api/openapi.json is not routed", op)
		}
	}
	// Every operation documents its errors the API's way.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: no operationId or summary", method, path)
			}
			for code, resp := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' || path == "/readyz" {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s %s: response %s is not the Error schema", method, path, code)
				}
			}
		}
	}
	if n := len(doc.Components.Schemas["ErrorCode"].Value.Enum); n < 20 {
		t.Errorf("ErrorCode lists %d codes", n)
	}
}

// TestOpenAPIServedAndRouted: a node serves the document at
// /v1/openapi.json, and each operation in it reaches a handler on a real
// node: the answer is never the router's NOT_FOUND or METHOD_NOT_ALLOWED.
// Requests are made harmless (ids nobody registered, bodies that are not
// objects), so nothing changes but a snapshot taken.
func TestOpenAPIServedAndRouted(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 1})
	c.MustLeader()
	resp := c.Must(t, 1, http.MethodGet, "/v1/openapi.json", nil, http.StatusOK, "")
	if !bytes.Equal(resp.Body, api.OpenAPI()) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %s, %d bytes; want the embedded document", resp.Header.Get("Content-Type"), len(resp.Body))
	}
	doc := loadOpenAPI(t, resp.Body)
	fill := strings.NewReplacer("{brokerId}", "999999", "{name}", "no-such-topic", "{partitionId}", "999999", "{file}", "app.js", "{nodeId}", "999999")
	client := &http.Client{Timeout: 30 * time.Second}
	for _, op := range operations(doc) {
		method, path, _ := strings.Cut(op, " ")
		url := c.URL(1) + fill.Replace(path)
		var body io.Reader
		if method != http.MethodGet {
			body = strings.NewReader("[]") // not an object: refused before anything runs
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", op, err)
		}
		// An event stream never ends: its headers tell enough.
		head := make([]byte, 512)
		n := 0
		if resp.Header.Get("Content-Type") != "text/event-stream" {
			n, _ = io.ReadFull(resp.Body, head)
		}
		resp.Body.Close()
		cancel()
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(head[:n], &e)
		if resp.StatusCode == http.StatusMethodNotAllowed || e.Error.Code == "NOT_FOUND" {
			t.Errorf("%s (as %s %s): %d %s: not routed", op, method, url, resp.StatusCode, head[:n])
		}
		if _, ok := doc.Paths.Find(path).Operations()[method].Responses.Map()[fmt.Sprint(resp.StatusCode)]; !ok {
			t.Errorf("%s answered %d, which the document does not list", op, resp.StatusCode)
		}
	}
}

// TestOpenAPIMatchesAnswers checks real answers of a node against the
// document's schemas: the description must not drift from what is sent.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPI())
	c := testcluster.New(t, testcluster.Options{Nodes: 1})
	c.MustLeader()
	check := func(method, template, path string, body any, status int) {
		t.Helper()
		code := ""
		if status >= 400 {
			code = map[int]string{400: "INVALID_REQUEST", 409: "TOPIC_ALREADY_EXISTS"}[status]
		}
		checkAnswer(t, doc, c, method, template, path, body, status, code)
	}
	check("POST", "/v1/brokers", "/v1/brokers", map[string]any{"brokerId": 1, "brokerHost": "10.0.0.1", "brokerPort": "9092", "rackId": "r1"}, 201)
	check("POST", "/v1/brokers", "/v1/brokers", map[string]any{"brokerId": 2, "brokerHost": "10.0.0.2", "brokerPort": 9092}, 201)
	check("GET", "/v1/brokers", "/v1/brokers?status=all&limit=1", nil, 200)
	check("GET", "/v1/brokers/{brokerId}", "/v1/brokers/1", nil, 200)
	check("PATCH", "/v1/brokers/{brokerId}", "/v1/brokers/2", map[string]any{"brokerHost": "10.0.0.3"}, 200)
	check("POST", "/v1/topics", "/v1/topics", map[string]any{"name": "orders", "partitions": 2, "replicationFactor": 2}, 201)
	check("POST", "/v1/topics", "/v1/topics", map[string]any{"name": "orders"}, 409)
	check("GET", "/v1/topics", "/v1/topics?limit=1", nil, 200)
	check("GET", "/v1/topics/{name}", "/v1/topics/orders", nil, 200)
	check("GET", "/v1/topics/{name}/partitions/{partitionId}", "/v1/topics/orders/partitions/0", nil, 200)
	check("POST", "/v1/topics/{name}/partitions", "/v1/topics/orders/partitions", map[string]any{"replicas": []int{1, 2}}, 201)
	check("POST", "/v1/producer-ids", "/v1/producer-ids", map[string]any{"brokerId": 1}, 201)
	check("POST", "/v1/brokers/{brokerId}/shutdown", "/v1/brokers/2/shutdown", nil, 200)
	check("GET", "/v1/metadata", "/v1/metadata", nil, 200)
	check("GET", "/v1/metadata", "/v1/metadata?offset=1", nil, 200)
	check("POST", "/v1/metadata/fetch", "/v1/metadata/fetch", map[string]any{"brokerId": 1}, 200)
	check("GET", "/v1/log", "/v1/log?fromOffset=1&limit=100", nil, 200)
	check("GET", "/v1/quorum", "/v1/quorum", nil, 200)
	check("POST", "/v1/snapshots", "/v1/snapshots", nil, 201)
	check("GET", "/v1/snapshots", "/v1/snapshots", nil, 200)
	check("DELETE", "/v1/topics/{name}", "/v1/topics/orders", nil, 200)
	check("DELETE", "/v1/brokers/{brokerId}", "/v1/brokers/1", nil, 200)
	check("GET", "/healthz", "/healthz", nil, 200)
	check("GET", "/readyz", "/readyz", nil, 200)
	check("GET", "/v1/topics", "/v1/topics?limit=0", nil, 400)
	check("GET", "/ui/api/topics", "/ui/api/topics", nil, 200)
	check("GET", "/ui/api/brokers", "/ui/api/brokers", nil, 200)
	check("GET", "/v1/node", "/v1/node", nil, 200)
	check("POST", "/v1/quorum/voters", "/v1/quorum/voters", map[string]any{"nodeId": 0}, 400)
	check("DELETE", "/v1/quorum/members/{nodeId}", "/v1/quorum/members/0", nil, 400)
}

// TestOpenAPIMatchesMembershipAnswers checks the quorum membership
// answers against the document. Needs the membership core.
func TestOpenAPIMatchesMembershipAnswers(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPI())
	c := testcluster.New(t, testcluster.Options{Nodes: 1})
	c.MustLeader()
	dir := storage.NewDirectoryID().String()
	obs := map[string]any{"nodeId": 2, "directoryId": dir, "peerAddress": testcluster.ReserveAddr(t)}
	checkAnswer(t, doc, c, "POST", "/v1/quorum/observers", "/v1/quorum/observers", obs, 200, "")
	checkAnswer(t, doc, c, "GET", "/v1/quorum", "/v1/quorum", nil, 200, "")
	checkAnswer(t, doc, c, "POST", "/v1/quorum/voters", "/v1/quorum/voters", map[string]any{"nodeId": 2}, 409, "NOT_CAUGHT_UP")
	checkAnswer(t, doc, c, "POST", "/v1/quorum/voters", "/v1/quorum/voters", map[string]any{"nodeId": 3}, 404, "MEMBER_NOT_FOUND")
	checkAnswer(t, doc, c, "DELETE", "/v1/quorum/members/{nodeId}", "/v1/quorum/members/2?directoryId="+dir, nil, 200, "")
	checkAnswer(t, doc, c, "DELETE", "/v1/quorum/members/{nodeId}", "/v1/quorum/members/1", nil, 409, "LAST_VOTER")
	checkAnswer(t, doc, c, "POST", "/v1/quorum/leader", "/v1/quorum/leader", map[string]any{"nodeId": 7}, 404, "MEMBER_NOT_FOUND")
}

// checkAnswer sends method path to node 1 of c, wants status and code,
// and checks the answer against the document's schema for template.
func checkAnswer(t *testing.T, doc *openapi3.T, c *testcluster.Cluster, method, template, path string, body any, status int, code string) {
	t.Helper()
	resp := c.Must(t, 1, method, path, body, status, code)
	item := doc.Paths.Find(template)
	if item == nil || item.Operations()[method] == nil {
		t.Fatalf("%s %s is not in the document", method, template)
	}
	ref := item.Operations()[method].Responses.Status(status)
	if ref == nil {
		t.Fatalf("%s %s: status %d is not in the document", method, template, status)
	}
	mt := ref.Value.Content.Get("application/json")
	if mt == nil {
		t.Fatalf("%s %s %d: no JSON schema", method, template, status)
	}
	var v any
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if err := mt.Schema.Value.VisitJSON(v); err != nil {
		t.Errorf("%s %s answered %s\nwhich does not match the document: %v", method, path, resp.Body, err)
	}
}
