package scalebench

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadHeadSkipsToModeAndHighWatermark(t *testing.T) {
	for _, tc := range []struct {
		body string
		mode string
		hw   int64
	}{
		{`{"mode":"diff","highWatermark":42,"records":[{"a":1}]}`, "diff", 42},
		{`{"records":[{"a":[1,2,{"b":"c"}]}],"highWatermark":7,"mode":"diff"}`, "diff", 7},
		{`{"mode":"snapshot","highWatermark":9007199254740991,"snapshot":{"topics":[]}}`, "snapshot", 1<<53 - 1},
	} {
		mode, hw, err := readHead(strings.NewReader(tc.body))
		if err != nil || mode != tc.mode || hw != tc.hw {
			t.Errorf("readHead(%s) = %q, %d, %v; want %q, %d", tc.body, mode, hw, err, tc.mode, tc.hw)
		}
	}
	for _, bad := range []string{``, `[]`, `{"mode":"diff"}`, `{"highWatermark":"x","mode":"diff"}`} {
		if _, _, err := readHead(strings.NewReader(bad)); err == nil {
			t.Errorf("readHead(%q) accepted it", bad)
		}
	}
}

func TestHistogramQuantilesWithinTwoPercent(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if math.Abs(float64(got-tc.want)) > 0.021*float64(tc.want) {
			t.Errorf("quantile(%v) = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	if h.max() != time.Second {
		t.Errorf("max = %v", h.max())
	}
	h.reset()
	if h.quantile(0.5) != 0 || h.max() != 0 {
		t.Errorf("after reset: p50 %v max %v", h.quantile(0.5), h.max())
	}
}

func TestPercentileNearestRank(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := Percentile(d, 0.5); p != 5 {
		t.Errorf("p50 = %v", p)
	}
	if p := Percentile(d, 0.99); p != 10 {
		t.Errorf("p99 = %v", p)
	}
	if p := Percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of nothing = %v", p)
	}
}

func TestMedianPerFigureKeepsText(t *testing.T) {
	run := func(v float64, text string) Result {
		return Result{Metrics: []Metric{{Name: "a", Value: v, Unit: "s"}, {Name: "b", Value: v, Text: text}}}
	}
	m := Median([]Result{run(3, ""), run(1, "n/a"), run(2, "")})
	if m.Metrics[0].Value != 2 {
		t.Errorf("median of 3, 1, 2 = %v", m.Metrics[0].Value)
	}
	if m.Metrics[1].Text != "n/a" {
		t.Errorf("a figure one run could not measure: %+v", m.Metrics[1])
	}
	m = Median([]Result{run(1, ""), run(4, "")})
	if m.Metrics[0].Value != 2.5 {
		t.Errorf("median of 1, 4 = %v", m.Metrics[0].Value)
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	st, err := ReadProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if st.RSS <= 0 || st.HWM < st.RSS || st.CPUTicks < 0 {
		t.Errorf("ReadProc(self) = %+v: want RSS > 0 and HWM >= RSS", st)
	}
}

func TestLatenciesWindowAndOverlap(t *testing.T) {
	var l Latencies
	t0 := time.Now()
	l.Add(Sample{Start: t0, Dur: 10 * time.Millisecond})
	l.Add(Sample{Start: t0.Add(time.Second), Dur: 3 * time.Second}) // overlaps [2s, 3s]
	l.Add(Sample{Start: t0.Add(5 * time.Second), Dur: time.Millisecond, Err: os.ErrDeadlineExceeded})
	if st := l.Stats(time.Time{}, time.Time{}); st.Count != 3 || st.Failed != 1 || st.Max != 3*time.Second {
		t.Errorf("all: %+v", st)
	}
	if st := l.Stats(t0.Add(2*time.Second), t0.Add(3*time.Second)); st.Count != 0 {
		t.Errorf("started within [2s, 3s): %+v", st)
	}
	if st := l.Overlapping(t0.Add(2*time.Second), t0.Add(3*time.Second)); st.Count != 1 || st.P99 != 3*time.Second {
		t.Errorf("overlapping [2s, 3s]: %+v", st)
	}
}
