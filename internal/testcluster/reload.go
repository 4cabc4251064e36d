package testcluster

import (
	"errors"

	"github.com/yakt/yakt/internal/server"
)

// reload is Server.Reload.
func reload(s *server.Server) error {
	r, ok := any(s).(interface{ Reload() error })
	if !ok {
		return errors.New("server.Server has no Reload")
	}
	return r.Reload()
}
