package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yakt/yakt/internal/certs"
)

// Errors of Authenticate: both are 401 UNAUTHENTICATED to the caller.
var (
	ErrNoCredential  = errors.New("auth: no credential")
	ErrBadCredential = errors.New("auth: credential not accepted")
)

// ErrForbidden is a principal asking for what its roles do not allow
// (403 FORBIDDEN).
var ErrForbidden = errors.New("auth: forbidden")

// Role is one role: RoleAdmin, RoleReader or a BrokerRole.
type Role string

const (
	RoleAdmin  Role = "admin"
	RoleReader Role = "reader"
)

// brokerRolePrefix starts every broker role.
const brokerRolePrefix = "broker:"

// nodePrefix starts the reserved principal names of cluster members.
const nodePrefix = "node:"

// BrokerRole is the role of broker id's own writes, "broker:<id>".
func BrokerRole(id int32) Role { return Role(brokerRolePrefix + strconv.FormatInt(int64(id), 10)) }

// brokerID is the broker id of a broker role, false for other roles.
func (r Role) brokerID() (int32, bool) {
	s, ok := strings.CutPrefix(string(r), brokerRolePrefix)
	if !ok {
		return 0, false
	}
	return parseBrokerID(s)
}

// parseBrokerID reads a broker id as the API does: decimal digits only, a
// non-negative int32. Signs and leading zeros are refused so that each id
// has one spelling, and "broker:01" cannot hide beside "broker:1".
func parseBrokerID(s string) (int32, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// Principal is who a request is.
type Principal struct {
	Name  string // "alice", "node:3", or "anonymous" when authentication is off
	Node  uint64 // non-zero: a cluster member's node certificate
	Roles []Role
}

// Anonymous is every request's principal when authentication is off
// (no access file): it may do everything.
var Anonymous = Principal{Name: "anonymous", Roles: []Role{RoleAdmin}}

// IsAdmin says whether p may do everything (admin, or a member node).
func (p Principal) IsAdmin() bool {
	return p.Node != 0 || slices.Contains(p.Roles, RoleAdmin)
}

// CanRead says whether p may read (reader, admin, member node).
func (p Principal) CanRead() bool {
	return p.IsAdmin() || slices.Contains(p.Roles, RoleReader)
}

// CanActForBroker says whether p may make broker id's own writes
// (broker:<id>, admin, member node).
func (p Principal) CanActForBroker(id int32) bool {
	return p.IsAdmin() || slices.Contains(p.Roles, BrokerRole(id))
}

// IsBroker says whether p holds some broker role: whether a broker-scoped
// route may go on to check the broker id the request names.
func (p Principal) IsBroker() bool {
	for _, r := range p.Roles {
		if _, ok := r.brokerID(); ok {
			return true
		}
	}
	return false
}

// Access is a parsed access file.
type Access struct {
	roles  map[string][]Role // principal -> roles
	tokens map[string]string // token hash ("sha256:<hex>", lower case) -> principal
}

// Principals lists the principals of a, sorted.
func (a *Access) Principals() []string {
	out := make([]string, 0, len(a.roles))
	for name := range a.roles {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Roles is name's roles and whether name has a line.
func (a *Access) Roles(name string) ([]Role, bool) {
	r, ok := a.roles[name]
	return slices.Clone(r), ok
}

// TokenPrincipal is the principal whose line holds hash
// ("sha256:<hex>"), false when no line does.
func (a *Access) TokenPrincipal(hash string) (string, bool) {
	name, ok := a.tokens[strings.ToLower(hash)]
	return name, ok
}

// Format is a in the access file's form, one line per principal sorted
// by name, its roles and token hashes in a stable order: ParseAccess
// reads it back to the same access.
func (a *Access) Format() []byte {
	hashes := map[string][]string{}
	for h, name := range a.tokens {
		hashes[name] = append(hashes[name], h)
	}
	var b bytes.Buffer
	for _, name := range a.Principals() {
		roles := make([]string, len(a.roles[name]))
		for i, r := range a.roles[name] {
			roles[i] = string(r)
		}
		b.WriteString(name + " " + strings.Join(roles, ","))
		hs := hashes[name]
		slices.Sort(hs)
		for _, h := range hs {
			b.WriteString(" " + h)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// hashPrefix starts every token hash in the access file.
const hashPrefix = "sha256:"

// ParseAccess parses an access file (see the package doc). Errors name
// the line.
func ParseAccess(data []byte) (*Access, error) {
	a := &Access{roles: map[string][]Role{}, tokens: map[string]string{}}
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		if c := bytes.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		name := fields[0]
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("access file line %d: %w", n, err)
		}
		if _, dup := a.roles[name]; dup {
			return nil, fmt.Errorf("access file line %d: principal %q has another line", n, name)
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("access file line %d: principal %q has no roles; want <principal> <role>[,<role>...] [sha256:<hex>]...", n, name)
		}
		roles, err := parseRoles(fields[1])
		if err != nil {
			return nil, fmt.Errorf("access file line %d: %w", n, err)
		}
		a.roles[name] = roles
		for j, h := range fields[2:] {
			// The hash itself is never in a message: the file is a
			// secret's fingerprint, and logs travel further than it.
			if !validHash(h) {
				return nil, fmt.Errorf("access file line %d: token hash %d of %q is not sha256: and 64 hex digits", n, j+1, name)
			}
			h = strings.ToLower(h)
			if other, dup := a.tokens[h]; dup {
				return nil, fmt.Errorf("access file line %d: token hash %d of %q is also %q's", n, j+1, name, other)
			}
			a.tokens[h] = name
		}
	}
	return a, nil
}

// checkName refuses principal names that cannot be told apart or that
// claim a member node.
func checkName(name string) error {
	if strings.HasPrefix(name, nodePrefix) {
		return fmt.Errorf("principal %q: names starting with %q are the cluster members' own", clip(name), nodePrefix)
	}
	for _, c := range name {
		if c < 0x21 || c == 0x7f {
			return fmt.Errorf("principal %q: control characters are not allowed", clip(name))
		}
	}
	return nil
}

// parseRoles reads a comma-separated role list; each role once.
func parseRoles(s string) ([]Role, error) {
	var roles []Role
	for _, part := range strings.Split(s, ",") {
		r := Role(part)
		switch {
		case r == RoleAdmin || r == RoleReader:
		case strings.HasPrefix(part, brokerRolePrefix):
			if _, ok := r.brokerID(); !ok {
				return nil, fmt.Errorf("role %q: the broker id must be an integer 0..2147483647", clip(part))
			}
		case strings.HasPrefix(part, hashPrefix):
			return nil, errors.New("a token hash stands where the roles belong; want <principal> <role>[,<role>...] [sha256:<hex>]...")
		default:
			return nil, fmt.Errorf("unknown role %q; roles are admin, reader and broker:<id>", clip(part))
		}
		if slices.Contains(roles, r) {
			return nil, fmt.Errorf("role %q is given twice", clip(part))
		}
		roles = append(roles, r)
	}
	return roles, nil
}

func validHash(h string) bool {
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	if !ok || len(hexPart) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// ParseBearer extracts the token of an "Authorization: Bearer <token>"
// header value.
func ParseBearer(header string) (token string, ok bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	// One token, nothing else: a second word or stray whitespace is a
	// malformed header, not something to guess about.
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c == 0x7f {
			return "", false
		}
	}
	return token, true
}

// HashToken is the access file's form of token: "sha256:<hex>".
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// NewToken returns a fresh random token (256 bits, URL-safe text).
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: read random bytes for a token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Store is the access file of a running node, reloadable.
type Store struct {
	path string

	mu      sync.RWMutex
	access  *Access
	content []byte    // the file as last parsed, to tell a change
	modTime time.Time // of the file as last read
	size    int64
}

// OpenStore reads and parses the access file at path.
func OpenStore(path string) (*Store, error) {
	s := &Store{path: path}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStore is a Store holding a, not backed by a file (Reload keeps it).
func NewStore(a *Access) *Store { return &Store{access: a} }

// Path is the file the store reads.
func (s *Store) Path() string { return s.path }

// Access is the access as parsed last.
func (s *Store) Access() *Access {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.access
}

// Reload reads the file again; on error the previous access stays.
func (s *Store) Reload() (changed bool, err error) {
	if s.path == "" {
		return false, nil
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return false, fmt.Errorf("access file: %w", err)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false, fmt.Errorf("access file: %w", err)
	}
	s.mu.RLock()
	same := s.access != nil && bytes.Equal(data, s.content)
	s.mu.RUnlock()
	if same {
		s.mu.Lock()
		s.modTime, s.size = fi.ModTime(), fi.Size()
		s.mu.Unlock()
		return false, nil
	}
	a, err := ParseAccess(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", s.path, err)
	}
	s.mu.Lock()
	s.access, s.content, s.modTime, s.size = a, data, fi.ModTime(), fi.Size()
	s.mu.Unlock()
	return true, nil
}

// statChanged says whether the file's size or modification time differ
// from those of the last read: a cheap check before reading it.
func (s *Store) statChanged() bool {
	fi, err := os.Stat(s.path)
	if err != nil {
		return true // let Reload report it
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !fi.ModTime().Equal(s.modTime) || fi.Size() != s.size
}

// Watch reloads the file whenever it changes, checking every interval,
// until ctx ends.
func (s *Store) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	if s.path == "" {
		return
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A failed reload is retried at every tick, so a file fixed in
		// place with the same size and time is still picked up.
		if !failing && !s.statChanged() {
			continue
		}
		changed, err := s.Reload()
		switch {
		case err != nil:
			if !failing {
				log.Error("access file reload failed; keeping the previous access", "path", s.path, "err", err)
			}
			failing = true
		case changed:
			failing = false
			log.Info("access file reloaded", "path", s.path, "principals", len(s.Access().roles))
		default:
			failing = false
		}
	}
}

// Authenticate is the principal of a request that arrived with TLS state
// cs (nil: plain connection) and Authorization header value authz, in
// cluster clusterID. A verified client certificate wins over a token.
func (s *Store) Authenticate(cs *tls.ConnectionState, authz string, clusterID string) (Principal, error) {
	if cs != nil && len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		if id, ok := certs.NodeIDOf(leaf, clusterID); ok && id != 0 {
			return nodePrincipal(id), nil
		}
		name := leaf.Subject.CommonName
		if name == "" || strings.HasPrefix(name, nodePrefix) {
			// A CN claiming a member without the member's certificate
			// names nobody; neither does an empty one.
			return Principal{}, ErrBadCredential
		}
		roles, _ := s.Access().Roles(name)
		// A CA-verified name without a line is still who it is: it gets
		// no roles, so 403 rather than 401 tells the operator what to add.
		return Principal{Name: name, Roles: roles}, nil
	}
	if authz == "" {
		return Principal{}, ErrNoCredential
	}
	token, ok := ParseBearer(authz)
	if !ok {
		return Principal{}, ErrBadCredential
	}
	a := s.Access()
	// A map lookup keyed by the token's SHA-256 leaks, through its timing,
	// at most something about the hash (how its bytes compare with the
	// keys), never about the token: SHA-256 is preimage resistant, and
	// the tokens are 256-bit random, so knowing parts of the hashes does
	// not help find a token that hashes to them.
	name, ok := a.tokens[HashToken(token)]
	if !ok {
		return Principal{}, ErrBadCredential
	}
	roles, _ := a.Roles(name)
	return Principal{Name: name, Roles: roles}, nil
}

func nodePrincipal(id uint64) Principal {
	return Principal{Name: nodePrefix + strconv.FormatUint(id, 10), Node: id}
}

// Lookup is the principal called name with its current roles (for a
// request a member node forwarded on name's behalf); "node:<id>" is that
// member. false when name has no line in the access file.
func (s *Store) Lookup(name string) (Principal, bool) {
	if rest, ok := strings.CutPrefix(name, nodePrefix); ok {
		id, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || id == 0 || strconv.FormatUint(id, 10) != rest {
			return Principal{}, false
		}
		return nodePrincipal(id), true
	}
	roles, ok := s.Access().Roles(name)
	if !ok {
		return Principal{}, false
	}
	return Principal{Name: name, Roles: roles}, true
}

// FromRequest is Authenticate for an HTTP request.
func (s *Store) FromRequest(r *http.Request, clusterID string) (Principal, error) {
	return s.Authenticate(r.TLS, r.Header.Get("Authorization"), clusterID)
}
