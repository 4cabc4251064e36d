package server

import (
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
)

// ReadableLogValues is a slog.HandlerOptions.ReplaceAttr for the JSON
// handler: it writes what the text handler writes as text where the JSON
// handler would write a bare number a reader cannot decode.
//
//   - time.Duration as "1.5s", "250ms", not integer nanoseconds;
//   - other values with a String method (a stream kind, a raft message
//     type) by name, not as their underlying number, unless they marshal
//     to JSON or text themselves. Errors are left to slog.
func ReadableLogValues(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		a.Value = slog.StringValue(a.Value.Duration().String())
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error, json.Marshaler, encoding.TextMarshaler:
		case fmt.Stringer:
			a.Value = slog.StringValue(v.String())
		}
	}
	return a
}
