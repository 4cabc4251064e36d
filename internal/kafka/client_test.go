package kafka_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/internal/kafka"
)

// wireClient speaks the Kafka protocol with kmsg's encoders and a
// request header written here, one request at a time or pipelined.
type wireClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	corr int32
}

func dial(t testing.TB, addr string) *wireClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wireClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// frame encodes req as a request frame in its version (the frame tests'
// encoder).
var frame = kafka.EncodeFrame

func (c *wireClient) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	id := "yakt-test"
	if err := c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(frame(req, c.corr, &id)); err != nil {
		c.t.Fatalf("write %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return c.corr
}

// recv reads one response to req (sent with correlation id corr).
func (c *wireClient) recv(req kmsg.Request, corr int32) (kmsg.Response, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return nil, err
	}
	var n [4]byte
	if _, err := io.ReadFull(c.br, n[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		if len(body) == 0 || body[0] != 0 {
			return nil, fmt.Errorf("response header v1 without an empty tag section")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

// do sends req in version v and returns its response.
func (c *wireClient) do(req kmsg.Request, v int16) kmsg.Response {
	c.t.Helper()
	req.SetVersion(v)
	resp, err := c.recv(req, c.send(req))
	if err != nil {
		c.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), v, err)
	}
	return resp
}

// closed reports whether the server closed the connection: a read ends
// in EOF (or a reset) before the deadline.
func (c *wireClient) closed() error {
	if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	var b [1]byte
	_, err := c.br.Read(b[:])
	if err == nil {
		return fmt.Errorf("read a byte; want the connection closed")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return fmt.Errorf("connection still open after 10s")
	}
	return nil
}
