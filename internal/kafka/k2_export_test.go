package kafka

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/internal/controller"
)

// ServeDirect runs req's handler on a Server around ctrl, as the
// listener does after reading a frame: the request is encoded and decoded
// at its version first, and the answer after, so the test sees what a
// client would.
func ServeDirect(ctx context.Context, ctrl *controller.Controller, req kmsg.Request) (kmsg.Response, error) {
	a, ok := apis[req.Key()]
	if !ok {
		return nil, fmt.Errorf("no API %d", req.Key())
	}
	v := req.GetVersion()
	if v < a.minVersion || v > a.maxVersion {
		return nil, fmt.Errorf("%s v%d is out of range %d..%d", kmsg.NameForKey(a.key), v, a.minVersion, a.maxVersion)
	}
	in := kmsg.RequestForKey(req.Key())
	in.SetVersion(v)
	if err := in.ReadFrom(req.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	s := &Server{cfg: Config{Controller: ctrl}, ctrl: ctrl, log: slog.Default()}
	resp, err := a.serve(ctx, s, Header{APIKey: req.Key(), APIVersion: v}, in)
	if err != nil {
		return nil, err
	}
	resp.SetVersion(v)
	out := kmsg.ResponseForKey(req.Key())
	out.SetVersion(v)
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return out, nil
}
