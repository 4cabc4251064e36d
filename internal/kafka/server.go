package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/defaults"
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
	// MaxConnections bounds the open connections; one beyond it is
	// closed at once, as Kafka's max.connections does. Default
	// defaults.MaxConnections, the HTTP listener's.
	MaxConnections int
	// MaxInFlight bounds the requests one connection has read and not
	// yet answered; the connection is not read further until one is
	// answered. Default 100 (librdkafka's and franz-go's own bound per
	// connection is 5 to 1000000; a client pipelines only that much).
	MaxInFlight int
	// RequestTimeout bounds one request: its controller operation, or
	// its forwarding to the leader. Default defaults.RequestTimeout.
	RequestTimeout time.Duration
}

// Server serves the Kafka protocol on one listener.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ctrl *controller.Controller
	pids producerIDs // InitProducerId's ids (producerid.go)

	ctx    context.Context // ends at Close; every connection's derives from it
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	conns   map[*conn]struct{}
	serving bool
	wg      sync.WaitGroup // Serve's loop and every connection's goroutines
}

// New returns a Server for cfg; Serve serves it. It registers, with the
// controller, the handler of the Kafka requests followers forward here.
func New(cfg Config) (*Server, error) {
	if cfg.Controller == nil || cfg.Listener == nil {
		return nil, errors.New("kafka: a controller and a listener are required")
	}
	if cfg.Advertise == "" {
		cfg.Advertise = cfg.Listener.Addr().String()
	}
	if _, _, err := net.SplitHostPort(cfg.Advertise); err != nil {
		return nil, fmt.Errorf("kafka: advertised address %q: %w", cfg.Advertise, err)
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = defaultMaxFrameBytes
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = defaults.MaxConnections
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 100
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaults.RequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("listener", "kafka"), ctrl: cfg.Controller, conns: map[*conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ctrl.ServeForwardedKafka(s.serveForwarded)
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.cfg.Listener.Addr() }

// Advertise is the address given to clients and peers.
func (s *Server) Advertise() string { return s.cfg.Advertise }

// Serve accepts connections until Close; it returns nil after Close.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closed || s.serving {
		s.mu.Unlock()
		return nil
	}
	s.serving = true
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := s.cfg.Listener.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait, as net/http does.
			s.log.Warn("accept failed; retrying", "err", err, "after", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return nil
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.start(nc)
	}
}

// start runs a connection, or closes it at once when the listener is
// closed or holds MaxConnections.
func (s *Server) start(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxConnections {
		s.log.Warn("connection refused: the Kafka listener holds its maximum of connections", "remote", nc.RemoteAddr().String(), "max", s.cfg.MaxConnections)
		nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Close stops accepting, closes every connection (their requests'
// contexts end) and waits for every goroutine the Server started. It
// refuses forwarded requests from then on.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.cancel()
	err := s.cfg.Listener.Close()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.ctrl.ServeForwardedKafka(nil)
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
