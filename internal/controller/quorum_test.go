package controller

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/yakt/yakt/internal/raftnode"
	"github.com/yakt/yakt/internal/storage"
)

// TestDescribeQuorum: the /v1/quorum answer for the leader's live view and
// for stale views, one row per situation. Unknown values must be null,
// never 0, and a voter not heard from within the election timeout must be
// unreachable, never a follower.
func TestDescribeQuorum(t *testing.T) {
	now := time.Date(2026, 11, 21, 16, 4, 5, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	voter := func(id uint64, match uint64, known bool, state string, contact, heard time.Time) raftnode.VoterStatus {
		return raftnode.VoterStatus{ID: id, PeerAddr: "p" + string(rune('0'+id)), Match: match, MatchKnown: known,
			State: state, LastContact: contact, LastHeard: heard}
	}
	dir := func(b byte) storage.DirectoryID {
		var d storage.DirectoryID
		for i := range d {
			d[i] = b
		}
		return d
	}
	tests := []struct {
		name    string
		st      raftnode.Status
		members []raftnode.Member
		want    string // JSON of the answer
	}{
		{
			name: "leader with an observer in its progress and one it has no row for yet",
			st: raftnode.Status{ID: 1, Leader: 1, Term: 3, Commit: 90, LastIndex: 100, State: "leader", LastLeader: 1,
				FreshAt: now, ProgressAt: now, ProgressLastIndex: 100, ElectionTimeout: time.Second,
				Voters: []raftnode.VoterStatus{
					voter(1, 100, true, "replicate", now, now),
					voter(4, 70, true, "replicate", ago(20*time.Millisecond), ago(10*time.Millisecond)),
					voter(2, 99, true, "replicate", ago(20*time.Millisecond), ago(10*time.Millisecond)),
				}},
			members: []raftnode.Member{
				{NodeID: 1, DirectoryID: dir(1), PeerAddr: "p1", Voter: true},
				{NodeID: 2, PeerAddr: "p2", Voter: true}, // bootstrapped before directory ids
				{NodeID: 4, DirectoryID: dir(4), PeerAddr: "p4", HTTPAddr: "h4"},
				{NodeID: 5, DirectoryID: dir(5), PeerAddr: "p5"},
			},
			want: `{"clusterId":"c","nodeId":1,"stale":false,"staleMs":0,"leaderId":1,"lastLeaderId":1,"leaderEpoch":3,"highWatermark":90,"voters":[
				{"nodeId":1,"directoryId":"AQEBAQEBAQEBAQEBAQEBAQ","peerAddress":"p1","logEndOffset":100,"lag":0,"lastContactMs":0,"status":"leader"},
				{"nodeId":2,"directoryId":"","peerAddress":"p2","logEndOffset":99,"lag":1,"lastContactMs":20,"status":"follower"}],"observers":[
				{"nodeId":4,"directoryId":"BAQEBAQEBAQEBAQEBAQEBA","peerAddress":"p4","httpAddress":"h4","logEndOffset":70,"lag":30,"lastContactMs":20,"status":"follower"},
				{"nodeId":5,"directoryId":"BQUFBQUFBQUFBQUFBQUFBQ","peerAddress":"p5","logEndOffset":null,"lag":null,"lastContactMs":null,"status":"unreachable"}]}`,
		},
		{
			name: "leader with a live, a probing and a dead follower",
			st: raftnode.Status{ID: 1, Leader: 1, Term: 3, Commit: 90, LastIndex: 100, State: "leader", LastLeader: 1,
				FreshAt: now, ProgressAt: now, ProgressLastIndex: 100, ElectionTimeout: time.Second,
				Voters: []raftnode.VoterStatus{
					voter(1, 100, true, "replicate", now, now),
					voter(2, 98, true, "replicate", ago(50*time.Millisecond), ago(10*time.Millisecond)),
					voter(3, 40, true, "replicate", ago(5*time.Second), ago(10*time.Millisecond)),
					voter(4, 60, true, "probe", ago(100*time.Millisecond), ago(10*time.Millisecond)),
				}},
			want: `{"clusterId":"c","nodeId":1,"stale":false,"staleMs":0,"leaderId":1,"lastLeaderId":1,"leaderEpoch":3,"highWatermark":90,"voters":[
				{"nodeId":1,"directoryId":"","peerAddress":"p1","logEndOffset":100,"lag":0,"lastContactMs":0,"status":"leader"},
				{"nodeId":2,"directoryId":"","peerAddress":"p2","logEndOffset":98,"lag":2,"lastContactMs":50,"status":"follower"},
				{"nodeId":3,"directoryId":"","peerAddress":"p3","logEndOffset":40,"lag":60,"lastContactMs":5000,"status":"unreachable"},
				{"nodeId":4,"directoryId":"","peerAddress":"p4","logEndOffset":60,"lag":40,"lastContactMs":100,"status":"lagging"}],"observers":[]}`,
		},
		{
			name: "follower's own view (?stale=true)",
			st: raftnode.Status{ID: 2, Leader: 1, Term: 3, Commit: 90, LastIndex: 95, State: "follower", LastLeader: 1,
				FreshAt: ago(30 * time.Millisecond), ElectionTimeout: time.Second,
				Voters: []raftnode.VoterStatus{
					voter(1, 0, false, "", ago(30*time.Millisecond), ago(30*time.Millisecond)),
					voter(2, 95, true, "", now, now),
					voter(3, 0, false, "", time.Time{}, ago(20*time.Millisecond)),
					voter(4, 0, false, "", time.Time{}, time.Time{}),
				}},
			want: `{"clusterId":"c","nodeId":2,"stale":true,"staleMs":30,"leaderId":1,"lastLeaderId":1,"leaderEpoch":3,"highWatermark":90,"voters":[
				{"nodeId":1,"directoryId":"","peerAddress":"p1","logEndOffset":null,"lag":null,"lastContactMs":30,"status":"leader"},
				{"nodeId":2,"directoryId":"","peerAddress":"p2","logEndOffset":95,"lag":null,"lastContactMs":0,"status":"follower"},
				{"nodeId":3,"directoryId":"","peerAddress":"p3","logEndOffset":null,"lag":null,"lastContactMs":20,"status":"unknown"},
				{"nodeId":4,"directoryId":"","peerAddress":"p4","logEndOffset":null,"lag":null,"lastContactMs":null,"status":"unreachable"}],"observers":[]}`,
		},
		{
			name: "old leader after losing its quorum keeps the progress it last had",
			st: raftnode.Status{ID: 1, Leader: 0, Term: 5, Commit: 90, LastIndex: 100, State: "candidate", LastLeader: 1,
				FreshAt: ago(4 * time.Second), ProgressAt: ago(4 * time.Second), ProgressLastIndex: 100, ElectionTimeout: time.Second,
				Voters: []raftnode.VoterStatus{
					voter(1, 100, true, "", now, now),
					voter(2, 97, true, "probe", ago(5*time.Second), ago(5*time.Second)),
					voter(3, 90, true, "probe", ago(6*time.Second), ago(6*time.Second)),
				}},
			want: `{"clusterId":"c","nodeId":1,"stale":true,"staleMs":4000,"leaderId":-1,"lastLeaderId":1,"leaderEpoch":5,"highWatermark":90,"voters":[
				{"nodeId":1,"directoryId":"","peerAddress":"p1","logEndOffset":100,"lag":null,"lastContactMs":0,"status":"candidate"},
				{"nodeId":2,"directoryId":"","peerAddress":"p2","logEndOffset":97,"lag":3,"lastContactMs":5000,"status":"unreachable"},
				{"nodeId":3,"directoryId":"","peerAddress":"p3","logEndOffset":90,"lag":10,"lastContactMs":6000,"status":"unreachable"}],"observers":[]}`,
		},
		{
			name: "fresh node that never knew a leader",
			st: raftnode.Status{ID: 3, Term: 1, LastIndex: 3, State: "candidate", ElectionTimeout: time.Second,
				Voters: []raftnode.VoterStatus{
					voter(1, 0, false, "", time.Time{}, time.Time{}),
					voter(3, 3, true, "", now, now),
				}},
			want: `{"clusterId":"c","nodeId":3,"stale":true,"staleMs":null,"leaderId":-1,"lastLeaderId":null,"leaderEpoch":1,"highWatermark":0,"voters":[
				{"nodeId":1,"directoryId":"","peerAddress":"p1","logEndOffset":null,"lag":null,"lastContactMs":null,"status":"unreachable"},
				{"nodeId":3,"directoryId":"","peerAddress":"p3","logEndOffset":3,"lag":null,"lastContactMs":0,"status":"candidate"}],"observers":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(describeQuorum("c", tt.st, tt.members, now))
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &wantV); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			g, _ := json.MarshalIndent(gotV, "", " ")
			w, _ := json.MarshalIndent(wantV, "", " ")
			if string(g) != string(w) {
				t.Fatalf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}
