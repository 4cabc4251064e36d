package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestKafkaListener: the Kafka port is refused on a node that
// authenticates, and on a wildcard address without an advertised one;
// with one, the node serves it at the bound address and advertises it to
// its peers and in Metadata, and stops it on Stop.
func TestKafkaListener(t *testing.T) {
	peer := freeAddr(t)
	base := Config{NodeID: 1, ClusterID: "kafka", DataDir: t.TempDir(), Voters: map[uint64]string{1: peer},
		ListenPeer: peer, ListenHTTP: "127.0.0.1:0", TickInterval: 20 * time.Millisecond}

	auth := base
	auth.ListenKafka, auth.AccessFile = "127.0.0.1:0", "/nonexistent/access"
	if _, err := Start(auth); !errors.Is(err, errKafkaWithAuth) {
		t.Fatalf("start with --listen-kafka and --access-file: %v, want the refusal", err)
	}
	wild := base
	wild.ListenKafka, wild.Insecure = "0.0.0.0:0", true
	if _, err := Start(wild); err == nil || !strings.Contains(err.Error(), "--advertise-kafka") {
		t.Fatalf("start with a wildcard Kafka address: %v, want a refusal naming --advertise-kafka", err)
	}

	ok := base
	ok.ListenKafka, ok.AdvertiseKafka = "127.0.0.1:0", "kafka.example:9092"
	s, err := Start(ok)
	if err != nil {
		t.Fatalf("start with a Kafka listener: %v", err)
	}
	addr := s.KafkaAddr()
	if got, _ := s.Controller.PeerKafkaAddr(1); got != "kafka.example:9092" {
		t.Fatalf("node's own Kafka address %q, want the advertised one", got)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial the Kafka listener: %v", err)
	}
	conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Stop(ctx)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the Kafka listener still accepts after Stop")
	}
}
