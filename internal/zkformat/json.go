package zkformat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// obj is a znode's top-level JSON object, read field by field so names
// match exactly (as Kafka's reader does; encoding/json alone would also
// take "Leader" for "leader"), unknown fields are ignored, and a missing
// field is told apart from a zero one.
type obj struct {
	path string
	m    map[string]json.RawMessage
}

func object(path string, data []byte) (obj, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return obj{}, errorf(path, "malformed JSON: %v (content %s)", jsonErr(err), truncate(string(data)))
	}
	if m == nil {
		return obj{}, errorf(path, "malformed JSON: want an object, got %s", truncate(string(data)))
	}
	return obj{path: path, m: m}, nil
}

// jsonErr drops the Go type names encoding/json puts in its errors: an
// operator reads these.
func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "want an object, got " + te.Value
	}
	return err.Error()
}

func (o obj) has(key string) bool {
	v, ok := o.m[key]
	return ok && string(v) != "null"
}

func (o obj) missing(key string) error { return errorf(o.path, "missing field %q", key) }

// decode reads field key into v; false when it is absent or null.
func (o obj) decode(key string, v any, want string) (bool, error) {
	raw, ok := o.m[key]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, errorf(o.path, "field %q: want %s, got %s", key, want, truncate(string(raw)))
	}
	return true, nil
}

func (o obj) int32(key string, v *int32) (bool, error) {
	return o.decode(key, v, "a 32-bit integer")
}

func (o obj) string(key string, v *string) (bool, error) {
	return o.decode(key, v, "a string")
}

// version reads the required "version" field.
func (o obj) version() (int, error) {
	var v int32
	if ok, err := o.decode("version", &v, "an integer"); err != nil {
		return 0, err
	} else if !ok {
		return 0, o.missing("version")
	}
	return int(v), nil
}

// decimalOrString reads an integer Kafka writes as a decimal string
// (timestamps, producer ids); a JSON number is taken too. Absent is 0.
func (o obj) decimalOrString(key string) (int64, error) {
	raw, ok := o.m[key]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, errorf(o.path, "field %q: %q is not a decimal integer", key, truncate(s))
		}
		return n, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errorf(o.path, "field %q: want a decimal integer, got %s", key, truncate(string(raw)))
	}
	return n, nil
}

func unknownVersion(path string, v int, what, known string) error {
	word := "version"
	if strings.Contains(known, "-") {
		word = "versions"
	}
	return errorf(path, "unknown version %d of %s; YAKt reads %s %s", v, what, word, known)
}

// truncate keeps error messages short when a znode holds something large.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// mustMarshal encodes the encoders' own structs, which cannot fail.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("zkformat: encoding %T: %v", v, err))
	}
	return b
}

// mustMarshalWith is mustMarshal with extra members added at the end of
// the object: Kafka writes some maps even when empty, which omitempty
// cannot express.
func mustMarshalWith(v any, members ...string) []byte {
	b := mustMarshal(v)
	b = bytes.TrimSuffix(b, []byte("}"))
	return append(b, []byte(","+strings.Join(members, ",")+"}")...)
}
