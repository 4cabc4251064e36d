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
// Roles: admin (everything), reader (reads and ClientMgmt fetches),
// broker:<id> (a broker's own writes for broker id only). A cluster
// member (node:<id>) may do everything: it is in the quorum already.
package auth
