package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/wire"
)

// Sentinels for wire codes that have no kv counterpart.
var (
	// ErrUnauthorized: the request had no valid token (401 unauthorized).
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrForbidden: the token's role or graphs do not allow the request
	// (403 forbidden).
	ErrForbidden = errors.New("client: forbidden")
	// ErrBadRequest: the server rejected the request as malformed
	// (400 bad_request).
	ErrBadRequest = errors.New("client: bad request")
	// ErrInternal: the server failed (500 internal, or any 5xx without a
	// more specific code).
	ErrInternal = errors.New("client: internal server error")
	// ErrProtocol: the server answered something this client cannot read
	// (undecodable JSON, a malformed X-Grafo-Version).
	ErrProtocol = errors.New("client: protocol error")
)

// Error is an error answered by the server: the HTTP status and the code
// and message of its JSON body.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("grafo: %s: %s", e.Code, e.Message)
}

// Unwrap maps the wire code onto a sentinel, so errors.Is(err,
// kv.ErrNotFound) works on a remote store as on a local one. Unknown codes
// unwrap to nil.
func (e *Error) Unwrap() error { return sentinel(e.Code) }

// codes adds this package's sentinels to the kv ones of the wire.
var codes = append(kv.Codes[string]{
	{Code: wire.CodeUnauthorized, Err: ErrUnauthorized},
	{Code: wire.CodeForbidden, Err: ErrForbidden},
	{Code: wire.CodeBadRequest, Err: ErrBadRequest},
	{Code: wire.CodeInternal, Err: ErrInternal},
}, wire.KVCodes...)

func sentinel(code string) error { return codes.Err(strings.ToLower(code)) }

// codeForStatus names an error whose body was not the JSON error shape
// (a proxy's page, a plain-text panic), so it still unwraps sensibly.
func codeForStatus(status int) string {
	switch status {
	case 400:
		return wire.CodeBadRequest
	case 401:
		return wire.CodeUnauthorized
	case 403:
		return wire.CodeForbidden
	case 404:
		return wire.CodeNotFound
	case 413:
		return wire.CodeTooLarge
	case 502, 503, 504:
		return wire.CodeUnavailable
	}
	if status >= 500 {
		return wire.CodeInternal
	}
	return fmt.Sprintf("http_%d", status)
}

// GraphQLError holds the errors list of a GraphQL response. Codes holds
// each error's extensions.code ("" where absent) and Locations each
// error's locations (nil where absent), in the same order as Messages.
type GraphQLError struct {
	Messages  []string
	Codes     []string
	Locations [][]Location
}

// Location is a line and column (1-based) in the GraphQL document, as the
// server reports them for syntax and validation errors.
type Location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Error lists the messages, each after its locations ("1:9: Expected
// Name, found <EOF>"), since without them a syntax error in a long
// document is hard to find.
func (e *GraphQLError) Error() string {
	parts := make([]string, len(e.Messages))
	for i, m := range e.Messages {
		if i < len(e.Locations) {
			for j := len(e.Locations[i]) - 1; j >= 0; j-- {
				l := e.Locations[i][j]
				m = fmt.Sprintf("%d:%d: %s", l.Line, l.Column, m)
			}
		}
		parts[i] = m
	}
	return "grafo: graphql: " + strings.Join(parts, "; ")
}

// Unwrap exposes the sentinels of the errors' codes, if any, so
// errors.Is(err, kv.ErrUnavailable) works through GraphQL too.
func (e *GraphQLError) Unwrap() []error {
	var out []error
	for _, c := range e.Codes {
		if s := sentinel(c); s != nil {
			out = append(out, s)
		}
	}
	return out
}
