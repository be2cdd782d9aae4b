package graph

import (
	"context"
	"github.com/grafo/grafo/auth"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/grafo/grafo/graph/model"
	"github.com/grafo/grafo/ingest"
)

// Limits of arguments, enforced by the resolvers and priced by the
// complexity functions.
const (
	MaxFirst = 1000 // nodes(first:), search(first:)
	MaxDepth = 100  // callers/callees(depth:)
)

// HandlerOptions configure NewHandler. Zero values mean the defaults.
type HandlerOptions struct {
	// ComplexityLimit refuses operations costlier than this; 0 means
	// 5000. first: and depth: multiply the cost of what they select,
	// fields inside __schema count too. It also bounds the fields of a
	// document with its fragments expanded, checked before validation.
	ComplexityLimit int
	// MaxDepth refuses operations nested deeper than this many selection
	// levels (fragments and introspection included); 0 means 15.
	MaxDepth int
	// MaxDocumentBytes bounds the source of a document; 0 means 128 KiB.
	MaxDocumentBytes int
	// MaxTokens bounds the lexical tokens of a document; 0 means 20000.
	MaxTokens int
	// MaxSelections bounds one selection set (fragments spread into it
	// included); 0 means 200.
	MaxSelections int
	// QueryCacheBytes bounds the parsed-document cache by the bytes of
	// the documents' source; 0 means 2 MiB.
	QueryCacheBytes int
	// MaxBodyBytes bounds a request body; 0 means 8 MiB.
	MaxBodyBytes int64
	// KeepAlive is the websocket keepalive ping interval; 0 means 10s.
	KeepAlive time.Duration
	// OriginPatterns are the websocket origins accepted besides the
	// request's own host (a browser page elsewhere could otherwise run
	// mutations with the user's access); nil accepts none.
	OriginPatterns []string
	// MaxSubscriptions bounds the subscriptions open on this handler (the
	// node); 0 means DefaultMaxSubscriptions.
	MaxSubscriptions int
	// InitTimeout closes a websocket whose connection_init has not come;
	// 0 means 10s.
	InitTimeout time.Duration
	// Authenticate checks a websocket's connection_init token when tokens
	// are on; nil means the HTTP layer's principal (or none) is used.
	Authenticate func(token string) (auth.Principal, error)
}

// wsReadLimit bounds one websocket message from a client: subscriptions
// are small documents, so 64 KiB is generous.
var wsReadLimit int64 = 64 << 10

// NewHandler serves GraphQL on POST and GET, and subscriptions over
// websocket (graphql-transport-ws and graphql-ws), at whatever path it is
// mounted on.
func NewHandler(r *Resolver, o HandlerOptions) http.Handler {
	o.ComplexityLimit = orDefault(o.ComplexityLimit, DefaultComplexityLimit)
	o.MaxDepth = orDefault(o.MaxDepth, DefaultMaxDepth)
	o.MaxDocumentBytes = orDefault(o.MaxDocumentBytes, DefaultMaxDocumentBytes)
	o.MaxTokens = orDefault(o.MaxTokens, DefaultMaxTokens)
	o.MaxSelections = orDefault(o.MaxSelections, DefaultMaxSelections)
	o.QueryCacheBytes = orDefault(o.QueryCacheBytes, DefaultQueryCacheBytes)
	o.MaxSubscriptions = orDefault(o.MaxSubscriptions, DefaultMaxSubscriptions)
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 8 << 20
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = 10 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 10 * time.Second
	}
	log := r.log()
	cfg := Config{Resolvers: r}
	setComplexity(&cfg.Complexity)
	srv := handler.New(NewExecutableSchema(cfg))
	accept := coderws.AcceptOptions{OriginPatterns: o.OriginPatterns}
	srv.AddTransport(transport.Websocket{
		Implementation:        transport.CoderWebsocketImplementation{AcceptOptions: accept},
		KeepAlivePingInterval: o.KeepAlive,
		InitTimeout:           o.InitTimeout,
		InitFunc:              websocketAuth(o.Authenticate, new(atomic.Int64), o.MaxSubscriptions),
		PayloadReadLimit:      &wsReadLimit,
		ErrorFunc: func(ctx context.Context, err error) {
			log.Debug("graphql websocket", "err", err)
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{maxDocument: o.MaxDocumentBytes, maxBody: o.MaxBodyBytes})
	cache := newQueryCache(o.QueryCacheBytes, 1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(o.MaxTokens)
	srv.Use(extension.Introspection{})
	srv.Use(&documentGuard{maxBytes: o.MaxDocumentBytes, maxTokens: o.MaxTokens, maxSelections: o.MaxSelections,
		maxFields: o.ComplexityLimit, maxDepth: o.MaxDepth, cache: cache})
	srv.Use(&complexityLimit{limit: o.ComplexityLimit})
	srv.AroundResponses(capErrors)
	srv.SetErrorPresenter(presentError(log))
	srv.SetRecoverFunc(recoverPanic(log))
	srv.AroundFields(authorizeFields)
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(WithLoaders(ctx, NewLoaders(r.Store)))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body != nil {
			req.Body = http.MaxBytesReader(w, req.Body, o.MaxBodyBytes)
		}
		srv.ServeHTTP(w, req)
	})
}

// setComplexity prices fields whose cost grows with an argument: a list
// of first nodes costs first times what each node selects; a transitive
// walk costs by depth; edge lists are priced as ten edges.
func setComplexity(c *ComplexityRoot) {
	capped := func(v *int, def, limit int) int {
		n := intArg(v, def)
		if n < 1 {
			n = 1
		}
		if n > limit*1000 { // still refused, without overflowing
			n = limit * 1000
		}
		return n
	}
	c.Graph.Nodes = func(child int, kind *ingest.Kind, name *string, first *int, after *string) int {
		return 1 + capped(first, defaultNodesFirst, MaxFirst)*child
	}
	c.Graph.Search = func(child int, query string, kind *ingest.Kind, first *int) int {
		return 1 + capped(first, defaultSearchFirst, MaxFirst)*child
	}
	c.Query.Search = func(child int, query string, kind *ingest.Kind, graphs []string, first *int) int {
		return 1 + capped(first, defaultSearchFirst, MaxFirst)*child
	}
	c.Query.Usages = func(child int, qualifiedName string, relation *ingest.Relation) int {
		return 1 + 100*child
	}
	// Hierarchies are priced as ten nodes, like edge lists.
	c.Node.Implementations = func(child int) int { return 1 + 10*child }
	c.Node.Supertypes = c.Node.Implementations
	c.Node.Subtypes = c.Node.Implementations
	c.Node.Callers = func(child int, depth *int, first *int) int {
		return 1 + 10*capped(depth, defaultDepth, MaxDepth)*child
	}
	c.Node.Callees = c.Node.Callers
	// An export reads up to limit nodes and their edges.
	c.Node.Export = func(child int, format model.ExportFormat, depth *int, limit *int) int {
		return 1 + 2*capped(limit, defaultExportLimit, MaxExportNodes)
	}
	c.Node.Edges = func(child int, direction *model.Direction, relation *ingest.Relation, first *int, after *string) int {
		return 1 + 10*child
	}
	// A count reads what the full list reads (the other ends too).
	c.Node.EdgeCount = func(child int, direction *model.Direction, relation *ingest.Relation) int { return 10 }
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
