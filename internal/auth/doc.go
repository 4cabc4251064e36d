// Package auth decides who a request is and what it may do.
//
// Principals come from a client certificate verified by the TLS layer
// (its subject CN; a cluster member's node certificate makes the
// principal "node:<id>") or from a bearer token. Roles are bound to
// principals in the access file, which also holds the SHA-256 hashes of
// the tokens (never the tokens), and which is reloaded when it changes or
// on Reload (SIGHUP):
//
//	# <principal> <role>[,<role>...] [sha256:<hex>]...
//	alice      admin      sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
//	broker-1   broker:1   sha256:...
//	reporting  reader
//
// The file's rules: fields are separated by spaces or tabs; '#' starts a
// comment to the end of the line; blank lines are ignored. Each
// principal has one line, with at least one role and any number of token
// hashes ("sha256:" and 64 hex digits, the SHA-256 of the token's bytes,
// as HashToken gives it), and a hash belongs to one principal only.
// Principal names never start with "node:" (the members' own). A
// principal of a client certificate (its CN) needs a line only for its
// roles: without one it is known but may do nothing (403). A file with
// any error is refused as a whole, and a reload that fails keeps the
// access loaded before; errors name the line, never a hash.
//
// Roles: admin (everything), reader (reads and ClientMgmt fetches),
// broker:<id> (a broker's own writes for broker id only; the id is a
// decimal 0..2147483647 without leading zeros). A cluster member
// (node:<id>) may do everything: it is in the quorum already.
//
// Tokens are 256 random bits (NewToken): with that much entropy a fast
// hash is safe, as guessing a token is hopeless however fast the guesses.
package auth
