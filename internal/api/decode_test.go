package api

import (
	"errors"
	"strings"
	"testing"

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

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":"a","partitions":1}`, `{`, `[]`, `{"name":1}`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v sample
		err := decodeJSON(body, &v)
		var me *metadata.Error
		if err != nil && !errors.As(err, &me) {
			t.Fatalf("non-coded error %T: %v", err, err)
		}
	})
}
