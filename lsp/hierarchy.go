package lsp

import (
	"context"
	"encoding/json"
	"fmt"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
)

// A type hierarchy item (LSP 3.17) has the call hierarchy item's shape;
// go.lsp.dev/protocol v0.12 predates it.
type hierarchyItem = protocol.CallHierarchyItem

// itemData travels in an item's data field from prepare to the follow-up
// requests: the node's id, so they need no new lookup by position.
type itemData struct {
	ID string `json:"id"`
}

// item describes a node as a hierarchy item; nodes without a file
// (external functions) point at nothing but still name themselves.
func (cv *conv) item(n gNode) hierarchyItem {
	it := hierarchyItem{Name: n.Name, Kind: symbolKind(n.Kind, false), Detail: n.QualifiedName, Data: itemData{ID: n.ID}}
	if n.File == nil || n.Line == 0 {
		return it
	}
	it.URI = cv.s.uriOf(n.File.Path)
	it.Range = cv.fullRange(it.URI, n)
	if l, ok := cv.location(n); ok && l.URI == it.URI {
		it.SelectionRange = l.Range
	} else {
		it.SelectionRange = protocol.Range{Start: it.Range.Start, End: it.Range.Start}
	}
	return it
}

func (s *server) prepare(ctx context.Context, raw json.RawMessage, kind string) (any, error) {
	p, err := positionParams(raw)
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	var n gNode
	if _, ok, err := s.symbolAt(ctx, cv, p, nodeFields, &n); err != nil || !ok || n.Kind != kind {
		return nil, err
	}
	return []hierarchyItem{cv.item(n)}, nil
}

func (s *server) prepareCallHierarchy(ctx context.Context, raw json.RawMessage) (any, error) {
	return s.prepare(ctx, raw, "FUNCTION")
}

func (s *server) prepareTypeHierarchy(ctx context.Context, raw json.RawMessage) (any, error) {
	return s.prepare(ctx, raw, "CLASS")
}

// itemID reads the node id an item carries.
func itemID(raw json.RawMessage) (string, error) {
	var p struct {
		Item struct {
			Data itemData `json:"data"`
		} `json:"item"`
	}
	if err := json.Unmarshal(raw, &p); err != nil || p.Item.Data.ID == "" {
		return "", jsonrpc2.Errorf(jsonrpc2.InvalidParams, "item without the data of a prepare answer")
	}
	return p.Item.Data.ID, nil
}

type gCall struct {
	Line, Column int
	File         *struct{ Path string }
	Node         gNode
}

// calls returns the CALLS edges of the item's node in one direction,
// grouped by the node at the other end (in first-seen order).
func (s *server) calls(ctx context.Context, raw json.RawMessage, dir string) (string, []gNode, map[string][]gCall, error) {
	id, err := itemID(raw)
	if err != nil {
		return "", nil, nil, err
	}
	var r struct {
		Node *struct {
			File  *struct{ Path string }
			Edges []gCall
		}
	}
	// One more than the bound tells whether there are more.
	limit := s.maxResults()
	err = s.query(ctx, fmt.Sprintf(`query($g: ID!, $id: ID!, $first: Int!) { graph(id: $g) { node(id: $id) { file { path }
		edges(direction: %s, relation: CALLS, first: $first) { line column file { path } node { %s } } } } }`, dir, nodeFields),
		map[string]any{"id": id, "first": limit + 1}, &r)
	if err != nil || r.Node == nil {
		return "", nil, nil, err
	}
	es := r.Node.Edges
	if len(es) > limit {
		es = es[:limit]
		s.notifyCut(ctx, fmt.Sprintf("%d call sites listed, there are more", limit))
	}
	var order []gNode
	sites := map[string][]gCall{}
	for _, e := range es {
		if _, ok := sites[e.Node.ID]; !ok {
			order = append(order, e.Node)
		}
		sites[e.Node.ID] = append(sites[e.Node.ID], e)
	}
	self := ""
	if r.Node.File != nil {
		self = r.Node.File.Path
	}
	return self, order, sites, nil
}

// callRanges are the call sites of edges, in the file that holds them.
func (cv *conv) callRanges(es []gCall, fallback string) []protocol.Range {
	out := []protocol.Range{}
	for _, e := range es {
		path := fallback
		if e.File != nil {
			path = e.File.Path
		}
		if path == "" || e.Line == 0 {
			continue
		}
		p := cv.position(cv.s.uriOf(path), e.Line, e.Column)
		out = append(out, protocol.Range{Start: p, End: p})
	}
	return out
}

func (s *server) incomingCalls(ctx context.Context, raw json.RawMessage) (any, error) {
	_, callers, sites, err := s.calls(ctx, raw, "IN")
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	out := []protocol.CallHierarchyIncomingCall{}
	for _, n := range callers {
		fallback := ""
		if n.File != nil {
			fallback = n.File.Path
		}
		out = append(out, protocol.CallHierarchyIncomingCall{From: cv.item(n), FromRanges: cv.callRanges(sites[n.ID], fallback)})
	}
	return out, nil
}

func (s *server) outgoingCalls(ctx context.Context, raw json.RawMessage) (any, error) {
	self, callees, sites, err := s.calls(ctx, raw, "OUT")
	if err != nil {
		return nil, err
	}
	cv := s.conv()
	out := []protocol.CallHierarchyOutgoingCall{}
	for _, n := range callees {
		out = append(out, protocol.CallHierarchyOutgoingCall{To: cv.item(n), FromRanges: cv.callRanges(sites[n.ID], self)})
	}
	return out, nil
}

func (s *server) typeRelatives(ctx context.Context, raw json.RawMessage, field string) (any, error) {
	id, err := itemID(raw)
	if err != nil {
		return nil, err
	}
	var r struct {
		Node *struct{ Related []gNode }
	}
	err = s.query(ctx, fmt.Sprintf(`query($g: ID!, $id: ID!) { graph(id: $g) { node(id: $id) { related: %s { %s } } } }`, field, nodeFields),
		map[string]any{"id": id}, &r)
	if err != nil || r.Node == nil {
		return nil, err
	}
	cv := s.conv()
	out := []hierarchyItem{}
	for _, n := range r.Node.Related {
		out = append(out, cv.item(n))
	}
	return out, nil
}

func (s *server) supertypes(ctx context.Context, raw json.RawMessage) (any, error) {
	return s.typeRelatives(ctx, raw, "supertypes")
}

func (s *server) subtypes(ctx context.Context, raw json.RawMessage) (any, error) {
	return s.typeRelatives(ctx, raw, "subtypes")
}
