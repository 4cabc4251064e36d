package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const fooHash = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae" // HashToken("foo")

func TestHashToken(t *testing.T) {
	if got := HashToken("foo"); got != fooHash {
		t.Fatalf("HashToken(foo) = %s", got)
	}
}

func TestNewToken(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/= ") {
		t.Fatalf("tokens %q %q: want two different 43-character URL-safe texts", a, b)
	}
	if tok, ok := ParseBearer("Bearer " + a); !ok || tok != a {
		t.Fatalf("a new token does not survive ParseBearer: %q %v", tok, ok)
	}
}

func TestParseBearer(t *testing.T) {
	tests := []struct {
		in, tok string
		ok      bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc-_.~+/=", "abc-_.~+/=", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer  abc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer abc ", "", false},
		{"Bearer\tabc", "", false},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", false},
		{"abc", "", false},
		{"", "", false},
		{"Bearer ab\x00c", "", false},
	}
	for _, tt := range tests {
		tok, ok := ParseBearer(tt.in)
		if tok != tt.tok || ok != tt.ok {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", tt.in, tok, ok, tt.tok, tt.ok)
		}
	}
}

func TestParseAccess(t *testing.T) {
	file := `# the cluster's access
alice      admin      ` + fooHash + `   # alice's laptop
broker-1   broker:1,reader   sha256:` + strings.ToUpper(HashToken("b1")[7:]) + `
	reporting	reader

carol broker:0,broker:2147483647
`
	a, err := ParseAccess([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Principals(); !slices.Equal(got, []string{"alice", "broker-1", "carol", "reporting"}) {
		t.Fatalf("principals %v", got)
	}
	if r, _ := a.Roles("broker-1"); !slices.Equal(r, []Role{BrokerRole(1), RoleReader}) {
		t.Errorf("broker-1's roles %v", r)
	}
	if name, ok := a.TokenPrincipal(fooHash); !ok || name != "alice" {
		t.Errorf("foo's hash names %q %v", name, ok)
	}
	if name, ok := a.TokenPrincipal(HashToken("b1")); !ok || name != "broker-1" {
		t.Errorf("a hash in upper-case hex: %q %v", name, ok)
	}
}

func TestParseAccessRefuses(t *testing.T) {
	secret := HashToken("secret")
	tests := []struct {
		name, file, want string
	}{
		{"duplicate principal", "a admin\nb reader\na reader\n", "line 3"},
		{"duplicate hash", "a admin " + secret + "\nb reader " + secret + "\n", "line 2"},
		{"duplicate hash, other case", "a admin " + secret + "\nb reader sha256:" + strings.ToUpper(secret[7:]) + "\n", "line 2"},
		{"unknown role", "a admin\n\nb superuser\n", "line 3"},
		{"broker id negative", "b broker:-1\n", "line 1"},
		{"broker id too large", "b broker:2147483648\n", "line 1"},
		{"broker id not a number", "b broker:x\n", "line 1"},
		{"broker id empty", "b broker:\n", "line 1"},
		{"broker id leading zero", "b broker:01\n", "line 1"},
		{"broker id with sign", "b broker:+1\n", "line 1"},
		{"node name", "node:1 admin\n", "line 1"},
		{"node name bare", "node: admin\n", "line 1"},
		{"no roles", "a\n", "line 1"},
		{"hash as roles", "a " + secret + "\n", "line 1"},
		{"empty role", "a admin,,reader\n", "line 1"},
		{"role twice", "a admin,admin\n", "line 1"},
		{"short hash", "a admin " + secret[:len(secret)-1] + "\n", "line 1"},
		{"not hex", "a admin sha256:" + strings.Repeat("g", 64) + "\n", "line 1"},
		{"other algorithm", "a admin md5:" + secret[7:] + "\n", "line 1"},
		{"plain token", "a admin secret\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAccess([]byte(tt.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want+":") {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if strings.Contains(err.Error(), secret[7:17]) || strings.Contains(strings.ToLower(err.Error()), secret[20:30]) {
				t.Errorf("error %q echoes a token hash", err)
			}
		})
	}
}

func TestAccessFormatRoundTrip(t *testing.T) {
	a, err := ParseAccess([]byte("z reader\nalice admin,broker:3 " + fooHash + " " + HashToken("x") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseAccess(a.Format())
	if err != nil {
		t.Fatalf("re-parse %q: %v", a.Format(), err)
	}
	if string(a.Format()) != string(b.Format()) {
		t.Fatalf("round trip changed the access:\n%s\n%s", a.Format(), b.Format())
	}
}

func TestPrincipalRoles(t *testing.T) {
	b1 := Principal{Name: "b", Roles: []Role{BrokerRole(1)}}
	reader := Principal{Name: "r", Roles: []Role{RoleReader}}
	node := Principal{Name: "node:2", Node: 2}
	none := Principal{Name: "x"}
	checks := []struct {
		p                      Principal
		admin, read, b1, b2, b bool
	}{
		{Anonymous, true, true, true, true, false},
		{node, true, true, true, true, false},
		{b1, false, false, true, false, true},
		{reader, false, true, false, false, false},
		{none, false, false, false, false, false},
	}
	for _, c := range checks {
		if c.p.IsAdmin() != c.admin || c.p.CanRead() != c.read || c.p.CanActForBroker(1) != c.b1 || c.p.CanActForBroker(2) != c.b2 || c.p.IsBroker() != c.b {
			t.Errorf("%+v: admin %v read %v broker1 %v broker2 %v", c.p, c.p.IsAdmin(), c.p.CanRead(), c.p.CanActForBroker(1), c.p.CanActForBroker(2))
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	// Written beside and renamed, as an operator's editor or a config
	// tool would: a reader never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestStoreAuthenticateAndReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access")
	writeFile(t, path, "alice admin "+fooHash+"\nbob reader "+HashToken("bob-token")+"\n")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(nil, "Bearer foo", "c1")
	if err != nil || p.Name != "alice" || !p.IsAdmin() {
		t.Fatalf("alice's token: %+v %v", p, err)
	}
	if _, err := s.Authenticate(nil, "", "c1"); !errors.Is(err, ErrNoCredential) {
		t.Errorf("no header: %v", err)
	}
	for _, h := range []string{"Bearer nope", "Bearer foo bar", "Basic foo", "foo"} {
		if _, err := s.Authenticate(nil, h, "c1"); !errors.Is(err, ErrBadCredential) {
			t.Errorf("%q: %v", h, err)
		}
	}
	// A TLS connection without a verified certificate: the token decides.
	if p, err := s.Authenticate(&tls.ConnectionState{}, "Bearer bob-token", "c1"); err != nil || p.Name != "bob" || p.IsAdmin() || !p.CanRead() {
		t.Errorf("bob over TLS without a certificate: %+v %v", p, err)
	}
	if p, ok := s.Lookup("bob"); !ok || !p.CanRead() {
		t.Errorf("Lookup(bob) %+v %v", p, ok)
	}
	if p, ok := s.Lookup("node:3"); !ok || p.Node != 3 || !p.IsAdmin() {
		t.Errorf("Lookup(node:3) %+v %v", p, ok)
	}
	for _, n := range []string{"nobody", "node:0", "node:x", "node:03", "node:"} {
		if _, ok := s.Lookup(n); ok {
			t.Errorf("Lookup(%q) found someone", n)
		}
	}

	// bob's token revoked, alice demoted.
	writeFile(t, path, "alice reader "+fooHash+"\nbob reader\n")
	if changed, err := s.Reload(); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if _, err := s.Authenticate(nil, "Bearer bob-token", "c1"); !errors.Is(err, ErrBadCredential) {
		t.Errorf("revoked token: %v", err)
	}
	if p, _ := s.Authenticate(nil, "Bearer foo", "c1"); p.IsAdmin() {
		t.Errorf("alice still admin after the reload")
	}
	if changed, err := s.Reload(); err != nil || changed {
		t.Errorf("reload of the same file: %v %v", changed, err)
	}
	// A broken file keeps what was loaded.
	writeFile(t, path, "alice admin "+fooHash+"\nnode:1 admin\n")
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("broken file: %v", err)
	}
	if p, err := s.Authenticate(nil, "Bearer foo", "c1"); err != nil || p.IsAdmin() || !p.CanRead() {
		t.Errorf("after a failed reload: %+v %v, want the previous access", p, err)
	}
	os.Remove(path)
	if _, err := s.Reload(); err == nil {
		t.Error("a vanished file reloaded")
	}
	if _, err := s.Authenticate(nil, "Bearer foo", "c1"); err != nil {
		t.Errorf("after the file vanished: %v", err)
	}
	if _, err := OpenStore(path); err == nil {
		t.Error("OpenStore of a missing file")
	}
}

func TestStoreWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access")
	writeFile(t, path, "alice admin "+fooHash+"\n")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition, bounded above
		}
	}
	writeFile(t, path, "alice reader "+fooHash+"\n")
	waitFor("alice demoted by the watcher", func() bool {
		p, ok := s.Lookup("alice")
		return ok && !p.IsAdmin()
	})
	writeFile(t, path, "alice admin broken\n")
	writeFile(t, path, "alice admin broken \n") // a second failure: still no change
	writeFile(t, path, "alice admin\n")
	waitFor("alice admin again after a broken file was fixed", func() bool {
		p, _ := s.Lookup("alice")
		return p.IsAdmin()
	})
}
