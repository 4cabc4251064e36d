package controller

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func TestRegisterBrokerRequestValidate(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     registration
		wantCode contract.Code
		wantMsg  string // a substring of the error message
	}{
		{name: "string port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":"9092","securityProtocol":"SSL","rackId":"r1"}`,
			want: registration{id: 1, host: "h", port: "9092", proto: "SSL", rack: "r1"}},
		{name: "number port", body: `{"brokerId":0,"brokerHost":"h","brokerPort":9092}`,
			want: registration{id: 0, host: "h", port: "9092", proto: "PLAINTEXT"}},
		{name: "leading zeros are normalised", body: `{"brokerId":1,"brokerHost":"h","brokerPort":"09092"}`,
			want: registration{id: 1, host: "h", port: "9092", proto: "PLAINTEXT"}},
		{name: "port 1", body: `{"brokerId":1,"brokerHost":"h","brokerPort":1}`, want: registration{id: 1, host: "h", port: "1", proto: "PLAINTEXT"}},
		{name: "port 65535", body: `{"brokerId":1,"brokerHost":"h","brokerPort":"65535"}`, want: registration{id: 1, host: "h", port: "65535", proto: "PLAINTEXT"}},
		{name: "empty protocol defaults", body: `{"brokerId":1,"brokerHost":"h","brokerPort":1,"securityProtocol":""}`, want: registration{id: 1, host: "h", port: "1", proto: "PLAINTEXT"}},
		{name: "port 0", body: `{"brokerId":1,"brokerHost":"h","brokerPort":0}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "port 65536", body: `{"brokerId":1,"brokerHost":"h","brokerPort":"65536"}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "negative port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":-1}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "fractional port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":9092.5}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "exponent port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":9e3}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "non-numeric port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":"http"}`, wantCode: contract.CodeInvalidRequest, wantMsg: `got "http"`},
		{name: "port with spaces", body: `{"brokerId":1,"brokerHost":"h","brokerPort":" 9092"}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "boolean port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":true}`, wantCode: contract.CodeInvalidRequest, wantMsg: "got true"},
		{name: "object port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":{"n":1}}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort"},
		{name: "null port", body: `{"brokerId":1,"brokerHost":"h","brokerPort":null}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort is required"},
		{name: "missing port", body: `{"brokerId":1,"brokerHost":"h"}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerPort is required"},
		{name: "missing id", body: `{"brokerHost":"h","brokerPort":1}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerId is required"},
		{name: "negative id", body: `{"brokerId":-1,"brokerHost":"h","brokerPort":1}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerId"},
		{name: "missing host", body: `{"brokerId":1,"brokerPort":1}`, wantCode: contract.CodeInvalidRequest, wantMsg: "brokerHost"},
		{name: "unknown protocol", body: `{"brokerId":1,"brokerHost":"h","brokerPort":1,"securityProtocol":"TLS"}`, wantCode: contract.CodeInvalidRequest, wantMsg: "securityProtocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req contract.RegisterBrokerRequest
			if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := validateRegistration(req)
			if code := CodeOf(err); code != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.wantCode)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("message %q does not mention %q", err, tt.wantMsg)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("-want %+v\n+got  %+v", tt.want, got)
			}
		})
	}
}

func TestPortRoundTrip(t *testing.T) {
	for _, in := range []string{`"9092"`, `9092`, `null`} {
		var p contract.Port
		if err := json.Unmarshal([]byte(in), &p); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(p)
		if err != nil || string(out) != in {
			t.Errorf("%s: marshal = %s, %v", in, out, err)
		}
	}
}

func TestBuildRegisterBroker(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusFenced, 1), broker(3, metadata.StatusClosed, 4))
	reg := func(id int32) registration {
		return registration{id: id, host: "new", port: "9093", proto: metadata.ProtocolSSL, rack: "r9"}
	}
	rec := func(id int32, epoch int64) *metadata.RegisterBrokerRecord {
		return &metadata.RegisterBrokerRecord{InternalUUID: "fresh", BrokerID: id, BrokerHost: "new", BrokerPort: "9093",
			SecurityProtocol: metadata.ProtocolSSL, BrokerStatus: metadata.StatusAlive, RackID: "r9", Epoch: epoch}
	}
	tests := []struct {
		name     string
		id       int32
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "new id starts at epoch 0", id: 7, want: bodies(rec(7, 0))},
		{name: "a CLOSED id re-registers at its epoch + 1", id: 3, want: bodies(rec(3, 5))},
		{name: "ALIVE id", id: 1, wantCode: contract.CodeBrokerAlreadyRegistered},
		{name: "FENCED id", id: 2, wantCode: contract.CodeBrokerAlreadyRegistered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := buildRegisterBroker(img, reg(tt.id), "fresh", MaxPartitionsPerRequest)
			after := checkResult(t, img, recs, err, tt.wantCode, tt.want)
			if tt.wantCode == "" {
				if b, _ := after.Broker(tt.id); b != *tt.want[0].(*metadata.RegisterBrokerRecord) {
					t.Fatalf("image holds %+v", b)
				}
			}
		})
	}
}

func TestPatchBrokerRequestValidate(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     brokerPatch
		wantCode contract.Code
	}{
		{name: "host", body: `{"brokerHost":"h2"}`, want: brokerPatch{host: "h2"}},
		{name: "number port", body: `{"brokerPort":9093}`, want: brokerPatch{port: "9093"}},
		{name: "all", body: `{"brokerHost":"h","brokerPort":"1","securityProtocol":"SASL_SSL","brokerStatus":"FENCED"}`,
			want: brokerPatch{host: "h", port: "1", proto: "SASL_SSL", status: "FENCED"}},
		{name: "ALIVE", body: `{"brokerStatus":"ALIVE"}`, want: brokerPatch{status: "ALIVE"}},
		{name: "empty", body: `{}`, wantCode: contract.CodeInvalidRequest},
		{name: "only a null port", body: `{"brokerPort":null}`, wantCode: contract.CodeInvalidRequest},
		{name: "empty host", body: `{"brokerHost":""}`, wantCode: contract.CodeInvalidRequest},
		{name: "bad port", body: `{"brokerPort":70000}`, wantCode: contract.CodeInvalidRequest},
		{name: "bad protocol", body: `{"securityProtocol":"plaintext"}`, wantCode: contract.CodeInvalidRequest},
		{name: "CLOSED is DELETE's", body: `{"brokerStatus":"CLOSED"}`, wantCode: contract.CodeInvalidRequest},
		{name: "unknown status", body: `{"brokerStatus":"DEAD"}`, wantCode: contract.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req contract.PatchBrokerRequest
			if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := validatePatch(req)
			if code := CodeOf(err); code != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.wantCode)
			}
			if err == nil && got != tt.want {
				t.Fatalf("-want %+v\n+got  %+v", tt.want, got)
			}
		})
	}
}

func TestBuildPatchBroker(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 2), broker(2, metadata.StatusClosed, 1))
	change := func(f func(*metadata.BrokerRegistrationChangeBrokerRecord)) *metadata.BrokerRegistrationChangeBrokerRecord {
		c := &metadata.BrokerRegistrationChangeBrokerRecord{BrokerID: 1, BrokerHost: "10.0.0.1", BrokerPort: "9092",
			SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive, Epoch: 3}
		f(c)
		return c
	}
	tests := []struct {
		name     string
		id       int32
		patch    brokerPatch
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "host only keeps the rest", id: 1, patch: brokerPatch{host: "h2"},
			want: bodies(change(func(c *metadata.BrokerRegistrationChangeBrokerRecord) { c.BrokerHost = "h2" }))},
		{name: "fence", id: 1, patch: brokerPatch{status: metadata.StatusFenced, port: "1"},
			want: bodies(change(func(c *metadata.BrokerRegistrationChangeBrokerRecord) { c.BrokerStatus, c.BrokerPort = "FENCED", "1" }))},
		{name: "unknown", id: 9, patch: brokerPatch{host: "h"}, wantCode: contract.CodeBrokerNotFound},
		{name: "CLOSED", id: 2, patch: brokerPatch{host: "h"}, wantCode: contract.CodeBrokerNotActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, more, err := buildPatchBroker(img, tt.id, tt.patch, MaxPartitionsPerRequest)
			if more {
				t.Fatal("more batches for a broker in no partition")
			}
			checkResult(t, img, recs, err, tt.wantCode, tt.want)
		})
	}
}

func TestBuildUnregisterBroker(t *testing.T) {
	const u, v = "uuid-a", "uuid-b"
	img := imageOf(t,
		broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusFenced, 1), broker(3, metadata.StatusAlive, 0),
		broker(4, metadata.StatusClosed, 2),
		bodies(top("a", u), top("b", v),
			// 1 leads; 2 (FENCED) is passed over for 3.
			prt(u, 0, 4, ids(1, 2, 3), ids(1, 2, 3), 1),
			// 1 leads alone in the ISR: no one can take over.
			prt(u, 1, 0, ids(1, 3), ids(1), 1),
			// 1 only follows: it leaves the ISR.
			prt(u, 2, 0, ids(3, 1), ids(3, 1), 3),
			// 1 leads; the ISR lists it first, but 3 is next in replica order.
			prt(v, 0, 1, ids(3, 1), ids(1, 3), 1),
		),
	)
	closed := &metadata.BrokerRegistrationChangeBrokerRecord{BrokerID: 1, BrokerHost: "10.0.0.1", BrokerPort: "9092",
		SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusClosed, Epoch: 1}
	tests := []struct {
		name     string
		id       int32
		wantCode contract.Code
		want     []metadata.Body
	}{
		{name: "leader moves off every partition it led and it leaves every ISR", id: 1, want: bodies(closed,
			prt(u, 0, 5, ids(1, 2, 3), ids(2, 3), 3),
			// The last ISR member stays; the partition goes offline.
			prt(u, 1, 1, ids(1, 3), ids(1), metadata.NoLeader),
			prt(v, 0, 2, ids(3, 1), ids(3), 3),
			prt(u, 2, 1, ids(3, 1), ids(3), 3),
		)},
		{name: "a FENCED broker leading nothing leaves the ISR it is still in", id: 2, want: bodies(&metadata.BrokerRegistrationChangeBrokerRecord{BrokerID: 2,
			BrokerHost: "10.0.0.2", BrokerPort: "9092", SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusClosed, Epoch: 2},
			prt(u, 0, 5, ids(1, 2, 3), ids(1, 3), 1))},
		{name: "unknown", id: 9, wantCode: contract.CodeBrokerNotFound},
		{name: "already CLOSED", id: 4, wantCode: contract.CodeBrokerNotActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := buildUnregisterBroker(img, tt.id, MaxPartitionsPerRequest)
			after := checkResult(t, img, recs, err, tt.wantCode, tt.want)
			if b, _ := after.Broker(tt.id); tt.wantCode == "" && b.BrokerStatus != metadata.StatusClosed {
				t.Fatalf("broker %d is %s after unregistering", tt.id, b.BrokerStatus)
			}
		})
	}
}

func TestFilterBrokers(t *testing.T) {
	img := imageOf(t, broker(1, metadata.StatusAlive, 0), broker(2, metadata.StatusFenced, 1), broker(3, metadata.StatusClosed, 1), broker(4, metadata.StatusAlive, 0))
	tests := []struct {
		status string
		want   []int32
	}{
		{metadata.StatusAlive, ids(1, 4)},
		{metadata.StatusFenced, ids(2)},
		{metadata.StatusClosed, ids(3)},
		{BrokersAll, ids(1, 2, 3, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			got := ids()
			for _, b := range brokerPage(img, tt.status, BrokerPage{}).Brokers {
				got = append(got, b.BrokerID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("-want %v\n+got  %v", tt.want, got)
			}
		})
	}
}
