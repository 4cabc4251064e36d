package api

import (
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// Messages name a nested field by its whole path, as a client wrote it.
func TestDecodeJSONNestedPaths(t *testing.T) {
	tests := []struct{ body, wantErr string }{
		{`{"heartbeats":[{"brokerId":1},{"brokerId":"x"}]}`, `field "heartbeats[1].brokerId" must be an integer, got the string "x"`},
		{`{"heartbeats":[{"brokerId":1,"brokerId":2}]}`, `duplicate field "heartbeats[0].brokerId"`},
		{`{"heartbeats":[{"brokerId":1},{"brokerid":2}]}`, `unknown field "heartbeats[1].brokerid"; field names are case-sensitive: did you mean "brokerId"?`},
		{`{"heartbeats":[{"brokerId":1,"offset":[]}]}`, `field "heartbeats[0].offset" must be an integer, got an array`},
		{`{"heartbeats":{}}`, `field "heartbeats" must be an array of objects, got an object`},
		{`{"heartbeats":[1]}`, `field "heartbeats[0]" must be an object, got the number 1`},
		{`{"heartbeats":[],"heartbeats":[]}`, `duplicate field "heartbeats"`},
	}
	for _, tt := range tests {
		var v contract.HeartbeatBatchRequest
		err := decodeJSON([]byte(tt.body), &v)
		if controller.CodeOf(err) != contract.CodeInvalidRequest || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("decode %s = %v, want INVALID_REQUEST mentioning %q", tt.body, err, tt.wantErr)
		}
	}
	var v contract.HeartbeatBatchRequest
	if err := decodeJSON([]byte(`{"heartbeats":[{"brokerId":1,"offset":5},{"brokerId":2,"offset":null}]}`), &v); err != nil ||
		len(v.Heartbeats) != 2 || *v.Heartbeats[1].BrokerID != 2 || *v.Heartbeats[0].Offset != 5 || v.Heartbeats[1].Offset != nil {
		t.Errorf("decode = %+v, %v", v, err)
	}
}
