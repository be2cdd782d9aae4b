package graph

import (
	"context"
	"errors"
	"fmt"
	"github.com/grafo/grafo/auth"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv"
)

// ErrBadRequest is returned for arguments the API refuses (first or depth
// out of range, node without id or qualifiedName).
var ErrBadRequest = errors.New("bad request")

// Error codes in extensions.code.
const (
	CodeBadRequest      = "BAD_REQUEST"
	CodeNotFound        = "NOT_FOUND"
	CodeTooLarge        = "TOO_LARGE"
	CodeUnavailable     = "UNAVAILABLE"
	CodeInternal        = "INTERNAL"
	CodeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
}

// codeOf maps our sentinels onto extensions.code; "" when err is none of
// them.
func codeOf(err error) string {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return CodeUnauthenticated
	case errors.Is(err, auth.ErrForbidden):
		return CodeForbidden
	case errors.Is(err, kv.ErrTooLarge):
		return CodeTooLarge
	case errors.Is(err, kv.ErrUnavailable), errors.Is(err, kv.ErrClosed):
		return CodeUnavailable
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, kv.ErrInvalidConsistency), errors.Is(err, kv.ErrEmptyKey),
		errors.Is(err, kv.ErrInvalidKey), errors.Is(err, store.ErrInvalid), errors.Is(err, ErrBadRequest):
		return CodeBadRequest
	}
	return ""
}

// presentError is the one place where resolver errors become GraphQL
// errors. Errors gqlgen raised itself (validation, limits) keep their
// codes.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		// gqlgen's transports quote a body they cannot decode in full:
		// keep the decoder's reason, drop the echo.
		if msg, ok := strings.CutPrefix(gerr.Message, "json request body could not be decoded: "); ok {
			msg, _, _ = strings.Cut(msg, " body:")
			gerr.Message = "request body is not a GraphQL request: " + clipMessage(msg)
			errcode.Set(gerr, CodeBadRequest)
			return gerr
		}
		gerr.Message = clipMessage(gerr.Message)
		if code := codeOf(err); code != "" {
			errcode.Set(gerr, code)
			return gerr
		}
		var already *gqlerror.Error
		if errors.As(err, &already) && already.Extensions["code"] != nil {
			return gerr
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			errcode.Set(gerr, CodeUnavailable)
			return gerr
		}
		log.Error("graphql resolver error", "path", gerr.Path.String(), "err", gerr.Message) // clipped: errors may quote input
		errcode.Set(gerr, CodeInternal)
		return gerr
	}
}

// recoverPanic logs a resolver panic and answers an internal error; the
// server keeps running.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.Error("graphql panic", "panic", fmt.Sprint(p))
		err := gqlerror.Errorf("internal server error")
		errcode.Set(err, CodeInternal)
		return err
	}
}
