package zkformat

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sameJSON fails unless got and want hold the same JSON value: Kafka
// writes its fields from a hash map, so only the values are comparable,
// not the order.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("encoded %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("golden %s is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("encoded\n  %s\nwant (as Kafka writes it)\n  %s", got, want)
	}
}

// wantError fails unless err is a *Error for path whose message has
// every one of parts.
func wantError(t *testing.T, err error, path string, parts ...string) {
	t.Helper()
	var ze *Error
	if !errors.As(err, &ze) {
		t.Fatalf("error %v (%T), want *zkformat.Error", err, err)
	}
	if ze.Path != path {
		t.Errorf("error path %q, want %q (error: %v)", ze.Path, path, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, c := range [][2]string{
		{BrokerPath(7), "/brokers/ids/7"},
		{TopicPath("orders"), "/brokers/topics/orders"},
		{PartitionsPath("orders"), "/brokers/topics/orders/partitions"},
		{PartitionPath("orders", 3), "/brokers/topics/orders/partitions/3"},
		{PartitionStatePath("orders", 3), "/brokers/topics/orders/partitions/3/state"},
		{DeleteTopicPath("orders"), "/admin/delete_topics/orders"},
		{TopicConfigPath("orders"), "/config/topics/orders"},
	} {
		if c[0] != c[1] {
			t.Errorf("path %q, want %q", c[0], c[1])
		}
	}
}

func TestUUIDConversions(t *testing.T) {
	for _, c := range []struct{ kafka, uuid string }{
		{"AAAAAAAAAAAAAAAAAAAAAA", zeroUUID},
		{"AAAAAAAAAAAAAAAAAAAAAQ", "00000000-0000-0000-0000-000000000001"}, // Kafka's metadata topic id
		{"fD755B9bS4qdDipsGz9dcQ", "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71"},
		{"--P5v_8ATz6-Tg0cKzpJWA", "fbe3f9bf-ff00-4f3e-be4e-0d1c2b3a4958"}, // the URL alphabet's - and _
		{"_____________________w", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
	} {
		u, err := UUIDFromKafka(c.kafka)
		if err != nil || u != c.uuid {
			t.Errorf("UUIDFromKafka(%q) = %q, %v; want %q", c.kafka, u, err, c.uuid)
		}
		k, err := UUIDToKafka(c.uuid)
		if err != nil || k != c.kafka {
			t.Errorf("UUIDToKafka(%q) = %q, %v; want %q", c.uuid, k, err, c.kafka)
		}
		k, err = UUIDToKafka(strings.ToUpper(c.uuid))
		if err != nil || k != c.kafka {
			t.Errorf("UUIDToKafka(upper %q) = %q, %v; want %q", c.uuid, k, err, c.kafka)
		}
	}
	// Java's URL decoder takes the padded form as well.
	if u, err := UUIDFromKafka("fD755B9bS4qdDipsGz9dcQ=="); err != nil || u != "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71" {
		t.Errorf("padded id: %q, %v", u, err)
	}
	for _, bad := range []string{"", "fD755B9bS4qdDipsGz9dc", "fD755B9bS4qdDipsGz9dcQA", "fD755B9bS4qdDipsGz9d+Q", "fD755B9bS4qdDipsGz9d/Q",
		"fD755B9bS4qdDipsGz9d=Q", "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71"} {
		if u, err := UUIDFromKafka(bad); err == nil {
			t.Errorf("UUIDFromKafka(%q) = %q, want an error", bad, u)
		}
	}
	for _, bad := range []string{"", "7c3ef9e41f5b4b8a9d0e2a6c1b3f5d71", "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d7", "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d7g",
		"7c3ef9e4_1f5b-4b8a-9d0e-2a6c1b3f5d71", "{7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d7}", "fD755B9bS4qdDipsGz9dcQ"} {
		if k, err := UUIDToKafka(bad); err == nil {
			t.Errorf("UUIDToKafka(%q) = %q, want an error", bad, k)
		}
	}
}
