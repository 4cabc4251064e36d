package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/writebench"
)

// TestBenchWriteTLSTiny runs the write benchmark's TLS option small
// against three real server processes (this test binary acting as
// yakt): HTTPS and peer mutual TLS with a throwaway CA, an access file,
// and the load's client certificate. Writes must get through; a refused
// credential or a failed handshake would fail every one of them.
func TestBenchWriteTLSTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	t.Setenv(runMainEnv, "1") // the servers are this binary, run as `yakt server`
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := writebench.Run(ctx, writebench.Config{Bin: bin, Clients: []int{2}, Warmup: 200 * time.Millisecond,
		Duration: time.Second, TLS: true})
	if err != nil {
		t.Fatalf("a TLS run: %v", err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("%d rows, want the write row: %+v", len(res.Rows), res.Rows)
	}
	r := res.Rows[0]
	if r.Ops <= 0 {
		t.Fatalf("no write succeeded over TLS: %d errors, the first: %s", r.Errors, r.FirstErr)
	}
	// Other errors can be honest on a loaded machine (an election answers
	// 503 for a moment); an authentication or TLS failure never is.
	for _, bad := range []string{"401", "403", "tls:", "x509"} {
		if strings.Contains(r.FirstErr, bad) {
			t.Errorf("a write failed for its credential or TLS: %s", r.FirstErr)
		}
	}
}
