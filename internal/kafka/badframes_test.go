package kafka_test

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBadFrames: malformed input closes the connection and never takes
// the node down; a too-new ApiVersions gets the documented answer.
func testBadFrames(t *testing.T) {
	c := shared.c
	addr := c.KafkaAddr(shared.lead)
	raw := func(b []byte) *wireClient {
		cl := dial(t, addr)
		if _, err := cl.conn.Write(b); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	size := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	apiVersions := frame(func() kmsg.Request { r := kmsg.NewPtrApiVersionsRequest(); r.SetVersion(0); return r }(), 1, nil)
	for name, b := range map[string][]byte{
		"oversize":         size(200 << 20),
		"negative size":    size(0xffffffff),
		"short for header": append(size(3), 0, 18, 0),
		"truncated":        apiVersions[:len(apiVersions)-1],
		"client id beyond": append(size(10), 0, 18, 0, 0, 0, 0, 0, 1, 0, 9),
		"unknown key":      frame(func() kmsg.Request { r := kmsg.NewPtrProduceRequest(); r.SetVersion(3); return r }(), 1, nil),
		"bad body":         append(size(12), 0, 3, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff),
		"metadata v13":     frame(func() kmsg.Request { r := kmsg.NewPtrMetadataRequest(); r.SetVersion(13); return r }(), 1, nil),
	} {
		cl := raw(b)
		if name == "truncated" {
			cl.conn.(interface{ CloseWrite() error }).CloseWrite()
		}
		if err := cl.closed(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A too-new ApiVersions: v0 answer, UNSUPPORTED_VERSION, the list.
	cl := dial(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(9)
	corr := cl.send(req)
	v0 := kmsg.NewPtrApiVersionsRequest()
	v0.SetVersion(0)
	resp, err := cl.recv(v0, corr)
	if err != nil {
		t.Fatal(err)
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != 35 || len(av.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v9: error %d, %d keys; want 35 with the list", av.ErrorCode, len(av.ApiKeys))
	}
	// The node still serves.
	dial(t, addr).do(kmsg.NewPtrApiVersionsRequest(), 3)
}
