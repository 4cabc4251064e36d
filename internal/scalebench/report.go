package scalebench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Median combines runs figure by figure: the median of the runs that
// measured a figure (a figure with Text in any run keeps that text).
// Notes are the first run's.
func Median(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	var out Result
	for i, m := range runs[0].Metrics {
		var vals []float64
		text := m.Text
		for _, r := range runs {
			if i >= len(r.Metrics) || r.Metrics[i].Name != m.Name {
				continue
			}
			if r.Metrics[i].Text != "" {
				text = r.Metrics[i].Text
				continue
			}
			vals = append(vals, r.Metrics[i].Value)
		}
		med := m
		if text != "" {
			med.Text, med.Value = text, 0
		} else {
			slices.Sort(vals)
			if n := len(vals); n%2 == 1 {
				med.Value = vals[n/2]
			} else {
				med.Value = (vals[n/2-1] + vals[n/2]) / 2
			}
		}
		out.Metrics = append(out.Metrics, med)
	}
	return out
}

// WriteTable prints the figures as a table: one row per figure, one
// column per run, and the median when there are several runs.
func WriteTable(w io.Writer, runs []Result) error {
	if len(runs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"what"}
	for i := range runs {
		head = append(head, fmt.Sprintf("run %d", i+1))
	}
	med := runs[0]
	if len(runs) > 1 {
		head = append(head, "median")
		med = Median(runs)
	}
	head = append(head, "unit", "note")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i, m := range runs[0].Metrics {
		row := []string{m.Name}
		for _, r := range runs {
			if i < len(r.Metrics) {
				row = append(row, FormatValue(r.Metrics[i]))
			} else {
				row = append(row, "-")
			}
		}
		if len(runs) > 1 {
			row = append(row, FormatValue(med.Metrics[i]))
		}
		row = append(row, m.Unit, m.Note)
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// FormatValue prints a figure with three significant decimals at most.
func FormatValue(m Metric) string {
	if m.Text != "" {
		return m.Text
	}
	switch {
	case m.Value == float64(int64(m.Value)):
		return strconv.FormatInt(int64(m.Value), 10)
	case m.Value >= 100:
		return strconv.FormatFloat(m.Value, 'f', 0, 64)
	case m.Value >= 10:
		return strconv.FormatFloat(m.Value, 'f', 1, 64)
	default:
		return strconv.FormatFloat(m.Value, 'f', 3, 64)
	}
}
