package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parseFlags parses args as a command does: the command line, then the
// YAKT_ environment for every flag not given.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return applyEnv(fs)
}

func TestFlagsFallBackToYaktEnvironment(t *testing.T) {
	t.Setenv("YAKT_NODE_ID", "7")
	t.Setenv("YAKT_DATA_DIR", "/from/env")
	t.Setenv("YAKT_ELECTION_TIMEOUT", "3s")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	id := fs.Uint64("node-id", 0, "")
	dir := fs.String("data-dir", "", "")
	var nf nodeFlags
	nf.register(fs)
	if err := parseFlags(fs, []string{"--data-dir", "/from/flag"}); err != nil {
		t.Fatal(err)
	}
	if *id != 7 {
		t.Errorf("--node-id from YAKT_NODE_ID = %d, want 7", *id)
	}
	if *dir != "/from/flag" {
		t.Errorf("--data-dir = %q: a flag on the command line must win over YAKT_DATA_DIR", *dir)
	}
	if nf.electionTimeout != 3*time.Second {
		t.Errorf("--election-timeout from YAKT_ELECTION_TIMEOUT = %v", nf.electionTimeout)
	}
}

func TestBadEnvironmentValueNamesTheVariable(t *testing.T) {
	t.Setenv("YAKT_NODE_ID", "seven")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.Uint64("node-id", 0, "")
	err := parseFlags(fs, nil)
	if err == nil || !strings.Contains(err.Error(), "YAKT_NODE_ID") {
		t.Fatalf("err = %v, want one naming YAKT_NODE_ID", err)
	}
}

func TestServerRefusesBadFlags(t *testing.T) {
	tests := map[string][]string{
		"no voters":           {"server", "--node-id", "1", "--data-dir", "/tmp/x"},
		"node not a voter":    {"server", "--node-id", "4", "--data-dir", "/tmp/x", "--voters", "1@127.0.0.1:1"},
		"no data dir":         {"server", "--node-id", "1", "--voters", "1@127.0.0.1:1"},
		"malformed voter":     {"server", "--node-id", "1", "--data-dir", "/tmp/x", "--voters", "1-127.0.0.1:1"},
		"dev with 4 nodes":    {"dev", "--nodes", "4"},
		"dev with -1 brokers": {"dev", "--brokers", "-1"},
		"dev heartbeat slower than the session timeout": {"dev", "--broker-heartbeat-interval", "10s"},
		"unknown command":       {"serve"},
		"election <= heartbeat": {"server", "--node-id", "1", "--data-dir", "/tmp/x", "--voters", "1@127.0.0.1:1", "--election-timeout", "100ms"},
		"imbalance over 100%":   {"server", "--node-id", "1", "--data-dir", "/tmp/x", "--voters", "1@127.0.0.1:1", "--leader-imbalance-percent", "101"},
		"imbalance check 10ms":  {"server", "--node-id", "1", "--data-dir", "/tmp/x", "--voters", "1@127.0.0.1:1", "--leader-imbalance-check-interval", "10ms"},
		"kafka with authentication": {"server", "--node-id", "1", "--data-dir", "/tmp/x", "--voters", "1@127.0.0.1:1",
			"--listen-kafka", "127.0.0.1:0", "--access-file", "/tmp/x/access"},
		"advertise-kafka alone":          {"server", "--node-id", "1", "--data-dir", "/tmp/x", "--voters", "1@127.0.0.1:1", "--advertise-kafka", "h:1"},
		"dev with a negative kafka port": {"dev", "--kafka-port", "-1"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(args, &out, &errOut); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errOut.String())
			}
			if errOut.Len() == 0 {
				t.Fatal("no error message")
			}
		})
	}
}
