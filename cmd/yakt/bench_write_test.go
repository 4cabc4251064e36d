package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/writebench"
)

// Bad flags are refused before any process starts.
func TestBenchWriteRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "wirte"}, "usage: yakt bench scale|write"},
		{[]string{"bench", "write", "--clients", "1,,4"}, "--clients"},
		{[]string{"bench", "write", "--clients", "0"}, "--clients"},
		{[]string{"bench", "write", "--runs", "0"}, "--runs"},
		{[]string{"bench", "write", "--duration", "0s"}, "--duration"},
		{[]string{"bench", "write", "--read-clients", "-1"}, "--read-clients"},
		{[]string{"bench", "write", "extra"}, "unexpected arguments"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errOut.String())
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: stderr %q, want it to say %q", tc.args, errOut.String(), tc.want)
		}
	}
}

// TestBenchWriteTiny runs `yakt bench write` small against three real
// server processes (this test binary acting as yakt) and checks every
// row, that each read found a topic the writes created, and that no
// server process outlives the command.
func TestBenchWriteTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three server processes")
	}
	t.Setenv(runMainEnv, "1") // the servers are this binary, run as `yakt server`
	var out, errOut bytes.Buffer
	code := run([]string{"bench", "write", "--clients", "1,4", "--read-clients", "4",
		"--warmup", "200ms", "--duration", "1s", "--runs", "1", "--json", "--log-level", "warn"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), lastBytes(errOut.String(), 8<<10))
	}
	var got struct {
		Runs []writebench.Result `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("the JSON answer: %v\n%s", err, out.String())
	}
	if len(got.Runs) != 1 {
		t.Fatalf("%d runs, want 1:\n%s", len(got.Runs), out.String())
	}
	rows := got.Runs[0].Rows
	want := []struct {
		workload string
		clients  int
	}{{"write", 1}, {"write", 4}, {"read", 4}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), out.String())
	}
	for i, r := range rows {
		if r.Workload != want[i].workload || r.Clients != want[i].clients {
			t.Errorf("row %d is %s with %d clients, want %s with %d", i, r.Workload, r.Clients, want[i].workload, want[i].clients)
		}
		if r.Ops <= 0 || r.OpsPerS <= 0 {
			t.Errorf("%s/%d: %d ops, %v ops/s: want some", r.Workload, r.Clients, r.Ops, r.OpsPerS)
		}
		// A 404 for a topic whose creation was answered 201 would be a
		// stale read. Other errors can be honest on a loaded machine (an
		// election answers 503 for a moment), but never the norm.
		if r.NotFound != 0 {
			t.Errorf("%s/%d: %d reads of created topics answered 404: %s", r.Workload, r.Clients, r.NotFound, r.FirstErr)
		}
		if r.Errors > r.Ops/10 {
			t.Errorf("%s/%d: %d errors for %d successes: %s", r.Workload, r.Clients, r.Errors, r.Ops, r.FirstErr)
		} else if r.Errors > 0 {
			t.Logf("%s/%d: %d errors for %d successes: %s", r.Workload, r.Clients, r.Errors, r.Ops, r.FirstErr)
		}
		if !(r.P50 > 0 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.Max) {
			t.Errorf("%s/%d: p50 %v, p90 %v, p99 %v, max %v ms: want 0 < p50 <= p90 <= p99 <= max",
				r.Workload, r.Clients, r.P50, r.P90, r.P99, r.Max)
		}
		if r.ServerCPU <= 0 || r.ServerCores <= 0 {
			t.Errorf("%s/%d: server CPU %v ms/op, %v cores: three busy servers used none?", r.Workload, r.Clients, r.ServerCPU, r.ServerCores)
		}
	}
	if kids := childProcesses(t); len(kids) > 0 {
		t.Errorf("processes still running after the command returned: %v", kids)
	}
}

// childProcesses are the pids whose parent is this process.
func childProcesses(t *testing.T) []int {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Logf("no /proc to look for leftover processes in (%v)", err)
		return nil
	}
	me := strconv.Itoa(os.Getpid())
	var kids []int
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// After the command name's closing parenthesis: state, then ppid.
		i := bytes.LastIndexByte(data, ')')
		if f := strings.Fields(string(data[i+1:])); i >= 0 && len(f) > 1 && f[1] == me {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			kids = append(kids, pid)
		}
	}
	return kids
}
