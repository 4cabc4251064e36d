// Package api is YAKt's HTTP/JSON surface (docs/api.md): thin handlers
// that decode strictly, call the controller and encode, plus the
// middleware every response shares (node/leader headers, request ids,
// forwarding of writes from followers to the leader, panic safety, and
// Idempotency-Key checks and fingerprints for retry-safe writes).
package api
