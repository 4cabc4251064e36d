package clienttest

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// BenchmarkFrontDoor compares the Kafka port with the HTTP port on one
// 3-node cluster: one client sends one request at a time to the leader,
// so each figure is a request's full round trip (for CreateTopic: raft
// commit with a quorum's fsyncs; for Metadata: a read barrier) through
// that port's decoding, controller call and encoding.
//
//	CreateTopic/kafka  CreateTopics v5+ with one topic (1 partition, 3 replicas)
//	CreateTopic/http   POST /v1/topics with the same topic
//	Metadata/kafka     Metadata for one 3-partition topic
//	Metadata/http      GET /v1/topics/{name} for the same topic
//
// Run: go test -run '^$' -bench FrontDoor -benchtime 2s ./internal/kafka/clienttest/
func BenchmarkFrontDoor(b *testing.B) {
	c := startCluster(b)
	lead := c.MustLeader()
	cl, _ := kafkaClient(b, c, lead)
	node := cl.Broker(int(lead))
	ctx := context.Background()
	if _, _, err := c.API().CreateTopic(ctx, contract.CreateTopicRequest{Name: "bench-read", Partitions: ptr(int32(3)), ReplicationFactor: ptr(int32(3))}); err != nil {
		b.Fatalf("create bench-read: %v", err)
	}
	var n atomic.Int64 // topic names stay unique over every run of b.N
	name := func(port string) string { return "bench-" + port + "-" + strconv.FormatInt(n.Add(1), 10) }

	b.Run("CreateTopic/kafka", func(b *testing.B) {
		for b.Loop() {
			req := kmsg.NewPtrCreateTopicsRequest()
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic, t.NumPartitions, t.ReplicationFactor = name("kafka"), 1, 3
			req.Topics = append(req.Topics, t)
			req.TimeoutMillis = 10000
			kr, err := node.Request(ctx, req)
			if err != nil {
				b.Fatalf("CreateTopics: %v", err)
			}
			if r := kr.(*kmsg.CreateTopicsResponse); len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 {
				b.Fatalf("CreateTopics: %+v", r.Topics)
			}
		}
		perSecond(b)
	})
	b.Run("CreateTopic/http", func(b *testing.B) {
		for b.Loop() {
			r, err := c.Do(ctx, lead, http.MethodPost, "/v1/topics", contract.CreateTopicRequest{Name: name("http"), Partitions: ptr(int32(1)), ReplicationFactor: ptr(int32(3))})
			if err != nil || r.Status != http.StatusCreated {
				b.Fatalf("POST /v1/topics: %v %v", err, answer(r))
			}
		}
		perSecond(b)
	})
	b.Run("Metadata/kafka", func(b *testing.B) {
		benchMetadataKafka(b, ctx, node)
	})
	b.Run("Metadata/http", func(b *testing.B) {
		for b.Loop() {
			r, err := c.Do(ctx, lead, http.MethodGet, "/v1/topics/bench-read", nil)
			if err != nil || r.Status != http.StatusOK {
				b.Fatalf("GET /v1/topics/bench-read: %v %v", err, answer(r))
			}
		}
		perSecond(b)
	})
}

func benchMetadataKafka(b *testing.B, ctx context.Context, node *kgo.Broker) {
	for b.Loop() {
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = ptr("bench-read")
		req.Topics = append(req.Topics, t)
		kr, err := node.Request(ctx, req)
		if err != nil {
			b.Fatalf("Metadata: %v", err)
		}
		if r := kr.(*kmsg.MetadataResponse); len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 3 {
			b.Fatalf("Metadata: %+v", r.Topics)
		}
	}
	perSecond(b)
}

func perSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func answer(r *testcluster.Response) string {
	if r == nil {
		return "no answer"
	}
	return strconv.Itoa(r.Status) + " " + string(r.Body)
}
