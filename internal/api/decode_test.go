package api

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
)

type sample struct {
	Name       string  `json:"name"`
	Partitions *int32  `json:"partitions,omitempty"`
	Replicas   []int32 `json:"replicas"`
	Port       contract.Port
}

// goTypeNames are words only Go would use; no message may contain one.
var goTypeNames = regexp.MustCompile(`int(8|16|32|64)|uint|float|\[\]|\*|struct|map\[|controller\.|api\.|sample|Go value`)

func TestDecodeJSONStrict(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string // substring of the message; "" = success
	}{
		{"ok", `{"name":"orders","partitions":3}`, ""},
		{"ok with whitespace after", "{\"name\":\"a\"}\n  ", ""},
		{"ok with every field", `{"name":"a","partitions":null,"replicas":[1,2],"Port":"9092"}`, ""},
		{"ok with a self-decoding field of any JSON type", `{"Port":{"x":[1]}}`, ""},
		{"empty", ``, "empty"},
		{"unknown field", `{"name":"a","color":"red"}`, `unknown field "color"`},
		{"wrong type names field", `{"name":"a","partitions":"three"}`, `field "partitions"`},
		{"trailing data", `{"name":"a"}{"name":"b"}`, "after the JSON object"},
		{"trailing garbage", `{"name":"a"} x`, "after the JSON object"},
		{"truncated", `{"name":"a"`, "malformed JSON"},
		{"not an object", `[1,2]`, "must be a JSON object, got an array"},
		{"empty array", `[]`, "must be a JSON object, got an array"},
		{"string", `"x"`, `must be a JSON object, got the string "x"`},
		{"number", `1`, "must be a JSON object, got the number 1"},
		{"boolean", `true`, "must be a JSON object, got true"},
		{"null", `null`, "must be a JSON object, got null"},
		{"overflow", `{"name":"a","partitions":99999999999}`, `field "partitions" must be an integer from -2147483648 to 2147483647`},
		{"fraction", `{"partitions":1.5}`, `field "partitions" must be an integer`},
		{"string for an integer", `{"partitions":"3"}`, `field "partitions" must be an integer, got the string "3"`},
		{"integer for a string", `{"name":5}`, `field "name" must be a string, got the number 5`},
		{"null for a string", `{"name":null}`, `field "name" must be a string, got null`},
		{"array element", `{"replicas":[1,"b"]}`, `field "replicas[1]" must be an integer`},
		{"object for an array", `{"replicas":{}}`, `field "replicas" must be an array of integers, got an object`},
		{"duplicate key", `{"name":"a","name":"b"}`, `duplicate field "name"`},
		{"duplicate null key", `{"partitions":null,"partitions":3}`, `duplicate field "partitions"`},
		{"other case", `{"Name":"x"}`, `unknown field "Name"; field names are case-sensitive: did you mean "name"?`},
		{"other case after the right one", `{"name":"x","NAME":"y"}`, `unknown field "NAME"`},
		{"non-ASCII key quoted as characters", `{"naïve":1}`, `unknown field "naïve"`},
		{"long key clipped", `{"` + strings.Repeat("k", 500) + `":1}`, `unknown field "kkkk`},
		{"nested garbage", `{"name":"a",`, "malformed JSON"},
		{"bad literal", `{"name":tru}`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			err := decodeJSON([]byte(tt.body), &v)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			var me *contract.Error
			if !errors.As(err, &me) || me.Code != contract.CodeInvalidRequest {
				t.Fatalf("err = %v, want INVALID_REQUEST", err)
			}
			if !strings.Contains(me.Message, tt.wantErr) {
				t.Fatalf("message %q does not mention %q", me.Message, tt.wantErr)
			}
			if goTypeNames.MatchString(me.Message) {
				t.Fatalf("message %q names a Go type", me.Message)
			}
			if len(me.Message) > 300 {
				t.Fatalf("message of %d bytes echoes too much input", len(me.Message))
			}
		})
	}
}

// FuzzRequestDecoders feeds arbitrary bodies to the strict decoder of
// every request type the API accepts: never a panic, and every failure a
// coded INVALID_REQUEST.
func FuzzRequestDecoders(f *testing.F) {
	seeds := []string{
		`{"name":"a"}`, `{"name":"a","partitions":3,"replicationFactor":2}`,
		`{"brokerId":1,"brokerHost":"h","brokerPort":"9092","securityProtocol":"SSL","rackId":"r"}`,
		`{"brokerId":1,"brokerHost":"h","brokerPort":9092}`, `{"brokerPort":9.5}`, `{"brokerPort":"0x10"}`,
		`{"brokerHost":"x","brokerStatus":"FENCED"}`, `{"partitionId":0,"replicas":[1,2],"ISR":[1],"leader":1}`,
		`{"brokerId":4}`, `{"brokerId":1,"producerId":5000}`, `{"brokerId":1,"offset":3,"maxWaitMs":10}`,
		`{"brokerId":1,"timestamp":"2026-11-21T16:04:05.123Z"}`, `{`, `[]`, `null`, "\x00",
		`{"name":"a","name":"b"}`, `{"Name":"x"}`, `{"name":"naïve"}`, `"x"`, `1`, `{"name":"a"} {}`,
		`{"replicas":[1,[2]],"ISR":[1]}`, `{"brokerHost":"h h / <script>"}`, `{"rackId":"\u0000"}`,
		`{"brokerId":1,"offset":999999}`, `{"brokerPort":{"a":[{"b":null}]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	decoders := map[string]func() any{
		"CreateTopic":        func() any { return &contract.CreateTopicRequest{} },
		"RegisterBroker":     func() any { return &contract.RegisterBrokerRequest{} },
		"PatchBroker":        func() any { return &contract.PatchBrokerRequest{} },
		"CreatePartition":    func() any { return &contract.CreatePartitionRequest{} },
		"AddReplica":         func() any { return &contract.AddReplicaRequest{} },
		"AllocateProducerID": func() any { return &contract.AllocateProducerIDsRequest{} },
		"BrokerFetch":        func() any { return &contract.BrokerFetchRequest{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, mk := range decoders {
			err := decodeJSON(body, mk())
			var me *contract.Error
			if err != nil && (!errors.As(err, &me) || me.Code != contract.CodeInvalidRequest) {
				t.Fatalf("%s: uncoded error %T: %v", name, err, err)
			}
			// What the strict decoder accepts, the standard one must too:
			// the pre-pass never lets through what cannot be filled in.
			if err == nil {
				if err := json.Unmarshal(body, mk()); err != nil {
					t.Fatalf("%s: accepted %q that encoding/json refuses: %v", name, body, err)
				}
			}
		}
	})
}
