package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/testcluster"
)

// configValue is name's entry in rc ("" and false when not described).
func configValue(rc contract.ResourceConfigs, name string) (contract.ConfigEntry, bool) {
	for _, e := range rc.Configs {
		if e.Name == name {
			return e, true
		}
	}
	return contract.ConfigEntry{}, false
}

func wantConfig(t *testing.T, resp *testcluster.Response, name, value, source string) contract.ResourceConfigs {
	t.Helper()
	var rc contract.ResourceConfigs
	if err := resp.JSON(&rc); err != nil {
		t.Fatal(err)
	}
	e, ok := configValue(rc, name)
	if !ok || e.Value == nil || *e.Value != value || e.Source != source {
		t.Fatalf("%s = %+v (described %v), want %s from %s; answer %s", name, e, ok, value, source, resp.Body)
	}
	return rc
}

// TestConfigsOverHTTP runs every config route on a three-node cluster,
// writes through a follower (forwarded to the leader), and checks the
// answers against the OpenAPI document.
func TestConfigsOverHTTP(t *testing.T) {
	doc := loadOpenAPI(t, api.OpenAPI())
	c := testcluster.New(t, testcluster.Options{Nodes: 3})
	leader := c.MustLeader()
	follower := uint64(1)
	if leader == follower {
		follower = 2
	}
	check := func(method, template, path string, body any, status int, code string) *testcluster.Response {
		t.Helper()
		checkAnswer(t, doc, c, method, template, path, body, status, code)
		return nil
	}

	// Creation carries configs in its batch; a bad one creates nothing.
	c.Must(t, follower, http.MethodPost, "/v1/topics", map[string]any{"name": "bad", "configs": map[string]string{"retention.ms": "a week"}}, 400, "INVALID_CONFIG")
	c.Must(t, follower, http.MethodPost, "/v1/topics", map[string]any{"name": "bad", "configs": map[string]any{"retention.ms": 5}}, 400, "INVALID_REQUEST")
	c.Must(t, leader, http.MethodGet, "/v1/topics/bad", nil, 404, "TOPIC_NOT_FOUND")
	c.Must(t, follower, http.MethodPost, "/v1/topics", map[string]any{"name": "orders", "configs": map[string]string{"retention.ms": "60000"}}, 201, "")

	check("GET", "/v1/topics/{name}/configs", "/v1/topics/orders/configs", nil, 200, "")
	wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs", nil, 200, ""), "retention.ms", "60000", "TOPIC")
	rc := wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs?name=retention.ms&name=cleanup.policy&stale=true", nil, 200, ""),
		"cleanup.policy", "delete", "DEFAULT")
	if len(rc.Configs) != 2 || rc.Resource != (contract.ConfigResource{Type: "topic", Name: "orders"}) {
		t.Fatalf("names filter: %+v", rc)
	}
	c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs?name=retention.msx", nil, 400, "INVALID_CONFIG")
	c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs?name=", nil, 400, "INVALID_REQUEST")
	c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs?stale=true&stale=false", nil, 400, "INVALID_REQUEST")
	c.Must(t, follower, http.MethodGet, "/v1/topics/nope/configs", nil, 404, "TOPIC_NOT_FOUND")

	// Alter through a follower: one atomic batch.
	ops := map[string]any{"ops": []map[string]any{{"name": "min.insync.replicas", "op": "SET", "value": "2"},
		{"name": "cleanup.policy", "op": "APPEND", "value": "compact"}, {"name": "retention.ms", "op": "DELETE"}}}
	resp := c.Must(t, follower, http.MethodPatch, "/v1/topics/orders/configs", ops, 200, "")
	if resp.Header.Get(api.HeaderOffset) == "" {
		t.Error("no offset header on a config change")
	}
	wantConfig(t, resp, "cleanup.policy", "delete,compact", "TOPIC")
	wantConfig(t, resp, "retention.ms", "604800000", "DEFAULT")
	bad := map[string]any{"ops": []map[string]any{{"name": "segment.ms", "op": "SET", "value": "1000"}, {"name": "compression.type", "op": "SET", "value": "brotli"}}}
	resp = c.Must(t, follower, http.MethodPatch, "/v1/topics/orders/configs", bad, 400, "INVALID_CONFIG")
	if !strings.Contains(string(resp.Body), "compression.type") || !strings.Contains(string(resp.Body), "zstd") {
		t.Errorf("the message does not name the key and what it takes: %s", resp.Body)
	}
	wantConfig(t, c.Must(t, leader, http.MethodGet, "/v1/topics/orders/configs?name=segment.ms", nil, 200, ""), "segment.ms", "604800000", "DEFAULT")
	validate := map[string]any{"validateOnly": true, "ops": []map[string]any{{"name": "segment.ms", "op": "SET", "value": "1000"}}}
	wantConfig(t, c.Must(t, follower, http.MethodPatch, "/v1/topics/orders/configs", validate, 200, ""), "segment.ms", "1000", "TOPIC")
	wantConfig(t, c.Must(t, leader, http.MethodGet, "/v1/topics/orders/configs?name=segment.ms", nil, 200, ""), "segment.ms", "604800000", "DEFAULT")
	c.Must(t, follower, http.MethodPatch, "/v1/topics/orders/configs", map[string]any{"ops": []map[string]any{{"name": "x", "op": "PUT"}}}, 400, "INVALID_REQUEST")
	check("PATCH", "/v1/topics/{name}/configs", "/v1/topics/orders/configs", map[string]any{"ops": []map[string]any{{"name": "segment.bytes", "op": "SET", "value": "1048576"}}}, 200, "")
	check("PATCH", "/v1/topics/{name}/configs", "/v1/topics/nope/configs", map[string]any{"ops": []any{}}, 404, "TOPIC_NOT_FOUND")

	// The cluster default: topics and brokers inherit it.
	check("GET", "/v1/cluster/configs", "/v1/cluster/configs", nil, 200, "")
	check("PATCH", "/v1/cluster/configs", "/v1/cluster/configs", map[string]any{"ops": []map[string]any{{"name": "log.retention.hours", "op": "SET", "value": "2"}}}, 200, "")
	wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs", nil, 200, ""), "retention.ms", "7200000", "CLUSTER_DEFAULT")
	wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/cluster/configs?name=log.retention.hours", nil, 200, ""), "log.retention.hours", "2", "CLUSTER_DEFAULT")
	c.Must(t, follower, http.MethodPatch, "/v1/cluster/configs", map[string]any{"ops": []map[string]any{{"name": "retention.ms", "op": "SET", "value": "1"}}}, 400, "INVALID_CONFIG")

	// A broker's own configs; the id need not be registered.
	check("GET", "/v1/brokers/{brokerId}/configs", "/v1/brokers/7/configs", nil, 200, "")
	check("PATCH", "/v1/brokers/{brokerId}/configs", "/v1/brokers/7/configs", map[string]any{"ops": []map[string]any{{"name": "log.retention.hours", "op": "SET", "value": "5"}}}, 200, "")
	wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/brokers/7/configs", nil, 200, ""), "log.retention.hours", "5", "BROKER")
	wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/brokers/8/configs", nil, 200, ""), "log.retention.hours", "2", "CLUSTER_DEFAULT")
	c.Must(t, follower, http.MethodGet, "/v1/brokers/x/configs", nil, 400, "INVALID_REQUEST")

	// The records are in the log and in a full fetch, both as documented.
	check("GET", "/v1/log", "/v1/log?fromOffset=1", nil, 200, "")
	if body := string(c.Must(t, leader, http.MethodGet, "/v1/log?fromOffset=1", nil, 200, "").Body); !strings.Contains(body, `"name":"ConfigRecord"`) {
		t.Errorf("no ConfigRecord in the log: %s", body)
	}
	check("GET", "/v1/metadata", "/v1/metadata", nil, 200, "")
	if body := string(c.Must(t, follower, http.MethodGet, "/v1/metadata", nil, 200, "").Body); !strings.Contains(body, `"configs":[{"resourceType":"broker"`) {
		t.Errorf("no configs in the full fetch: %s", body)
	}

	// Deleting the topic drops its configs.
	c.Must(t, follower, http.MethodDelete, "/v1/topics/orders", nil, 200, "")
	c.Must(t, follower, http.MethodPost, "/v1/topics", map[string]any{"name": "orders"}, 201, "")
	wantConfig(t, c.Must(t, follower, http.MethodGet, "/v1/topics/orders/configs", nil, 200, ""), "min.insync.replicas", "1", "DEFAULT")
}
