package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

// Error codes of the JSON error body: the client package owns the wire
// vocabulary, so server and client cannot drift apart.
const (
	CodeTooLarge           = client.CodeTooLarge
	CodeBadRequest         = client.CodeBadRequest
	CodeEmptyKey           = client.CodeEmptyKey
	CodeNotFound           = client.CodeNotFound
	CodeUnavailable        = client.CodeUnavailable
	CodeInvalidConsistency = client.CodeInvalidConsistency
	CodeUnauthorized       = client.CodeUnauthorized
	CodeForbidden          = client.CodeForbidden
	CodeInternal           = client.CodeInternal
	CodeTooManyRequests    = client.CodeTooManyRequests
	CodeConflict           = client.CodeConflict
)

// errBadRequest marks errors that are the client's fault.
var errBadRequest = errors.New("bad request")

// ErrConflict marks a request the node's current state refuses (409), such
// as removing a node that is still up.
var ErrConflict = errors.New("conflict")

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// status maps an error onto an HTTP status and error code.
func status(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, CodeUnauthorized
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, CodeForbidden
	case errors.Is(err, kv.ErrTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, CodeTooLarge
	case errors.Is(err, kv.ErrEmptyKey):
		return http.StatusBadRequest, CodeEmptyKey
	case errors.Is(err, kv.ErrInvalidConsistency):
		return http.StatusBadRequest, CodeInvalidConsistency
	case errors.Is(err, kv.ErrInvalidKey), errors.Is(err, errBadRequest), errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, kv.ErrNotFound):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, CodeConflict
	case errors.Is(err, kv.ErrUnavailable), errors.Is(err, kv.ErrClosed):
		return http.StatusServiceUnavailable, CodeUnavailable
	}
	return http.StatusInternalServerError, CodeInternal
}

// WriteError writes err as the JSON error body with its mapped status.
func WriteError(w http.ResponseWriter, err error) {
	st, code := status(err)
	writeErrorCode(w, st, code, message(err))
}

func writeErrorCode(w http.ResponseWriter, st int, code, msg string) {
	var body errorBody
	body.Error.Code = code
	body.Error.Message = msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	_ = json.NewEncoder(w).Encode(body)
}

// message strips the sentinel's package prefix where the wrapping error
// already says what happened, so users read "quorum not reached: …"
// rather than "kv: unavailable: quorum not reached: …".
func message(err error) string {
	msg := err.Error()
	for _, s := range []error{kv.ErrUnavailable, kv.ErrInvalidConsistency, ErrConflict} {
		if p := s.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
			return msg[len(p):]
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "request body too large"
	}
	if errors.Is(err, kv.ErrTooLarge) {
		return "key + value exceed 10240 bytes"
	}
	return msg
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
