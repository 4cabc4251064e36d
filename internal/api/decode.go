package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/yakt/yakt/internal/metadata"
)

// MaxBodyBytes is the largest request body accepted (API.md: 1 MiB).
const MaxBodyBytes = 1 << 20

// decodeBody decodes the request body into v strictly: unknown fields,
// wrong types, trailing data and bodies over MaxBodyBytes are errors that
// name what is wrong.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return metadata.Errorf(metadata.CodePayloadTooLarge, "request body exceeds %d bytes", MaxBodyBytes)
		}
		return metadata.Errorf(metadata.CodeInvalidRequest, "read request body: %v", err)
	}
	return decodeJSON(body, v)
}

// decodeJSON is decodeBody's pure part, shared with the fuzz tests.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return metadata.Errorf(metadata.CodeInvalidRequest, "request body is empty; expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return metadata.Errorf(metadata.CodeInvalidRequest, "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return metadata.Errorf(metadata.CodeInvalidRequest, "unexpected data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return fmt.Sprintf("expected a JSON %s, got %s", typeErr.Type, typeErr.Value)
		}
		return fmt.Sprintf("field %q: expected %s, got %s", field, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON: " + err.Error()
}
