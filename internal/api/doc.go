// Package api is YAKt's HTTP/JSON surface (docs/api.md): thin handlers
// that decode strictly into package contract's request types, call the
// controller and encode its answers, plus the middleware every response
// shares (node/leader headers, request ids, forwarding of writes from
// followers to the leader, panic safety, and Idempotency-Key checks and
// fingerprints for retry-safe writes).
//
// It depends on the controller and the contract, not on the raft node or
// storage: errors become answers through controller.APIError and
// contract.Code.Status, and readiness, the quorum view and snapshot files
// come from the controller.
//
// # Forwarding
//
// A follower does not serve a write: it reads the body (at most
// MaxBodyBytes) and forwards it to the leader (forward.go). By default
// each attempt is a frame on the peer connection (the peer hop:
// transport.Transport.Request through controller.Controller.ForwardRequest)
// carrying the method, path and query, the body, and only the header
// fields the leader's handlers read (Idempotency-Key, Content-Type) plus
// X-Request-Id and X-Yakt-Forwarded-By. The leader runs it through its
// whole handler chain, the same http.Handler its HTTP listener serves,
// with a recorded answer (Server.serveForwarded), so a forwarded write is
// checked, limited, deduplicated and answered exactly as if the client
// had sent it to the leader; the follower relays status, header fields
// and body as it relayed the HTTP hop's. Nothing is streamed: answers of
// writes are small, and the transport bounds them (64 MiB). The fetch,
// whose full answers are large, is never forwarded; only its heartbeat is.
//
// The outcome rules are forwarder.serve's, whichever hop: a request that
// certainly did not run on a leader is sent again to whoever leads next;
// one that may have run is sent again only when resendable (an
// Idempotency-Key, or a heartbeat), else the answer is 504 TIMEOUT; the
// request's deadline and its context bound everything. On the peer hop
// "certainly did not run" is exactly what transport.ErrRequestNotRun
// proves: the frame was never written (no connection, a leader silent
// for 500 ms or more, a connection the leader had already closed) or the
// leader refused it unrun (its API server closed). A connection lost
// after the frame was written is "sent, outcome unknown", as a lost HTTP
// connection was. The follower's deadline travels in the frame and a
// cancel frame follows a caller that gave up, so the leader stops
// working on a request as soon as nobody waits for it, as it did when the
// forwarding HTTP connection closed. In-flight forwards are bounded per
// leader by the transport (1024 per stream; more wait for a slot).
//
// Quorum membership changes (handlers_quorum.go) are writes too, but
// never resendable: the change itself may move or remove the leader, and
// a resend to the next leader would repeat it. A leader asked to remove
// itself hands its leadership over, waits for the next leader and
// forwards the same request there once.
//
// Config.ForwardOverHTTP keeps the HTTP hop (a second HTTP request to
// the leader's advertised HTTP address, fresh connections for requests
// that are not resendable) for comparison and as a fallback. A node
// serves peer-hop requests whatever its own setting.
//
// # Authentication and access
//
// With Config.Access (an access file, package auth) every request but
// /healthz and /readyz is authenticated first (access.go: 401
// UNAUTHENTICATED), and each route of the table has an access class
// (open, reader, broker-scoped, admin, node-only) checked before the
// route does anything, a follower's forwarding included (403 FORBIDDEN).
// A broker-scoped handler also checks, once it has decoded the body, that
// the principal may act for the broker id the request names. A forward
// carries the follower's principal in X-Yakt-Principal; the leader
// believes it only when the forward came from a member node (the peer
// hop's sender, or a node certificate on the HTTP hop) and applies its own
// access file's roles to it, so a reload on the leader is enough to take a
// role away. Each write is logged, with its principal, where it runs.
//
// Limits: long polls (fetches with a wait, dashboard streams) hold a slot
// of Config.MaxLongPolls (429 TOO_MANY_LONG_POLLS beyond it);
// LimitListener and ConnContext, which the server wires, answer a
// connection beyond the listener's limit with 503 CONNECTION_LIMIT.
package api
