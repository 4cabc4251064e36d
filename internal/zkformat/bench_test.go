package zkformat

import (
	"strings"
	"testing"
)

// An import reads every state znode and topic znode once: these say what
// parsing costs per znode.

func BenchmarkParsePartitionState(b *testing.B) {
	data := []byte(`{"controller_epoch":5,"leader":1,"version":1,"leader_epoch":7,"isr":[1,2,3]}`)
	for b.Loop() {
		if _, err := ParsePartitionState("/p", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTopic10Partitions(b *testing.B) {
	data := EncodeTopic(Topic{Name: "t", TopicID: "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71", Partitions: map[int32][]int32{
		0: {1, 2, 3}, 1: {2, 3, 4}, 2: {3, 4, 5}, 3: {4, 5, 6}, 4: {5, 6, 7}, 5: {6, 7, 8}, 6: {7, 8, 9}, 7: {8, 9, 10}, 8: {9, 10, 11}, 9: {10, 11, 12}}})
	for b.Loop() {
		if _, err := ParseTopic("t", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBroker(b *testing.B) {
	data := EncodeBroker(Broker{Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "broker1.example.com", 9092}, {"SSL", "SSL", "broker1.example.com", 9093}}, Rack: "a"})
	for b.Loop() {
		if _, err := ParseBroker(1, data); err != nil {
			b.Fatal(err)
		}
	}
}

// A znode holding something large gives a short error, not its content.
func TestErrorsQuoteLittle(t *testing.T) {
	big := `{"version":1,"leader":"` + strings.Repeat("x", 100000) + `"}`
	_, err := ParsePartitionState("/p", []byte(big))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error of %d bytes: %.300v", len(err.Error()), err)
	}
	_, err = ParsePartitionState("/p", []byte(big[:50000]))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error of %d bytes: %.300v", len(err.Error()), err)
	}
}
