package buildinfo

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolvePrefersTheStamp(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v0.9.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}}
	got := resolve("v1.2.3", "def", bi)
	want := Info{Version: "v1.2.3", Commit: "def", GoVersion: "go1.99"}
	if got != want {
		t.Fatalf("resolve = %+v, want %+v", got, want)
	}
}

func TestResolveFallsBackToTheToolchainsRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want Info
	}{
		{"module version and revision", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v0.9.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			Info{Version: "v0.9.0", Commit: "abc", GoVersion: "go1.99"}},
		{"a dirty tree", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "devel", Commit: "abc-dirty", GoVersion: "go1.99"}},
		{"nothing recorded", nil, Info{Version: "devel", Commit: Unknown, GoVersion: runtime.Version()}},
	} {
		if got := resolve("", "", tc.bi); got != tc.want {
			t.Errorf("%s: resolve = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestLdflagsStampABuild builds a real binary the way a release does and
// checks that the -X flags reach Get: the variable paths in the docs and
// the Dockerfile must stay right.
func TestLdflagsStampABuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "printinfo")
	const pkg = "github.com/yakt/yakt/internal/buildinfo"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".Version=v7.8.9 -X "+pkg+".Commit=0123abcd", "./testdata/printinfo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	var got Info
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Version != "v7.8.9" || got.Commit != "0123abcd" || got.GoVersion != runtime.Version() {
		t.Fatalf("stamped build reports %+v, want v7.8.9, 0123abcd and %s", got, runtime.Version())
	}
}
