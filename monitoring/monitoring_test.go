package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promtool returns the path of promtool (Debian's prometheus package):
// CI must have it, elsewhere the test is skipped without it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool not found (CI=true): .ci/run installs Debian's prometheus package: %v", err)
		}
		t.Skipf("promtool not found; install Debian's prometheus package to run this test: %v", err)
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestAlertRulesPassPromtool(t *testing.T) {
	runPromtool(t, "check", "rules", "alerts.yml")
	runPromtool(t, "test", "rules", "alerts_test.yml")
}

// dashboardQueries returns every PromQL expression in the dashboard,
// panel title first.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(GrafanaDashboard, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Fatalf("dashboard without title or uid")
	}
	out := map[string][]string{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// TestDashboardQueriesParse has promtool parse every dashboard query, as
// recording rules with Grafana's variables filled in.
func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboardQueries(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	titles := make([]string, 0, len(queries))
	for title := range queries {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	n := 0
	for _, title := range titles {
		for _, q := range queries[title] {
			n++
			quoted, _ := json.Marshal(vars.Replace(q)) // JSON strings are YAML strings
			fmt.Fprintf(&b, "      - record: dashboard:query%d\n        expr: %s\n", n, quoted)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", path)
}

var metricName = regexp.MustCompile(`\byakt_[a-z0-9_]+`)

// usedMetrics are the yakt_ metric names alerts.yml and the dashboard use.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	for file, b := range map[string][]byte{"alerts.yml": AlertRules, "grafana-dashboard.json": GrafanaDashboard} {
		for _, name := range metricName.FindAllString(string(b), -1) {
			if !slices.Contains(used[name], file) {
				used[name] = append(used[name], file)
			}
		}
	}
	if len(used) < 20 {
		t.Fatalf("found only %d yakt_ metric names in the alerts and dashboard: %v", len(used), used)
	}
	return used
}

// TestRunbookEntries checks that every alert has its entry in
// docs/operations.md, where its runbook_url points.
func TestRunbookEntries(t *testing.T) {
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, alertsSection, ok := strings.Cut(string(ops), "\n## Alerts\n")
	if !ok {
		t.Fatal("docs/operations.md has no ## Alerts section")
	}
	if i := strings.Index(alertsSection, "\n## "); i >= 0 {
		alertsSection = alertsSection[:i]
	}
	alerts := regexp.MustCompile(`(?m)^\s+- alert: (\w+)$`).FindAllStringSubmatch(string(AlertRules), -1)
	urls := regexp.MustCompile(`(?m)^\s+runbook_url: "docs/operations\.md#(\w+)"$`).FindAllStringSubmatch(string(AlertRules), -1)
	if len(alerts) == 0 || len(alerts) != len(urls) {
		t.Fatalf("%d alerts, %d runbook URLs", len(alerts), len(urls))
	}
	for i, a := range alerts {
		name := a[1]
		if urls[i][1] != strings.ToLower(name) {
			t.Errorf("alert %s: runbook_url anchor #%s, want #%s", name, urls[i][1], strings.ToLower(name))
		}
		if !strings.Contains(alertsSection, "\n### "+name+"\n") {
			t.Errorf("docs/operations.md ## Alerts has no ### %s entry", name)
		}
	}
}

// TestMetricsOfARunningCluster starts a real 3-node cluster, writes to
// it, and checks its /metrics: every name the alerts and the dashboard
// use is exported, and the new series say what the cluster is.
func TestMetricsOfARunningCluster(t *testing.T) {
	c := startCluster(t)
	lead := c.waitLeader()
	for id := 1; id <= 3; id++ {
		c.do(lead, "POST", "/v1/brokers",
			fmt.Sprintf(`{"brokerId":%d,"brokerHost":"10.0.0.%d","brokerPort":"9092","securityProtocol":"PLAINTEXT","rackId":"r%d"}`, id, id, id), 201)
	}
	c.do(lead, "POST", "/v1/topics", `{"name":"orders","partitions":3,"replicationFactor":2}`, 201)
	c.do(lead, "POST", "/v1/topics", `{"name":"payments","partitions":2,"replicationFactor":3}`, 201)
	c.do(lead, "GET", "/v1/topics/orders", "", 200)
	c.do(lead, "GET", "/v1/topics/nope", "", 404)
	// Every node must have applied the writes before its own snapshot.
	waitFor(t, 10*time.Second, func() string {
		want := c.servers[lead].Node.CommitIndex()
		for id, s := range c.servers {
			if got := s.Node.AppliedIndex(); got < want {
				return fmt.Sprintf("node %d applied %d, leader committed %d", id, got, want)
			}
		}
		return ""
	})
	for id := range c.servers {
		c.do(id, "POST", "/v1/snapshots", "", 201)
	}
	snapshotted := time.Now() // every snapshot was written before this

	t.Run("every metric the alerts and dashboard use is exported", func(t *testing.T) {
		used := usedMetrics(t)
		waitFor(t, 10*time.Second, func() string {
			exported := map[string]bool{}
			for id := range c.servers {
				s := c.scrape(id)
				for _, x := range s.samples {
					exported[x.name] = true
				}
				for name := range s.families {
					exported[name] = true
				}
			}
			var missing []string
			for name, files := range used {
				if !exported[name] {
					missing = append(missing, fmt.Sprintf("%s (in %s)", name, strings.Join(files, ", ")))
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				return "not exported by any node: " + strings.Join(missing, "; ")
			}
			return ""
		})
	})

	t.Run("series say what the cluster is", func(t *testing.T) {
		lead := c.waitLeader()
		waitFor(t, 10*time.Second, func() string {
			for id := range c.servers {
				if msg := checkNode(c.scrape(id), id, lead); msg != "" {
					return fmt.Sprintf("node %d: %s", id, msg)
				}
			}
			return ""
		})
	})

	t.Run("snapshot metrics are right after a restart", func(t *testing.T) {
		id := c.waitLeader()%3 + 1 // a follower
		before, _ := c.scrape(id).get("yakt_snapshot_size_bytes", nil)
		c.restart(id)
		since := time.Since(snapshotted)
		s := c.scrape(id)
		if size, ok := s.get("yakt_snapshot_size_bytes", nil); !ok || size != before || size == 0 {
			t.Errorf("yakt_snapshot_size_bytes after restart = %v (present %v), before %v", size, ok, before)
		}
		// The age counts from the file's own time, not from the restart.
		if age, ok := s.get("yakt_snapshot_age_seconds", nil); !ok || age < since.Seconds() || age > since.Seconds()+60 {
			t.Errorf("yakt_snapshot_age_seconds after restart = %v (present %v), the snapshot is at least %v old", age, ok, since)
		}
	})

	t.Run("an election is timed", func(t *testing.T) {
		old := c.waitLeader()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.servers[old].Stop(ctx) // hands leadership over first
		delete(c.servers, old)
		lead := c.waitLeader()
		waitFor(t, 10*time.Second, func() string {
			for id := range c.servers {
				s := c.scrape(id)
				if v, _ := s.get("yakt_raft_leader_id", nil); v != float64(lead) {
					return fmt.Sprintf("node %d: yakt_raft_leader_id %v, want %d", id, v, lead)
				}
				if n, _ := s.get("yakt_raft_election_duration_seconds_count", nil); n < 1 {
					return fmt.Sprintf("node %d timed no election after leader %d stopped", id, old)
				}
				if n, _ := s.get("yakt_raft_leader_changes_seen_total", nil); n < 2 {
					return fmt.Sprintf("node %d: yakt_raft_leader_changes_seen_total %v, want >= 2", id, n)
				}
			}
			return ""
		})
	})
}

// checkNode returns what is wrong with node id's scrape, "" if nothing.
func checkNode(s scrape, id, lead uint64) string {
	eq := func(name string, labels map[string]string, want float64) string {
		got, ok := s.get(name, labels)
		if !ok {
			return fmt.Sprintf("%s%v missing", name, labels)
		}
		if got != want {
			return fmt.Sprintf("%s%v = %v, want %v", name, labels, got, want)
		}
		return ""
	}
	atLeast := func(name string, labels map[string]string, min float64) string {
		got, ok := s.get(name, labels)
		if !ok {
			return fmt.Sprintf("%s%v missing", name, labels)
		}
		if got < min {
			return fmt.Sprintf("%s%v = %v, want >= %v", name, labels, got, min)
		}
		return ""
	}
	leading := id == lead
	checks := []string{
		eq("yakt_raft_leader_id", nil, float64(lead)),
		eq("yakt_raft_has_leader", nil, 1),
		eq("yakt_raft_is_leader", nil, b2f(leading)),
		eq("yakt_raft_state", map[string]string{"state": "leader"}, b2f(leading)),
		eq("yakt_raft_state", map[string]string{"state": "follower"}, b2f(!leading)),
		eq("yakt_raft_state", map[string]string{"state": "candidate"}, 0),
		eq("yakt_raft_state", map[string]string{"state": "pre-candidate"}, 0),
		eq("yakt_controller_topics", nil, 2),
		eq("yakt_controller_partitions", nil, 5),
		eq("yakt_controller_active_brokers", nil, 3),
		eq("yakt_controller_fenced_brokers", nil, 0),
		eq("yakt_controller_offline_partitions", nil, 0),
		eq("yakt_controller_under_replicated_partitions", nil, 0),
		eq("yakt_controller_preferred_replica_imbalance", nil, 0),
		atLeast("yakt_metadata_records_applied_total", nil, 3+2+5),
		atLeast("yakt_raft_log_entries_appended_total", nil, 5),
		atLeast("yakt_raft_entries_applied_total", nil, 5),
		atLeast("yakt_log_size_bytes", nil, 1),
		atLeast("yakt_wal_size_bytes", nil, 1),
		atLeast("yakt_snapshot_size_bytes", nil, 1),
	}
	if leading {
		checks = append(checks,
			eq("yakt_raft_voted_for", nil, float64(lead)),
			atLeast("yakt_raft_commit_duration_seconds_count", nil, 5),
			atLeast(`yakt_http_requests_total`, map[string]string{"method": "POST", "route": "/v1/topics", "code": "201"}, 2),
			atLeast(`yakt_http_requests_total`, map[string]string{"method": "GET", "route": "/v1/topics/{name}", "code": "404"}, 1),
			atLeast(`yakt_http_request_duration_seconds_count`, map[string]string{"method": "POST", "route": "/v1/brokers"}, 3),
		)
	}
	for _, msg := range checks {
		if msg != "" {
			return msg
		}
	}
	end, _ := s.get("yakt_raft_log_end_offset", nil)
	commit, _ := s.get("yakt_raft_commit_index", nil)
	if end < commit || commit < 5 {
		return fmt.Sprintf("log end offset %v, commit index %v", end, commit)
	}
	logBytes, _ := s.get("yakt_log_size_bytes", nil)
	walBytes, _ := s.get("yakt_wal_size_bytes", nil)
	snapBytes, _ := s.get("yakt_snapshot_size_bytes", nil)
	if logBytes < walBytes+snapBytes {
		return fmt.Sprintf("yakt_log_size_bytes %v < WAL %v + snapshot %v", logBytes, walBytes, snapBytes)
	}
	if age, ok := s.get("yakt_snapshot_age_seconds", nil); !ok || age < 0 || age > 120 {
		return fmt.Sprintf("yakt_snapshot_age_seconds %v (present %v) for a snapshot just taken", age, ok)
	}
	if idx, _ := s.get("yakt_snapshot_index", nil); idx < 5 {
		return fmt.Sprintf("yakt_snapshot_index %v", idx)
	}
	for peer := uint64(1); peer <= 3; peer++ {
		if peer == id {
			continue
		}
		p := map[string]string{"peer": strconv.FormatUint(peer, 10)}
		if msg := atLeast("yakt_peer_sent_bytes_total", p, 1); msg != "" {
			return msg
		}
		if msg := atLeast("yakt_peer_received_bytes_total", p, 1); msg != "" {
			return msg
		}
		if _, ok := s.get("yakt_peer_sent_failures_total", p); !ok {
			return fmt.Sprintf("yakt_peer_sent_failures_total%v missing", p)
		}
		v := map[string]string{"voter": p["peer"]}
		lag, hasLag := s.get("yakt_raft_follower_lag_entries", v)
		contact, hasContact := s.get("yakt_raft_follower_last_contact_seconds", v)
		if !leading {
			if hasLag || hasContact {
				return "a follower exports the leader's view of the voters"
			}
			continue
		}
		if !hasLag || lag > 100 {
			return fmt.Sprintf("yakt_raft_follower_lag_entries%v = %v (present %v)", v, lag, hasLag)
		}
		if !hasContact || contact < 0 || contact > 5 {
			return fmt.Sprintf("yakt_raft_follower_last_contact_seconds%v = %v (present %v)", v, contact, hasContact)
		}
		if n, _ := s.get("yakt_peer_round_trip_time_seconds_count", p); n < 1 {
			return fmt.Sprintf("no heartbeat round trip timed to peer %d", peer)
		}
	}
	return ""
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
