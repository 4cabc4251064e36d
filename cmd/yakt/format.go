package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/internal/storage"
	"github.com/yakt/yakt/internal/vfs"
)

// formatted is yakt format's answer (-o json).
type formatted struct {
	DataDir     string `json:"dataDir"`
	ClusterID   string `json:"clusterId"`
	NodeID      uint64 `json:"nodeId"`
	DirectoryID string `json:"directoryId"`
	Already     bool   `json:"alreadyFormatted"`
}

func newFormatCmd(g *globals) *cobra.Command {
	var (
		dataDir, clusterID string
		nodeID             uint64
		ignoreFormatted    bool
	)
	cmd := command("format", "Format a data directory: its cluster id, node id and a new directory id",
		`  # the first node of a new cluster: a fresh cluster id is drawn and printed
  yakt format --data-dir /var/lib/yakt --node-id 1
  # the other nodes: the same cluster id
  yakt format --data-dir /var/lib/yakt --node-id 2 --cluster-id 3q2-F7sDRsKbU2ke2tCVHg`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			switch {
			case dataDir == "":
				return usageError(errors.New("--data-dir is required"))
			case nodeID == 0:
				return usageError(errors.New("--node-id is required (a positive integer)"))
			}
			drawn := clusterID == ""
			if drawn {
				clusterID = newClusterID()
			}
			out := formatted{DataDir: dataDir, ClusterID: clusterID, NodeID: nodeID}
			err := storage.Format(vfs.OS, dataDir, storage.Identity{ClusterID: clusterID, NodeID: nodeID})
			if errors.Is(err, storage.ErrFormatted) && ignoreFormatted {
				id, rerr := storage.ReadIdentity(vfs.OS, dataDir)
				if rerr != nil {
					return &exitError{code: exitAPI, err: rerr}
				}
				if id.NodeID != nodeID || (!drawn && id.ClusterID != clusterID) {
					return &exitError{code: exitAPI, err: fmt.Errorf("%s is formatted for cluster %q node %d: %w", dataDir, id.ClusterID, id.NodeID, err)}
				}
				out.ClusterID, out.Already = id.ClusterID, true
				err = nil
			}
			if err != nil {
				return &exitError{code: exitAPI, err: err}
			}
			id, err := storage.ReadIdentity(vfs.OS, dataDir)
			if err != nil {
				return &exitError{code: exitAPI, err: err}
			}
			out.DirectoryID = id.DirectoryID.String()
			if g.json() {
				return g.printJSON(out)
			}
			verb := "formatted"
			if out.Already {
				verb = "already formatted"
			}
			fmt.Fprintf(g.stdout, "%s %s: cluster %s, node %d, directory id %s\n", verb, dataDir, out.ClusterID, nodeID, out.DirectoryID)
			if drawn && !out.Already {
				fmt.Fprintf(g.stdout, "give the other nodes of this cluster --cluster-id %s\n", out.ClusterID)
			}
			return nil
		})
	cmd.Long = `Format a data directory once, as kafka-storage format does: write the cluster id, this node's
id and a random directory id. A directory is its node's identity from then on: a node whose disk
was replaced comes back with a new directory id, and the quorum refuses to count it as the member it
replaces until an operator removes the old member and adds the new one (docs/operations.md).

Without --cluster-id a fresh one is drawn and printed; give it to the cluster's other nodes. A
formatted directory is never formatted again (exit status 1), unless --ignore-formatted is given
and it already holds this node id (and cluster id). 'yakt server' formats a directory itself when
it bootstraps a new cluster (--voters and --cluster-id) or joins one (--join).`
	fs := cmd.Flags()
	fs.StringVar(&dataDir, "data-dir", "", "the data directory to format (created if missing)")
	fs.Uint64Var(&nodeID, "node-id", 0, "this node's id")
	fs.StringVar(&clusterID, "cluster-id", "", "the cluster's id (default: a fresh random one, printed)")
	fs.BoolVar(&ignoreFormatted, "ignore-formatted", false, "succeed when the directory is already formatted for this node")
	return cmd
}

// newClusterID draws a cluster id in Kafka's form (kafka-storage
// random-uuid): 16 random bytes, unpadded base64url.
func newClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
