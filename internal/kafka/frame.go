package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// errProtocol wraps every malformed-input error: the connection that sent
// it is closed, as Kafka closes a connection it cannot parse.
var errProtocol = errors.New("kafka: protocol error")

// defaultMaxFrameBytes is Kafka's socket.request.max.bytes default.
const defaultMaxFrameBytes = 100 << 20

// readFrame reads one request frame: a 4-byte big-endian size, then that
// many bytes. A size below a request header's minimum or above max is a
// protocol error, refused before anything is allocated for it.
func readFrame(r io.Reader, max int32) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err // io.EOF: the client closed between requests
	}
	size := int32(binary.BigEndian.Uint32(n[:]))
	if size < minHeaderBytes || size > max {
		return nil, fmt.Errorf("%w: frame of %d bytes (want %d to %d)", errProtocol, size, minHeaderBytes, max)
	}
	// Small frames (nearly all) are read in one piece; a large one grows
	// with what actually arrives, so a client that announces 100 MiB and
	// sends little holds little.
	if size <= smallFrameBytes {
		frame := make([]byte, size)
		if _, err := io.ReadFull(r, frame); err != nil {
			return nil, cutShort(err)
		}
		return frame, nil
	}
	var buf bytes.Buffer
	buf.Grow(smallFrameBytes)
	if _, err := io.CopyN(&buf, r, int64(size)); err != nil {
		return nil, cutShort(err)
	}
	return buf.Bytes(), nil
}

// smallFrameBytes is the largest frame allocated whole before it is read.
const smallFrameBytes = 64 << 10

func cutShort(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: frame cut short: %w", errProtocol, err)
}

// minHeaderBytes is request header v1's size with a null client id: api
// key, api version, correlation id, client id length.
const minHeaderBytes = 2 + 2 + 4 + 2

// request is a parsed request frame.
type request struct {
	Header
	// api is the served API of the key, nil for a key this listener does
	// not serve.
	api *api
	// req is the decoded body; nil when the key or version is not served
	// (the body is then left undecoded).
	req kmsg.Request
	// supported is false for a version outside api's range.
	supported bool
}

// parseRequest parses a frame's request header (v1, or v2 with its tag
// section for a flexible version) and, for a served key and version,
// decodes the body with kmsg. An unknown key, a malformed header or body
// is a protocol error; an unsupported version of a served key is not (the
// caller decides the answer), and its body is not decoded.
func parseRequest(frame []byte) (request, error) {
	var r request
	if len(frame) < minHeaderBytes {
		return r, fmt.Errorf("%w: request header cut short", errProtocol)
	}
	r.APIKey = int16(binary.BigEndian.Uint16(frame[0:]))
	r.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	r.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	idLen := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[minHeaderBytes:]
	switch {
	case idLen == -1:
	case idLen < -1 || int(idLen) > len(rest):
		return r, fmt.Errorf("%w: client id of %d bytes in %d", errProtocol, idLen, len(rest))
	default:
		id := string(rest[:idLen])
		r.ClientID = &id
		rest = rest[idLen:]
	}
	r.api = apis[r.APIKey]
	if r.api == nil {
		return r, fmt.Errorf("%w: api key %d (%s) is not served", errProtocol, r.APIKey, kmsg.NameForKey(r.APIKey))
	}
	r.supported = r.APIVersion >= r.api.minVersion && r.APIVersion <= r.api.maxVersion
	if !r.supported {
		return r, nil
	}
	req := kmsg.RequestForKey(r.APIKey)
	req.SetVersion(r.APIVersion)
	if req.IsFlexible() {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return r, err
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return r, fmt.Errorf("%w: %s v%d body: %v", errProtocol, kmsg.NameForKey(r.APIKey), r.APIVersion, err)
	}
	r.req = req
	return r, nil
}

// skipTags skips a tag section (KIP-482): a count, then per field a tag,
// a size and that many bytes. The request header defines no tags, so
// every one is skipped.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for ; n > 0; n-- {
		if _, b, err = uvarint(b); err != nil {
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes in %d", errProtocol, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v > 1<<31 {
		return 0, nil, fmt.Errorf("%w: bad varint in tag section", errProtocol)
	}
	return v, b[n:], nil
}

// appendResponse appends a response frame: size, header (v0: the
// correlation id; v1 adds an empty tag section, for a flexible version,
// except ApiVersions, which always answers in v0 so that a client can
// read it whatever version it asked in) and the encoded body.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// appendEncodedResponse is appendResponse for a body already encoded
// (by the leader, for a forwarded request).
func appendEncodedResponse(dst []byte, correlationID int32, flexible bool, body []byte) []byte {
	n := 4 + len(body)
	if flexible {
		n++
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if flexible {
		dst = append(dst, 0)
	}
	return append(dst, body...)
}
