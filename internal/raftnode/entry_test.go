package raftnode

import (
	"bytes"
	"errors"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		props []proposal
	}{
		{"one", []proposal{{id: 1, payload: []byte("a")}}},
		{"empty payload", []proposal{{id: 7, payload: []byte{}}}},
		{"many", []proposal{{id: 1 << 63, payload: bytes.Repeat([]byte{9}, 300)}, {id: 2, payload: []byte("xy")}, {id: 3, payload: nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEntry(encodeEntry(tt.props))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.props) {
				t.Fatalf("got %d proposals, want %d", len(got), len(tt.props))
			}
			for i := range got {
				if got[i].id != tt.props[i].id || !bytes.Equal(got[i].payload, tt.props[i].payload) {
					t.Errorf("proposal %d: got %+v, want %+v", i, got[i], tt.props[i])
				}
			}
		})
	}
}

func TestDecodeEntryRejectsDamage(t *testing.T) {
	good := encodeEntry([]proposal{{id: 5, payload: []byte("hello")}})
	tests := map[string][]byte{
		"unknown version": append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"bad id varint":   {entryVersion, 0xff},
		"length too long": {entryVersion, 1, 50, 'a'},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeEntry(data); !errors.Is(err, errBadEntry) {
				t.Fatalf("err = %v, want errBadEntry", err)
			}
		})
	}
	if props, err := decodeEntry(nil); err != nil || props != nil {
		t.Fatalf("empty entry (leader no-op): %v %v", props, err)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry([]proposal{{id: 1, payload: []byte("x")}}))
	f.Add([]byte{entryVersion, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := decodeEntry(data)
		if err != nil {
			return
		}
		if again, err := decodeEntry(encodeEntry(props)); err != nil || len(again) != len(props) {
			t.Fatalf("re-decode: %v (%d vs %d)", err, len(again), len(props))
		}
	})
}
