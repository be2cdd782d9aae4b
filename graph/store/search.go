package store

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/grafo/grafo/ingest"
)

// goReceiver matches the receiver spellings Go developers type and tools
// print — pkg.(*T).M and pkg.(T).M — which the graph names pkg.T.M.
var goReceiver = regexp.MustCompile(`\(\*?([^()*]+)\)`)

// CanonicalName turns the spellings of a qualified name that Go tools use
// into the graph's canonical form (docs/mapping.md): `pkg.(*T).M` and
// `pkg.(T).M` become `pkg.T.M`; a trailing `()` and surrounding space go.
func CanonicalName(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "()")
	if strings.Contains(s, "(") {
		s = goReceiver.ReplaceAllString(s, "$1")
	}
	return s
}

// splitQualified splits a qualified name (or a dotted partial one) into the
// part before its last segment and that segment. Dots inside the import
// path (github.com/…) are not separators: only dots after the last '/'.
func splitQualified(q string) (qualifier, name string) {
	slash := strings.LastIndexByte(q, '/')
	dot := strings.LastIndexByte(q[slash+1:], '.')
	if dot < 0 {
		return "", q
	}
	dot += slash + 1
	return q[:dot], q[dot+1:]
}

// SearchQuery asks Search for nodes by name.
type SearchQuery struct {
	// Text is a bare name or name prefix (`Put`, `Coord`), or a dotted
	// suffix of a qualified name (`Coordinator.Put`,
	// `replica.Coordinator.Put`, `(*Coordinator).Put`, a full qualified
	// name); the last segment may be a prefix. Case-insensitive.
	Text  string
	Kind  ingest.Kind // "" means any
	First int         // at most this many results, > 0
}

// searchScan bounds the name rows one search reads: exact names sort first
// in the index, so the bound only ever cuts long tails of prefix matches.
const searchScan = 2000

// Hit is one search result with the rank Search ordered it by; results of
// several graphs merge by Less.
type Hit struct {
	Graph string
	Node  *Node
	rank  [3]int
}

// Less orders hits best first: an exact qualified name, then an exact
// (case-sensitive, then case-insensitive) last segment, then shorter names
// and shorter qualified names, then alphabetically.
func (h Hit) Less(o Hit) bool {
	if h.rank != o.rank {
		for i := range h.rank {
			if h.rank[i] != o.rank[i] {
				return h.rank[i] < o.rank[i]
			}
		}
	}
	if h.Node.QualifiedName != o.Node.QualifiedName {
		return h.Node.QualifiedName < o.Node.QualifiedName
	}
	return h.Graph < o.Graph
}

// Search returns the nodes of graph matching q, best first (Hit.Less).
func (s *Store) Search(ctx context.Context, graph string, q SearchQuery) ([]Hit, error) {
	text := CanonicalName(q.Text)
	if text == "" || q.First <= 0 {
		return nil, nil
	}
	qual, name := splitQualified(text)
	lname, lqual := strings.ToLower(name), strings.ToLower(qual)
	var ids []string
	err := s.walkNames(ctx, graph, NodeFilter{Kind: q.Kind, Name: name}, func(_, _, id string) bool {
		ids = append(ids, id)
		return len(ids) < searchScan
	})
	if err != nil {
		return nil, err
	}
	ns, err := s.NodesByID(ctx, graph, ids)
	if err != nil {
		return nil, err
	}
	ltext := strings.ToLower(text)
	var hits []Hit
	for _, n := range ns {
		if n == nil {
			continue
		}
		nq, nn := splitQualified(strings.ToLower(n.QualifiedName))
		if !strings.HasPrefix(nn, lname) {
			continue
		}
		if lqual != "" && nq != lqual && !strings.HasSuffix(nq, "."+lqual) && !strings.HasSuffix(nq, "/"+lqual) {
			continue
		}
		h := Hit{Graph: graph, Node: n}
		switch {
		case n.QualifiedName == text:
			h.rank[0] = 0
		case strings.ToLower(n.QualifiedName) == ltext:
			h.rank[0] = 1
		case n.Name == name:
			h.rank[0] = 2
		case strings.ToLower(n.Name) == lname:
			h.rank[0] = 3
		default:
			h.rank[0] = 4
		}
		h.rank[1] = len(n.Name)
		h.rank[2] = len(n.QualifiedName)
		hits = append(hits, h)
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Less(hits[j]) })
	if len(hits) > q.First {
		hits = hits[:q.First]
	}
	return hits, nil
}

// IsTest reports whether a file path is test code: Go's _test.go files and
// Python test modules (test_*.py, *_test.py, conftest.py, and modules under
// a tests/ or test/ directory), as pytest and unittest discover them.
func IsTest(path string) bool {
	if strings.HasSuffix(path, "_test.go") {
		return true
	}
	if !strings.HasSuffix(path, ".py") {
		return false
	}
	base := path[strings.LastIndexByte(path, '/')+1:]
	if strings.HasPrefix(base, "test_") || strings.HasSuffix(base, "_test.py") || base == "conftest.py" {
		return true
	}
	return strings.HasPrefix(path, "tests/") || strings.HasPrefix(path, "test/") ||
		strings.Contains(path, "/tests/") || strings.Contains(path, "/test/")
}
