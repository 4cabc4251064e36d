// Package buildinfo says which build of yakt is running: its version, the
// commit it was built from and the Go release that built it, for `yakt
// version` and the yakt_build_info metric.
//
// A release build stamps the first two with the linker:
//
//	go build -ldflags "-X github.com/yakt/yakt/internal/buildinfo.Version=v1.2.0 \
//	    -X github.com/yakt/yakt/internal/buildinfo.Commit=$(git rev-parse HEAD)" ./cmd/yakt
//
// Unstamped, they come from what the Go toolchain recorded in the binary
// (the module's version for `go install ...@version`, the VCS revision for
// a build inside a git checkout), so a plain `go build` still tells its
// commit.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version and Commit are set with -ldflags -X at release time; empty
// means "not stamped", and Get falls back to the binary's own build
// information.
var (
	Version string
	Commit  string
)

// Unknown stands for a value neither stamped nor recorded by the toolchain.
const Unknown = "unknown"

// Info is one build's identity.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
}

// Get returns this binary's Info. It never returns empty fields: what
// cannot be known is Unknown.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(Version, Commit, bi)
}

// resolve prefers the stamped values and falls back to bi (nil: the
// binary has no build information, as in some test binaries).
func resolve(version, commit string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			info.Commit = vcsCommit(bi)
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
	}
	if info.Version == "" {
		// Built from a source tree without a stamp: say so rather than
		// pretend to be a release.
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = Unknown
	}
	return info
}

// vcsCommit is the recorded revision, marked "-dirty" when the tree had
// uncommitted changes, or "" when none was recorded (-buildvcs=false, or a
// build outside a checkout).
func vcsCommit(bi *debug.BuildInfo) string {
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}
