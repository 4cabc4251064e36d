package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/client"
)

// quorumStatus is `quorum describe --status`: kafka-metadata-quorum's
// fields. Unknown values are null in JSON and -1 in the table, as Kafka
// prints them.
type quorumStatus struct {
	ClusterID            string   `json:"clusterId"`
	LeaderID             int64    `json:"leaderId"`
	LeaderEpoch          int64    `json:"leaderEpoch"`
	HighWatermark        int64    `json:"highWatermark"`
	MaxFollowerLag       *int64   `json:"maxFollowerLag"`
	MaxFollowerLagTimeMs *int64   `json:"maxFollowerLagTimeMs"`
	CurrentVoters        []uint64 `json:"currentVoters"`
	CurrentObservers     []uint64 `json:"currentObservers"`
	// Voters and Observers are the members with their directory ids and
	// (voters') peer addresses, as kafka-metadata-quorum prints them.
	Voters    []quorumMember `json:"voters"`
	Observers []quorumMember `json:"observers"`
	// ViewOf is the node whose view this is; Stale says it is not the
	// live leader's (docs/api.md, GET /v1/quorum).
	ViewOf  uint64 `json:"viewOf"`
	Stale   bool   `json:"stale"`
	StaleMs *int64 `json:"staleMs"`
}

// quorumMember is a member in `quorum describe --status`.
type quorumMember struct {
	NodeID      uint64 `json:"id"`
	DirectoryID string `json:"directoryId"` // "" when unknown
	PeerAddress string `json:"peerAddress"`
}

// quorumReplica is one row of `quorum describe --replication`: voters,
// then observers.
type quorumReplica struct {
	NodeID      uint64 `json:"nodeId"`
	DirectoryID string `json:"directoryId"` // "" when unknown

	LogEndOffset *int64 `json:"logEndOffset"`
	Lag          *int64 `json:"lag"`
	// LastFetchTimestamp is when the answering node last heard from the
	// replica (ms since the epoch); LastCaughtUpTimestamp the same when the
	// replica's lag is 0, else unknown: the quorum answer does not keep
	// when a lagging replica was last caught up.
	LastFetchTimestamp    *int64 `json:"lastFetchTimestamp"`
	LastCaughtUpTimestamp *int64 `json:"lastCaughtUpTimestamp"`
	Status                string `json:"status"`
}

func newQuorumDescribeCmd(g *globals) *cobra.Command {
	var status, replication, human bool
	cmd := command("describe", "Describe the quorum: --status (its summary) or --replication (each replica)",
		`  yakt quorum describe --status
  yakt quorum describe --replication
  yakt quorum describe --replication --human-readable
  yakt quorum describe --status -o json | jq .leaderId`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			if status == replication {
				return usageError(errors.New("give exactly one of --status and --replication"))
			}
			return g.call(func(ctx context.Context, c *client.Client) error {
				q, err := c.Quorum(ctx)
				if err != nil {
					return err
				}
				now := time.Now()
				if q.Stale {
					fmt.Fprintf(g.stderr, "note: node %d's own last known view: no leader answered%s\n", q.NodeID, staleAge(q.StaleMs))
				}
				if status {
					err = g.printQuorumStatus(quorumStatusOf(q))
				} else {
					err = g.printQuorumReplication(quorumReplicasOf(q, now), now, human)
				}
				if err == nil && q.LeaderID < 0 {
					err = &exitError{code: exitUnavailable, err: errors.New("the quorum has no leader")}
				}
				return err
			})
		})
	cmd.Long = `Describe the raft quorum with the fields of kafka-metadata-quorum describe, from the leader's
view (any node relays it). When no leader answers, the answering node's own last known view is shown,
marked stale on stderr, and the exit status is 3.

--status lists the voters with their directory ids and peer addresses, then the observers (members that
replicate the log without voting). --replication has one row per replica, voters then observers;
DirectoryId is AAAAAAAAAAAAAAAAAAAAAA when unknown (a directory formatted before directory ids).

--replication columns: LogEndOffset and Lag are as the leader knows them; LastFetchTimestamp is when
the leader last heard from the replica (ms since the epoch); LastCaughtUpTimestamp is the same when
the replica's Lag is 0, and -1 (unknown) otherwise. -1 is any value the answering node does not know.`
	cmd.Flags().BoolVar(&status, "status", false, "the quorum's summary: leader, epoch, high watermark, largest follower lag, voters")
	cmd.Flags().BoolVar(&replication, "replication", false, "one row per replica: log end offset, lag, last fetch and caught-up times, status")
	cmd.Flags().BoolVar(&human, "human-readable", false, "with --replication: timestamps as \"N ms ago\"")
	return cmd
}

func staleAge(ms *int64) string {
	if ms == nil {
		return ", and it has known no leader since it started"
	}
	return fmt.Sprintf(", values last confirmed by a leader %v ago", time.Duration(*ms)*time.Millisecond)
}

func quorumStatusOf(q client.Quorum) quorumStatus {
	s := quorumStatus{ClusterID: q.ClusterID, LeaderID: q.LeaderID, LeaderEpoch: q.LeaderEpoch, HighWatermark: q.HighWatermark,
		CurrentVoters: []uint64{}, CurrentObservers: []uint64{}, Voters: []quorumMember{}, Observers: []quorumMember{},
		ViewOf: q.NodeID, Stale: q.Stale, StaleMs: q.StaleMs}
	for _, v := range q.Voters {
		s.CurrentVoters = append(s.CurrentVoters, v.NodeID)
		s.Voters = append(s.Voters, quorumMember{NodeID: v.NodeID, DirectoryID: v.DirectoryID, PeerAddress: v.PeerAddress})
		if int64(v.NodeID) == q.LeaderID {
			continue
		}
		s.MaxFollowerLag = maxKnown(s.MaxFollowerLag, v.Lag)
		s.MaxFollowerLagTimeMs = maxKnown(s.MaxFollowerLagTimeMs, v.LastContactMs)
	}
	for _, o := range q.Observers {
		s.CurrentObservers = append(s.CurrentObservers, o.NodeID)
		s.Observers = append(s.Observers, quorumMember{NodeID: o.NodeID, DirectoryID: o.DirectoryID, PeerAddress: o.PeerAddress})
	}
	if q.LeaderID >= 0 && len(q.Voters) == 1 {
		// A single voter has no followers to lag.
		zero := int64(0)
		s.MaxFollowerLag, s.MaxFollowerLagTimeMs = &zero, &zero
	}
	return s
}

func maxKnown(cur, v *int64) *int64 {
	if v == nil || (cur != nil && *cur >= *v) {
		return cur
	}
	x := *v
	return &x
}

func quorumReplicasOf(q client.Quorum, now time.Time) []quorumReplica {
	var out []quorumReplica
	add := func(v client.Voter, observer bool) {
		r := quorumReplica{NodeID: v.NodeID, DirectoryID: v.DirectoryID, LogEndOffset: v.LogEndOffset, Lag: v.Lag, Status: replicaStatus(v.Status, observer)}
		if v.LastContactMs != nil {
			t := now.Add(-time.Duration(*v.LastContactMs) * time.Millisecond).UnixMilli()
			r.LastFetchTimestamp = &t
			if v.Lag != nil && *v.Lag == 0 {
				r.LastCaughtUpTimestamp = &t
			}
		}
		out = append(out, r)
	}
	for _, v := range q.Voters {
		add(v, false)
	}
	for _, o := range q.Observers {
		add(o, true)
	}
	return out
}

// replicaStatus capitalises the API's status as kafka-metadata-quorum
// prints it (Leader, Follower, Observer).
func replicaStatus(s string, observer bool) string {
	if observer {
		return "Observer"
	}
	if s == "" {
		return "Unknown"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (g *globals) printQuorumStatus(s quorumStatus) error {
	if g.json() {
		return g.printJSON(s)
	}
	_, err := fmt.Fprintf(g.stdout, `ClusterId:              %s
LeaderId:               %d
LeaderEpoch:            %d
HighWatermark:          %d
MaxFollowerLag:         %s
MaxFollowerLagTimeMs:   %s
CurrentVoters:          %s
CurrentObservers:       %s
`, s.ClusterID, s.LeaderID, s.LeaderEpoch, s.HighWatermark, orMinus1(s.MaxFollowerLag), orMinus1(s.MaxFollowerLagTimeMs),
		memberList(s.Voters, true), memberList(s.Observers, false))
	return failed(err)
}

func (g *globals) printQuorumReplication(rs []quorumReplica, now time.Time, human bool) error {
	if g.json() {
		return g.printJSON(map[string]any{"replicas": rs})
	}
	ts := func(v *int64) string {
		if v == nil || !human {
			return orMinus1(v)
		}
		return fmt.Sprintf("%d ms ago", max(0, now.UnixMilli()-*v))
	}
	var rows [][]string
	for _, r := range rs {
		rows = append(rows, []string{strconv.FormatUint(r.NodeID, 10), directoryOrZero(r.DirectoryID), orMinus1(r.LogEndOffset), orMinus1(r.Lag),
			ts(r.LastFetchTimestamp), ts(r.LastCaughtUpTimestamp), r.Status})
	}
	return g.table([]string{"NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"}, rows)
}

// orMinus1 prints an unknown value as -1, Kafka's way.
func orMinus1(v *int64) string {
	if v == nil {
		return "-1"
	}
	return strconv.FormatInt(*v, 10)
}
