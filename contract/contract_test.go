package contract_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
)

// TestCodesMatchDocs: every code is in docs/api.md, and wherever the docs
// give a code with its status ("`409 TOPIC_ALREADY_EXISTS`"), Status
// agrees.
func TestCodesMatchDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[contract.Code]bool{}
	for _, c := range contract.Codes {
		if known[c] {
			t.Errorf("code %s listed twice", c)
		}
		known[c] = true
		if c != contract.CodeInternal && !strings.Contains(string(doc), string(c)) {
			t.Errorf("code %s is not in docs/api.md", c)
		}
	}
	seen := 0
	for _, m := range regexp.MustCompile("`([0-9]{3}) ([A-Z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		code := contract.Code(m[2])
		if !known[code] {
			continue
		}
		seen++
		if want, _ := strconv.Atoi(m[1]); code.Status() != want {
			t.Errorf("docs/api.md answers %s with %d, Status says %d", code, want, code.Status())
		}
	}
	if seen < 10 {
		t.Fatalf("found only %d status-code pairs in docs/api.md; did its form change?", seen)
	}
	if contract.CodeInternal.Status() != 500 || contract.Code("NEW_IN_A_LATER_VERSION").Status() != 500 {
		t.Error("unknown codes and INTERNAL must be 500")
	}
}

// TestRequestsFromGo: requests built in Go encode to docs/api.md's JSON,
// and decode back.
func TestRequestsFromGo(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"register, port as string", contract.RegisterBrokerRequest{BrokerID: contract.Int32(1), BrokerHost: "h", BrokerPort: contract.PortOf("9092")},
			`{"brokerId":1,"brokerHost":"h","brokerPort":"9092"}`},
		{"register, port as number", contract.RegisterBrokerRequest{BrokerID: contract.Int32(0), BrokerHost: "h", BrokerPort: contract.PortNumber(9092), RackID: "r"},
			`{"brokerId":0,"brokerHost":"h","brokerPort":9092,"rackId":"r"}`},
		{"register, no port", contract.RegisterBrokerRequest{BrokerHost: "h"}, `{"brokerId":null,"brokerHost":"h","brokerPort":null}`},
		{"create topic", contract.CreateTopicRequest{Name: "t", Partitions: contract.Int32(3)}, `{"name":"t","partitions":3}`},
		{"allocate", contract.AllocateProducerIDsRequest{BrokerID: contract.Int32(2), ProducerID: contract.Int64(1000)}, `{"brokerId":2,"producerId":1000}`},
		{"fetch", contract.BrokerFetchRequest{BrokerID: contract.Int32(2)}, `{"brokerId":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	var p contract.Port
	if err := json.Unmarshal([]byte(`"9092"`), &p); err != nil || !p.IsSet() || p.Text() != "9092" || p != contract.PortOf("9092") {
		t.Fatalf("decoded port %+v, err %v", p, err)
	}
	if err := json.Unmarshal([]byte(`null`), &p); err != nil || p.IsSet() {
		t.Fatalf("null port %+v, err %v", p, err)
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"order-42 retry/1 ~!@#", true},
		{strings.Repeat("k", contract.MaxIdempotencyKeyLength), true},
		{"", false},
		{strings.Repeat("k", contract.MaxIdempotencyKeyLength+1), false},
		{"tab\there", false},
		{"naïve", false},
		{"nl\n", false},
		{"del\x7f", false},
	}
	for _, tt := range tests {
		err := contract.ValidateIdempotencyKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateIdempotencyKey(%q) = %v, want ok %v", tt.key, err, tt.ok)
		}
		if err != nil && err.Code != contract.CodeInvalidRequest {
			t.Errorf("ValidateIdempotencyKey(%q) code %s", tt.key, err.Code)
		}
	}
}

// TestErrors: CodeOf finds a coded error through wrapping.
func TestErrors(t *testing.T) {
	e := contract.Errorf(contract.CodeTopicNotFound, "topic %q not found", "x")
	if got := contract.CodeOf(e); got != contract.CodeTopicNotFound {
		t.Errorf("CodeOf = %s", got)
	}
	if got := contract.CodeOf(nil); got != "" {
		t.Errorf("CodeOf(nil) = %s", got)
	}
	if got := contract.CodeOf(os.ErrNotExist); got != contract.CodeInternal {
		t.Errorf("CodeOf(plain) = %s", got)
	}
	if (&contract.Error{Code: contract.CodeTimeout}).Error() != "TIMEOUT" {
		t.Error("an error without a message says its code")
	}
}
