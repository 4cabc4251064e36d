package writebench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/yakt/yakt/internal/scalebench"
)

// Median combines runs row by row (every run measures the same rows in
// the same order): each figure is the median over the runs, except
// errors, which are summed so that one failing run still shows.
func Median(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	var out Result
	for i, first := range runs[0].Rows {
		var rows []Row
		for _, r := range runs {
			if i < len(r.Rows) {
				rows = append(rows, r.Rows[i])
			}
		}
		med := func(f func(Row) float64) float64 {
			vals := make([]float64, len(rows))
			for j, r := range rows {
				vals[j] = f(r)
			}
			slices.Sort(vals)
			n := len(vals)
			if n%2 == 1 {
				return vals[n/2]
			}
			return (vals[n/2-1] + vals[n/2]) / 2
		}
		m := Row{Workload: first.Workload, Clients: first.Clients}
		m.Ops = int64(med(func(r Row) float64 { return float64(r.Ops) }))
		m.OpsPerS = med(func(r Row) float64 { return r.OpsPerS })
		m.P50 = med(func(r Row) float64 { return r.P50 })
		m.P90 = med(func(r Row) float64 { return r.P90 })
		m.P99 = med(func(r Row) float64 { return r.P99 })
		m.Max = med(func(r Row) float64 { return r.Max })
		m.ServerCPU = med(func(r Row) float64 { return r.ServerCPU })
		m.ServerCores = med(func(r Row) float64 { return r.ServerCores })
		m.LoadCores = med(func(r Row) float64 { return r.LoadCores })
		for _, r := range rows {
			m.Errors += r.Errors
			m.NotFound += r.NotFound
			if m.FirstErr == "" {
				m.FirstErr = r.FirstErr
			}
		}
		out.Rows = append(out.Rows, m)
	}
	return out
}

// WriteTable prints the rows as a Markdown table: the medians when there
// are several runs, with each run's ops/s beside them.
func WriteTable(w io.Writer, runs []Result) error {
	if len(runs) == 0 {
		return nil
	}
	rows := runs[0].Rows
	head := []string{"workload", "clients", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "server CPU ms/op", "server cores", "generator cores"}
	if len(runs) > 1 {
		rows = Median(runs).Rows
		head = append(head, "ops/s per run")
	}
	var b strings.Builder
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|---|" + strings.Repeat("---:|", len(head)-1) + "\n")
	for i, r := range rows {
		cells := []string{r.Workload, strconv.Itoa(r.Clients), num(r.OpsPerS), num(r.P50), num(r.P90), num(r.P99), num(r.Max),
			strconv.FormatInt(r.Errors, 10), num(r.ServerCPU), num(r.ServerCores), num(r.LoadCores)}
		if len(runs) > 1 {
			var each []string
			for _, run := range runs {
				if i < len(run.Rows) {
					each = append(each, num(run.Rows[i].OpsPerS))
				}
			}
			cells = append(cells, strings.Join(each, " / "))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	for _, r := range rows {
		if r.FirstErr != "" {
			fmt.Fprintf(&b, "\n%s, %d clients: %d errors (%d reads of a created topic answered 404); the first: %s\n",
				r.Workload, r.Clients, r.Errors, r.NotFound, r.FirstErr)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num prints a figure as bench scale's table does.
func num(v float64) string { return scalebench.FormatValue(scalebench.Metric{Value: v}) }
