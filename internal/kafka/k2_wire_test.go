package kafka_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// roundTrip sends req to a Kafka listener over TCP, as a client does
// (request header v1, or v2 with an empty tag section for a flexible
// version), and decodes the answer at the same version.
func roundTrip(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, err
		}
	}
	const corr = 7
	clientID := "yakt-test"
	body := make([]byte, 4, 256)
	body = binary.BigEndian.AppendUint16(body, uint16(req.Key()))
	body = binary.BigEndian.AppendUint16(body, uint16(req.GetVersion()))
	body = binary.BigEndian.AppendUint32(body, corr)
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	if req.IsFlexible() {
		body = append(body, 0) // no tagged fields
	}
	body = req.AppendTo(body)
	binary.BigEndian.PutUint32(body, uint32(len(body)-4))
	if _, err := conn.Write(body); err != nil {
		return nil, fmt.Errorf("write %s: %w", kmsg.NameForKey(req.Key()), err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, fmt.Errorf("read %s's answer size: %w", kmsg.NameForKey(req.Key()), err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, frame); err != nil {
		return nil, fmt.Errorf("read %s's answer: %w", kmsg.NameForKey(req.Key()), err)
	}
	if len(frame) < 4 || binary.BigEndian.Uint32(frame) != corr {
		return nil, fmt.Errorf("answer without correlation id %d: % x", corr, frame[:min(len(frame), 8)])
	}
	rest := frame[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != 18 { // ApiVersions answers with header v0
		n, w := binary.Uvarint(rest)
		if w <= 0 {
			return nil, fmt.Errorf("bad response header tags")
		}
		rest = rest[w:]
		for range n {
			_, w := binary.Uvarint(rest)
			if w <= 0 {
				return nil, fmt.Errorf("bad response header tag")
			}
			rest = rest[w:]
			l, w := binary.Uvarint(rest)
			if w <= 0 || uint64(len(rest)-w) < l {
				return nil, fmt.Errorf("bad response header tag size")
			}
			rest = rest[w+int(l):]
		}
	}
	if err := resp.ReadFrom(rest); err != nil {
		return nil, fmt.Errorf("decode %s's answer: %w", kmsg.NameForKey(req.Key()), err)
	}
	return resp, nil
}
