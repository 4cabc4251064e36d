// Package packaging_test checks the deployment files against the binary
// they deploy: the release script builds for real, and every YAKT_*
// variable the compose file, the env file and the image set is a flag of
// `yakt server`.
package packaging_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/yakt/yakt/internal/server"
)

const testVersion = "v0.0.0-packaging-test"

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

var releaseDir string // removed by TestMain

func TestMain(m *testing.M) {
	code := m.Run()
	if releaseDir != "" {
		os.RemoveAll(releaseDir)
	}
	os.Exit(code)
}

// release runs build-release.sh once for this machine's platform and
// returns the unpacked binary.
var release = sync.OnceValues(func() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	out, err := os.MkdirTemp("", "yakt-release-test-")
	if err != nil {
		return "", err
	}
	releaseDir = out
	cmd := exec.Command("bash", filepath.Join(wd, "build-release.sh"))
	cmd.Env = append(os.Environ(), "OUT="+out, "VERSION="+testVersion, "COMMIT=0123abc",
		"PLATFORMS=linux/"+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build-release.sh: %v\n%s", err, b)
	}
	return out, nil
})

func TestReleaseBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("release builds are made on Linux")
	}
	out, err := release()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("yakt_%s_linux_%s", testVersion, runtime.GOARCH)
	archive := filepath.Join(out, name+".tar.gz")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Errorf("SHA256SUMS is %q, want %q", sums, want)
	}

	files := untar(t, data, filepath.Join(out, "x"))
	for _, want := range []string{name + "/yakt", name + "/README.md", name + "/docs/operations.md",
		name + "/packaging/yakt.service", name + "/packaging/yakt.env"} {
		if !slices.Contains(files, want) {
			t.Errorf("archive lacks %s (has %v)", want, files)
		}
	}
	bin := filepath.Join(out, "x", name, "yakt")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a dynamic loader: not static (CGO must be off)")
		}
	}
	// The version is stamped into internal/buildinfo; once that package
	// is linked, the string is in the binary.
	if _, err := os.Stat(filepath.Join(repoRoot(t), "internal", "buildinfo")); err == nil {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(testVersion)) {
			t.Errorf("the binary does not carry the version %s", testVersion)
		}
	}
}

func untar(t *testing.T, data []byte, dir string) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
		names = append(names, h.Name)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, os.FileMode(h.Mode)); err != nil {
			t.Fatal(err)
		}
	}
}

// serverFlags are the flags `yakt server -h` lists.
func serverFlags(t *testing.T) map[string]bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the binary is built by the release script, on Linux")
	}
	out, err := release()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(out, "x", fmt.Sprintf("yakt_%s_linux_%s", testVersion, runtime.GOARCH), "yakt")
	if _, err := os.Stat(bin); err != nil {
		// TestReleaseBuild unpacks it; run alone, unpack here.
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("yakt_%s_linux_%s.tar.gz", testVersion, runtime.GOARCH)))
		if err != nil {
			t.Fatal(err)
		}
		untar(t, data, filepath.Join(out, "x"))
	}
	help, _ := exec.Command(bin, "server", "-h").CombinedOutput() // exit status differs between flag libraries
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]+)`).FindAllStringSubmatch(string(help), -1) {
		flags[m[1]] = true
	}
	for _, want := range []string{"node-id", "data-dir", "voters", "cluster-id", "listen-peer", "listen-http"} {
		if !flags[want] {
			t.Fatalf("`yakt server -h` does not list --%s:\n%s", want, help)
		}
	}
	return flags
}

// checkEnv fails for each YAKT_ variable that is not a server flag.
func checkEnv(t *testing.T, where string, env map[string]string, flags map[string]bool) {
	t.Helper()
	for k := range env {
		name, ok := strings.CutPrefix(k, "YAKT_")
		if !ok {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		if !flags[flag] {
			t.Errorf("%s sets %s, but `yakt server` has no --%s", where, k, flag)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	if len(cf.Services) != 3 {
		t.Fatalf("%d services, want 3", len(cf.Services))
	}
	flags := serverFlags(t)
	ids := map[string]string{}
	volumes := map[string]bool{}
	for name, s := range cf.Services {
		checkEnv(t, "service "+name, s.Environment, flags)
		env := s.Environment
		id := env["YAKT_NODE_ID"]
		if other, dup := ids[id]; dup || id == "" {
			t.Errorf("service %s has node id %q (also %s)", name, id, other)
		}
		ids[id] = name
		voters, err := server.ParseVoters(env["YAKT_VOTERS"])
		if err != nil {
			t.Fatalf("service %s: YAKT_VOTERS: %v", name, err)
		}
		var nodeID uint64
		fmt.Sscan(id, &nodeID)
		if addr := voters[nodeID]; !strings.HasPrefix(addr, name+":") {
			t.Errorf("service %s is voter %d at %q, not at its own name", name, nodeID, addr)
		}
		if env["YAKT_CLUSTER_ID"] == "" {
			t.Errorf("service %s sets no cluster id", name)
		}
		if len(s.Volumes) != 1 || !strings.HasSuffix(s.Volumes[0], ":"+env["YAKT_DATA_DIR"]) {
			t.Errorf("service %s mounts %v, not one volume at its data directory %s", name, s.Volumes, env["YAKT_DATA_DIR"])
		}
		vol, _, _ := strings.Cut(s.Volumes[0], ":")
		if volumes[vol] {
			t.Errorf("volume %s is shared", vol)
		}
		volumes[vol] = true
		if _, ok := cf.Volumes[vol]; !ok {
			t.Errorf("volume %s is not declared", vol)
		}
		if len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[1] != "/usr/local/bin/yakt" {
			t.Errorf("service %s health check %v does not run the binary (the image has no shell)", name, s.Healthcheck.Test)
		}
	}
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=VALUE", path, line)
		}
		env[k] = v
	}
	return env
}

func TestSystemdFiles(t *testing.T) {
	root := repoRoot(t)
	env := readEnvFile(t, filepath.Join(root, "packaging", "yakt.env"))
	checkEnv(t, "packaging/yakt.env", env, serverFlags(t))
	voters, err := server.ParseVoters(env["YAKT_VOTERS"])
	if err != nil {
		t.Fatalf("YAKT_VOTERS: %v", err)
	}
	var id uint64
	fmt.Sscan(env["YAKT_NODE_ID"], &id)
	if voters[id] != env["YAKT_LISTEN_PEER"] {
		t.Errorf("node %d is voter %q but listens for peers on %q", id, voters[id], env["YAKT_LISTEN_PEER"])
	}
	unit, err := os.ReadFile(filepath.Join(root, "packaging", "yakt.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EnvironmentFile=/etc/yakt/yakt.env", "User=yakt", "Restart=on-failure",
		"ReadWritePaths=" + env["YAKT_DATA_DIR"], "ProtectSystem=strict", "LimitNOFILE="} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("yakt.service lacks %s", want)
		}
	}
	// systemd-analyze checks the unit's syntax where it is installed.
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		dir := t.TempDir()
		bin := filepath.Join(dir, "yakt")
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		local := strings.ReplaceAll(string(unit), "/usr/local/bin/yakt", bin)
		if err := os.WriteFile(filepath.Join(dir, "yakt.service"), []byte(local), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "yakt.service")).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
}

// TestDockerfile checks what can be checked without a Docker engine: the
// build stamps the same variables the release script does, and the image
// exposes the ports the compose file listens on.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "packaging", "build-release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"internal/buildinfo.Version=", "internal/buildinfo.Commit="} {
		if !bytes.Contains(df, []byte("github.com/yakt/yakt/"+v)) {
			t.Errorf("Dockerfile does not stamp %s", v)
		}
		if !bytes.Contains(script, []byte(strings.TrimPrefix(v, "internal/buildinfo"))) {
			t.Errorf("build-release.sh does not stamp %s", v)
		}
	}
	env := map[string]string{}
	for _, k := range regexp.MustCompile(`YAKT_[A-Z_]+`).FindAllString(string(df), -1) {
		env[k] = ""
	}
	if len(env) == 0 {
		t.Error("the image sets no YAKT_ variable (the server's default HTTP address is loopback)")
	}
	checkEnv(t, "Dockerfile", env, serverFlags(t))
	for _, want := range []string{"CGO_ENABLED=0", "\nUSER 65532:65532", "\nEXPOSE 7001 8001", "\nENTRYPOINT [\"/usr/local/bin/yakt\"]"} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
