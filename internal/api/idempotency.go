package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// Retry-safe writes (docs/api.md, "Retry-safe writes").
const (
	// HeaderIdempotencyKey is the request header that names a write for
	// retries.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderReplayed is set to "true" on an answer that repeats the first
	// answer of its Idempotency-Key (nothing was applied this time).
	HeaderReplayed = "X-Yakt-Replayed"
)

// checkIdempotencyKey refuses a malformed Idempotency-Key on any node
// before anything else happens (a follower does not forward it).
func (s *Server) checkIdempotencyKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if vs, ok := r.Header[HeaderIdempotencyKey]; ok {
			if len(vs) != 1 {
				s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "Idempotency-Key must be sent once, got %d values", len(vs)))
				return
			}
			if err := contract.ValidateIdempotencyKey(vs[0]); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// idempotent runs a write on the leader under its Idempotency-Key, if it
// has one: the key and the request's fingerprint go into the context the
// controller proposes with, and an answer the controller took from the
// key's first answer is marked with X-Yakt-Replayed.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(HeaderIdempotencyKey)
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		// Read what the handler may accept; it reads the body again (and
		// refuses it, if it is too large) from the restored stream.
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			s.writeError(w, r, contract.Errorf(contract.CodeInvalidRequest, "read request body: %v", err))
			return
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		idem := &controller.Idempotency{Key: key, Fingerprint: Fingerprint(r.Method, r.URL.Path, body)}
		r = r.WithContext(controller.WithIdempotency(r.Context(), idem))
		next.ServeHTTP(&replayMarker{ResponseWriter: w, idem: idem}, r)
	})
}

// Fingerprint identifies a write for its Idempotency-Key: SHA-256 of the
// method, the path and the canonical form of the JSON body (object keys
// sorted, insignificant whitespace dropped, numbers as written), each
// followed by a zero byte. A body that is not JSON counts as its bytes
// (the handler refuses it, and a refused write stores nothing).
func Fingerprint(method, path string, body []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(canonicalJSON(body))
	h.Write([]byte{0})
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// canonicalJSON re-encodes body with sorted object keys and no
// insignificant whitespace; body itself when it is not one JSON value.
func canonicalJSON(body []byte) []byte {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	if _, err := dec.Token(); err != io.EOF {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// replayMarker adds X-Yakt-Replayed to a successful answer the controller
// took from the first answer of the request's key.
type replayMarker struct {
	http.ResponseWriter
	idem        *controller.Idempotency
	wroteHeader bool
}

func (w *replayMarker) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if status < 300 && w.idem.Replayed() {
			w.Header().Set(HeaderReplayed, "true")
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *replayMarker) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *replayMarker) Unwrap() http.ResponseWriter { return w.ResponseWriter }
