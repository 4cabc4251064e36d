package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/auth"
	"github.com/yakt/yakt/internal/certs"
)

// freePeerAddr is a loopback address nothing listens on (for --voters).
func freePeerAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serverArgs starts a one-node cluster in a new data directory, HTTP on
// listenHTTP.
func serverArgs(t *testing.T, listenHTTP string, more ...string) []string {
	peer := freePeerAddr(t)
	return append([]string{"server", "--node-id", "1", "--cluster-id", "safe", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--voters", "1@" + peer, "--listen-http", listenHTTP, "--advertise-http", "127.0.0.1:1", "--log-level", "info"}, more...)
}

// TestServerIsSafeByDefault: `yakt server` without TLS on an address
// other machines reach exits non-zero saying what to do; TLS without an
// access file too; with --insecure it starts and warns in its log.
func TestServerIsSafeByDefault(t *testing.T) {
	t.Parallel()
	ca, err := certs.NewAuthority("cli test CA", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPEM, keyPEM, err := ca.IssueNode("safe", 1, []string{"127.0.0.1"}, certs.Validity{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"ca.crt": ca.CertPEM, "node.crt": certPEM, "node.key": keyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tlsFlags := []string{"--tls-cert", filepath.Join(dir, "node.crt"), "--tls-key", filepath.Join(dir, "node.key"), "--tls-ca", filepath.Join(dir, "ca.crt")}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"plain HTTP on every interface": {serverArgs(t, "0.0.0.0:0"), "--insecure"},
		"TLS without an access file":    {serverArgs(t, "127.0.0.1:0", tlsFlags...), "docs/security.md"},
		"half of TLS":                   {serverArgs(t, "127.0.0.1:0", tlsFlags[:4]...), "--tls-ca"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%s: yakt %s: exit %d, stderr %q; want a non-zero exit saying %q", name, strings.Join(tc.args, " "), code, errOut.String(), tc.want)
		}
	}

	// --insecure: a real process, stopped with SIGTERM once it runs.
	cmd := exec.Command(os.Args[0], serverArgs(t, "0.0.0.0:0", "--insecure")...)
	cmd.Env = append(envWithoutYakt(), runMainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var logs []string
	// waitFor reads the log until a line has every one of want.
	waitFor := func(want ...string) bool {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return false
				}
				logs = append(logs, l)
				found := true
				for _, w := range want {
					found = found && strings.Contains(l, w)
				}
				if found {
					return true
				}
			case <-timeout:
				return false
			}
		}
	}
	if !waitFor(`"level":"WARN"`, `"msg":"INSECURE`) || !waitFor(`"msg":"node started"`) {
		cmd.Process.Kill()
		t.Fatalf("yakt server --insecure on 0.0.0.0: no WARN \"INSECURE\" line, or it did not start. Log:\n%s", strings.Join(logs, "\n"))
	}
	// SIGHUP reloads (nothing to reload here) and the node runs on.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitFor(`"msg":"reloaded on SIGHUP"`) {
		cmd.Process.Kill()
		t.Fatalf("no reload logged after SIGHUP. Log:\n%s", strings.Join(logs, "\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // to the end, before Wait, as os/exec requires
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("yakt server --insecure: %v after SIGTERM, want exit 0. Log:\n%s", err, strings.Join(logs, "\n"))
	}
}

func envWithoutYakt() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "YAKT_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestTokenCreate: the first line is a new token, the second an access
// file line for it that the nodes parse, holding its hash only.
func TestTokenCreate(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"token", "create", "--principal", "broker-7", "--role", "broker:7"}, &out, &errOut); code != 0 {
		t.Fatalf("yakt token create: exit %d, stderr %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("yakt token create printed %q, want the token and the access file line", out.String())
	}
	token, line := lines[0], lines[1]
	if len(token) < 32 || strings.Contains(line, token) {
		t.Fatalf("token %q is short, or the access file line %q holds it", token, line)
	}
	if want := "broker-7 broker:7 " + auth.HashToken(token); line != want {
		t.Fatalf("access file line %q, want %q", line, want)
	}
	access, err := auth.ParseAccess([]byte(line + "\n"))
	if err != nil || access == nil {
		t.Fatalf("the access file line does not parse: %v", err)
	}
	for _, args := range [][]string{
		{"token", "create"},
		{"token", "create", "--principal", "node:1"},
		{"token", "create", "--principal", "alice", "--role", "root"},
		{"token", "create", "--principal", "al ice"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage || out.Len() != 0 {
			t.Errorf("yakt %s: exit %d, stdout %q; want exit 2 and no token", strings.Join(args, " "), code, out.String())
		}
	}
}

// TestDevSecure types what `yakt dev --secure` prints into a shell: the
// exported variables make the CLI work over TLS as admin, the curl
// command answers, a request without a credential is refused 401 (exit
// status 1), the reader's certificate may read but not write, the
// admin's token works instead of the certificate, and without the CA
// file the nodes are not trusted (exit status 1, saying --cacert).
func TestDevSecure(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test runs what yakt dev --secure prints and needs %s: %v", tool, err)
		}
	}
	dev := startDev(t, "--secure", "--http-port", "0", "--peer-port", "0", "--brokers", "1")
	printed := dev.stdout.String()
	exports := map[string]string{}
	var exportLines []string
	for _, m := range regexp.MustCompile(`(?m)^  (export (YAKT_[A-Z]+)=(\S+))$`).FindAllStringSubmatch(printed, -1) {
		exports[m[2]] = m[3]
		exportLines = append(exportLines, m[1])
	}
	for _, v := range []string{"YAKT_ENDPOINTS", "YAKT_CACERT", "YAKT_CERT", "YAKT_KEY", "YAKT_TOKEN"} {
		if exports[v] == "" {
			t.Fatalf("yakt dev --secure printed no export of %s:\n%s", v, printed)
		}
	}
	if !strings.HasPrefix(exports["YAKT_ENDPOINTS"], "https://127.0.0.1:") {
		t.Fatalf("YAKT_ENDPOINTS=%s, want https://127.0.0.1:...", exports["YAKT_ENDPOINTS"])
	}
	curl := regexp.MustCompile(`(?m)^  (curl -s --cacert \S+ --cert \S+ --key \S+ https://\S+/v1/quorum)$`).FindStringSubmatch(printed)
	if curl == nil {
		t.Fatalf("yakt dev --secure printed no curl command with --cacert, --cert and --key:\n%s", printed)
	}

	// yakt on the PATH is this test binary acting as yakt.
	bin := t.TempDir()
	script := "#!/bin/sh\nexec env " + runMainEnv + "=1 '" + os.Args[0] + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "yakt"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sh := startShell(t)
	steps := []struct {
		cmd, want string
		code      int
	}{
		{"PATH=" + bin + ":$PATH", "", 0},
		{strings.Join(exportLines[:4], "; "), "", 0},
		{"yakt topics create secure-orders --partitions 1 --replication-factor 1", "secure-orders", 0},
		{curl[1], `"leaderId"`, 0},
		{"YAKT_CERT= YAKT_KEY= yakt topics create nobody --partitions 1", "UNAUTHENTICATED", exitAPI},
		{"YAKT_CERT=" + filepath.Join(filepath.Dir(exports["YAKT_CERT"]), "reader.crt") + " YAKT_KEY=" + filepath.Join(filepath.Dir(exports["YAKT_KEY"]), "reader.key") +
			" yakt topics create reader-wrote --partitions 1", "FORBIDDEN", exitAPI},
		{"YAKT_CERT=" + filepath.Join(filepath.Dir(exports["YAKT_CERT"]), "reader.crt") + " YAKT_KEY=" + filepath.Join(filepath.Dir(exports["YAKT_KEY"]), "reader.key") +
			" yakt topics list", "secure-orders", 0},
		{"YAKT_CERT= YAKT_KEY= " + exportLines[4][len("export "):] + " yakt topics list -o json", "secure-orders", 0},
		{"yakt topics list -o json", "secure-orders", 0},
		// Without the dev CA the nodes' certificates are not trusted.
		{"YAKT_CACERT= yakt topics list", "--cacert must name the CA", exitAPI},
	}
	for _, s := range steps {
		out, code := sh.run(t, s.cmd+" 2>&1")
		if code != s.code || !strings.Contains(out, s.want) {
			t.Fatalf("%s\nexit %d, printed:\n%s\nwant exit %d and %q", s.cmd, code, out, s.code, s.want)
		}
	}
	if out, _ := sh.run(t, "yakt topics list -o json 2>&1"); strings.Contains(out, "nobody") || strings.Contains(out, "reader-wrote") {
		t.Fatalf("a refused write created its topic:\n%s", out)
	}
	sh.stop(t)
	dev.stop(t)
}
