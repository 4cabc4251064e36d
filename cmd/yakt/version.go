package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/yakt/yakt/internal/buildinfo"
)

// versionTemplate is what --version prints: the same lines as `yakt version`.
var versionTemplate = func() string {
	bi := buildinfo.Get()
	return fmt.Sprintf("yakt %s\ncommit: %s\ngo:     %s\n", bi.Version, bi.Commit, bi.GoVersion)
}()

func newVersionCmd(g *globals) *cobra.Command {
	return command("version", "Print this binary's version, commit and Go version",
		`  yakt version
  yakt version -o json
  yakt --version`,
		noArgs, func(cmd *cobra.Command, args []string) error {
			bi := buildinfo.Get()
			if g.json() {
				return g.printJSON(bi)
			}
			_, err := fmt.Fprint(g.stdout, versionTemplate)
			return failed(err)
		})
}
