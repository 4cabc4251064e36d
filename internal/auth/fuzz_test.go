package auth

import (
	"strings"
	"testing"
)

// FuzzParseAccess: no input panics; whatever is accepted means what it
// says: every token hash maps back to a principal that has a line, no
// principal is a member's name, every role is one of the three kinds,
// and the file re-serialised parses to the same access.
func FuzzParseAccess(f *testing.F) {
	f.Add([]byte("alice admin " + fooHash + "\nbroker-1 broker:1\n# c\nr reader\n"))
	f.Add([]byte("a admin,reader,broker:0 " + HashToken("x") + " " + HashToken("y") + "\n\n\t b broker:2147483647\n"))
	f.Add([]byte("node:1 admin\n"))
	f.Add([]byte("a broker:-1\n"))
	f.Add([]byte("a admin\na reader\n"))
	f.Add([]byte("a admin " + fooHash + "\nb admin " + fooHash + "\n"))
	f.Add([]byte("a admin sha256:zz\n"))
	f.Add([]byte("a\n"))
	f.Add([]byte("a admin # sha256:" + strings.Repeat("0", 64) + "\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAccess(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "access file line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for h, name := range a.tokens {
			if !validHash(h) || h != strings.ToLower(h) {
				t.Fatalf("kept hash %q", h)
			}
			if got, ok := a.TokenPrincipal(h); !ok || got != name {
				t.Fatalf("hash %q maps to %q %v, want %q", h, got, ok, name)
			}
			if _, ok := a.roles[name]; !ok {
				t.Fatalf("hash of %q, who has no line", name)
			}
		}
		for name, roles := range a.roles {
			if strings.HasPrefix(name, "node:") || name == "" || len(roles) == 0 {
				t.Fatalf("accepted principal %q with roles %v", name, roles)
			}
			for _, r := range roles {
				_, broker := r.brokerID()
				if r != RoleAdmin && r != RoleReader && !broker {
					t.Fatalf("accepted role %q", r)
				}
			}
		}
		out := a.Format()
		b, err := ParseAccess(out)
		if err != nil {
			t.Fatalf("re-serialised file %q does not parse: %v", out, err)
		}
		if string(b.Format()) != string(out) || len(b.tokens) != len(a.tokens) {
			t.Fatalf("round trip changed the access:\n%s\n%s", out, b.Format())
		}
	})
}

// FuzzParseBearer: no input panics, and an accepted token is the header's
// tail after one scheme word, with no whitespace or control characters.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x", "Bearer", "Bearer a b", "Basic abc", "", "BEARER \x00", "Bearer é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := ParseBearer(h)
		if !ok {
			if tok != "" {
				t.Fatalf("refused with a token %q", tok)
			}
			return
		}
		if tok == "" || !strings.EqualFold(h[:7], "bearer ") || h[7:] != tok {
			t.Fatalf("ParseBearer(%q) = %q", h, tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] == 0x7f {
				t.Fatalf("token %q holds byte %#x", tok, tok[i])
			}
		}
	})
}
