// Command printinfo prints buildinfo.Get() as JSON, so a test can build it
// with -ldflags -X and see what a stamped release binary reports.
package main

import (
	"encoding/json"
	"os"

	"github.com/yakt/yakt/internal/buildinfo"
)

func main() {
	if err := json.NewEncoder(os.Stdout).Encode(buildinfo.Get()); err != nil {
		os.Exit(1)
	}
}
