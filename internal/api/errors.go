package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/yakt/yakt/internal/controller"
	"github.com/yakt/yakt/internal/metadata"
)

// statusByCode is docs/api.md's table of error codes to HTTP statuses.
var statusByCode = map[metadata.Code]int{
	metadata.CodeInvalidRequest:             http.StatusBadRequest,
	metadata.CodeInvalidTopicName:           http.StatusBadRequest,
	metadata.CodeInvalidReplicaAssignment:   http.StatusBadRequest,
	metadata.CodeBrokerNotFound:             http.StatusNotFound,
	metadata.CodeTopicNotFound:              http.StatusNotFound,
	metadata.CodePartitionNotFound:          http.StatusNotFound,
	metadata.CodeNotFound:                   http.StatusNotFound,
	metadata.CodeMethodNotAllowed:           http.StatusMethodNotAllowed,
	metadata.CodeOffsetOutOfRange:           http.StatusConflict,
	metadata.CodeBrokerAlreadyRegistered:    http.StatusConflict,
	metadata.CodeTopicAlreadyExists:         http.StatusConflict,
	metadata.CodePartitionAlreadyExists:     http.StatusConflict,
	metadata.CodeBrokerNotActive:            http.StatusConflict,
	metadata.CodeStaleBrokerEpoch:           http.StatusConflict,
	metadata.CodeProducerIDAlreadyAllocated: http.StatusConflict,
	metadata.CodeStalePartitionEpoch:        http.StatusConflict,
	metadata.CodeNotPartitionLeader:         http.StatusConflict,
	metadata.CodeOffsetCompacted:            http.StatusGone,
	metadata.CodeIdempotencyKeyReused:       http.StatusUnprocessableEntity,
	metadata.CodePayloadTooLarge:            http.StatusRequestEntityTooLarge,
	metadata.CodeNoLeader:                   http.StatusServiceUnavailable,
	metadata.CodeNotReady:                   http.StatusServiceUnavailable,
	metadata.CodeTooManyFullFetches:         http.StatusServiceUnavailable,
	metadata.CodeOverloaded:                 http.StatusServiceUnavailable,
	metadata.CodeTimeout:                    http.StatusGatewayTimeout,
}

type errorBody struct {
	Error errorDetail `json:"error"`
	// SnapshotOffset accompanies OFFSET_COMPACTED: the offset of the
	// snapshot that holds the compacted records' effect.
	SnapshotOffset *int64 `json:"snapshotOffset,omitempty"`
	// HighWatermark accompanies OFFSET_OUT_OF_RANGE: the newest offset the
	// fetch could have asked for.
	HighWatermark *int64 `json:"highWatermark,omitempty"`
}

type errorDetail struct {
	Code      metadata.Code `json:"code"`
	Message   string        `json:"message"`
	RequestID string        `json:"requestId,omitempty"`
}

// writeError answers err: a *metadata.Error with its code's status, anything
// else as a 500 that names the request id but no internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var me *metadata.Error
	if errors.As(err, &me) {
		status, ok := statusByCode[me.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		body := errorBody{Error: errorDetail{Code: me.Code, Message: me.Message}}
		var ce *controller.CompactedError
		if errors.As(err, &ce) {
			body.SnapshotOffset = &ce.SnapshotOffset
		}
		var oe *controller.OutOfRangeError
		if errors.As(err, &oe) {
			body.HighWatermark = &oe.HighWatermark
		}
		writeJSON(w, status, body)
		return
	}
	id := requestID(r)
	s.log.Error("internal error", "err", err, "request", id, "method", r.Method, "path", r.URL.Path)
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: errorDetail{
		Code: metadata.CodeInternal, Message: "internal error; see the server log for request " + id, RequestID: id}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}
