package controller

import (
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
)

func TestCheckHost(t *testing.T) {
	tests := []struct {
		host    string
		ok      bool
		wantMsg string
	}{
		{host: "h", ok: true},
		{host: "broker-1.kafka.svc.cluster.local", ok: true},
		{host: "my_broker", ok: true},
		{host: "10.0.0.5", ok: true},
		{host: "::1", ok: true},
		{host: "fe80::1%eth0", ok: true},
		{host: strings.Repeat("a", 63) + "." + strings.Repeat("b", 63), ok: true},
		{host: strings.Repeat(strings.Repeat("a", 50)+".", 4) + strings.Repeat("a", 51), ok: true}, // 255 bytes
		{host: strings.Repeat(strings.Repeat("a", 50)+".", 5) + "a", wantMsg: "256 bytes long; the limit is 255"},
		{host: "", wantMsg: "brokerHost is required"},
		{host: "h h / <script>", wantMsg: `contains ' '`},
		{host: "a/b", wantMsg: "contains '/'"},
		{host: "<b>", wantMsg: "contains '<'"},
		{host: "naïve", wantMsg: "contains 'ï'"},
		{host: "tab\there", wantMsg: "non-printable"},
		{host: "a..b", wantMsg: "empty label"},
		{host: ".a", wantMsg: "empty label"},
		{host: "-a", wantMsg: "starts or ends with '-'"},
		{host: strings.Repeat("a", 64), wantMsg: "longer than 63"},
		{host: "[::1]", wantMsg: "contains '['"},
		{host: "h:9092", wantMsg: "contains ':'"},
		{host: strings.Repeat("a.", 128), wantMsg: "the limit is 255"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := checkHost("brokerHost", tt.host)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if CodeOf(err) != contract.CodeInvalidRequest || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want INVALID_REQUEST mentioning %q", err, tt.wantMsg)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("message of %d bytes echoes too much", len(err.Error()))
			}
		})
	}
}

func TestCheckRackID(t *testing.T) {
	tests := []struct {
		rack    string
		wantMsg string // "" = accepted
	}{
		{rack: ""},
		{rack: "r1"},
		{rack: "eu-west-1a / rack 7"},
		{rack: "zürich"},
		{rack: strings.Repeat("é", 255)},
		{rack: strings.Repeat("r", 5000), wantMsg: "5000 characters long; the limit is 255"},
		{rack: strings.Repeat("é", 256), wantMsg: "256 characters"},
		{rack: "a\nb", wantMsg: "U+000A"},
		{rack: "a\x00", wantMsg: "U+0000"},
		{rack: "\xff", wantMsg: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(clip(tt.rack), func(t *testing.T) {
			err := checkRackID(tt.rack)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if CodeOf(err) != contract.CodeInvalidRequest || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want INVALID_REQUEST mentioning %q", err, tt.wantMsg)
			}
		})
	}
}
