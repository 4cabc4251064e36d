package certs

import (
	"crypto/x509"
	"strconv"
	"strings"
)

// nodePrefix starts every node name; the cluster id follows the id.
const nodePrefix = "node-"

// NodeName is the DNS SAN that makes a certificate node id's in cluster
// clusterID: "node-<id>.<cluster-id>".
func NodeName(clusterID string, id uint64) string {
	return nodePrefix + strconv.FormatUint(id, 10) + "." + clusterID
}

// NodeIDOf is the node id cert names in cluster clusterID (by a
// NodeName SAN), or false when it names none. A certificate naming two
// different nodes names none.
func NodeIDOf(cert *x509.Certificate, clusterID string) (uint64, bool) {
	if cert == nil || clusterID == "" {
		return 0, false
	}
	var found uint64
	for _, name := range cert.DNSNames {
		id, ok := parseNodeName(name, clusterID)
		if !ok {
			continue
		}
		if found != 0 && found != id {
			return 0, false
		}
		found = id
	}
	return found, found != 0
}

// parseNodeName is the id in name when name is NodeName(clusterID, id).
// The id must be written as NodeName writes it (no sign, no leading
// zeros), so one node has exactly one name; node 0 does not exist.
func parseNodeName(name, clusterID string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, nodePrefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, "."+clusterID)
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || strconv.FormatUint(id, 10) != digits {
		return 0, false
	}
	return id, true
}
