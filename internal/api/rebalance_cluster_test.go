package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestAutoLeaderRebalance: a node started with the automatic leader
// rebalance on gives leadership back to the preferred replicas of an
// imbalanced broker, and leaves a partition alone whose preferred
// replica is out of sync.
func TestAutoLeaderRebalance(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 1, AutoLeaderRebalance: true,
		LeaderImbalancePercent: 10, LeaderImbalanceCheckInterval: 20 * time.Millisecond})
	c.MustLeader()
	for id := 1; id <= 2; id++ {
		c.Must(t, 1, "POST", "/v1/brokers", map[string]any{"brokerId": id, "brokerHost": "10.0.0.1", "brokerPort": 9090 + id}, 201, "")
	}
	c.Must(t, 1, "POST", "/v1/topics", map[string]any{"name": "r"}, 201, "")
	// Partition 0: broker 1 preferred, in sync, led by 2: moves back.
	// Partition 1: broker 1 preferred but out of sync: stays with 2.
	c.Must(t, 1, "POST", "/v1/topics/r/partitions", map[string]any{"partitionId": 0, "replicas": []int{1, 2}, "leader": 2}, 201, "")
	c.Must(t, 1, "POST", "/v1/topics/r/partitions", map[string]any{"partitionId": 1, "replicas": []int{1, 2}, "ISR": []int{2}}, 201, "")
	leaders := func() string {
		var out []int32
		for p := 0; p < 2; p++ {
			var part struct {
				Leader int32 `json:"leader"`
			}
			if err := c.Must(t, 1, "GET", fmt.Sprintf("/v1/topics/r/partitions/%d", p), nil, 200, "").JSON(&part); err != nil {
				t.Fatal(err)
			}
			out = append(out, part.Leader)
		}
		return fmt.Sprint(out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for leaders() != "[1 2]" {
		if time.Now().After(deadline) {
			t.Fatalf("leaders after 30s of rebalance checks every 20ms: %s, want [1 2]", leaders())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded above
	}
}
