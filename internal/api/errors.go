package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// writeError answers err: a coded error (controller.APIError) with its
// code's status, anything else as a 500 that names the request id but no
// internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if ce, ok := controller.APIError(err); ok {
		body := contract.ErrorBody{Error: contract.ErrorDetail{Code: ce.Code, Message: ce.Message}}
		var cpe *controller.CompactedError
		if errors.As(err, &cpe) {
			body.SnapshotOffset = &cpe.SnapshotOffset
		}
		var oe *controller.OutOfRangeError
		if errors.As(err, &oe) {
			body.HighWatermark = &oe.HighWatermark
		}
		writeJSON(w, ce.Code.Status(), body)
		return
	}
	id := requestID(r)
	s.log.Error("internal error", "err", err, "request", id, "method", r.Method, "path", r.URL.Path)
	writeJSON(w, http.StatusInternalServerError, contract.ErrorBody{Error: contract.ErrorDetail{
		Code: contract.CodeInternal, Message: "internal error; see the server log for request " + id, RequestID: id}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}
