package graph

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/grafo/grafo/auth"
)

// Authorization of GraphQL operations, in one place: every root field is
// checked against the request's principal (auth.From) before it runs —
// mutations need the write role, a token scoped to graphs may only name
// those graphs, and raw key-value fields are closed to scoped tokens
// (they could read any graph's rows). The graphs list is filtered by the
// resolver. Without --tokens every request is an unscoped admin and all of
// this passes.
func authorizeRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	p := auth.From(ctx)
	need := auth.Read
	if oc.Operation.Operation == "mutation" {
		need = auth.Write
	}
	graph := ""
	field := fc.Field.Name
	args := fc.Field.ArgumentMap(oc.Variables)
	for _, name := range []string{"graphId", "id"} {
		if v, ok := args[name].(string); ok && (name == "graphId" || field == "graph" || field == "createGraph" || field == "deleteGraph") {
			graph = v
			break
		}
	}
	err := p.Require(need, graph)
	if err == nil && p.Graphs != nil {
		switch field {
		case "get", "put", "delete":
			err = fmt.Errorf("%w: the raw key-value fields need a token not scoped to graphs", auth.ErrForbidden)
		}
	}
	if err != nil {
		graphql.AddError(ctx, err)
		return graphql.Null
	}
	return next(ctx)
}

// MaxSubscriptionsPerConn bounds the subscriptions one websocket may hold
// open, so one client cannot pin unbounded goroutines and buffers.
const MaxSubscriptionsPerConn = 64

type subsKey struct{}

// takeSubscription counts a subscription against its connection's budget
// (set up in the websocket init); release gives it back.
func takeSubscription(ctx context.Context) (release func(), err error) {
	n, ok := ctx.Value(subsKey{}).(*atomic.Int32)
	if !ok {
		return func() {}, nil
	}
	if n.Add(1) > MaxSubscriptionsPerConn {
		n.Add(-1)
		return nil, fmt.Errorf("%w: at most %d subscriptions per connection", ErrBadRequest, MaxSubscriptionsPerConn)
	}
	return func() { n.Add(-1) }, nil
}

// websocketAuth takes the token of a subscription from the
// connection_init payload ({"Authorization": "Bearer TOKEN"} or
// {"token": "TOKEN"}), since browsers cannot set headers on websockets. A
// token in the upgrade request's header, already checked by the HTTP
// layer, also works.
func websocketAuth(authn func(token string) (auth.Principal, error)) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx = context.WithValue(ctx, subsKey{}, new(atomic.Int32))
		if authn == nil {
			return ctx, nil, nil
		}
		tok := auth.BearerToken(payload.Authorization())
		if tok == "" {
			tok = payload.GetString("token")
		}
		if tok == "" {
			// The HTTP layer may have authenticated the upgrade request.
			if p := auth.From(ctx); p.ID != "internal" {
				return ctx, nil, nil
			}
		}
		p, err := authn(tok)
		if err != nil {
			return ctx, nil, err
		}
		return auth.With(ctx, p), nil, nil
	}
}
