package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
	"github.com/yakt/yakt/internal/testcluster"
)

// The migration's admin operations, as an operator's program calls them.

func startMigration(ctx context.Context, cl *client.Client, zkConnect string) (contract.MigrationStatus, error) {
	st, _, err := cl.StartMigration(ctx, zkConnect)
	return st, err
}

func migrationStatus(ctx context.Context, cl *client.Client) (contract.MigrationStatus, error) {
	return cl.MigrationStatus(ctx)
}

// waitPhase waits until the migration is in phase want and returns its
// status. A FAILED migration ends the wait at once when want is another
// phase (its Error says why); so does the deadline, with the last status.
func waitPhase(ctx context.Context, t testing.TB, cl *client.Client, want string, within time.Duration) contract.MigrationStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var (
		last    contract.MigrationStatus
		lastErr error
	)
	err := testcluster.WaitFor(ctx, func() bool {
		st, err := migrationStatus(ctx, cl)
		if err != nil {
			lastErr = err
			return false
		}
		last, lastErr = st, nil
		return st.Phase == want || (st.Phase == metadata.MigrationFailed && want != metadata.MigrationFailed)
	})
	if err != nil {
		t.Fatalf("migration not in phase %s within %v: last status %s (last error: %v)", want, within, statusText(last), lastErr)
	}
	if last.Phase != want {
		t.Fatalf("migration is %s, want %s: %s", last.Phase, want, statusText(last))
	}
	return last
}

// waitDriver waits until the migration driver's live status satisfies
// cond, and returns it.
func waitDriver(ctx context.Context, t testing.TB, cl *client.Client, what string, within time.Duration, cond func(contract.MigrationStatus) bool) contract.MigrationStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last contract.MigrationStatus
	err := testcluster.WaitFor(ctx, func() bool {
		st, err := migrationStatus(ctx, cl)
		if err != nil {
			return false
		}
		last = st
		return cond(st)
	})
	if err != nil {
		t.Fatalf("migration status: %s not seen within %v; last %s", what, within, statusText(last))
	}
	return last
}

func statusText(st contract.MigrationStatus) string {
	s := fmt.Sprintf("phase=%s zxid=%d topics=%d/%d offset=%d", st.Phase, st.Zxid, st.TopicsImported, st.TopicsTotal, st.Offset)
	if st.Error != "" {
		s += " error=" + st.Error
	}
	if d := st.Driver; d != nil {
		s += fmt.Sprintf(" driver{node=%d zk=%v %s applied=%d zkWrites=%d pending=%d lag=%dms problems=%d}",
			d.NodeID, d.ZkConnected, d.Activity, d.ChangesApplied, d.ZkWrites, d.PendingZkWrites, d.LastLagMs, len(d.Problems))
		for i, p := range d.Problems {
			if i == 5 {
				s += " ..."
				break
			}
			s += fmt.Sprintf(" [%s: %s]", p.Path, p.Message)
		}
	}
	return s
}

// wantCode fails the test unless err is the API error code with status.
func wantCode(t testing.TB, what string, err error, status int, code contract.Code) {
	t.Helper()
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: got error %v, want %d %s", what, err, status, code)
	}
	if apiErr.Status != status || apiErr.Code != code {
		t.Fatalf("%s: got %d %s (%s), want %d %s", what, apiErr.Status, apiErr.Code, apiErr.Message, status, code)
	}
}

// checkEqual waits until ZooKeeper's state (read through zktest's reader)
// and YAKt's (read through the API) are equal, and fails with the
// differences if they are not within the deadline. Both are read again
// each round: the driver applies ZooKeeper's last changes asynchronously.
func checkEqual(ctx context.Context, t testing.TB, zk *kafkaZK, cl *client.Client, within time.Duration) (state, state) {
	t.Helper()
	return checkEqualWith(ctx, t, zk, cl, within, func(ctx context.Context, fetchAs int32) (state, error) {
		return readYaktSnapshot(ctx, cl, fetchAs)
	})
}

// checkEqualDescribed is checkEqual reading YAKt as an operator would:
// the topic list page by page, every topic described, the brokers listed.
func checkEqualDescribed(ctx context.Context, t testing.TB, zk *kafkaZK, cl *client.Client, within time.Duration) (state, state) {
	t.Helper()
	return checkEqualWith(ctx, t, zk, cl, within, func(ctx context.Context, fetchAs int32) (state, error) {
		return readYakt(ctx, cl, fetchAs)
	})
}

func checkEqualWith(ctx context.Context, t testing.TB, zk *kafkaZK, cl *client.Client, within time.Duration, readYakt func(context.Context, int32) (state, error)) (state, state) {
	t.Helper()
	outer := ctx
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var (
		zs, ys         state
		diffs          []string
		lastErr        error
		rounds         int
		zkTook, ykTook time.Duration
	)
	err := testcluster.WaitFor(ctx, func() bool {
		rounds++
		// Both sides at once: each read takes seconds on the big set.
		var (
			wg           sync.WaitGroup
			zerr, yerr   error
			zsNew, ysNew state
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			zsNew, zerr = zk.read(ctx)
			zkTook = time.Since(began)
		}()
		began := time.Now()
		ysNew, yerr = readYakt(ctx, fetchAs)
		ykTook = time.Since(began)
		wg.Wait()
		if lastErr = errors.Join(zerr, yerr); lastErr != nil {
			return false
		}
		zs, ys = zsNew, ysNew
		diffs = diffStates(zs, ys, 20)
		return len(diffs) == 0
	})
	t.Logf("checker: %d round(s); the last read ZooKeeper in %v, YAKt in %v", rounds, zkTook.Round(time.Millisecond), ykTook.Round(time.Millisecond))
	if err != nil {
		st, serr := migrationStatus(outer, cl)
		status := statusText(st)
		if serr != nil {
			status = serr.Error()
		}
		if diffs == nil {
			t.Fatalf("checker: could not read both sides within %v: %v; migration: %s", within, lastErr, status)
		}
		t.Fatalf("checker: ZooKeeper (%s) and YAKt (%s) still differ after %v (last read error: %v); migration: %s; the last differences:\n  %s",
			zs.summary(), ys.summary(), within, lastErr, status, strings.Join(diffs, "\n  "))
	}
	return zs, ys
}

// fetchAs is the broker the checker's BrokerMgmt fetch (the only answer
// with the producer-id high-water mark) names: zktest's Populate
// registers brokers 1..N, and no test unregisters broker 1.
const fetchAs = 1
