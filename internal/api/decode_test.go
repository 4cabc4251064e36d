package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

type sample struct {
	Name       string `json:"name"`
	Partitions *int32 `json:"partitions,omitempty"`
}

func TestDecodeJSONStrict(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string // substring of the message; "" = success
	}{
		{"ok", `{"name":"orders","partitions":3}`, ""},
		{"ok with whitespace after", "{\"name\":\"a\"}\n  ", ""},
		{"empty", ``, "empty"},
		{"unknown field", `{"name":"a","color":"red"}`, `unknown field "color"`},
		{"wrong type names field", `{"name":"a","partitions":"three"}`, `field "partitions"`},
		{"trailing data", `{"name":"a"}{"name":"b"}`, "after the JSON object"},
		{"trailing garbage", `{"name":"a"} x`, "after the JSON object"},
		{"truncated", `{"name":"a"`, "malformed JSON"},
		{"not an object", `[1,2]`, "expected"},
		{"overflow", `{"name":"a","partitions":99999999999}`, `field "partitions"`},
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
			var me *metadata.Error
			if !errors.As(err, &me) || me.Code != metadata.CodeInvalidRequest {
				t.Fatalf("err = %v, want INVALID_REQUEST", err)
			}
			if !strings.Contains(me.Message, tt.wantErr) {
				t.Fatalf("message %q does not mention %q", me.Message, tt.wantErr)
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
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	decoders := map[string]func() any{
		"CreateTopic":        func() any { return &controller.CreateTopicRequest{} },
		"RegisterBroker":     func() any { return &controller.RegisterBrokerRequest{} },
		"PatchBroker":        func() any { return &controller.PatchBrokerRequest{} },
		"CreatePartition":    func() any { return &controller.CreatePartitionRequest{} },
		"AddReplica":         func() any { return &controller.AddReplicaRequest{} },
		"AllocateProducerID": func() any { return &controller.AllocateProducerIDsRequest{} },
		"BrokerFetch":        func() any { return &brokerFetchRequest{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, mk := range decoders {
			err := decodeJSON(body, mk())
			var me *metadata.Error
			if err != nil && (!errors.As(err, &me) || me.Code != metadata.CodeInvalidRequest) {
				t.Fatalf("%s: uncoded error %T: %v", name, err, err)
			}
		}
	})
}
