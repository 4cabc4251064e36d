// Package monitoring holds YAKt's Prometheus alert rules (alerts.yml) and
// Grafana dashboard (grafana-dashboard.json), embedded so tools and
// packaging can ship the exact files the tests check: promtool accepts
// the rules and the dashboard's queries, and every metric either names is
// exported by a running node.
package monitoring

import _ "embed"

// AlertRules is alerts.yml, Prometheus alert rules for every node's
// /metrics scraped under job="yakt".
//
//go:embed alerts.yml
var AlertRules []byte

// GrafanaDashboard is grafana-dashboard.json, importable into Grafana
// with a Prometheus data source.
//
//go:embed grafana-dashboard.json
var GrafanaDashboard []byte
