package kafka_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkKafkaVsHTTP compares one client's sequential requests through
// the Kafka port and through the HTTP port of the same 3-node cluster:
// creating a topic (on the leader) and reading one topic's metadata (on
// a follower, after a read barrier either way). Each op is one request.
//
//	go test -run XXX -bench KafkaVsHTTP ./internal/kafka/
func BenchmarkKafkaVsHTTP(b *testing.B) {
	c, lead := startClusterTB(b)
	fol := follower(c, lead)
	hc := &http.Client{}
	b.Cleanup(hc.CloseIdleConnections)
	httpDo := func(b *testing.B, method, url, body string, want int) {
		req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
		}
	}
	b.Run("CreateTopics/kafka", func(b *testing.B) {
		cl := dial(b, c.KafkaAddr(lead))
		for i := range b.N {
			resp := cl.do(createTopicsReq(false, topic(fmt.Sprintf("bk-%d-%d", b.N, i), 1, 1)), 7).(*kmsg.CreateTopicsResponse)
			if resp.Topics[0].ErrorCode != 0 {
				b.Fatalf("error %d", resp.Topics[0].ErrorCode)
			}
		}
	})
	b.Run("CreateTopics/http", func(b *testing.B) {
		for i := range b.N {
			httpDo(b, http.MethodPost, c.URL(lead)+"/v1/topics", fmt.Sprintf(`{"name":"bh-%d-%d","partitions":1,"replicationFactor":1}`, b.N, i), http.StatusCreated)
		}
	})
	b.Run("Metadata/kafka", func(b *testing.B) {
		cl := dial(b, c.KafkaAddr(fol))
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("bench")
		req.Topics = append(req.Topics, rt)
		for range b.N {
			if resp := cl.do(req, 12).(*kmsg.MetadataResponse); resp.Topics[0].ErrorCode != 0 {
				b.Fatalf("error %d", resp.Topics[0].ErrorCode)
			}
		}
	})
	b.Run("Metadata/http", func(b *testing.B) {
		for range b.N {
			httpDo(b, http.MethodGet, c.URL(fol)+"/v1/topics/bench", "", http.StatusOK)
		}
	})
}
