package testcluster

import (
	"testing"

	"github.com/yakt/yakt/internal/testport"
)

// ReserveAddr returns 127.0.0.1:port with a port reserved for the whole
// test process (internal/testport says why), so a node may release and
// rebind it as often as it restarts.
func ReserveAddr(t testing.TB) string {
	t.Helper()
	return testport.Addr(t)
}
