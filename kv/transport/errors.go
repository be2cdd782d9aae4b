package transport

import (
	"errors"
	"fmt"

	"github.com/grafo/grafo/kv"
)

var (
	// ErrUnreachable is wrapped by every failure to reach a peer: dial
	// errors, broken connections, refused handshakes, dropped messages on
	// the in-memory Network. The call may or may not have run on the peer
	// when the connection broke after the request was sent.
	ErrUnreachable = errors.New("transport: peer unreachable")

	// ErrAuth is wrapped (together with ErrUnreachable) when the peer's
	// handshake proves a different cluster secret, or the peer refused ours.
	ErrAuth = errors.New("transport: cluster secret mismatch")

	// ErrUnknownMethod is wrapped when the peer has no handler for the method.
	ErrUnknownMethod = errors.New("transport: unknown method")

	// ErrClosed is returned by calls on a transport that was closed.
	ErrClosed = errors.New("transport: closed")

	// ErrInvalidConfig is wrapped by Config.Validate.
	ErrInvalidConfig = errors.New("transport: invalid config")

	// ErrProtocol is wrapped when a peer sends bytes that are not our framing.
	ErrProtocol = errors.New("transport: protocol error")
)

// Error codes on the wire. Append only: codes are persisted in no file but
// nodes of different builds talk to each other during a rolling upgrade.
const (
	codeNone byte = iota
	codeNotFound
	codeTooLarge
	codeUnavailable
	codeInvalidConsistency
	codeEmptyKey
	codeClosed
	codeInvalidKey
	codeUnknownMethod
)

var codeErrors = kv.Codes[byte]{
	{Code: codeNotFound, Err: kv.ErrNotFound},
	{Code: codeTooLarge, Err: kv.ErrTooLarge},
	{Code: codeUnavailable, Err: kv.ErrUnavailable},
	{Code: codeInvalidConsistency, Err: kv.ErrInvalidConsistency},
	{Code: codeEmptyKey, Err: kv.ErrEmptyKey},
	{Code: codeClosed, Err: kv.ErrClosed},
	{Code: codeInvalidKey, Err: kv.ErrInvalidKey},
	{Code: codeUnknownMethod, Err: ErrUnknownMethod},
}

// errorCode maps a handler error onto its wire code.
func errorCode(err error) byte {
	c, _ := codeErrors.Code(err) // codeNone when none
	return c
}

// RemoteError is a handler's error as seen by the caller. It unwraps to the
// kv sentinel (or ErrUnknownMethod) the handler's error wrapped, if any.
type RemoteError struct {
	Addr    string // the peer that answered
	Method  string
	Message string // the handler's err.Error()
	Code    byte   // wire code; 0 = no known sentinel
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("transport: %s on %s: %s", e.Method, e.Addr, e.Message)
}

// Unwrap returns the sentinel carried by the code, or nil.
func (e *RemoteError) Unwrap() error {
	return codeErrors.Err(e.Code)
}

// remoteError builds the caller-side error of a handler error; used by the
// in-memory Network so both transports return the same shape.
func remoteError(addr, method string, err error) error {
	return &RemoteError{Addr: addr, Method: method, Message: err.Error(), Code: errorCode(err)}
}
