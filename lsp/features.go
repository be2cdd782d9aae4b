package lsp

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
)

// nodeFields are the fields of a node every answer needs: enough for a
// location (the definition's span when ingest recorded it) and a label.
// The definition is in the node's own file, so it asks for no file of its
// own: that would be one more level of reads for every node of a list.
const nodeFields = `id kind name qualifiedName line endLine external file { path }
	definition { line column endColumn }`

type gNode struct {
	ID            string
	Kind          string
	Name          string
	QualifiedName string
	Line          int
	EndLine       int
	External      bool
	File          *struct{ Path, Md5 string }
	Definition    *gOcc
}

type gOcc struct {
	File                    struct{ Path, Md5 string }
	Line, Column, EndColumn int
	Role                    string
}

// query runs a GraphQL document against the server's graph ($g) and
// fails when the graph does not exist.
func (s *server) query(ctx context.Context, doc string, vars map[string]any, out any) error {
	_, graph, _ := s.state()
	if vars == nil {
		vars = map[string]any{}
	}
	vars["g"] = graph
	var raw struct{ Graph json.RawMessage }
	if err := s.gql.GraphQL(ctx, doc, vars, &raw); err != nil {
		return err
	}
	if len(raw.Graph) == 0 || string(raw.Graph) == "null" {
		return fmt.Errorf("graph %q not found on the server (ingest the workspace, or pass --graph)", graph)
	}
	return json.Unmarshal(raw.Graph, out)
}

// symbolAt asks for the occurrence under a cursor with the given fields of
// its node; found is false where no identifier names a node.
func (s *server) symbolAt(ctx context.Context, cv *conv, p protocol.TextDocumentPositionParams, fields string, node any) (occ *gOcc, found bool, err error) {
	path, line, col, err := cv.cursor(p.TextDocument.URI, p.Position)
	if err != nil {
		return nil, false, err
	}
	var r struct {
		OccurrenceAt *struct {
			gOcc
			Node json.RawMessage
		}
	}
	err = s.query(ctx, `query($g: ID!, $p: String!, $l: Int!, $c: Int!) { graph(id: $g) {
		occurrenceAt(path: $p, line: $l, column: $c) { line column endColumn role file { path md5 } node { `+fields+` } } } }`,
		map[string]any{"p": path, "l": line, "c": col}, &r)
	if err != nil || r.OccurrenceAt == nil || len(r.OccurrenceAt.Node) == 0 || string(r.OccurrenceAt.Node) == "null" {
		return nil, false, err
	}
	if err := json.Unmarshal(r.OccurrenceAt.Node, node); err != nil {
		return nil, false, err
	}
	return &r.OccurrenceAt.gOcc, true, nil
}

func positionParams(raw json.RawMessage) (protocol.TextDocumentPositionParams, error) {
	var p protocol.TextDocumentPositionParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%v", err)
	}
	return p, nil
}

// span is the range of an occurrence.
func (cv *conv) span(o gOcc) protocol.Location {
	u := cv.s.uriOf(o.File.Path)
	return protocol.Location{URI: u, Range: protocol.Range{Start: cv.position(u, o.Line, o.Column), End: cv.position(u, o.Line, o.EndColumn)}}
}

// location is where a node is defined: its name in its declaration when
// ingest recorded the occurrence, else the start of its first line. Nodes
// without a file (external ones) have none.
func (cv *conv) location(n gNode) (protocol.Location, bool) {
	if n.File == nil || n.Line == 0 {
		return protocol.Location{}, false
	}
	if n.Definition != nil {
		d := *n.Definition
		d.File.Path = n.File.Path
		return cv.span(d), true
	}
	u := cv.s.uriOf(n.File.Path)
	start, end := cv.nameIn(u, n.Line, n.Name)
	return protocol.Location{URI: u, Range: protocol.Range{Start: start, End: end}}, true
}

// nameIn finds name on a line (1-based) of a document: its span, or the
// line's start when the name is not there.
func (cv *conv) nameIn(u protocol.DocumentURI, line int, name string) (protocol.Position, protocol.Position) {
	text := cv.line(u, line-1)
	if i := strings.Index(text, name); i >= 0 && name != "" {
		col := utf8.RuneCountInString(text[:i]) + 1
		return cv.position(u, line, col), cv.position(u, line, col+utf8.RuneCountInString(name))
	}
	p := cv.position(u, line, 1)
	return p, p
}

// fullRange spans a node's lines, from the first line's start to the last
// line's end.
func (cv *conv) fullRange(u protocol.DocumentURI, n gNode) protocol.Range {
	end := max(n.EndLine, n.Line)
	return protocol.Range{Start: cv.position(u, n.Line, 1),
		End: cv.position(u, end, utf8.RuneCountInString(cv.line(u, end-1))+1)}
}

func (cv *conv) locations(ns []gNode) []protocol.Location {
	out := []protocol.Location{}
	for _, n := range ns {
		if l, ok := cv.location(n); ok {
			out = append(out, l)
		}
	}
	return out
}

func (s *server) definition(ctx context.Context, raw json.RawMessage) (any, error) {
	return s.locateSymbol(ctx, raw, func(gNode) bool { return true })
}

func (s *server) typeDefinition(ctx context.Context, raw json.RawMessage) (any, error) {
	// The graph knows the type of a type name only: variables' types are
	// not recorded.
	return s.locateSymbol(ctx, raw, func(n gNode) bool { return n.Kind == "CLASS" })
}

// locateSymbol answers with the location of the symbol under the cursor,
// when there is one and want accepts it.
func (s *server) locateSymbol(ctx context.Context, raw json.RawMessage, want func(gNode) bool) (any, error) {
	p, err := positionParams(raw)
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	var n gNode
	if _, ok, err := s.symbolAt(ctx, cv, p, nodeFields, &n); err != nil || !ok || !want(n) {
		return nil, err
	}
	if l, ok := cv.location(n); ok {
		return []protocol.Location{l}, nil
	}
	return nil, nil
}

// DefaultMaxResults is how many references or call sites an answer lists
// when Config.MaxResults is zero (and, for references, the client takes
// no partial results): the first page, what an editor shows first, at
// the cost of one read.
const DefaultMaxResults = 100

// maxResults is the bound on the references and call sites of an answer.
func (s *server) maxResults() int {
	if s.cfg.MaxResults > 0 {
		return s.cfg.MaxResults
	}
	return DefaultMaxResults
}

// notifyCut tells the user that an answer lists only part of what there is.
func (s *server) notifyCut(ctx context.Context, what string) {
	_ = s.conn.Notify(ctx, "window/showMessage", map[string]any{"type": 3,
		"message": "grafo: " + what + " (grafo lsp --max-results N lists more)"})
}

// maxStreamedReferences bounds the references streamed as partial
// results to a client that offers a partialResultToken.
const maxStreamedReferences = 10000

// references lists the occurrences of the symbol under the cursor, in
// pages. A client offering a partialResultToken gets every page as it is
// read, as partial results ($/progress), and an empty final answer, as
// LSP asks; any other gets the first MaxResults and, when there are
// more, a message saying how many there are.
func (s *server) references(ctx context.Context, raw json.RawMessage) (any, error) {
	var p protocol.ReferenceParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%v", err)
	}
	cv := s.conv()
	var n gNode
	if _, ok, err := s.symbolAt(ctx, cv, p.TextDocumentPositionParams, "id", &n); err != nil || !ok {
		return nil, err
	}
	var roles []string // nil: every role
	if !p.Context.IncludeDeclaration {
		roles = []string{"call", "read", "write", "reference", "type"}
	}
	stream := p.PartialResultToken != nil
	limit := s.maxResults()
	if stream {
		limit = maxStreamedReferences
	}
	out := []protocol.Location{}
	listed, total := 0, 0
	var after *string
	var prev protocol.Location
	for page := min(limit, DefaultMaxResults); listed < limit; page = min(1000, limit-listed) {
		var r struct {
			Node struct {
				References struct {
					TotalCount int
					Nodes      []gOcc
					PageInfo   struct {
						EndCursor   string
						HasNextPage bool
					}
				}
			}
		}
		err := s.query(ctx, `query($g: ID!, $id: ID!, $first: Int!, $after: String, $roles: [String!]) { graph(id: $g) { node(id: $id) {
			references(first: $first, after: $after, roles: $roles) { totalCount nodes { file { path } line column endColumn role } pageInfo { endCursor hasNextPage } } } } }`,
			map[string]any{"id": n.ID, "first": page, "after": after, "roles": roles}, &r)
		if err != nil {
			return nil, err
		}
		refs := r.Node.References
		locs := make([]protocol.Location, 0, len(refs.Nodes))
		for _, o := range refs.Nodes {
			// One identifier can be two occurrences (self.x = … in
			// __init__ declares and writes x): one location.
			if l := cv.span(o); l != prev {
				locs = append(locs, l)
				prev = l
			}
		}
		listed, total = listed+len(refs.Nodes), refs.TotalCount
		if stream {
			// The token as a pointer: its MarshalJSON has a pointer receiver
			// (protocol.ProgressParams holds a value, which would marshal as {}).
			if err := s.conn.Notify(ctx, "$/progress", map[string]any{"token": p.PartialResultToken, "value": locs}); err != nil {
				return nil, err
			}
		} else {
			out = append(out, locs...)
		}
		if !refs.PageInfo.HasNextPage {
			break
		}
		c := refs.PageInfo.EndCursor
		after = &c
	}
	if !stream && total > listed {
		s.notifyCut(ctx, fmt.Sprintf("the first %d of %d references", listed, total))
	}
	return out, nil
}

// documentHighlight marks the occurrences of the symbol under the cursor
// in the same document, writes and reads told apart.
func (s *server) documentHighlight(ctx context.Context, raw json.RawMessage) (any, error) {
	p, err := positionParams(raw)
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	var n struct {
		References struct{ Nodes []gOcc }
	}
	occ, ok, err := s.symbolAt(ctx, cv, p, fmt.Sprintf("references(first: %d) { nodes { file { path } line column endColumn role } }", maxHighlights), &n)
	if err != nil || !ok {
		return nil, err
	}
	out := []protocol.DocumentHighlight{}
	for _, o := range n.References.Nodes {
		if o.File.Path != occ.File.Path {
			continue
		}
		kind := protocol.DocumentHighlightKindText
		switch o.Role {
		case "write":
			kind = protocol.DocumentHighlightKindWrite
		case "read":
			kind = protocol.DocumentHighlightKindRead
		}
		out = append(out, protocol.DocumentHighlight{Range: cv.span(o).Range, Kind: kind})
	}
	return out, nil
}

// maxHighlights bounds the references read for one highlight request.
const maxHighlights = 1000

func (s *server) implementation(ctx context.Context, raw json.RawMessage) (any, error) {
	p, err := positionParams(raw)
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	var n struct{ Implementations []gNode }
	if _, ok, err := s.symbolAt(ctx, cv, p, "implementations { "+nodeFields+" }", &n); err != nil || !ok {
		return nil, err
	}
	return cv.locations(n.Implementations), nil
}

func (s *server) hover(ctx context.Context, raw json.RawMessage) (any, error) {
	p, err := positionParams(raw)
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	var n struct {
		gNode
		Callers, Callees                      int
		Implementations, Subtypes, Supertypes []struct{ ID string }
	}
	// Counts of callers and callees from the edge lists: a popular
	// function's callers are not read one by one.
	occ, ok, err := s.symbolAt(ctx, cv, p, nodeFields+` file { md5 } callers: degree(direction: IN, relation: CALLS)
		callees: degree(direction: OUT, relation: CALLS) implementations { id } subtypes { id } supertypes { id }`, &n)
	if err != nil || !ok {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** `%s`", strings.ToLower(n.Kind), n.QualifiedName)
	if n.External {
		b.WriteString(" (external)")
	}
	b.WriteString("\n\n")
	switch n.Kind {
	case "FUNCTION":
		fmt.Fprintf(&b, "callers: %d · callees: %d", n.Callers, n.Callees)
		if len(n.Implementations) > 0 {
			fmt.Fprintf(&b, " · implementations: %d", len(n.Implementations))
		}
	case "CLASS":
		fmt.Fprintf(&b, "supertypes: %d · subtypes: %d · implementations: %d", len(n.Supertypes), len(n.Subtypes), len(n.Implementations))
	}
	fmt.Fprintf(&b, "\n\nhere: %s", occ.Role)
	if n.File != nil {
		fmt.Fprintf(&b, "\n\ndefined in `%s`:%d (MD5 %s)", n.File.Path, n.Line, n.File.Md5)
	}
	if note := s.staleness(p.TextDocument.URI, occ.File.Md5); note != "" {
		b.WriteString("\n\n" + note)
	}
	loc := cv.span(*occ)
	return protocol.Hover{Contents: protocol.MarkupContent{Kind: protocol.Markdown, Value: b.String()}, Range: &loc.Range}, nil
}

// staleness says when the document's content is not what the graph
// ingested, given the ingested file's MD5 ("" when they match or either
// is unknown). The MD5 comes with the occurrence under the cursor, which
// is in that file: no request of its own.
func (s *server) staleness(u protocol.DocumentURI, ingested string) string {
	text, ok := s.text(u)
	if !ok || ingested == "" {
		return ""
	}
	sum := md5.Sum([]byte(text))
	if have := hex.EncodeToString(sum[:]); have != ingested {
		return fmt.Sprintf("⚠ this buffer differs from the ingested file (MD5 %s, ingested %s): answers may be out of date until it is saved and re-ingested", have, ingested)
	}
	return ""
}

func symbolKind(kind string, member bool) protocol.SymbolKind {
	switch {
	case kind == "CLASS":
		return protocol.SymbolKindClass
	case kind == "FUNCTION" && member:
		return protocol.SymbolKindMethod
	case kind == "FUNCTION":
		return protocol.SymbolKindFunction
	case member:
		return protocol.SymbolKindField
	}
	return protocol.SymbolKindVariable
}

func (s *server) documentSymbol(ctx context.Context, raw json.RawMessage) (any, error) {
	var p protocol.DocumentSymbolParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%v", err)
	}
	path, err := s.relPath(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	var r struct {
		File *struct{ Nodes []gNode }
	}
	if err := s.query(ctx, `query($g: ID!, $p: String!) { graph(id: $g) { file(path: $p) {
		nodes { id kind name qualifiedName line endLine external } } } }`, map[string]any{"p": path}, &r); err != nil {
		return nil, err
	}
	out := []protocol.DocumentSymbol{}
	if r.File == nil {
		return out, nil
	}
	cv := s.conv()
	u := p.TextDocument.URI
	// Members (methods, fields) nest under their type when it is in the
	// same file: pkg.T.M is a child of pkg.T.
	index := map[string]int{} // qualified name of a top-level class → index in out
	var members []gNode
	for _, n := range r.File.Nodes {
		if n.Line == 0 {
			continue
		}
		if owner, ok := strings.CutSuffix(n.QualifiedName, "."+n.Name); ok {
			if _, isType := index[owner]; isType {
				members = append(members, n)
				continue
			}
		}
		sym := cv.docSymbol(u, n, false)
		if n.Kind == "CLASS" {
			index[n.QualifiedName] = len(out)
		}
		out = append(out, sym)
	}
	for _, n := range members {
		owner := strings.TrimSuffix(n.QualifiedName, "."+n.Name)
		out[index[owner]].Children = append(out[index[owner]].Children, cv.docSymbol(u, n, true))
	}
	return out, nil
}

func (cv *conv) docSymbol(u protocol.DocumentURI, n gNode, member bool) protocol.DocumentSymbol {
	start, end := cv.nameIn(u, n.Line, n.Name)
	return protocol.DocumentSymbol{Name: n.Name, Detail: n.QualifiedName, Kind: symbolKind(n.Kind, member),
		Range: cv.fullRange(u, n), SelectionRange: protocol.Range{Start: start, End: end}}
}

func (s *server) workspaceSymbol(ctx context.Context, raw json.RawMessage) (any, error) {
	var p protocol.WorkspaceSymbolParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%v", err)
	}
	out := []protocol.SymbolInformation{}
	if strings.TrimSpace(p.Query) == "" {
		return out, nil
	}
	var r struct{ Search []gNode }
	if err := s.query(ctx, `query($g: ID!, $q: String!) { graph(id: $g) { search(query: $q, first: 100) { `+nodeFields+` } } }`,
		map[string]any{"q": p.Query}, &r); err != nil {
		return nil, err
	}
	cv := s.conv()
	for _, n := range r.Search {
		l, ok := cv.location(n)
		if !ok {
			continue
		}
		container := strings.TrimSuffix(strings.TrimSuffix(n.QualifiedName, n.Name), ".")
		out = append(out, protocol.SymbolInformation{Name: n.Name, Kind: symbolKind(n.Kind, false), Location: l, ContainerName: container})
	}
	return out, nil
}
