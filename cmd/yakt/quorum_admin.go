package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/internal/storage"
)

// The quorum's membership commands (kafka-metadata-quorum's
// add-controller / remove-controller, etcdctl's member add / promote /
// remove), over the API of docs/api.md, "Quorum membership".

// newQuorumCmds are the quorum group's subcommands.
func newQuorumCmds(g *globals) []*cobra.Command {
	return []*cobra.Command{newQuorumDescribeCmd(g), newQuorumAddVoterCmd(g), newQuorumAddObserverCmd(g),
		newQuorumPromoteCmd(g), newQuorumRemoveVoterCmd(g), newQuorumTransferLeaderCmd(g)}
}

// memberFlags name a member: its node id and, for adding it, its
// identity, given or asked of the node at --http-address.
type memberFlags struct {
	nodeID      uint64
	directoryID string
	peerAddress string
	httpAddress string
	// mayBeMember: the node may be a member already (add-voter promotes
	// an observer), so its identity flags are needed only if it is not.
	mayBeMember bool
}

func (m *memberFlags) register(cmd *cobra.Command, identity bool) {
	cmd.Flags().Uint64Var(&m.nodeID, "node-id", 0, "the member's node id (required)")
	cmd.Flags().StringVar(&m.directoryID, "directory-id", "", "the member's directory id (22 characters of base64url; GET /v1/node on the node tells it)")
	if identity {
		cmd.Flags().StringVar(&m.peerAddress, "peer-address", "", "host:port where the other nodes reach the new node's peer listener")
		cmd.Flags().StringVar(&m.httpAddress, "http-address", "", "host:port of the new node's HTTP API: its identity is asked there when --directory-id or --peer-address is not given")
	}
}

// check validates the flags; identity: the command adds the member.
func (m *memberFlags) check(identity bool) error {
	if m.nodeID == 0 {
		return usageError(errors.New("--node-id is required (1 or more)"))
	}
	if _, err := storage.ParseDirectoryID(m.directoryID); err != nil {
		return usageError(fmt.Errorf("--directory-id: %w", err))
	}
	if !identity {
		return nil
	}
	for flag, v := range map[string]string{"--peer-address": m.peerAddress, "--http-address": m.httpAddress} {
		if v == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return usageError(fmt.Errorf("%s %q: want host:port", flag, v))
		}
	}
	if !m.mayBeMember && (m.directoryID == "" || m.peerAddress == "") && m.httpAddress == "" {
		return usageError(errors.New("give --directory-id and --peer-address, or --http-address to ask the new node for them"))
	}
	return nil
}

// identity is the member to add: the flags, with what they leave out
// asked of the node at --http-address, which must be that node and of
// that cluster.
func (m *memberFlags) identity(ctx context.Context, c *client.Client, clusterID string) (client.QuorumMember, error) {
	out := client.QuorumMember{NodeID: m.nodeID, DirectoryID: m.directoryID, PeerAddress: m.peerAddress, HTTPAddress: m.httpAddress}
	if out.DirectoryID != "" && out.PeerAddress != "" {
		return out, nil
	}
	if m.httpAddress == "" {
		return out, usageError(fmt.Errorf("node %d is not a member yet: give --directory-id and --peer-address, or --http-address to ask the new node for them", m.nodeID))
	}
	// The new node speaks what the cluster speaks: https when the
	// endpoints are.
	scheme, _, _ := strings.Cut(c.Endpoints()[0], "://")
	n, _, err := c.NodeAt(ctx, scheme+"://"+m.httpAddress)
	if err != nil {
		return out, fmt.Errorf("ask the new node at %s who it is: %w", m.httpAddress, err)
	}
	switch {
	case n.NodeID != m.nodeID:
		return out, &exitError{code: exitAPI, err: fmt.Errorf("the node at %s is node %d, not %d", m.httpAddress, n.NodeID, m.nodeID)}
	case clusterID != "" && n.ClusterID != clusterID:
		return out, &exitError{code: exitAPI, err: fmt.Errorf("the node at %s belongs to cluster %q, not %q", m.httpAddress, n.ClusterID, clusterID)}
	case out.DirectoryID != "" && n.DirectoryID != out.DirectoryID:
		return out, &exitError{code: exitAPI, err: fmt.Errorf("the node at %s has directory id %s, not %s", m.httpAddress, n.DirectoryID, out.DirectoryID)}
	case n.DirectoryID == "":
		return out, &exitError{code: exitAPI, err: fmt.Errorf("the node at %s has no directory id: format its data directory first", m.httpAddress)}
	}
	out.DirectoryID = n.DirectoryID
	if out.PeerAddress == "" {
		out.PeerAddress = n.PeerAddress
	}
	return out, nil
}

// memberIn finds node id among q's voters or observers.
func memberIn(q client.Quorum, id uint64) (v client.Voter, voter, found bool) {
	for _, v := range q.Voters {
		if v.NodeID == id {
			return v, true, true
		}
	}
	for _, v := range q.Observers {
		if v.NodeID == id {
			return v, false, true
		}
	}
	return client.Voter{}, false, false
}

func newQuorumAddVoterCmd(g *globals) *cobra.Command {
	m := memberFlags{mayBeMember: true}
	cmd := command("add-voter", "Add a node to the quorum as a voter: as an observer first, promoted once it has caught up",
		`  # node 4 was started with --join (it is an observer already): promote it once caught up
  yakt quorum add-voter --node-id 4 --timeout 2m
  # the new node runs and was formatted for this cluster; ask it who it is
  yakt quorum add-voter --node-id 4 --http-address 10.0.0.4:8001 --timeout 2m
  # or name it in full
  yakt quorum add-voter --node-id 4 --directory-id Zt5cH3uQTqW8e1oLm2pB0g --peer-address 10.0.0.4:7001`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if err := m.check(true); err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				q, err := c.Quorum(ctx)
				if err != nil {
					return err
				}
				_, voter, found := memberIn(q, m.nodeID)
				if found && voter {
					fmt.Fprintf(g.stderr, "node %d is already a voter\n", m.nodeID)
					return g.printQuorumMembers(q)
				}
				if !found {
					member, err := m.identity(ctx, c, q.ClusterID)
					if err != nil {
						return err
					}
					if _, _, err := c.AddObserver(ctx, member); err != nil {
						return fmt.Errorf("add node %d as an observer: %w", m.nodeID, err)
					}
					m.directoryID = member.DirectoryID
					fmt.Fprintf(g.stderr, "node %d added as an observer; promoting it once it has caught up\n", m.nodeID)
				}
				q, err = promoteWhenCaughtUp(ctx, c, m.nodeID, m.directoryID)
				if err != nil {
					return err
				}
				return g.printQuorumMembers(q)
			})
		})
	cmd.Long = `Add a node to the quorum as a voter, the way KRaft adds a controller: the node is added as an
observer (it replicates the log but does not vote), then promoted to voter once its log has caught up
with the leader's, waiting for that up to --timeout. A node already an observer is only promoted; one
already a voter is left as it is.

A node started with --join is added as an observer by itself: then --node-id is all this needs. Otherwise
the new node must be running, formatted for this cluster (its directory id names this formatting of its
data directory): give its --directory-id and --peer-address, or its --http-address, where they are
asked (GET /v1/node). Prints the resulting quorum as 'quorum describe --replication' does.`
	m.register(cmd, true)
	return cmd
}

// promoteMargin is the time a promotion's answer needs besides the
// leader's wait for the observer: the change's commit (the server allows
// it a second) and the round trip, which a busy machine stretches; a
// third of the time left, and at least 2 s.
func promoteMargin(left time.Duration) time.Duration { return max(2*time.Second, left/3) }

// promoteWhenCaughtUp promotes observer id, asking again while the
// leader says it has not caught up and ctx leaves time for another ask.
// Each ask lets the leader wait as long as ctx allows (the server caps
// the wait at its request timeout).
func promoteWhenCaughtUp(ctx context.Context, c *client.Client, id uint64, dir string) (client.Quorum, error) {
	for {
		wait := int64(0)
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			wait = max(0, (left - promoteMargin(left)).Milliseconds())
		}
		q, _, err := c.PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: id, DirectoryID: dir, WaitMs: wait})
		if !errors.Is(err, client.ErrNotCaughtUp) {
			return q, err
		}
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) <= 2*promoteMargin(time.Until(dl)) {
			return q, fmt.Errorf("node %d is an observer but has not caught up to be promoted in time; run 'yakt quorum promote --node-id %d' later, or add-voter with a longer --timeout: %w", id, id, err)
		}
	}
}

func newQuorumAddObserverCmd(g *globals) *cobra.Command {
	var m memberFlags
	cmd := command("add-observer", "Add a node to the quorum as an observer: it replicates the log but does not vote",
		`  yakt quorum add-observer --node-id 4 --http-address 10.0.0.4:8001
  yakt quorum add-observer --node-id 4 --directory-id Zt5cH3uQTqW8e1oLm2pB0g --peer-address 10.0.0.4:7001`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if err := m.check(true); err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				clusterID := ""
				if m.directoryID == "" || m.peerAddress == "" {
					q, err := c.Quorum(ctx)
					if err != nil {
						return err
					}
					clusterID = q.ClusterID
				}
				member, err := m.identity(ctx, c, clusterID)
				if err != nil {
					return err
				}
				q, _, err := c.AddObserver(ctx, member)
				if err != nil {
					return err
				}
				return g.printQuorumMembers(q)
			})
		})
	cmd.Long = `Add a node to the quorum as an observer: it replicates the log and serves reads but never votes or
counts toward a quorum. Adding the same member again changes nothing. Promote it later with
'yakt quorum promote'. Identity flags as for add-voter.`
	m.register(cmd, true)
	return cmd
}

func newQuorumPromoteCmd(g *globals) *cobra.Command {
	var m memberFlags
	cmd := command("promote", "Promote an observer to voter, if its log has caught up",
		`  yakt quorum promote --node-id 4
  yakt quorum promote --node-id 4 --directory-id Zt5cH3uQTqW8e1oLm2pB0g`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if err := m.check(false); err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				q, _, err := c.PromoteVoter(ctx, client.PromoteVoterRequest{NodeID: m.nodeID, DirectoryID: m.directoryID})
				if err != nil {
					return err
				}
				return g.printQuorumMembers(q)
			})
		})
	cmd.Long = `Promote an observer to voter. The leader does it only if the observer's log has caught up with its
own, and answers NOT_CAUGHT_UP (exit status 1) at once otherwise: retry later, or use
'yakt quorum add-voter', which waits. Promoting a voter changes nothing.`
	m.register(cmd, false)
	return cmd
}

func newQuorumRemoveVoterCmd(g *globals) *cobra.Command {
	var m memberFlags
	cmd := command("remove-voter", "Remove a voter (or an observer) from the quorum",
		`  yakt quorum remove-voter --node-id 3
  yakt quorum remove-voter --node-id 3 --directory-id kP0wq7ZbS6mJ2x1nYc8r4A`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if err := m.check(false); err != nil {
				return err
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				q, _, err := c.RemoveMember(ctx, m.nodeID, m.directoryID)
				if err != nil {
					return err
				}
				if err := g.printQuorumMembers(q); err != nil {
					return err
				}
				fmt.Fprintf(g.stderr, "node %d is no longer a member of the quorum; stop its process (yakt server) now\n", m.nodeID)
				return nil
			})
		})
	cmd.Long = `Remove a voter or an observer from the quorum, as KRaft's remove-controller does. --directory-id,
when given, must be the member's: it keeps a stale command from removing a node that was re-added
with a new directory. Removing the leader moves the leadership to another voter first; the cluster
then completes the removal. Removing the last voter is refused (LAST_VOTER). The removed node's
process keeps running until you stop it.`
	m.register(cmd, false)
	return cmd
}

func newQuorumTransferLeaderCmd(g *globals) *cobra.Command {
	var to uint64
	cmd := command("transfer-leader", "Hand the leadership to another voter",
		`  yakt quorum transfer-leader
  yakt quorum transfer-leader --to 2`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			return g.call(func(ctx context.Context, c *client.Client) error {
				q, _, err := c.TransferLeader(ctx, to)
				if err != nil {
					return err
				}
				return g.printQuorumStatus(quorumStatusOf(q))
			})
		})
	cmd.Long = `Hand the leadership to voter --to, or without it to the most caught-up other voter, and wait until
it leads. Prints the quorum's summary as 'quorum describe --status' does.`
	cmd.Flags().Uint64Var(&to, "to", 0, "the voter to lead (default: the most caught-up other voter)")
	return cmd
}

// printQuorumMembers prints a membership change's answer: the quorum as
// the API gives it (JSON), or its replicas as 'describe --replication'.
func (g *globals) printQuorumMembers(q client.Quorum) error {
	if g.json() {
		return g.printJSON(q)
	}
	now := time.Now()
	return g.printQuorumReplication(quorumReplicasOf(q, now), now, false)
}

// zeroDirectoryID is how kafka-metadata-quorum prints an unknown
// directory id (the zero UUID).
const zeroDirectoryID = "AAAAAAAAAAAAAAAAAAAAAA"

func directoryOrZero(d string) string {
	if d == "" {
		return zeroDirectoryID
	}
	return d
}

// memberList prints members as kafka-metadata-quorum describe --status
// does: [{"id": 1, "directoryId": "...", "endpoints": ["..."]}, ...].
func memberList(ms []quorumMember, endpoints bool) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		s := `{"id": ` + strconv.FormatUint(m.NodeID, 10) + `, "directoryId": ` + strconv.Quote(directoryOrZero(m.DirectoryID))
		if endpoints {
			s += `, "endpoints": [` + strconv.Quote(m.PeerAddress) + `]`
		}
		parts[i] = s + "}"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
