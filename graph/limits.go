package graph

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Error codes of the document limits (extensions.code).
const (
	CodeDocumentLimit   = "DOCUMENT_LIMIT_EXCEEDED"
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
)

// Default limits of one GraphQL document; HandlerOptions overrides them.
const (
	DefaultMaxDocumentBytes = 128 << 10 // source of the document (variables are separate)
	DefaultMaxTokens        = 20000     // lexical tokens of the document
	DefaultMaxSelections    = 200       // selections of one selection set, fragments at that level flattened
	DefaultComplexityLimit  = 5000      // also bounds fields once fragments are expanded
	DefaultMaxDepth         = 15        // nested fields, fragments and introspection included
	MaxSchemaFields         = 1         // __schema fields per document, fragments expanded
	MaxVariables            = 100       // variables one operation declares
	MaxErrors               = 20        // errors in one answer; the rest are counted
	DefaultQueryCacheBytes  = 2 << 20   // source bytes of the parsed documents kept
)

// documentGuard bounds a document before gqlgen validates it: its size and
// token count, the selections of each selection set, the fields of every
// operation and fragment with fragments expanded, the nesting depth and the
// number of __schema fields. Fragments are summarised once each (memoised),
// so a chain of fragments that each spread the next twice costs linear
// time here instead of exponential time in the validation and complexity
// walks, which never see it. Validation is quadratic in the width of a
// selection set, so the width is bounded before it runs.
type documentGuard struct {
	maxBytes, maxTokens, maxSelections, maxFields, maxDepth int
	cache                                                   graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*documentGuard)(nil)

func (*documentGuard) ExtensionName() string                          { return "DocumentGuard" }
func (*documentGuard) Validate(schema graphql.ExecutableSchema) error { return nil }

func (g *documentGuard) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	return g.check(ctx, p.Query)
}

func (g *documentGuard) check(ctx context.Context, query string) *gqlerror.Error {
	if len(query) > g.maxBytes {
		return limitError(CodeDocumentLimit, "document is %d bytes, which exceeds the limit of %d", len(query), g.maxBytes)
	}
	// Only documents that passed this guard (and validation) are cached.
	if _, ok := g.cache.Get(ctx, query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, g.maxTokens)
	if err != nil {
		gerr, ok := err.(*gqlerror.Error)
		if !ok {
			gerr = gqlerror.Wrap(err)
		}
		errcode.Set(gerr, errcode.ParseFailed)
		return gerr
	}
	w := &docWalker{g: g, frags: map[string]*summary{}, doc: doc}
	for _, op := range doc.Operations {
		if len(op.VariableDefinitions) > MaxVariables {
			return limitError(CodeDocumentLimit, "operation declares %d variables, which exceeds the limit of %d", len(op.VariableDefinitions), MaxVariables)
		}
		if s := w.set(op.SelectionSet); w.err == nil {
			w.checkTotal(s, "operation")
		}
	}
	for _, f := range doc.Fragments {
		if w.err == nil {
			w.checkTotal(w.fragment(f.Name), "fragment "+f.Name)
		}
	}
	return w.err
}

// summary is what a selection set costs with its fragments expanded.
type summary struct {
	width   int // selections at this level, fragments and inline fragments flattened
	fields  int // every field below, fragments expanded
	depth   int // deepest chain of fields
	schemas int // __schema fields
	intro   int // fields inside __schema (gqlgen's complexity skips them)
}

// capped keeps sums of exponential expansions from overflowing; anything
// this large is refused anyway.
const capped = 1 << 40

func add(a, b int) int { return min(a+b, capped) }

type docWalker struct {
	g     *documentGuard
	doc   *ast.QueryDocument
	frags map[string]*summary // nil value: being summarised (a cycle, refused by validation)
	err   *gqlerror.Error
}

func (w *docWalker) fragment(name string) summary {
	if s, ok := w.frags[name]; ok {
		if s == nil {
			return summary{} // a cycle: validation refuses it
		}
		return *s
	}
	f := w.doc.Fragments.ForName(name)
	if f == nil {
		return summary{} // unknown: validation refuses it
	}
	w.frags[name] = nil
	s := w.set(f.SelectionSet)
	w.frags[name] = &s
	return s
}

// set summarises a selection set, refusing one wider than the limit.
func (w *docWalker) set(set ast.SelectionSet) summary {
	var s summary
	for _, sel := range set {
		if w.err != nil {
			return s
		}
		var in summary
		switch x := sel.(type) {
		case *ast.Field:
			sub := w.set(x.SelectionSet)
			in = summary{width: 1, fields: add(1, sub.fields), depth: 1 + sub.depth, schemas: sub.schemas, intro: sub.intro}
			if x.Name == "__schema" {
				in.schemas = add(in.schemas, 1)
				in.intro = in.fields
			}
		case *ast.InlineFragment:
			in = w.set(x.SelectionSet)
		case *ast.FragmentSpread:
			in = w.fragment(x.Name)
		}
		s.width = add(s.width, in.width)
		s.fields = add(s.fields, in.fields)
		s.depth = max(s.depth, in.depth)
		s.schemas = add(s.schemas, in.schemas)
		s.intro = add(s.intro, in.intro)
	}
	if s.width > w.g.maxSelections && w.err == nil {
		w.err = limitError(CodeDocumentLimit, "a selection set has %d selections (fragments included), which exceeds the limit of %d", s.width, w.g.maxSelections)
	}
	return s
}

// checkTotal refuses an operation or fragment whose expansion is too big.
func (w *docWalker) checkTotal(s summary, what string) {
	switch {
	case w.err != nil:
	case s.depth > w.g.maxDepth:
		w.err = limitError(CodeDepthLimit, "operation is nested %d levels deep, which exceeds the limit of %d", s.depth, w.g.maxDepth)
	case s.fields > w.g.maxFields:
		w.err = limitError(CodeComplexityLimit, "%s selects %d fields with its fragments expanded, which exceeds the limit of %d", what, s.fields, w.g.maxFields)
	case s.schemas > MaxSchemaFields:
		w.err = limitError(CodeDocumentLimit, "%s asks for __schema %d times; at most %d per document", what, s.schemas, MaxSchemaFields)
	}
}

func limitError(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, code)
	return err
}

// complexityLimit is gqlgen's complexity limit plus the fields inside
// __schema, which gqlgen's walk does not count: introspection is not free.
type complexityLimit struct {
	limit int
	es    graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*complexityLimit)(nil)

func (*complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

func (c *complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil
	}
	w := &docWalker{g: &documentGuard{maxSelections: capped}, frags: map[string]*summary{}, doc: oc.Doc}
	cost := add(complexity.Calculate(ctx, c.es, op, oc.Variables), w.set(op.SelectionSet).intro)
	if cost > c.limit {
		return limitError(CodeComplexityLimit, "operation has complexity %d, which exceeds the limit of %d", cost, c.limit)
	}
	return nil
}

// queryCache is an LRU of parsed documents bounded by the bytes of their
// source as well as by count: a count alone would let 1000 documents of
// the maximum size pin hundreds of megabytes of syntax trees.
type queryCache struct {
	mu       sync.Mutex
	maxBytes int
	maxCount int
	bytes    int
	ll       *list.List // front: most recently used
	m        map[string]*list.Element
}

type cacheEntry struct {
	key string
	doc *ast.QueryDocument
}

func newQueryCache(maxBytes, maxCount int) *queryCache {
	return &queryCache{maxBytes: maxBytes, maxCount: maxCount, ll: list.New(), m: map[string]*list.Element{}}
}

var _ graphql.Cache[*ast.QueryDocument] = (*queryCache)(nil)

func (c *queryCache) Get(_ context.Context, key string) (*ast.QueryDocument, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).doc, true
}

func (c *queryCache) Add(_ context.Context, key string, doc *ast.QueryDocument) {
	if len(key) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		e.Value.(*cacheEntry).doc = doc
		c.ll.MoveToFront(e)
		return
	}
	c.m[key] = c.ll.PushFront(&cacheEntry{key: key, doc: doc})
	c.bytes += len(key)
	for c.bytes > c.maxBytes || c.ll.Len() > c.maxCount {
		old := c.ll.Back().Value.(*cacheEntry)
		c.ll.Remove(c.ll.Back())
		delete(c.m, old.key)
		c.bytes -= len(old.key)
	}
}

// clipMessage bounds an error message: some errors quote the client's
// input (a malformed body, a huge token), which must not be echoed in full
// into answers and logs.
func clipMessage(msg string) string {
	const max = 512
	if len(msg) <= max {
		return msg
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes more)", msg[:cut], len(msg)-cut)
}

// postTransport is gqlgen's POST transport behind a cheap look at the
// body: a document far over the size limit is refused before the body is
// decoded (decoding costs about three times the body in allocations, and
// bodies may be 8 MiB because variables carry bulk mutations).
type postTransport struct {
	transport.POST
	maxDocument int
	maxBody     int64
}

// rawLength records the length of a JSON value without copying it: the
// decoder hands UnmarshalJSON a slice of the input.
type rawLength int

func (n *rawLength) UnmarshalJSON(b []byte) error { *n = rawLength(len(b)); return nil }

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := readBody(r, t.maxBody)
	if err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		writeErrors(w, r, exec, status, limitError(CodeBadRequest, "could not read request body: %v", err))
		return
	}
	var probe struct {
		Query rawLength `json:"query"`
	}
	// An escape (\uXXXX) is at most 6 bytes of JSON per character: a
	// query longer than 6 times the limit is too long whatever it holds.
	if json.Unmarshal(body, &probe) == nil && (int(probe.Query)-2)/6 > t.maxDocument {
		writeErrors(w, r, exec, http.StatusUnprocessableEntity,
			limitError(CodeDocumentLimit, "document is over %d bytes, which exceeds the limit of %d", (int(probe.Query)-2)/6, t.maxDocument))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.POST.Do(w, r, exec)
}

func writeErrors(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, status int, err *gqlerror.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(exec.DispatchError(r.Context(), gqlerror.List{err}))
}

// readBody reads r's body, in one allocation when its length is known.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength <= 0 { // unknown (0 too: handlers built in tests leave it unset)
		return io.ReadAll(r.Body)
	}
	if r.ContentLength > max {
		return nil, &http.MaxBytesError{Limit: max}
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, err
	}
	return b, nil
}

// capErrors keeps an answer's error list short: validation reports one
// error per offending selection, fragment or variable.
func capErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > MaxErrors {
		more := &gqlerror.Error{Message: fmt.Sprintf("%d more errors not shown", len(resp.Errors)-MaxErrors)}
		errcode.Set(more, CodeDocumentLimit)
		resp.Errors = append(resp.Errors[:MaxErrors:MaxErrors], more)
	}
	return resp
}
