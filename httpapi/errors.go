package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/wire"
)

// errBadRequest marks errors that are the client's fault.
var errBadRequest = errors.New("bad request")

// ErrConflict marks a request the node's current state refuses (409), such
// as removing a node that is still up.
var ErrConflict = errors.New("conflict")

// reply is an error's HTTP status and code.
type reply struct {
	status int
	code   string
}

// replies maps errors onto their status and code, first match wins.
var replies = kv.Codes[reply]{
	{Code: reply{http.StatusUnauthorized, wire.CodeUnauthorized}, Err: auth.ErrUnauthenticated},
	{Code: reply{http.StatusForbidden, wire.CodeForbidden}, Err: auth.ErrForbidden},
	{Code: reply{http.StatusRequestEntityTooLarge, wire.CodeTooLarge}, Err: kv.ErrTooLarge},
	{Code: reply{http.StatusBadRequest, wire.CodeEmptyKey}, Err: kv.ErrEmptyKey},
	{Code: reply{http.StatusBadRequest, wire.CodeInvalidConsistency}, Err: kv.ErrInvalidConsistency},
	{Code: reply{http.StatusBadRequest, wire.CodeBadRequest}, Err: kv.ErrInvalidKey},
	{Code: reply{http.StatusBadRequest, wire.CodeBadRequest}, Err: errBadRequest},
	{Code: reply{http.StatusBadRequest, wire.CodeBadRequest}, Err: store.ErrInvalid},
	{Code: reply{http.StatusNotFound, wire.CodeNotFound}, Err: kv.ErrNotFound},
	{Code: reply{http.StatusConflict, wire.CodeConflict}, Err: ErrConflict},
	{Code: reply{http.StatusServiceUnavailable, wire.CodeNotMember}, Err: kv.ErrNotMember},
	{Code: reply{http.StatusServiceUnavailable, wire.CodeUnavailable}, Err: kv.ErrUnavailable},
	{Code: reply{http.StatusServiceUnavailable, wire.CodeUnavailable}, Err: kv.ErrClosed},
}

// status maps an error onto an HTTP status and error code.
func status(err error) (int, string) {
	if r, ok := replies.Code(err); ok {
		return r.status, r.code
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, wire.CodeTooLarge
	}
	return http.StatusInternalServerError, wire.CodeInternal
}

// WriteError writes err as the JSON error body with its mapped status.
func WriteError(w http.ResponseWriter, err error) {
	st, code := status(err)
	writeErrorCode(w, st, code, message(err))
}

func writeErrorCode(w http.ResponseWriter, st int, code, msg string) {
	body := wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: msg}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	_ = json.NewEncoder(w).Encode(body)
}

// message strips the sentinel's package prefix where the wrapping error
// already says what happened, so users read "quorum not reached: …"
// rather than "kv: unavailable: quorum not reached: …".
func message(err error) string {
	msg := err.Error()
	for _, s := range []error{kv.ErrNotMember, kv.ErrUnavailable, kv.ErrInvalidConsistency, ErrConflict} {
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
