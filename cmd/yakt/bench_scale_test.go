package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad sizes are refused before any process starts.
func TestBenchScaleRefusesBadSizes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "usage: yakt bench scale"},
		{[]string{"bench", "sclae"}, "usage: yakt bench scale"},
		{[]string{"bench", "scale", "--partitions", "15000"}, "multiple of --partitions-per-topic"},
		{[]string{"bench", "scale", "--partitions-per-topic", "20000"}, "--partitions-per-topic (1..10000)"},
		{[]string{"bench", "scale", "--brokers", "2"}, "--brokers (2) at least 3"},
		{[]string{"bench", "scale", "--runs", "0"}, "--runs"},
		{[]string{"bench", "scale", "extra"}, "unexpected arguments"},
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
