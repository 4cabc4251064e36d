package testcluster_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/testcluster"
)

// TestTLSProcesses runs real `yakt server` processes with the TLS and
// access flags: writes as admin work over HTTPS, a reader's write is
// refused, and SIGHUP reloads the access file (a removed token is 401
// at once) and the node certificates (a new handshake gets the new
// one) without a restart or a new leader.
func TestTLSProcesses(t *testing.T) {
	p := testcluster.StartProcessesWith(t, testcluster.BuildYakt(t), testcluster.ProcessOptions{Nodes: 3, TLS: true,
		Args: []string{"--broker-session-timeout", "1h"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	q, err := p.Quorum(ctx, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	do := func(id uint64, tlsCfg *tls.Config, token, method, path string, body any) *testcluster.Response {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 15 * time.Second}
		if token != "" {
			hc.Transport = bearer{token: token, rt: tr}
		}
		resp, err := testcluster.Do(ctx, hc, p.URL(id), method, path, body)
		if err != nil {
			t.Fatalf("%s %s on node %d: %v", method, path, id, err)
		}
		return resp
	}
	for _, id := range p.IDs() {
		if r := do(id, p.ClientTLS("admin"), "", http.MethodPost, "/v1/topics", map[string]any{"name": "t" + string(rune('0'+id))}); r.Status != http.StatusCreated {
			t.Fatalf("admin's write on node %d: %d %s", id, r.Status, r.Body)
		}
		if r := do(id, p.ClientTLS(""), p.Token("reader"), http.MethodPost, "/v1/topics", map[string]any{"name": "by-reader"}); r.Status != http.StatusForbidden || r.ErrorCode() != "FORBIDDEN" {
			t.Fatalf("reader's write on node %d: %d %s", id, r.Status, r.Body)
		}
	}

	// The reader's line goes; SIGHUP, and its token is unknown everywhere.
	var lines []string
	for _, pr := range testcluster.TLSPrincipals {
		if pr.Name != "reader" {
			lines = append(lines, p.AccessLine(pr.Name, pr.Roles))
		}
	}
	p.WriteAccess(lines)
	p.Reload()
	for _, id := range p.IDs() {
		if r := do(id, p.ClientTLS(""), p.Token("reader"), http.MethodGet, "/v1/topics", nil); r.Status != http.StatusUnauthorized || r.ErrorCode() != "UNAUTHENTICATED" {
			t.Fatalf("removed reader's read on node %d after SIGHUP: %d %s", id, r.Status, r.Body)
		}
	}

	before := map[uint64]string{}
	for _, id := range p.IDs() {
		before[id] = p.ServedCertificate(id).SerialNumber.String()
	}
	p.RotateNodeCerts()
	p.Reload()
	for _, id := range p.IDs() {
		if s := p.ServedCertificate(id).SerialNumber.String(); s == before[id] {
			t.Fatalf("node %d serves certificate %s after rotation and SIGHUP", id, s)
		}
		if r := do(id, p.ClientTLS("admin"), "", http.MethodPost, "/v1/topics", map[string]any{"name": "after-" + string(rune('0'+id))}); r.Status != http.StatusCreated {
			t.Fatalf("admin's write on node %d after rotation: %d %s", id, r.Status, r.Body)
		}
	}
	after, err := p.Quorum(ctx, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if after.LeaderID != q.LeaderID || after.LeaderEpoch != q.LeaderEpoch {
		t.Fatalf("leader %d epoch %d before, %d epoch %d after", q.LeaderID, q.LeaderEpoch, after.LeaderID, after.LeaderEpoch)
	}
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	rt    http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}
