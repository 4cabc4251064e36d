package clienttest

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// BenchmarkFrontDoor compares the Kafka port with the HTTP port on one
// 3-node cluster: a client sends one request at a time to the leader,
// so each figure is a request's full round trip (for CreateTopic: raft
// commit with a quorum's fsyncs; for Metadata: a read barrier) through
// that port's decoding, controller call and encoding.
//
//	CreateTopic/kafka  CreateTopics v5+ with one topic (1 partition, 3 replicas)
//	CreateTopic/http   POST /v1/topics with the same topic
//	Metadata/kafka     Metadata for one 3-partition topic
//	Metadata/http      GET /v1/topics/{name} for the same topic
//
// Each also runs with 16 clients at once (.../parallel16): the Kafka ones
// share kgo's one connection to the leader, the HTTP ones a pool.
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

	// A pool as large as the parallel runs' clients, so none of them
	// waits for a connection or opens one per request.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.Cleanup(hc.CloseIdleConnections)
	base := c.URL(lead)
	// Each returns its error rather than failing b: the parallel runs
	// call them from goroutines of their own.
	createKafka := func() error {
		req := kmsg.NewPtrCreateTopicsRequest()
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = name("kafka"), 1, 3
		req.Topics = append(req.Topics, t)
		req.TimeoutMillis = 10000
		kr, err := node.Request(ctx, req)
		if err != nil {
			return fmt.Errorf("CreateTopics: %w", err)
		}
		if r := kr.(*kmsg.CreateTopicsResponse); len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 {
			return fmt.Errorf("CreateTopics: %+v", r.Topics)
		}
		return nil
	}
	createHTTP := func() error {
		r, err := testcluster.Do(ctx, hc, base, http.MethodPost, "/v1/topics", contract.CreateTopicRequest{Name: name("http"), Partitions: ptr(int32(1)), ReplicationFactor: ptr(int32(3))})
		if err != nil || r.Status != http.StatusCreated {
			return fmt.Errorf("POST /v1/topics: %v %v", err, answer(r))
		}
		return nil
	}
	metadataKafka := func() error {
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = ptr("bench-read")
		req.Topics = append(req.Topics, t)
		kr, err := node.Request(ctx, req)
		if err != nil {
			return fmt.Errorf("Metadata: %w", err)
		}
		if r := kr.(*kmsg.MetadataResponse); len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 3 {
			return fmt.Errorf("Metadata: %+v", r.Topics)
		}
		return nil
	}
	metadataHTTP := func() error {
		r, err := testcluster.Do(ctx, hc, base, http.MethodGet, "/v1/topics/bench-read", nil)
		if err != nil || r.Status != http.StatusOK {
			return fmt.Errorf("GET /v1/topics/bench-read: %v %v", err, answer(r))
		}
		return nil
	}
	for _, bc := range []struct {
		name string
		do   func() error
	}{
		{"CreateTopic/kafka", createKafka},
		{"CreateTopic/http", createHTTP},
		{"Metadata/kafka", metadataKafka},
		{"Metadata/http", metadataHTTP},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.do(); err != nil {
					b.Fatal(err)
				}
			}
			perSecond(b)
		})
		// 16 clients at once: how far each port's answers overlap (raft
		// batches concurrent writes; one Kafka connection pipelines them).
		b.Run(bc.name+"/parallel16", func(b *testing.B) {
			b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.do(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			perSecond(b)
		})
	}
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
