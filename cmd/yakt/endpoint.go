package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
)

func newEndpointCmd(g *globals) *cobra.Command {
	cmd := newGroup("endpoint", "Ask each endpoint about itself: status (etcdctl's columns) or health")
	cmd.Long = `Ask each of --endpoints separately about itself, as etcdctl endpoint does: a node that cannot
be reached is a row with its error, not a failed command. The exit status is 3 when any endpoint
failed (status) or is not healthy (health).`
	cmd.Example = "  yakt endpoint status\n  yakt endpoint health"
	cmd.AddCommand(newEndpointStatusCmd(g), newEndpointHealthCmd(g))
	return cmd
}

// endpointStatus is one row of `endpoint status`. Sizes are -1 when the
// node does not report them.
type endpointStatus struct {
	Endpoint         string   `json:"endpoint"`
	ID               uint64   `json:"id"`
	Version          string   `json:"version"`
	DBSizeBytes      int64    `json:"dbSizeBytes"`
	SnapshotBytes    int64    `json:"snapshotSizeBytes"`
	IsLeader         bool     `json:"isLeader"`
	Leader           uint64   `json:"leader"`
	RaftTerm         uint64   `json:"raftTerm"`
	RaftIndex        uint64   `json:"raftIndex"`
	RaftAppliedIndex uint64   `json:"raftAppliedIndex"`
	Errors           []string `json:"errors,omitempty"`
}

// dbSizeMetric is the gauge of what a node keeps on disk (WAL segments and
// snapshot files): etcdctl's DB SIZE. A node of a version without it
// shows "-".
const dbSizeMetric = "yakt_log_size_bytes"

func newEndpointStatusCmd(g *globals) *cobra.Command {
	return command("status", "Each endpoint's id, version, sizes, leadership, term and indexes",
		`  yakt endpoint status
  yakt endpoint status --endpoints http://10.0.0.1:8001,http://10.0.0.2:8001 -o json`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			return g.withClient(true, func(ctx context.Context, c *client.Client) error {
				rows := eachEndpoint(c, func(ep string) endpointStatus { return statusOf(ctx, c, ep) })
				var bad error
				var table [][]string
				for _, r := range rows {
					if len(r.Errors) > 0 {
						bad = &exitError{code: exitUnavailable, err: fmt.Errorf("%s: %s", r.Endpoint, r.Errors[0])}
						table = append(table, []string{r.Endpoint, "", "", "", "", "", "", "", "", joinErrors(r.Errors)})
						continue
					}
					table = append(table, []string{r.Endpoint, strconv.FormatUint(r.ID, 10), r.Version, size(r.DBSizeBytes), size(r.SnapshotBytes),
						strconv.FormatBool(r.IsLeader), strconv.FormatUint(r.RaftTerm, 10), strconv.FormatUint(r.RaftIndex, 10),
						strconv.FormatUint(r.RaftAppliedIndex, 10), ""})
				}
				return g.report(rows, []string{"ENDPOINT", "ID", "VERSION", "DB SIZE", "SNAPSHOT SIZE", "IS LEADER", "RAFT TERM",
					"RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"}, table, bad)
			})
		})
}

// eachEndpoint runs fn for every endpoint at once and returns the results
// in the endpoints' order.
func eachEndpoint[R any](c *client.Client, fn func(endpoint string) R) []R {
	eps := c.Endpoints()
	out := make([]R, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = fn(ep) }()
	}
	wg.Wait()
	return out
}

// statusOf reads one node's /metrics: every figure comes from one
// answer, so they agree with each other.
func statusOf(ctx context.Context, c *client.Client, ep string) endpointStatus {
	st := endpointStatus{Endpoint: ep, DBSizeBytes: -1, SnapshotBytes: -1}
	meta, err := c.PingAt(ctx, ep)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
		return st
	}
	st.ID, st.Leader = meta.Node, meta.Leader
	text, err := c.MetricsAt(ctx, ep)
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
		return st
	}
	fams, err := parseMetrics(text)
	if err != nil {
		st.Errors = append(st.Errors, fmt.Sprintf("parse /metrics: %v", err))
		return st
	}
	gauge := func(name string) (float64, bool) {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			return 0, false
		}
		m := f.Metric[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
		return 0, false
	}
	var missing []string
	need := func(name string) uint64 {
		v, ok := gauge(name)
		if !ok {
			missing = append(missing, name)
		}
		return uint64(v)
	}
	st.RaftTerm = need("yakt_raft_term")
	st.RaftIndex = need("yakt_raft_commit_index")
	st.RaftAppliedIndex = need("yakt_raft_applied_index")
	st.IsLeader = need("yakt_raft_is_leader") == 1
	if len(missing) > 0 {
		st.Errors = append(st.Errors, fmt.Sprintf("/metrics lacks %v", missing))
	}
	st.Version = "unknown"
	if f := fams["yakt_build_info"]; f != nil && len(f.Metric) > 0 {
		for _, l := range f.Metric[0].Label {
			if l.GetName() == "version" {
				st.Version = l.GetValue()
			}
		}
	}
	if v, ok := gauge("yakt_snapshot_size_bytes"); ok {
		st.SnapshotBytes = int64(v)
	}
	if v, ok := gauge(dbSizeMetric); ok {
		st.DBSizeBytes = int64(v)
	}
	return st
}

func parseMetrics(text []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(text))
}

// size prints bytes as etcdctl does (25 kB, 1.2 MB); -1 is unknown.
func size(b int64) string {
	if b < 0 {
		return "-"
	}
	const unit = 1000
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(b)/float64(div), "kMGTPE"[exp])
}

func joinErrors(errs []string) string {
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return b.String()
}

// endpointHealth is one row of `endpoint health`.
type endpointHealth struct {
	Endpoint string `json:"endpoint"`
	Health   bool   `json:"health"`
	Took     string `json:"took"`
	Error    string `json:"error,omitempty"`
}

func newEndpointHealthCmd(g *globals) *cobra.Command {
	return command("health", "Whether each endpoint can serve a linearizable read now (GET /readyz)",
		`  yakt endpoint health
  yakt endpoint health --endpoints http://10.0.0.3:8001 && echo node 3 is serving`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			return g.withClient(true, func(ctx context.Context, c *client.Client) error {
				rows := eachEndpoint(c, func(ep string) endpointHealth {
					start := time.Now()
					r, _, err := c.ReadyAt(ctx, ep)
					h := endpointHealth{Endpoint: ep, Health: err == nil && r.Status == contract.Ready, Took: time.Since(start).Round(time.Microsecond).String()}
					switch {
					case err != nil:
						h.Error = err.Error()
					case r.Status != contract.Ready:
						h.Error = r.Reason
					}
					return h
				})
				var bad error
				var table [][]string
				for _, h := range rows {
					if !h.Health {
						bad = &exitError{code: exitUnavailable, err: errors.New("not every endpoint is healthy")}
					}
					table = append(table, []string{h.Endpoint, strconv.FormatBool(h.Health), h.Took, h.Error})
				}
				return g.report(rows, []string{"ENDPOINT", "HEALTH", "TOOK", "ERROR"}, table, bad)
			})
		})
}
