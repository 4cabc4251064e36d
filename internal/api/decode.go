package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/yakt/yakt/contract"
)

// MaxBodyBytes is the largest request body accepted (docs/api.md: 1 MiB).
const MaxBodyBytes = 1 << 20

// decodeBody decodes the request body into v strictly (see decodeJSON);
// a body over MaxBodyBytes is PAYLOAD_TOO_LARGE.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// readBody reads the request body; one over MaxBodyBytes is
// PAYLOAD_TOO_LARGE.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, contract.Errorf(contract.CodePayloadTooLarge, "request body exceeds %d bytes", MaxBodyBytes)
		}
		return nil, contract.Errorf(contract.CodeInvalidRequest, "read request body: %v", err)
	}
	return body, nil
}

// decodeJSON is decodeBody's pure part, shared with the fuzz tests. v
// points to a request struct. The body must be one JSON object whose
// field names match v's json tags exactly (case included), each at most
// once, with values of the fields' JSON types, and nothing after it.
// Every failure is INVALID_REQUEST with a message in JSON's terms
// (field names, "an integer", "a string"), never Go's.
//
// encoding/json alone matches names case-insensitively and lets the last
// duplicate win, so a pre-pass over the tokens enforces the rules above
// against v's type, and encoding/json then fills v from a body that is
// known to fit. This keeps the standard library as the only JSON parser.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("request body is empty; expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return invalid("request body must be a JSON object, got %s", describeToken(tok))
	}
	if err := checkObject(dec, reflect.TypeOf(v).Elem(), nil); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("unexpected data after the JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		// The pre-pass accepted it, so only a value's own decoder can
		// object here (a field type with custom decoding).
		return invalid("request body does not fit the request")
	}
	return nil
}

func invalid(format string, args ...any) *contract.Error {
	return contract.Errorf(contract.CodeInvalidRequest, format, args...)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// valuePath is where a value sits in the body, for messages: a field of
// the object at parent, or element index of the array at parent (name
// ""); nil is the body itself. It is spelled out (String) only for an
// error, so checking a valid body builds no strings.
type valuePath struct {
	parent *valuePath
	name   string
	index  int
}

// String is the path as a client would write it: "heartbeats[1].brokerId".
func (p *valuePath) String() string {
	if p == nil {
		return ""
	}
	if p.name == "" {
		return p.parent.String() + "[" + strconv.Itoa(p.index) + "]"
	}
	if p.parent == nil {
		return p.name
	}
	return p.parent.String() + "." + p.name
}

// checkValue reads one value of the type t at path and checks it fits.
func checkValue(dec *json.Decoder, t reflect.Type, path *valuePath) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if tok == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return nil
		}
		if !reflect.PointerTo(t).Implements(unmarshalerType) {
			return invalid("field %s must be %s, got null", quoteField(path.String()), describeType(t))
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// The type decodes itself and names its own errors in validation.
		return skipValue(dec, tok)
	}
	mismatch := func() error {
		return invalid("field %s must be %s, got %s", quoteField(path.String()), describeType(t), describeToken(tok))
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return mismatch()
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return mismatch()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return mismatch()
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			return invalid("field %s must be an integer from %d to %d, got %s", quoteField(path.String()),
				-(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1, truncate(string(n)))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			return mismatch()
		}
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			return invalid("field %s must be an integer from 0 to %d, got %s", quoteField(path.String()), uint64(1)<<t.Bits()-1, truncate(string(n)))
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := tok.(json.Number); !ok {
			return mismatch()
		}
	case reflect.Slice, reflect.Array:
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return mismatch()
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, t.Elem(), &valuePath{parent: path, index: i}); err != nil {
				return err
			}
		}
		return closing(dec)
	case reflect.Struct:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return mismatch()
		}
		return checkObject(dec, t, path)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return skipValue(dec, tok)
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return mismatch()
		}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return syntaxError(err)
			}
			if err := checkValue(dec, t.Elem(), &valuePath{parent: path, name: key.(string)}); err != nil {
				return err
			}
		}
		return closing(dec)
	default: // interfaces: any JSON value
		return skipValue(dec, tok)
	}
	return nil
}

// checkObject reads the members of an object whose '{' was read, then its
// '}', against struct type t; path is the object's.
func checkObject(dec *json.Decoder, t reflect.Type, path *valuePath) error {
	fields := jsonFields(t)
	var seenBits uint64 // by field index, for the usual struct of up to 64 fields
	var seenMap map[int]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		name := tok.(string) // object keys are always strings
		f, ok := fields[name]
		field := func() string { return (&valuePath{parent: path, name: name}).String() }
		if !ok {
			for known := range fields {
				if strings.EqualFold(known, name) {
					return invalid("unknown field %s; field names are case-sensitive: did you mean %q?", quoteField(field()), known)
				}
			}
			return invalid("unknown field %s", quoteField(field()))
		}
		seen := false
		if f.index < 64 {
			seen = seenBits&(1<<f.index) != 0
			seenBits |= 1 << f.index
		} else {
			if seenMap == nil {
				seenMap = map[int]bool{}
			}
			seen, seenMap[f.index] = seenMap[f.index], true
		}
		if seen {
			return invalid("duplicate field %s", quoteField(field()))
		}
		if err := checkValue(dec, f.typ, &valuePath{parent: path, name: name}); err != nil {
			return err
		}
	}
	return closing(dec)
}

// closing reads the '}' or ']' that must follow the last member.
func closing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return syntaxError(err)
	}
	return nil
}

// jsonField is a struct field as the decoder sees it: its type, and an
// index unique within its struct (for duplicate checks).
type jsonField struct {
	typ   reflect.Type
	index int
}

// fieldCache holds jsonFields' answer per struct type (reflect.Type ->
// map[string]jsonField): request types are few, requests many.
var fieldCache sync.Map

// jsonFields maps the JSON names of struct t's fields, as encoding/json
// names them, to the fields. The map is shared: read-only.
func jsonFields(t reflect.Type) map[string]jsonField {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]jsonField)
	}
	m := map[string]jsonField{}
	addJSONFields(m, t)
	fieldCache.Store(t, m)
	return m
}

func addJSONFields(out map[string]jsonField, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			addJSONFields(out, f.Type)
			continue
		case name == "":
			name = f.Name
		}
		if old, ok := out[name]; ok {
			out[name] = jsonField{typ: f.Type, index: old.index}
			continue
		}
		out[name] = jsonField{typ: f.Type, index: len(out)}
	}
}

// skipValue reads the rest of a value whose first token is tok.
func skipValue(dec *json.Decoder, tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || d == '}' || d == ']' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func syntaxError(err error) error {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return invalid("malformed JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("malformed JSON: unexpected end of body")
	}
	return invalid("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// describeType names a field type the way JSON sees it.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a JSON value"
}

// describeToken names what the client sent.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "the string " + truncate(strconv.Quote(v))
	case json.Number:
		return "the number " + truncate(string(v))
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return "a JSON value"
}

func quoteField(path string) string { return truncate(strconv.Quote(path)) }

// truncate shortens s, a piece of the client's input echoed in a message,
// to at most 64 characters (not bytes, so no character is cut in half).
func truncate(s string) string {
	const limit = 64
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit]) + "..."
}
