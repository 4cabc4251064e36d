package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// roundTrip sends req to a Kafka listener over a connection of its own,
// as a client does, and decodes the answer at the same version.
func roundTrip(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetWriteDeadline(dl); err != nil {
			return nil, err
		}
	}
	const corr = 7
	clientID := "yakt-test"
	if _, err := conn.Write(frame(req, corr, &clientID)); err != nil {
		return nil, fmt.Errorf("write %s: %w", kmsg.NameForKey(req.Key()), err)
	}
	c := &wireClient{conn: conn, br: bufio.NewReader(conn)}
	return c.recv(req, corr)
}
