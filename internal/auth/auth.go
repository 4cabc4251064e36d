package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"time"
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

// BrokerRole is the role of broker id's own writes, "broker:<id>".
func BrokerRole(id int32) Role { panic("unimplemented") }

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
func (p Principal) IsAdmin() bool { panic("unimplemented") }

// CanRead says whether p may read (reader, admin, member node).
func (p Principal) CanRead() bool { panic("unimplemented") }

// CanActForBroker says whether p may make broker id's own writes
// (broker:<id>, admin, member node).
func (p Principal) CanActForBroker(id int32) bool { panic("unimplemented") }

// Access is a parsed access file.
type Access struct {
	// TODO(auth): principal -> roles, token hash -> principal
}

// ParseAccess parses an access file (see the package doc). Errors name
// the line.
func ParseAccess(data []byte) (*Access, error) { panic("unimplemented") }

// ParseBearer extracts the token of an "Authorization: Bearer <token>"
// header value.
func ParseBearer(header string) (token string, ok bool) { panic("unimplemented") }

// HashToken is the access file's form of token: "sha256:<hex>".
func HashToken(token string) string { panic("unimplemented") }

// NewToken returns a fresh random token (256 bits, URL-safe text).
func NewToken() (string, error) { panic("unimplemented") }

// Store is the access file of a running node, reloadable.
type Store struct {
	// TODO(auth)
}

// OpenStore reads and parses the access file at path.
func OpenStore(path string) (*Store, error) { panic("unimplemented") }

// Reload reads the file again; on error the previous access stays.
func (s *Store) Reload() (changed bool, err error) { panic("unimplemented") }

// Watch reloads the file whenever it changes, checking every interval,
// until ctx ends.
func (s *Store) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	panic("unimplemented")
}

// Authenticate is the principal of a request that arrived with TLS state
// cs (nil: plain connection) and Authorization header value authz, in
// cluster clusterID. A verified client certificate wins over a token.
func (s *Store) Authenticate(cs *tls.ConnectionState, authz string, clusterID string) (Principal, error) {
	panic("unimplemented")
}

// Lookup is the principal called name with its current roles (for a
// request a member node forwarded on name's behalf); "node:<id>" is that
// member. false when name has no line in the access file.
func (s *Store) Lookup(name string) (Principal, bool) { panic("unimplemented") }

// FromRequest is Authenticate for an HTTP request.
func (s *Store) FromRequest(r *http.Request, clusterID string) (Principal, error) {
	return s.Authenticate(r.TLS, r.Header.Get("Authorization"), clusterID)
}
