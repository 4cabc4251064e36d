package writebench

import (
	"strings"
	"testing"
)

func TestMedianRowByRowSumsErrors(t *testing.T) {
	run := func(ops, p99 float64, errs int64, first string) Result {
		return Result{Rows: []Row{
			{Workload: "write", Clients: 64, OpsPerS: ops, P99: p99, Errors: errs, FirstErr: first},
			{Workload: "read", Clients: 64, OpsPerS: 2 * ops},
		}}
	}
	m := Median([]Result{run(300, 9, 0, ""), run(100, 30, 2, "POST x: 504"), run(200, 10, 1, "POST y: 503")})
	w := m.Rows[0]
	if w.OpsPerS != 200 || w.P99 != 10 || w.Workload != "write" || w.Clients != 64 {
		t.Errorf("median write row = %+v, want 200 ops/s and p99 10", w)
	}
	if w.Errors != 3 || w.FirstErr != "POST x: 504" {
		t.Errorf("errors %d (%q): want the 3 of every run and the first run's message that has one", w.Errors, w.FirstErr)
	}
	if m.Rows[1].OpsPerS != 400 {
		t.Errorf("median read row = %+v", m.Rows[1])
	}
	if even := Median([]Result{run(100, 1, 0, ""), run(400, 1, 0, "")}); even.Rows[0].OpsPerS != 250 {
		t.Errorf("median of 100 and 400 = %v", even.Rows[0].OpsPerS)
	}
}

func TestWriteTableShowsEveryRunAndErrors(t *testing.T) {
	a := Result{Rows: []Row{{Workload: "write", Clients: 1, OpsPerS: 340, P50: 2.8, Errors: 1, FirstErr: "POST http://n1/v1/topics: 504 timeout"}}}
	b := Result{Rows: []Row{{Workload: "write", Clients: 1, OpsPerS: 408, P50: 2.4}}}
	var sb strings.Builder
	if err := WriteTable(&sb, []Result{a, b}); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"| write | 1 | 374 | 2.6", "| 340 / 408 |", "ops/s per run", "1 errors", "504 timeout"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
