package controller

import (
	"strings"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

func TestValidateZkConnect(t *testing.T) {
	for _, ok := range []string{
		"zk:2181", "10.0.0.5:2181", "[::1]:2181", "zk1:2181,zk2:2181,zk3:2181", "zk1:2181/kafka", "zk1:2181,zk2:2182/kafka/prod",
		"zk_1.example.com:65535/", "a:1/k-a_f.k@a",
	} {
		if err := ValidateZkConnect(ok); err != nil {
			t.Errorf("ValidateZkConnect(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"", "zk", "zk:", ":2181", "zk:0", "zk:65536", "zk:-1", "zk:02181", "zk:port", "zk:2181,", ",zk:2181", "zk:2181,,zk2:2181",
		"zk:2181//kafka", "zk:2181/kafka/", "zk:2181/ka fka", "zk:2181/./k", "zk:2181/..", "zk:2181/k\x00", "zk one:2181",
		"-zk:2181", "::1:2181", "zk:2181/" + strings.Repeat("a", MaxZkConnectLength),
	} {
		err := ValidateZkConnect(bad)
		if CodeOf(err) != contract.CodeInvalidRequest {
			t.Errorf("ValidateZkConnect(%q) = %v, want INVALID_REQUEST", bad, err)
		}
	}
}

// migrated is the records of a migration taken through phases, one batch
// each, with the progress and zxid a driver would have committed.
func migrated(phases ...string) [][]metadata.Body {
	var out [][]metadata.Body
	for i, p := range phases {
		out = append(out, bodies(&metadata.ZkMigrationStateRecord{Phase: p, ZkConnect: "zk:2181/kafka", ZkClusterID: "kc",
			Zxid: int64(100 + i), NextProducerID: 5000, TopicsImported: 7, TopicsTotal: 7}))
	}
	return out
}

// TestMigrationPhaseMoves: each admin operation moves exactly the phases
// it names, keeps what the current state says, and is MIGRATION_PHASE
// anywhere else; replay accepts every record it builds.
func TestMigrationPhaseMoves(t *testing.T) {
	ops := map[string]map[string]string{
		"cutover":  {metadata.MigrationFollowing: metadata.MigrationDualWrite},
		"finalize": {metadata.MigrationDualWrite: metadata.MigrationFinalized},
		"rollback": {metadata.MigrationDualWrite: metadata.MigrationFollowing, metadata.MigrationImporting: metadata.MigrationAborted,
			metadata.MigrationFollowing: metadata.MigrationAborted},
	}
	histories := map[string][]string{
		metadata.MigrationNone:      nil,
		metadata.MigrationImporting: {metadata.MigrationImporting},
		metadata.MigrationFollowing: {metadata.MigrationImporting, metadata.MigrationFollowing},
		metadata.MigrationDualWrite: {metadata.MigrationImporting, metadata.MigrationFollowing, metadata.MigrationDualWrite},
		metadata.MigrationFinalized: {metadata.MigrationImporting, metadata.MigrationFollowing, metadata.MigrationDualWrite, metadata.MigrationFinalized},
		metadata.MigrationAborted:   {metadata.MigrationImporting, metadata.MigrationAborted},
		metadata.MigrationFailed:    {metadata.MigrationImporting, metadata.MigrationFailed},
	}
	for from, history := range histories {
		img := imageOf(t, migrated(history...)...)
		if got := migrationPhase(img); got != from {
			t.Fatalf("image of %v is in phase %q", history, got)
		}
		for op, next := range ops {
			rec, err := nextPhaseRecord(img, op, next)
			to, allowed := next[from]
			if !allowed {
				if CodeOf(err) != contract.CodeMigrationPhase || rec != nil {
					t.Errorf("%s from %q: %v, %+v; want MIGRATION_PHASE", op, from, err, rec)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s from %s: %v", op, from, err)
			}
			cur, _ := img.Migration()
			want := cur
			want.Phase = to
			if *rec != want {
				t.Errorf("%s from %s: %+v, want %+v", op, from, *rec, want)
			}
			replayOK(t, img, []metadata.Record{{Body: rec}})
		}
		wantStart := from == metadata.MigrationNone || from == metadata.MigrationAborted || from == metadata.MigrationFailed
		if err := startAllowed(img); (err == nil) != wantStart || err != nil && CodeOf(err) != contract.CodeMigrationPhase {
			t.Errorf("start from %q: %v, want allowed %v", from, err, wantStart)
		}
		guard := refuseWhileZkAuthoritative(img)
		if wantGuard := from == metadata.MigrationImporting || from == metadata.MigrationFollowing; (guard != nil) != wantGuard ||
			guard != nil && CodeOf(guard) != contract.CodeMigrationInProgress {
			t.Errorf("the guard in phase %q: %v, want a refusal %v", from, guard, wantGuard)
		}
	}
}

func TestMigrationStatusOfState(t *testing.T) {
	if st := migrationStatus(metadata.ZkMigrationStateRecord{}, false, 9); st != (contract.MigrationStatus{Phase: contract.MigrationPhaseNone, Offset: 9}) {
		t.Errorf("no migration: %+v", st)
	}
	rec := metadata.ZkMigrationStateRecord{Phase: metadata.MigrationFailed, ZkConnect: "zk:1", ZkClusterID: "c", Zxid: 3, NextProducerID: 4,
		TopicsImported: 1, TopicsTotal: 2, Error: "/brokers/topics/a: bad JSON"}
	want := contract.MigrationStatus{Phase: "FAILED", ZkConnect: "zk:1", ZkClusterID: "c", Zxid: 3, TopicsImported: 1, TopicsTotal: 2,
		Error: "/brokers/topics/a: bad JSON", Offset: 12}
	if st := migrationStatus(rec, true, 12); st != want {
		t.Errorf("status of %+v = %+v, want %+v", rec, st, want)
	}
	if _, err := appliedStatus([]metadata.Record{{Body: top("a", "u")}}); err == nil {
		t.Error("a status from a TopicRecord")
	}
}
