package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/yakt/yakt/internal/api"
	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/certs"
	"github.com/yakt/yakt/internal/defaults"
)

// security is a node's TLS material and access file, as configured.
// Either may be nil: TLS off, authentication off.
type security struct {
	files  *certs.Files
	access *auth.Store
}

// loadSecurity reads the certificate and access files the configuration
// names, and refuses a configuration that would leave a TLS node open
// to anyone (TLS without an access file) or half configured.
func loadSecurity(cfg *Config) (*security, error) {
	var sec security
	given := 0
	for _, f := range []string{cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCAFile} {
		if f != "" {
			given++
		}
	}
	if given != 0 && given != 3 {
		return nil, errors.New("TLS needs all three of --tls-cert, --tls-key and --tls-ca (or none of them, for plain TCP)")
	}
	if given == 3 {
		if cfg.AccessFile == "" {
			// TLS proves who the client is; without roles to check that
			// against, anyone with a certificate of the CA (every node
			// has one) could do everything.
			return nil, errors.New("TLS without --access-file: the access file binds clients to roles and is required with TLS (see docs/security.md)")
		}
		f, err := certs.Load(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS files: %w", err)
		}
		sec.files = f
	}
	if cfg.AccessFile != "" && given == 0 && cfg.ForwardOverHTTP {
		// The nodes' own HTTP requests to each other (forwarded writes,
		// heartbeat batches) authenticate with their node certificates;
		// without TLS they would have none and be refused.
		return nil, errors.New("an access file without TLS needs the peer hop for forwarding: ForwardOverHTTP would send the nodes' own requests without a credential")
	}
	if cfg.AccessFile != "" {
		st, err := auth.OpenStore(cfg.AccessFile)
		if err != nil {
			return nil, fmt.Errorf("access file %s: %w", cfg.AccessFile, err)
		}
		sec.access = st
	}
	return &sec, nil
}

// tlsOn says whether the listeners speak TLS.
func (s *security) tlsOn() bool { return s != nil && s.files != nil }

// httpClient is the client of this node's own requests to other nodes
// before raft runs (join): it presents the node's certificate.
func (s *security) httpClient(timeout time.Duration) *http.Client {
	if !s.tlsOn() {
		return &http.Client{Timeout: timeout}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Go's verification against the current CA bundle, host name or IP
	// address included: the address a join is given must be the node's.
	tr.DialTLSContext = s.files.DialTLSContext
	return &http.Client{Timeout: timeout, Transport: tr}
}

// scheme is the scheme of this node's (and its peers') HTTP API.
func (s *security) scheme() string {
	if s.tlsOn() {
		return "https"
	}
	return "http"
}

// checkIdentity refuses a certificate that does not name this node in
// its cluster: its peers would refuse it, and it would act as another
// node on their HTTP ports.
func (s *security) checkIdentity(nodeID uint64, clusterID string) error {
	if !s.tlsOn() {
		return nil
	}
	leaf := s.files.Leaf()
	got, ok := certs.NodeIDOf(leaf, clusterID)
	switch {
	case !ok:
		return fmt.Errorf("the certificate %s (subject %q, DNS names %v) does not name a node of cluster %q: node %d's certificate needs the DNS name %s (see docs/security.md)",
			"--tls-cert", leaf.Subject.String(), leaf.DNSNames, clusterID, nodeID, certs.NodeName(clusterID, nodeID))
	case got != nodeID:
		return fmt.Errorf("the certificate of --tls-cert names node %d of cluster %q, but this is node %d: it needs the DNS name %s (see docs/security.md)",
			got, clusterID, nodeID, certs.NodeName(clusterID, nodeID))
	}
	return nil
}

// checkExposure refuses a plain-TCP listener bound to an address other
// machines reach, unless the operator said --insecure; then it warns,
// at every start, so the choice stays visible in the logs.
func (s *security) checkExposure(cfg *Config, log *slog.Logger, listeners map[string]net.Listener) error {
	if s.tlsOn() {
		return nil
	}
	var exposed []string
	for _, name := range []string{"peer", "HTTP", "Kafka"} {
		l := listeners[name]
		if l == nil || isLoopback(l.Addr()) {
			continue
		}
		exposed = append(exposed, fmt.Sprintf("%s port %s", name, l.Addr()))
	}
	if len(exposed) == 0 {
		if cfg.Insecure {
			log.Warn("--insecure: TLS is off; the listeners are on loopback addresses only")
		}
		return nil
	}
	if !cfg.Insecure {
		return fmt.Errorf("the %s listen on a non-loopback address without TLS: anyone who reaches them could change the cluster; give --tls-cert, --tls-key, --tls-ca and --access-file (see docs/security.md), or --insecure to run without TLS on a network you trust",
			strings.Join(exposed, " and "))
	}
	log.Warn("INSECURE: TLS is off on a non-loopback address (--insecure): anyone who reaches these ports can read and change the cluster",
		"listeners", strings.Join(exposed, ", "))
	return nil
}

// isLoopback says whether addr is bound to a loopback address only.
// Anything else (a wildcard address, an interface's address, a Unix
// socket's path) may be reached from elsewhere.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Reload reads the certificate and access files again now (yakt server
// calls it on SIGHUP; they are also polled every defaults.ReloadInterval).
// On an error the node keeps the material it had; new handshakes and
// requests use the new files, established connections stay.
func (s *Server) Reload() error {
	var errs []error
	if s.sec.files != nil {
		changed, err := s.sec.files.Reload()
		if err != nil {
			errs = append(errs, fmt.Errorf("reload TLS files: %w", err))
		} else {
			s.log.Info("reloaded the TLS files", "changed", changed, "not_after", s.sec.files.Leaf().NotAfter)
		}
	}
	if s.sec.access != nil {
		changed, err := s.sec.access.Reload()
		if err != nil {
			errs = append(errs, fmt.Errorf("reload access file %s: %w", s.cfg.AccessFile, err))
		} else {
			s.log.Info("reloaded the access file", "changed", changed)
		}
	}
	return errors.Join(errs...)
}

// startWatching polls the certificate and access files for changes
// until stopWatching.
func (s *Server) startWatching() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if s.sec.files != nil {
		wg.Go(func() { s.sec.files.Watch(ctx, defaults.ReloadInterval, s.log) })
	}
	if s.sec.access != nil {
		wg.Go(func() { s.sec.access.Watch(ctx, defaults.ReloadInterval, s.log) })
	}
	s.stopWatch = func() { cancel(); wg.Wait() }
}

// wrapHTTP wraps the HTTP listener: the connection limit on the raw
// connections (so a flood of handshakes is bounded too), then TLS.
func (s *security) wrapHTTP(l net.Listener, maxConns int) net.Listener {
	l = api.LimitListener(l, maxConns)
	if s.tlsOn() {
		l = tls.NewListener(l, s.files.HTTPServerConfig())
	}
	return l
}
