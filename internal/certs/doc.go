// Package certs holds a node's TLS material: its certificate and key and
// the cluster CA, read from PEM files and reloaded when they change (or
// on Reload, which yakt server calls on SIGHUP), so certificates rotate
// without a restart and without dropping connections (each new handshake
// uses the files as they are now; established connections keep going).
//
// A node's certificate names the node: a DNS SAN NodeName(clusterID, id),
// "node-<id>.<cluster-id>". Peers use it in both directions of the mutual
// TLS on the peer port (a peer whose certificate names another node id
// than the one it claims is refused), and a node's HTTPS requests to
// another node (join, forwarding, relays) present it as a client
// certificate, which makes it the principal of that node.
//
// The package also issues certificates (Authority), for yakt dev --secure
// and for tests; operators use their own PKI or openssl (docs/security.md).
package certs
