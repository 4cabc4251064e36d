package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// A heartbeat batch, which only nodes send, is decoded without the
// strict pre-pass but still refuses what does not fit, in JSON's terms.
func TestDecodeHeartbeatBatch(t *testing.T) {
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{`{"heartbeats":[{"brokerId":1,"offset":5},{"brokerId":2,"offset":null}]}` + "\n", true},
		{`{"heartbeats":[]}`, true},
		{`{"heartbeats":[{"brokerId":1,"color":"red"}]}`, false},
		{`{"heartbeats":[{"brokerId":"1"}]}`, false},
		{`{"heartbeats":[{"brokerId":99999999999}]}`, false},
		{`{"heartbeats":[]} {}`, false},
		{`{"heartbeats":[]`, false},
		{`[]`, false},
		{``, false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/v1/internal/broker-heartbeats", strings.NewReader(tt.body))
		var req contract.HeartbeatBatchRequest
		err := decodeHeartbeatBatch(httptest.NewRecorder(), r, &req)
		switch {
		case tt.ok && err != nil:
			t.Errorf("decode %s: %v", tt.body, err)
		case !tt.ok && (controller.CodeOf(err) != contract.CodeInvalidRequest || goTypeNames.MatchString(err.Error())):
			t.Errorf("decode %s = %v, want INVALID_REQUEST in JSON's terms", tt.body, err)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/internal/broker-heartbeats", strings.NewReader(`{"heartbeats":[{"brokerId":7,"offset":9}]}`))
	var req contract.HeartbeatBatchRequest
	if err := decodeHeartbeatBatch(httptest.NewRecorder(), r, &req); err != nil || len(req.Heartbeats) != 1 ||
		*req.Heartbeats[0].BrokerID != 7 || *req.Heartbeats[0].Offset != 9 {
		t.Errorf("decode = %+v, %v", req, err)
	}
}
