package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeFrame is a client's request frame: size, header (v2 with an
// empty tag section for a flexible version), body.
func encodeFrame(req kmsg.Request, corr int32, clientID *string) []byte {
	b := make([]byte, 4)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func versioned[T kmsg.Request](req T, v int16) T {
	req.SetVersion(v)
	return req
}

func TestParseRequest(t *testing.T) {
	id := "kcat"
	md := versioned(kmsg.NewPtrMetadataRequest(), 12)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("orders")
	md.Topics = append(md.Topics, rt)
	for _, tc := range []struct {
		name string
		req  kmsg.Request
		id   *string
	}{
		{"v1 header, null client id", versioned(kmsg.NewPtrMetadataRequest(), 4), nil},
		{"v2 header with tags", md, &id},
		{"ApiVersions v3", versioned(kmsg.NewPtrApiVersionsRequest(), 3), &id},
	} {
		frame := encodeFrame(tc.req, 77, tc.id)
		got, err := readFrame(bytes.NewReader(frame), defaultMaxFrameBytes)
		if err != nil {
			t.Fatalf("%s: readFrame: %v", tc.name, err)
		}
		r, err := parseRequest(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.APIKey != tc.req.Key() || r.APIVersion != tc.req.GetVersion() || r.CorrelationID != 77 || !r.supported || r.req == nil {
			t.Fatalf("%s: parsed %+v", tc.name, r)
		}
		if (r.ClientID == nil) != (tc.id == nil) || r.ClientID != nil && *r.ClientID != *tc.id {
			t.Fatalf("%s: client id %v, want %v", tc.name, r.ClientID, tc.id)
		}
	}
	r, err := parseRequest(encodeFrame(md, 1, &id)[4:])
	if err != nil {
		t.Fatal(err)
	}
	if got := r.req.(*kmsg.MetadataRequest); len(got.Topics) != 1 || *got.Topics[0].Topic != "orders" {
		t.Fatalf("Metadata v12 body: %+v", got)
	}
	// A tag section with a tagged field in it is skipped.
	withTag := encodeFrame(md, 1, nil)
	hdr := 4 + minHeaderBytes
	tagged := append(append(append([]byte{}, withTag[:hdr]...), 1, 5, 2, 0xaa, 0xbb), withTag[hdr+1:]...)
	if _, err := parseRequest(tagged[4:]); err != nil {
		t.Fatalf("header with a tagged field: %v", err)
	}
}

func TestParseRequestErrors(t *testing.T) {
	// A version outside the served range is parsed, not decoded: the
	// caller answers ApiVersions and closes anything else.
	r, err := parseRequest(encodeFrame(versioned(kmsg.NewPtrApiVersionsRequest(), 5), 1, nil)[4:])
	if err != nil || r.supported || r.req != nil {
		t.Fatalf("ApiVersions v5: %+v, %v; want parsed, unsupported", r, err)
	}
	for name, frame := range map[string][]byte{
		"unknown key":      encodeFrame(versioned(kmsg.NewPtrProduceRequest(), 3), 1, nil)[4:],
		"short header":     {0, 3, 0, 1},
		"client id beyond": {0, 3, 0, 1, 0, 0, 0, 1, 0, 200, 'a'},
		"negative id":      {0, 3, 0, 1, 0, 0, 0, 1, 0x80, 0},
		"bad body":         {0, 3, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0x7f},
		"bad tags":         {0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 3, 1},
	} {
		if _, err := parseRequest(frame); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v, want a protocol error", name, err)
		}
	}
	size := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	for name, in := range map[string][]byte{
		"oversize":        size(1 << 20),
		"negative":        size(0x80000000),
		"too small":       size(3),
		"truncated":       append(size(20), make([]byte, 19)...),
		"truncated large": append(size(1000), make([]byte, 999)...),
	} {
		if _, err := readFrame(bytes.NewReader(in), 1<<10); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v, want a protocol error", name, err)
		}
	}
	large := append(size(100<<10), bytes.Repeat([]byte{7}, 100<<10)...)
	if got, err := readFrame(bytes.NewReader(large), 1<<20); err != nil || !bytes.Equal(got, large[4:]) {
		t.Errorf("a 100 KiB frame: %d bytes, %v", len(got), err)
	}
	if _, err := readFrame(bytes.NewReader(nil), 1<<10); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

// FuzzReadRequest reads arbitrary bytes as a connection's requests: it
// must never panic, and a request it accepts must be one of a served
// key, in or out of its version range.
func FuzzReadRequest(f *testing.F) {
	id := "fuzz"
	for _, req := range []kmsg.Request{
		versioned(kmsg.NewPtrApiVersionsRequest(), 0), versioned(kmsg.NewPtrApiVersionsRequest(), 3),
		versioned(kmsg.NewPtrApiVersionsRequest(), 9), versioned(kmsg.NewPtrMetadataRequest(), 1),
		versioned(kmsg.NewPtrMetadataRequest(), 12), versioned(kmsg.NewPtrCreateTopicsRequest(), 7),
		versioned(kmsg.NewPtrDeleteTopicsRequest(), 6), versioned(kmsg.NewPtrInitProducerIDRequest(), 4),
	} {
		frame := encodeFrame(req, 3, &id)
		f.Add(frame)
		f.Add(frame[:len(frame)-1])
		f.Add(append(frame, frame...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bytes.NewReader(in)
		for {
			frame, err := readFrame(br, 1<<16)
			if err != nil {
				return
			}
			r, err := parseRequest(frame)
			if err != nil {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("parse error %v is not a protocol error", err)
				}
				return
			}
			if apis[r.APIKey] == nil || r.supported != (r.req != nil) {
				t.Fatalf("accepted %+v", r)
			}
			if r.supported {
				// What was decoded must encode again.
				_ = r.req.AppendTo(nil)
			}
		}
	})
}
