package writebench

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/certs"
)

// TestSecureWritesWhatANodeLoads checks the material of a TLS run as the
// nodes read it: each node's files load and name that node, the access
// file makes the client certificate's principal an admin, and the load's
// TLS presents that certificate.
func TestSecureWritesWhatANodeLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	sec, err := secure(dir, "bench-cluster", []uint64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	flags := func(args []string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(args); i += 2 {
			m[args[i]] = args[i+1]
		}
		return m
	}
	common := flags(sec.args)
	if common["--tls-ca"] == "" || common["--access-file"] == "" || len(common) != 2 {
		t.Fatalf("flags of every node %q: want --tls-ca and --access-file", sec.args)
	}
	for _, id := range []uint64{1, 2, 3} {
		own := flags(sec.nodeArgs(id))
		f, err := certs.Load(own["--tls-cert"], own["--tls-key"], common["--tls-ca"])
		if err != nil {
			t.Fatalf("node %d's files %q: %v", id, sec.nodeArgs(id), err)
		}
		if got, ok := certs.NodeIDOf(f.Leaf(), "bench-cluster"); !ok || got != id {
			t.Errorf("node %d's certificate names node %d (%v)", id, got, ok)
		}
		if err := f.Leaf().VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("node %d's certificate: %v", id, err)
		}
		if fi, err := os.Stat(own["--tls-key"]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("node %d's key file: %v, mode %v: want 0600", id, err, fi.Mode().Perm())
		}
	}
	store, err := auth.OpenStore(common["--access-file"])
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := store.Lookup(Principal); !ok || !p.IsAdmin() {
		t.Errorf("access file: %s is %+v (%v), want an admin", Principal, p, ok)
	}
	if len(sec.client.Certificates) != 1 || sec.client.RootCAs == nil {
		t.Fatalf("the load's TLS: %d certificates, roots %v", len(sec.client.Certificates), sec.client.RootCAs)
	}
	leaf, err := x509.ParseCertificate(sec.client.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != Principal {
		t.Errorf("client certificate CN %q, want %q", leaf.Subject.CommonName, Principal)
	}
	caPEM, err := os.ReadFile(common["--tls-ca"])
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate against the nodes' CA: %v", err)
	}
}

var (
	tlsRounds   = flag.Int("tls-rounds", 3, "BenchmarkTLSCost: pairs of runs, TLS off then on")
	tlsClients  = flag.String("tls-clients", "64", "BenchmarkTLSCost: write rows, comma-separated client counts")
	tlsDuration = flag.Duration("tls-duration", 10*time.Second, "BenchmarkTLSCost: each row's measured window")
	tlsWarmup   = flag.Duration("tls-warmup", 2*time.Second, "BenchmarkTLSCost: each row's warmup")
	yaktBin     = flag.String("yakt-bin", "", "BenchmarkTLSCost: the yakt binary (default: built from ./cmd/yakt)")
)

// BenchmarkTLSCost measures the write rows of `yakt bench write` on
// fresh 3-node clusters, alternating plain HTTP and TLS (HTTPS with a
// client certificate, an access file, peer mutual TLS), so both see the
// same machine over the same minutes. It prints each side's table and
// reports the medians of the first row and their ratio, and the servers'
// CPU per write of each side (steadier than throughput on a shared
// machine). Each run is a
// full cluster start and its rows: run it once (-benchtime 1x).
//
//	go test -run '^$' -bench TLSCost -benchtime 1x ./internal/writebench/ -tls-rounds 3
func BenchmarkTLSCost(b *testing.B) {
	var counts []int
	for _, f := range strings.Split(*tlsClients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-tls-clients %q: want positive whole numbers separated by commas", *tlsClients)
		}
		counts = append(counts, n)
	}
	if *tlsRounds < 1 {
		b.Fatalf("-tls-rounds %d: want at least 1", *tlsRounds)
	}
	bin := *yaktBin
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "yakt")
		build := exec.Command("go", "build", "-o", bin, "github.com/yakt/yakt/cmd/yakt")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build ./cmd/yakt: %v\n%s", err, out)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := context.Background()
	for range b.N {
		var off, on []Result
		for i := range 2 * *tlsRounds {
			useTLS := i%2 == 1
			res, err := Run(ctx, Config{Bin: bin, Clients: counts, Warmup: *tlsWarmup, Duration: *tlsDuration,
				Run: i, TLS: useTLS, Log: log.With("tls", useTLS)})
			if err != nil {
				b.Fatalf("run %d (TLS %v): %v", i, useTLS, err)
			}
			if useTLS {
				on = append(on, res)
			} else {
				off = append(off, res)
			}
		}
		var sb strings.Builder
		for _, side := range []struct {
			name string
			runs []Result
		}{{"TLS off", off}, {"TLS on", on}} {
			what := "one run"
			if len(side.runs) > 1 {
				what = fmt.Sprintf("medians of %d runs", len(side.runs))
			}
			fmt.Fprintf(&sb, "\n%s, %s:\n\n", side.name, what)
			if err := WriteTable(&sb, side.runs); err != nil {
				b.Fatal(err)
			}
		}
		mOff, mOn := Median(off).Rows, Median(on).Rows
		for i := range mOff {
			fmt.Fprintf(&sb, "\nwrite row of %d clients: %.0f writes/s without TLS, %.0f with; TLS/plain = %.3f; server CPU per write %.3f ms without, %.3f ms with (%+.0f%%)\n",
				mOff[i].Clients, mOff[i].OpsPerS, mOn[i].OpsPerS, mOn[i].OpsPerS/mOff[i].OpsPerS,
				mOff[i].ServerCPU, mOn[i].ServerCPU, 100*(mOn[i].ServerCPU/mOff[i].ServerCPU-1))
		}
		fmt.Fprint(os.Stdout, sb.String())
		b.ReportMetric(mOff[0].OpsPerS, "writes/s-plain")
		b.ReportMetric(mOn[0].OpsPerS, "writes/s-tls")
		b.ReportMetric(mOn[0].OpsPerS/mOff[0].OpsPerS, "tls/plain")
		for side, rows := range map[string][]Row{"plain": mOff, "TLS": mOn} {
			for _, r := range rows {
				if r.Errors > 0 {
					b.Errorf("%s: %d writes failed at %d clients over the runs; the first is named under its table", side, r.Errors, r.Clients)
				}
			}
		}
	}
}
