package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// Every command says how it is used: --help exits 0 and shows examples.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Name() == "help" || c.Name() == "completion" || (c.HasParent() && c.Parent().Name() == "completion") {
			return // cobra's own
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("yakt %s: exit %d, examples shown: %v; stderr %q", strings.Join(args, " "), code,
				strings.Contains(out.String(), "Examples:"), errOut.String())
		}
	}
	walk(newRootCmd(io.Discard, io.Discard))
	if n < 20 {
		t.Fatalf("walked %d commands, want every one of yakt's", n)
	}
}

// Command-line mistakes exit 2 before anything is sent: the endpoint is
// dead, so a mistake that slipped through would exit 3 instead.
func TestUsageErrorsExit2(t *testing.T) {
	dead := []string{"--endpoints", "http://127.0.0.1:1"}
	cases := [][]string{
		{"topics", "list", "--endpoints", ""}, // an empty list, not the default
	}
	for _, args := range [][]string{
		{},
		{"topics"},
		{"topics", "lst"},
		{"topics", "create"},
		{"topics", "create", "a", "b"},
		{"topics", "create", "a", "--partitions", "many"},
		{"topics", "list", "extra"},
		{"topics", "create", "a", "--config", "retention.ms"},
		{"topics", "create", "a", "--config", "=5"},
		{"configs"},
		{"configs", "describe"},
		{"configs", "describe", "--topic", "a", "--cluster"},
		{"configs", "describe", "--broker", "-1"},
		{"configs", "describe", "--topic", ""},
		{"configs", "describe", "--cluster", "extra"},
		{"configs", "set", "--topic", "a"},
		{"configs", "set", "--topic", "a", "retention.ms"},
		{"configs", "set", "--topic", "a", "x=1", "x=2"},
		{"configs", "delete", "--cluster"},
		{"configs", "delete", "--cluster", "x=1"},
		{"brokers", "describe"},
		{"brokers", "describe", "-1"},
		{"brokers", "shutdown", "x"},
		{"brokers", "list", "--status", "gone"},
		{"quorum", "describe"},
		{"quorum", "describe", "--status", "--replication"},
		{"quorum", "add-voter"},
		{"quorum", "add-voter", "--node-id", "0", "--http-address", "127.0.0.1:8004"},
		{"quorum", "add-voter", "--node-id", "x"},
		{"quorum", "add-voter", "--node-id", "4", "--directory-id", "short", "--peer-address", "10.0.0.4:7001"},
		{"quorum", "add-voter", "--node-id", "4", "--http-address", "no-port"},
		{"quorum", "add-voter", "4"},
		{"quorum", "add-observer", "--node-id", "4", "--directory-id", "AQEBAQEBAQEBAQEBAQEBAQ", "--peer-address", "10.0.0.4"},
		{"quorum", "add-observer", "--node-id", "4", "--peer-address", "10.0.0.4:7001"},
		{"quorum", "promote"},
		{"quorum", "promote", "--node-id", "4", "--peer-address", "10.0.0.4:7001"},
		{"quorum", "remove-voter"},
		{"quorum", "remove-voter", "--node-id", "-1"},
		{"quorum", "remove-voter", "--node-id", "3", "--directory-id", "not/base64url/at/all!!"},
		{"quorum", "transfer-leader", "2"},
		{"quorum", "transfer-leader", "--to", "two"},
		{"producer-ids", "allocate"},
		{"snapshot", "save"},
		{"log", "tail", "--limit", "-1"},
		{"endpoint", "status", "--nope"},
		{"version", "-o", "yaml"},
		{"version", "--timeout", "0s"},
		{"topics", "list", "--cert", "/nonexistent/admin.crt"}, // a certificate without its key
		{"topics", "list", "--cacert", "/nonexistent/ca.crt"},  // a CA file that is not there
		{"topics", "list", "--token", "@/nonexistent/token"},   // a token file that is not there
		{"token", "create"},                                    // no principal
	} {
		cases = append(cases, append(slices.Clone(dead), args...))
	}
	for _, args := range cases {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage || errOut.Len() == 0 {
			t.Errorf("yakt %s: exit %d, stderr %q; want exit 2 and a message", strings.Join(args, " "), code, errOut.String())
		}
	}
}

func TestProgressBarDrawsToTheEnd(t *testing.T) {
	var out bytes.Buffer
	p := &progressBar{w: &out, total: 200, start: time.Now()}
	p.Write(make([]byte, 50)) // the first write draws at once
	if !strings.Contains(out.String(), "[=======") || !strings.Contains(out.String(), " 25%") {
		t.Fatalf("a quarter through: %q", out.String())
	}
	p.Write(make([]byte, 150))
	p.finish()
	last := out.String()[strings.LastIndex(out.String(), "\r"):]
	if !strings.Contains(last, "["+strings.Repeat("=", 30)+"] 100%") || !strings.Contains(last, "200 B / 200 B") || !strings.HasSuffix(last, "\n") {
		t.Fatalf("at the end: %q", last)
	}
}
