package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/auth"
)

// HeaderPrincipal carries, on a write a follower forwards to the leader,
// the principal the follower authenticated. The leader believes it only
// from a member node (the peer connection, or the node's client
// certificate on the HTTP hop) and then gives it the roles of its own
// access file; from anyone else it is ignored.
const HeaderPrincipal = "X-Yakt-Principal"

// accessClass is who may call a route (docs/api.md, "Authentication and
// limits"). The zero value is the strictest but one: a route added
// without a class needs admin.
type accessClass uint8

const (
	// accessAdmin: admin principals and member nodes.
	accessAdmin accessClass = iota
	// accessOpen: anyone, without a credential (health checks).
	accessOpen
	// accessRead: readers, admins, member nodes.
	accessRead
	// accessBroker: a broker's own writes. The route lets any broker
	// principal in; the handler checks the broker id the request names
	// (actForBroker) before anything is proposed.
	accessBroker
	// accessFetch: POST /v1/metadata/fetch, a reader's (ClientMgmt) or a
	// broker's (BrokerMgmt, with brokerId, checked like accessBroker).
	accessFetch
	// accessNode: member nodes only (their internal requests).
	accessNode
)

func (c accessClass) String() string {
	return [...]string{"admin", "open", "reader", "broker", "reader or broker", "node"}[c]
}

// allows says whether p may call a route of class c (for accessBroker and
// accessFetch, before the broker id is known).
func (c accessClass) allows(p auth.Principal) bool {
	switch c {
	case accessOpen:
		return true
	case accessRead:
		return p.CanRead()
	case accessBroker:
		return p.IsAdmin() || p.IsBroker()
	case accessFetch:
		return p.CanRead() || p.IsBroker()
	case accessNode:
		return p.Node != 0
	}
	return p.IsAdmin()
}

const (
	principalKey ctxKey = iota + 1
	forwardedByKey
	peerFromKey
)

// PrincipalOf is the principal a request runs as; the zero Principal
// (allowed nothing) when none was set, so a request that bypassed the
// authentication can do nothing.
func PrincipalOf(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey).(auth.Principal)
	return p
}

func principalOf(r *http.Request) auth.Principal { return PrincipalOf(r.Context()) }

// forwardedBy names the member node that forwarded r on its principal's
// behalf; "" when r came from its principal directly.
func forwardedBy(r *http.Request) string {
	by, _ := r.Context().Value(forwardedByKey).(string)
	return by
}

// openPath says whether path needs no credential.
func openPath(path string) bool { return path == "/healthz" || path == "/readyz" }

// authenticate finds who a request is and puts it in its context: every
// request is auth.Anonymous without an access file; with one, a request
// without a credential that is accepted is answered 401 UNAUTHENTICATED
// (open paths excepted). A member node's request carrying HeaderPrincipal
// runs as that principal, with the roles this node's access file gives it.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get(HeaderPrincipal)
		r.Header.Del(HeaderPrincipal) // read once, here; a forward sets its own
		if s.cfg.Access == nil {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, auth.Anonymous)))
			return
		}
		if openPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		var p auth.Principal
		if from, ok := r.Context().Value(peerFromKey).(uint64); ok {
			// Forwarded on the peer connection: the transport knows the
			// peer (with TLS from its certificate; without TLS the peer
			// port trusts whoever knows the cluster id, and owns the
			// cluster's log anyway).
			p, _ = s.cfg.Access.Lookup("node:" + strconv.FormatUint(from, 10))
		} else {
			var err error
			if p, err = s.cfg.Access.FromRequest(r, s.ctrl.ClusterID()); err != nil {
				s.unauthenticated(w, r, err)
				return
			}
		}
		ctx := r.Context()
		if name != "" && p.Node != 0 {
			fp, ok := s.cfg.Access.Lookup(name)
			if !ok {
				s.log.Info("forbidden: forwarded principal unknown here", "principal", clipInput(name), "forwarded_by", p.Name,
					"method", r.Method, "path", r.URL.Path, "request", requestID(r))
				s.writeError(w, r, contract.Errorf(contract.CodeForbidden,
					"principal %q has no line in the access file of node %d", clipInput(name), s.ctrl.NodeID()))
				return
			}
			ctx = context.WithValue(ctx, forwardedByKey, p.Name)
			p = fp
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey, p)))
	})
}

// unauthenticated answers 401 UNAUTHENTICATED for err (auth's errors).
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	msg := "no credential: send Authorization: Bearer <token>, or a client certificate over HTTPS"
	if !errors.Is(err, auth.ErrNoCredential) {
		msg = "credential not accepted: unknown or revoked token, malformed Authorization header, or a certificate that names no one"
	}
	// A missing credential is usually a misconfigured client or a probe;
	// a refused one may be a revoked token still in use, or guessing.
	level := slog.LevelInfo
	if errors.Is(err, auth.ErrNoCredential) {
		level = slog.LevelDebug
	}
	s.log.Log(r.Context(), level, "unauthenticated request", "remote", r.RemoteAddr, "method", r.Method, "path", clipInput(r.URL.Path),
		"request", requestID(r), "err", err)
	w.Header().Set("WWW-Authenticate", "Bearer")
	s.writeError(w, r, contract.Errorf(contract.CodeUnauthenticated, "%s", msg))
}

// forbid answers 403 FORBIDDEN; why says which role was missing.
func (s *Server) forbid(w http.ResponseWriter, r *http.Request, p auth.Principal, why string) {
	s.log.Info("forbidden request", "principal", p.Name, "forwarded_by", forwardedBy(r), "method", r.Method,
		"path", clipInput(r.URL.Path), "request", requestID(r), "why", why)
	s.writeError(w, r, contract.Errorf(contract.CodeForbidden, "principal %q may not do this: %s", p.Name, why))
}

// authorize lets a request on a route of class c through when its
// principal's roles allow the class. Without an access file everyone may
// do everything.
func (s *Server) authorize(c accessClass, next http.Handler) http.Handler {
	if c == accessOpen || s.cfg.Access == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := principalOf(r); !c.allows(p) {
			s.forbid(w, r, p, fmt.Sprintf("%s needs the %s role", r.Pattern, c))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// actForBroker answers 403 FORBIDDEN, and reports false, unless the
// request's principal may make broker id's own writes. Handlers of
// broker-scoped routes call it once the body names the id, before
// anything is proposed.
func (s *Server) actForBroker(w http.ResponseWriter, r *http.Request, id int32) bool {
	p := principalOf(r)
	if p.CanActForBroker(id) {
		return true
	}
	s.forbid(w, r, p, fmt.Sprintf("it acts for broker %d, which needs the role %s or admin", id, auth.BrokerRole(id)))
	return false
}

// logWrite logs each write this node executes (not one it forwards): who
// asked, what, and how it ended.
func (s *Server) logWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		attrs := []any{"principal", principalOf(r).Name, "method", r.Method, "path", clipInput(r.URL.Path),
			"request", requestID(r), "status", sw.code}
		if by := forwardedBy(r); by != "" {
			attrs = append(attrs, "forwarded_by", by)
		} else if by := r.Header.Get(headerForwarded); by != "" {
			attrs = append(attrs, "forwarded_by", "node:"+by)
		}
		s.log.Info("write", attrs...)
	})
}
