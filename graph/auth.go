package graph

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/kv"
)

// Authorization of GraphQL operations, in one place: every root field of
// a query, mutation or subscription is checked against the request's
// principal (auth.From) before its resolver runs — mutations need the
// write role, a token scoped to graphs may only name those graphs, and raw
// key-value fields are closed to scoped tokens. The check reads the
// field's coerced arguments (what the resolver will receive), so an ID
// written as an int literal or a JSON number is checked as the string it
// becomes. The graphs list is filtered by its resolver. Without --tokens
// every request is an unscoped admin and all of this passes.
func authorizeFields(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !rootObjects[fc.Object] {
		return next(ctx)
	}
	if err := authorizeRootField(auth.From(ctx), fc.Object, fc.Field.Name, fc.Args); err != nil {
		return nil, err
	}
	return next(ctx)
}

var rootObjects = map[string]bool{"Query": true, "Mutation": true, "Subscription": true}

// graphArgs names, for every root field that touches one graph, the
// argument naming it. TestEveryGraphArgumentIsAuthorized fails when a
// root field with an ID argument is missing here.
var graphArgs = map[string]string{
	"Query.graph":               "id",
	"Mutation.createGraph":      "id",
	"Mutation.deleteGraph":      "id",
	"Mutation.upsertNodes":      "graphId",
	"Mutation.upsertEdges":      "graphId",
	"Mutation.deleteNodes":      "graphId",
	"Subscription.graphChanged": "graphId",
	"Query.search":              "graphs", // [ID!]: every graph named is checked
}

// rawKVFields read or write raw keys, which scoped tokens may not use.
var rawKVFields = map[string]bool{"Query.get": true, "Mutation.put": true, "Mutation.delete": true}

func authorizeRootField(p auth.Principal, object, field string, args map[string]any) error {
	need := auth.Read
	if object == "Mutation" {
		need = auth.Write
	}
	name := object + "." + field
	if err := p.Require(need, ""); err != nil {
		return err
	}
	if arg, ok := graphArgs[name]; ok {
		var graphs []string
		switch v := args[arg].(type) {
		case string:
			graphs = []string{v}
		case []string: // a list of graphs ([ID!])
			graphs = v
		case nil: // an optional list left out: the resolver filters by scope
		default:
			// Coercion makes every ID a string; anything else is a bug
			// here, and must not pass as "no graph named".
			return fmt.Errorf("%w: argument %s of %s is not a graph id", auth.ErrForbidden, arg, field)
		}
		for _, g := range graphs {
			// A malformed id gets the store's message naming the allowed
			// form, rather than a misleading "not scoped".
			if err := store.ValidGraphID(g); err != nil {
				return err
			}
			if err := p.Require(need, g); err != nil {
				return err
			}
		}
	}
	if p.Graphs != nil && rawKVFields[name] {
		return fmt.Errorf("%w: the raw key-value fields need a token not scoped to graphs", auth.ErrForbidden)
	}
	return nil
}

// MaxSubscriptionsPerConn bounds the subscriptions one websocket may hold
// open, so one client cannot pin unbounded goroutines and buffers.
const MaxSubscriptionsPerConn = 64

// DefaultMaxSubscriptions bounds the subscriptions of the whole node: each
// holds about 90 KB (goroutines, channels, the bus's replay buffer), and 64
// per connection times 1024 connections would be 5.8 GB.
const DefaultMaxSubscriptions = 1024

// subBudget counts subscriptions, per connection and per node.
type subBudget struct {
	conn atomic.Int32
	node *atomic.Int64
	max  int64
}

type subsKey struct{}

// takeSubscription counts a subscription against its connection's and the
// node's budget (set up in the websocket init); release gives it back.
func takeSubscription(ctx context.Context) (release func(), err error) {
	b, ok := ctx.Value(subsKey{}).(*subBudget)
	if !ok {
		return func() {}, nil
	}
	if b.conn.Add(1) > MaxSubscriptionsPerConn {
		b.conn.Add(-1)
		return nil, fmt.Errorf("%w: at most %d subscriptions per connection", ErrBadRequest, MaxSubscriptionsPerConn)
	}
	if b.node.Add(1) > b.max {
		b.node.Add(-1)
		b.conn.Add(-1)
		return nil, fmt.Errorf("%w: this node holds its maximum of %d subscriptions; retry later or on another node", kv.ErrUnavailable, b.max)
	}
	return func() { b.node.Add(-1); b.conn.Add(-1) }, nil
}

// websocketAuth takes the token of a subscription from the
// connection_init payload ({"Authorization": "Bearer TOKEN"} or
// {"token": "TOKEN"}), since browsers cannot set headers on websockets. A
// token in the upgrade request's header, already checked by the HTTP
// layer, also works.
func websocketAuth(authn func(token string) (auth.Principal, error), nodeSubs *atomic.Int64, maxSubs int) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx = context.WithValue(ctx, subsKey{}, &subBudget{node: nodeSubs, max: int64(maxSubs)})
		if authn != nil {
			tok := auth.BearerToken(payload.Authorization())
			if tok == "" {
				tok = payload.GetString("token")
			}
			// Without one, the HTTP layer may have authenticated the
			// upgrade request's header.
			if tok != "" || auth.From(ctx).ID == "internal" {
				p, err := authn(tok)
				if err != nil {
					return ctx, nil, err
				}
				ctx = auth.With(ctx, p)
			}
		}
		// Authenticated: the socket moves to the budget of established
		// connections.
		if err := auth.Admit(ctx); err != nil {
			return ctx, nil, err
		}
		return ctx, nil, nil
	}
}

// GraphArgument names the argument of a root field that names a graph
// ("" when it names none); tests check it covers the schema.
func GraphArgument(object, field string) string { return graphArgs[object+"."+field] }
