package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yakt/yakt/internal/buildinfo"
	"github.com/yakt/yakt/internal/raftnode"
)

// registerBuildInfo exposes which build runs, as yakt_build_info 1 with
// the build in its labels (the value `yakt version` prints), so a
// dashboard can tell a half-finished rolling upgrade.
func registerBuildInfo(reg prometheus.Registerer) {
	bi := buildinfo.Get()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "yakt_build_info",
		Help:        "Always 1; the labels name the running build's version, commit and Go version.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.GoVersion},
	}, func() float64 { return 1 }))
}

// registerTransportMetrics exposes the peer transport's counters. A
// second process running as one of the peers (a copied data directory)
// shows as refused handshakes; streams accepted at a steady rate show a
// connection that keeps breaking.
func registerTransportMetrics(reg prometheus.Registerer, node *raftnode.Node) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "yakt_peer_streams_accepted_total",
			Help: "Inbound peer message streams accepted (a peer keeps one open; each reconnect adds one).",
		}, func() float64 { return float64(node.TransportStats().AcceptedStreams) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "yakt_peer_duplicate_node_refused_total",
			Help: "Peer handshakes refused because another process with the same node id is connected.",
		}, func() float64 { return float64(node.TransportStats().RefusedDuplicates) }),
	)
}

// registerTLSMetrics exposes when the node's certificate expires, as
// loaded now: a rotation that did not happen shows before the
// handshakes fail.
func registerTLSMetrics(reg prometheus.Registerer, sec *security) {
	if !sec.tlsOn() {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "yakt_tls_certificate_expiry_timestamp_seconds",
		Help: "When this node's current TLS certificate expires (its NotAfter), in seconds since the Unix epoch.",
	}, func() float64 { return float64(sec.files.Leaf().NotAfter.Unix()) }))
}
