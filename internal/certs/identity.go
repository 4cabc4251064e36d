package certs

import "crypto/x509"

// NodeName is the DNS SAN that makes a certificate node id's in cluster
// clusterID: "node-<id>.<cluster-id>".
func NodeName(clusterID string, id uint64) string { panic("unimplemented") }

// NodeIDOf is the node id cert names in cluster clusterID (by a
// NodeName SAN), or false when it names none. A certificate naming two
// different nodes names none.
func NodeIDOf(cert *x509.Certificate, clusterID string) (uint64, bool) { panic("unimplemented") }
