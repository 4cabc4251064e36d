package zkformat

import (
	"reflect"
	"testing"
)

// Golden topic znodes. Kafka 2.8 and later write version 3 (with
// topic_id) from TopicZNode.encode, called by KafkaZkClient.createTopicAssignment
// and setTopicAssignment; 2.4-2.7 wrote version 2 (adding/removing
// replicas, no id) and older releases version 1.
func TestParseTopicGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		json string
		want Topic
	}{{
		name: "v3, Kafka 3.x",
		json: `{"partitions":{"0":[1,2,3],"1":[2,3,1],"2":[3,1,2]},"topic_id":"fD755B9bS4qdDipsGz9dcQ","adding_replicas":{},"removing_replicas":{},"version":3}`,
		want: Topic{Name: "orders", Version: 3, TopicID: "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71",
			Partitions: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}}},
	}, {
		name: "v3 while a reassignment moves partition 1 from broker 3 to 4",
		json: `{"partitions":{"0":[1,2],"1":[2,4,3]},"topic_id":"--P5v_8ATz6-Tg0cKzpJWA","adding_replicas":{"1":[4]},"removing_replicas":{"1":[3]},"version":3}`,
		want: Topic{Name: "orders", Version: 3, TopicID: "fbe3f9bf-ff00-4f3e-be4e-0d1c2b3a4958",
			Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 4, 3}},
			Adding:     map[int32][]int32{1: {4}}, Removing: map[int32][]int32{1: {3}}},
	}, {
		name: "v2 without topic id",
		json: `{"version":2,"partitions":{"0":[5]},"adding_replicas":{},"removing_replicas":{}}`,
		want: Topic{Name: "orders", Version: 2, Partitions: map[int32][]int32{0: {5}}},
	}, {
		name: "v1",
		json: `{"version":1,"partitions":{"1":[0,1],"0":[1,0]}}`,
		want: Topic{Name: "orders", Version: 1, Partitions: map[int32][]int32{0: {1, 0}, 1: {0, 1}}},
	}, {
		name: "unknown fields and empty adding lists",
		json: `{"version":3,"partitions":{"0":[1]},"adding_replicas":{"0":[]},"future":{"a":1}}`,
		want: Topic{Name: "orders", Version: 3, Partitions: map[int32][]int32{0: {1}}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTopic("orders", []byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parsed\n  %+v\nwant\n  %+v", got, c.want)
			}
			back, err := ParseTopic("orders", EncodeTopic(got))
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip: %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

func TestEncodeTopicGolden(t *testing.T) {
	tp := Topic{Name: "orders", TopicID: "7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71",
		Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 3, 1}},
		Adding:     map[int32][]int32{1: {3}, 0: {}}, Removing: map[int32][]int32{}}
	sameJSON(t, EncodeTopic(tp), `{"version":3,"partitions":{"0":[1,2],"1":[2,3,1]},"adding_replicas":{"1":[3]},"removing_replicas":{},"topic_id":"fD755B9bS4qdDipsGz9dcQ"}`)
	// The encoding is deterministic: the dual write compares bytes.
	if a, b := string(EncodeTopic(tp)), string(EncodeTopic(tp)); a != b {
		t.Errorf("two encodings differ:\n%s\n%s", a, b)
	}
	sameJSON(t, EncodeTopic(Topic{Name: "x", Version: 1, Partitions: map[int32][]int32{0: {1}}}), `{"version":1,"partitions":{"0":[1]}}`)
	// An id that is not UUID text is left out, not written in a form Kafka cannot read.
	sameJSON(t, EncodeTopic(Topic{Name: "x", TopicID: "nope", Partitions: map[int32][]int32{0: {1}}}),
		`{"version":3,"partitions":{"0":[1]},"adding_replicas":{},"removing_replicas":{}}`)
}

func TestParseTopicErrors(t *testing.T) {
	const path = "/brokers/topics/orders"
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"version":3,"partitions":{"0":[1]}`, []string{"malformed JSON"}},
		{"unknown version", `{"version":9,"partitions":{"0":[1]}}`, []string{"unknown version 9", "topic"}},
		{"no version", `{"partitions":{"0":[1]}}`, []string{`missing field "version"`}},
		{"no partitions", `{"version":3,"topic_id":"fD755B9bS4qdDipsGz9dcQ"}`, []string{`missing field "partitions"`}},
		{"zero partitions", `{"version":3,"partitions":{}}`, []string{"no partitions"}},
		{"partitions not an object", `{"version":3,"partitions":[[1]]}`, []string{`"partitions"`}},
		{"a gap in partitions", `{"version":3,"partitions":{"0":[1],"2":[1]}}`, []string{"partition 1 is missing"}},
		{"partition not a number", `{"version":3,"partitions":{"zero":[1]}}`, []string{"not a partition number"}},
		{"negative partition", `{"version":3,"partitions":{"-1":[1]}}`, []string{"not a partition number"}},
		{"partition with leading zero", `{"version":3,"partitions":{"00":[1]}}`, []string{"not a partition number"}},
		{"no replicas", `{"version":3,"partitions":{"0":[]}}`, []string{"partition 0 has no replicas"}},
		{"negative replica", `{"version":3,"partitions":{"0":[1,-2]}}`, []string{"-2 is not a broker id"}},
		{"duplicate replica", `{"version":3,"partitions":{"0":[1,2,1]}}`, []string{"broker 1 is listed twice"}},
		{"replica not an integer", `{"version":3,"partitions":{"0":[1.5]}}`, []string{`"partitions"`}},
		{"replica too big", `{"version":3,"partitions":{"0":[4294967296]}}`, []string{`"partitions"`}},
		{"bad topic_id", `{"version":3,"partitions":{"0":[1]},"topic_id":"not-an-id"}`, []string{`"topic_id"`, "not a Kafka id"}},
		{"topic_id canonical text", `{"version":3,"partitions":{"0":[1]},"topic_id":"7c3ef9e4-1f5b-4b8a-9d0e-2a6c1b3f5d71"}`, []string{`"topic_id"`}},
		{"zero topic_id", `{"version":3,"partitions":{"0":[1]},"topic_id":"AAAAAAAAAAAAAAAAAAAAAA"}`, []string{"zero id"}},
		{"topic_id a number", `{"version":3,"partitions":{"0":[1]},"topic_id":5}`, []string{`"topic_id"`}},
		{"adding for a missing partition", `{"version":3,"partitions":{"0":[1]},"adding_replicas":{"1":[1]}}`, []string{"adding_replicas names partition 1"}},
		{"adding not a replica", `{"version":3,"partitions":{"0":[1,2]},"adding_replicas":{"0":[3]}}`, []string{"broker 3 is not among its replicas"}},
		{"removing duplicate", `{"version":3,"partitions":{"0":[1,2]},"removing_replicas":{"0":[2,2]}}`, []string{"listed twice"}},
		{"removing negative", `{"version":3,"partitions":{"0":[1,2]},"removing_replicas":{"0":[-1]}}`, []string{"not a broker id"}},
		{"adding and removing", `{"version":3,"partitions":{"0":[1,2]},"adding_replicas":{"0":[2]},"removing_replicas":{"0":[2]}}`, []string{"both being added and removed"}},
		{"adding not an object", `{"version":3,"partitions":{"0":[1,2]},"adding_replicas":[2]}`, []string{`"adding_replicas"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp, err := ParseTopic("orders", []byte(c.json))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", tp)
			}
			wantError(t, err, path, c.says...)
		})
	}
}
