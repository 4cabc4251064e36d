package testcluster_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestControlledShutdownLeavesNoPartitionOffline shuts down a broker that
// leads 1,000 partitions: leadership and ISR membership move to the other
// replicas, none goes offline, and the broker ends FENCED.
func TestControlledShutdownLeavesNoPartitionOffline(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	for id := 1; id <= 3; id++ {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092, "rackId": "r"}, http.StatusCreated, "")
	}
	c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": "big", "partitions": 3000, "replicationFactor": 3}, http.StatusCreated, "")

	type partition struct {
		Leader int32   `json:"leader"`
		ISR    []int32 `json:"ISR"`
	}
	partitions := func() []partition {
		var d struct {
			Partitions []partition `json:"partitions"`
		}
		if err := c.Must(t, lead, http.MethodGet, "/v1/topics/big", nil, http.StatusOK, "").JSON(&d); err != nil {
			t.Fatal(err)
		}
		return d.Partitions
	}
	led := 0
	for _, p := range partitions() {
		if p.Leader == 1 {
			led++
		}
	}
	if led != 1000 {
		t.Fatalf("broker 1 leads %d partitions, want 1000", led)
	}

	f := followers(c, lead)[0]
	var out struct {
		PartitionsMoved int `json:"partitionsMoved"`
	}
	if err := c.Must(t, f, http.MethodPost, "/v1/brokers/1/shutdown", nil, http.StatusOK, "").JSON(&out); err != nil || out.PartitionsMoved != 1000 {
		t.Fatalf("shutdown moved %d partitions (%v), want 1000", out.PartitionsMoved, err)
	}
	for i, p := range partitions() {
		if p.Leader == 1 || p.Leader == -1 {
			t.Fatalf("partition %d led by %d after broker 1's controlled shutdown", i, p.Leader)
		}
		if slices.Contains(p.ISR, 1) {
			t.Fatalf("partition %d keeps broker 1 in its ISR %v", i, p.ISR)
		}
	}
	var b struct {
		BrokerStatus string `json:"brokerStatus"`
	}
	if err := c.Must(t, f, http.MethodGet, "/v1/brokers/1", nil, http.StatusOK, "").JSON(&b); err != nil || b.BrokerStatus != "FENCED" {
		t.Fatalf("broker 1 after shutdown: %+v %v", b, err)
	}
	c.Must(t, f, http.MethodPost, "/v1/brokers/99/shutdown", nil, http.StatusNotFound, "BROKER_NOT_FOUND")
	c.Must(t, f, http.MethodDelete, "/v1/brokers/3", nil, http.StatusOK, "")
	c.Must(t, f, http.MethodPost, "/v1/brokers/3/shutdown", nil, http.StatusConflict, "BROKER_NOT_ACTIVE")
}
