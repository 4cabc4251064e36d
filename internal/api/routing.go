package api

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/yakt/yakt/contract"
)

// queryParams lists, per route pattern, the query parameters the route
// reads. On these routes any other parameter, and any parameter given
// twice or empty, is INVALID_REQUEST: a typo (?ofset=5) must not silently
// change the answer. Writes read none. Routes not listed here take any.
var queryParams = map[string][]string{
	"GET /v1/brokers":                                {"after", "limit", "stale", "status"},
	"GET /v1/brokers/{brokerId}":                     {"stale"},
	"GET /v1/brokers/{brokerId}/configs":             {"name", "stale"},
	"GET /v1/cluster/configs":                        {"name", "stale"},
	"GET /v1/log":                                    {"fromOffset", "limit", "stale"},
	"GET /v1/metadata":                               {"maxWaitMs", "offset", "stale", "timestamp"},
	"GET /v1/migration":                              {"stale"},
	"GET /v1/node":                                   {},
	"DELETE /v1/quorum/members/{nodeId}":             {"directoryId"},
	"GET /v1/reassignments":                          {"stale", "topic"},
	"GET /v1/topics":                                 {"after", "limit", "stale"},
	"GET /v1/topics/{name}":                          {"stale"},
	"GET /v1/topics/{name}/configs":                  {"name", "stale"},
	"GET /v1/topics/{name}/partitions/{partitionId}": {"stale"},
	"POST /v1/metadata/fetch":                        {"stale"},
}

// queryRule returns the query parameters route pattern takes and whether
// it refuses others: those of queryParams, and none for other writes.
func queryRule(pattern string) (allowed []string, strict bool) {
	if allowed, ok := queryParams[pattern]; ok {
		return allowed, true
	}
	for _, rt := range routes {
		if rt.pattern == pattern && rt.write {
			return nil, true
		}
	}
	return nil, false
}

// boolParams are the query parameters that hold a boolean, on any route.
var boolParams = []string{"stale"}

// repeatableParams may be given more than once (?name=a&name=b).
var repeatableParams = []string{"name"}

// routeErrors answers, in the API's JSON error shape, what mux would
// answer in plain text: 404 NOT_FOUND for an unknown path, 405
// METHOD_NOT_ALLOWED with Allow for a known path and another method. It
// also checks query parameters (queryParams, boolParams) before the route
// runs, so a follower refuses them without forwarding.
func (s *Server) routeErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == "" {
			// mux decides 404 or 405 (and Allow); keep its verdict and
			// headers, not its text body.
			rec := &statusRecorder{header: http.Header{}}
			mux.ServeHTTP(rec, r)
			switch rec.status {
			case http.StatusMethodNotAllowed:
				allow := rec.header.Get("Allow")
				w.Header().Set("Allow", allow)
				s.writeError(w, r, contract.Errorf(contract.CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s", clipInput(r.Method), clipInput(r.URL.Path), allow))
			case http.StatusNotFound:
				s.writeError(w, r, contract.Errorf(contract.CodeNotFound, "no such endpoint: %s", clipInput(r.URL.Path)))
			default:
				mux.ServeHTTP(w, r)
			}
			return
		}
		if err := checkQuery(r.URL.Query(), pattern); err != nil {
			s.writeError(w, r, err)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// checkQuery applies queryParams and boolParams to q for the route pattern.
func checkQuery(q url.Values, pattern string) error {
	allowed, strict := queryRule(pattern)
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // the first bad one, deterministically
	for _, name := range names {
		vals := q[name]
		if strict && !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return invalid("unknown query parameter %q: this endpoint takes none", clipInput(name))
			}
			return invalid("unknown query parameter %q: this endpoint takes %s", clipInput(name), strings.Join(allowed, ", "))
		}
		if !strict && !slices.Contains(boolParams, name) {
			continue
		}
		if len(vals) > 1 && !slices.Contains(repeatableParams, name) {
			return invalid("query parameter %q is given %d times", name, len(vals))
		}
		if slices.Contains(vals, "") {
			return invalid("query parameter %q is empty", name)
		}
		if slices.Contains(boolParams, name) {
			if _, err := parseBool(name, vals[0]); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseBool reads a boolean query parameter: true, false, 1 or 0 only
// (docs/api.md), so ?stale=yes is an error rather than a silent false.
func parseBool(name, v string) (bool, error) {
	switch v {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, invalid("query parameter %q must be true, false, 1 or 0; got %q", name, clipInput(v))
}

// statusRecorder keeps the status and headers a handler sets and drops
// its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func clipInput(s string) string { return truncate(s) }
