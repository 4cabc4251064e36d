package storage

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// DirectoryID names one formatting of one data directory: `yakt format`
// (or a node's first start) draws it at random and it never changes. A
// node whose disk was wiped comes back with a new one, so the quorum can
// tell it from the member it replaces, whose log and vote it lost (as
// KRaft's directory ids do). The zero value means unknown: directories
// formatted before directory ids existed, until they are upgraded.
type DirectoryID [16]byte

// NewDirectoryID draws a random directory id.
func NewDirectoryID() DirectoryID {
	var d DirectoryID
	_, _ = rand.Read(d[:]) // never fails (crypto/rand panics instead)
	return d
}

// IsZero reports whether d is unknown.
func (d DirectoryID) IsZero() bool { return d == DirectoryID{} }

// String is Kafka's text form of a UUID: 22 characters of unpadded
// base64url. The zero id prints as "".
func (d DirectoryID) String() string {
	if d.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// ParseDirectoryID parses String's form; "" is the zero id.
func ParseDirectoryID(s string) (DirectoryID, error) {
	var d DirectoryID
	if s == "" {
		return d, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("directory id %q: want 22 characters of base64url (16 bytes)", s)
	}
	copy(d[:], b)
	return d, nil
}

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (d DirectoryID) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *DirectoryID) UnmarshalText(b []byte) error {
	v, err := ParseDirectoryID(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
