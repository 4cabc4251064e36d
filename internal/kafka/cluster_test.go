package kafka_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/internal/testcluster"
)

// startCluster starts a 3-node cluster with a Kafka listener per node
// and waits for its leader and for every node to know every other's
// Kafka address.
func startCluster(t *testing.T) (*testcluster.Cluster, uint64) {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Kafka: true})
	lead := c.MustLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range c.IDs() {
		for {
			if n := len(c.Server(id).Controller.KafkaNodes()); n == 3 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node %d knows %d Kafka addresses, want 3", id, len(c.Server(id).Controller.KafkaNodes()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return c, lead
}

func follower(c *testcluster.Cluster, lead uint64) uint64 {
	for _, id := range c.IDs() {
		if id != lead {
			return id
		}
	}
	panic("no follower")
}

func TestAPIVersionsAndMetadata(t *testing.T) {
	c, lead := startCluster(t)
	for _, id := range c.IDs() {
		cl := dial(t, c.KafkaAddr(id))
		for v := int16(0); v <= 3; v++ {
			resp := cl.do(kmsg.NewPtrApiVersionsRequest(), v).(*kmsg.ApiVersionsResponse)
			if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
				t.Fatalf("node %d ApiVersions v%d: error %d, %d keys", id, v, resp.ErrorCode, len(resp.ApiKeys))
			}
		}
		for _, v := range []int16{0, 1, 4, 9, 10, 12} {
			resp := cl.do(kmsg.NewPtrMetadataRequest(), v).(*kmsg.MetadataResponse)
			if len(resp.Brokers) != 3 {
				t.Fatalf("node %d Metadata v%d: brokers %+v, want 3", id, v, resp.Brokers)
			}
			for _, b := range resp.Brokers {
				want := c.KafkaAddr(uint64(b.NodeID))
				if got := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))); got != want {
					t.Fatalf("node %d lists broker %d at %s, want %s", id, b.NodeID, got, want)
				}
			}
			if v >= 1 && resp.ControllerID != int32(lead) {
				t.Fatalf("node %d Metadata v%d: controller %d, want leader %d", id, v, resp.ControllerID, lead)
			}
			if v >= 2 && (resp.ClusterID == nil || *resp.ClusterID != "testcluster") {
				t.Fatalf("node %d Metadata v%d: cluster id %v", id, v, resp.ClusterID)
			}
		}
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(fmt.Sprintf("missing-%d", id))
		req.Topics = append(req.Topics, rt)
		resp := cl.do(req, 4).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 3 {
			t.Fatalf("node %d Metadata of a missing topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", id, resp.Topics)
		}
	}
}
