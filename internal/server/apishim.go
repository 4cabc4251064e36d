package server

import (
	"context"
	"net"
)

// Placeholders until api.LimitListener and api.ConnContext exist.
func limitListener(l net.Listener, n int) net.Listener { return l }

func connContext(ctx context.Context, c net.Conn) context.Context { return ctx }
