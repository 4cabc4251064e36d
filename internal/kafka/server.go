package kafka

import (
	"log/slog"
	"net"
	"time"

	"github.com/yakt/yakt/internal/controller"
)

// Config configures a Server.
type Config struct {
	Controller *controller.Controller
	Listener   net.Listener // bound; the Server closes it
	// Advertise is the host:port clients reach this listener at, given to
	// them in Metadata and to the other nodes. Default: the bound address.
	Advertise     string
	MaxFrameBytes int32         // largest request frame; default 100 MiB as Kafka's socket.request.max.bytes
	IdleTimeout   time.Duration // a connection with no request for this long is closed; default 10 minutes as Kafka's connections.max.idle.ms
	Logger        *slog.Logger
}

// Server serves the Kafka protocol on one listener.
type Server struct {
	cfg Config
	log *slog.Logger
}
