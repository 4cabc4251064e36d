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

// TestDepartureBeyondOneBatch shuts down a broker in sync for 12,000
// partitions, more than one record batch may change
// (controller.MaxPartitionsPerRequest): the request is not refused, its
// first batch moves every leadership with the registration change, and
// follow-up batches, committed before the answer, take it out of every
// remaining ISR.
func TestDepartureBeyondOneBatch(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	for id := 1; id <= 2; id++ {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "h", "brokerPort": 9092}, http.StatusCreated, "")
	}
	for _, name := range []string{"a", "b"} {
		c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": name, "partitions": 6000, "replicationFactor": 2}, http.StatusCreated, "")
	}
	before := c.Server(lead).Node.AppliedIndex()
	var out struct {
		PartitionsMoved int `json:"partitionsMoved"`
	}
	if err := c.Must(t, lead, http.MethodPost, "/v1/brokers/2/shutdown", nil, http.StatusOK, "").JSON(&out); err != nil || out.PartitionsMoved != 6000 {
		t.Fatalf("shutdown moved %d partitions (%v), want the 6000 broker 2 led", out.PartitionsMoved, err)
	}
	if batches := c.Server(lead).Node.AppliedIndex() - before; batches < 2 {
		t.Fatalf("the shutdown committed %d entries, want at least 2 batches", batches)
	}
	for _, name := range []string{"a", "b"} {
		var d struct {
			Partitions []struct {
				Leader int32   `json:"leader"`
				ISR    []int32 `json:"ISR"`
			} `json:"partitions"`
		}
		if err := c.Must(t, followers(c, lead)[0], http.MethodGet, "/v1/topics/"+name, nil, http.StatusOK, "").JSON(&d); err != nil {
			t.Fatal(err)
		}
		for i, p := range d.Partitions {
			if p.Leader != 1 || !slices.Equal(p.ISR, []int32{1}) {
				t.Fatalf("%s/%d after broker 2's shutdown: leader %d, ISR %v; want 1, [1]", name, i, p.Leader, p.ISR)
			}
		}
	}
}
