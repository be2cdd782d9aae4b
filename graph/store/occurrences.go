package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// Occurrences are stored twice, each copy answering one question with one
// partition scan:
//
//   - by position, in the file's owner partition: row
//     "k/{line/occBlock}/{chunk}" holds the occurrences of occBlock lines,
//     one "line col endCol role nodeID" line each, so the identifier under
//     a cursor is a scan of one row prefix;
//   - by node, in the target node's partition: row "r/{oid}/{chunk}" holds
//     the file's path then one "line col endCol role" line per occurrence
//     of the node in that file, so a node's references are a scan of its
//     own partition.
//
// The owner also lists the node rows it wrote: "t/{chunk}" rows of
// "nodeID chunks" lines, so that replacing or deleting the file removes
// exactly its rows, like its edges.
const (
	occBlock    = 64
	occChunkMax = 8 << 10
)

// Occurrence is one identifier naming a node, as stored.
type Occurrence struct {
	Path              string
	Line, Column, End int // End: the column after the identifier
	Role              ingest.Role
	Node              string // the node's id
}

var roleCodes = map[ingest.Role]string{ingest.RoleDefinition: "d", ingest.RoleCall: "c", ingest.RoleRead: "r",
	ingest.RoleWrite: "w", ingest.RoleReference: "f", ingest.RoleType: "t"}

var codeRoles = func() map[string]ingest.Role {
	m := map[string]ingest.Role{}
	for r, c := range roleCodes {
		m[c] = r
	}
	return m
}()

func occBlockRow(line int) string { return fmt.Sprintf("k/%06d/", line/occBlock) }

// chunkLines joins lines into values of at most occChunkMax bytes, each
// starting with head (when not empty).
func chunkLines(head string, lines []string) [][]byte {
	var out [][]byte
	var cur []byte
	start := func() {
		cur = cur[:0:0]
		if head != "" {
			cur = append(cur, head...)
		}
	}
	start()
	n := 0
	for _, l := range lines {
		if n > 0 && len(cur)+1+len(l) > occChunkMax {
			out = append(out, cur)
			start()
			n = 0
		}
		if len(cur) > 0 {
			cur = append(cur, '\n')
		}
		cur = append(cur, l...)
		n++
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

// occRows are the rows one file's occurrences become.
type occRows struct {
	owner   map[string][]byte            // k/… and t/… rows of the owner partition
	targets map[string]int               // node id → number of r/{oid}/ chunks
	byNode  map[string]map[string][]byte // node id → r/… row → value
}

func buildOccRows(graph, path, oid string, occs []ingest.Occurrence) (*occRows, error) {
	r := &occRows{owner: map[string][]byte{}, targets: map[string]int{}, byNode: map[string]map[string][]byte{}}
	if len(occs) == 0 || strings.ContainsRune(path, '\n') {
		return r, nil // a path holding a newline cannot head an r/ row
	}
	blocks := map[string][]string{}
	perNode := map[string][]string{}
	for _, o := range occs {
		code, ok := roleCodes[o.Role]
		if !ok || o.Target == "" || o.Line < 1 || o.Column < 1 || o.EndColumn < o.Column {
			return nil, fmt.Errorf("%w: file %q: occurrence %+v", ErrInvalid, path, o)
		}
		id := NodeID(graph, o.Target)
		pos := strconv.Itoa(o.Line) + " " + strconv.Itoa(o.Column) + " " + strconv.Itoa(o.EndColumn) + " " + code
		b := occBlockRow(o.Line)
		blocks[b] = append(blocks[b], pos+" "+id)
		perNode[id] = append(perNode[id], pos)
	}
	for b, lines := range blocks {
		for i, v := range chunkLines("", lines) {
			r.owner[fmt.Sprintf("%s%02d", b, i)] = v
		}
	}
	var tl []string
	for id, lines := range perNode {
		rows := map[string][]byte{}
		for i, v := range chunkLines(path, lines) {
			rows[fmt.Sprintf("r/%s/%03d", oid, i)] = v
		}
		r.byNode[id] = rows
		r.targets[id] = len(rows)
		tl = append(tl, id+" "+strconv.Itoa(len(rows)))
	}
	sort.Strings(tl)
	for i, v := range chunkLines("", tl) {
		r.owner[fmt.Sprintf("t/%03d", i)] = v
	}
	return r, nil
}

// parseTargets reads a t/ row into targets.
func parseTargets(v []byte, targets map[string]int) {
	for _, l := range strings.Split(string(v), "\n") {
		id, n, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		if c, err := strconv.Atoi(n); err == nil {
			targets[id] = c
		}
	}
}

// parseOccLine reads "line col end role [node]".
func parseOccLine(l string) (Occurrence, bool) {
	f := strings.Fields(l)
	if len(f) < 4 {
		return Occurrence{}, false
	}
	var o Occurrence
	var err1, err2, err3 error
	o.Line, err1 = strconv.Atoi(f[0])
	o.Column, err2 = strconv.Atoi(f[1])
	o.End, err3 = strconv.Atoi(f[2])
	o.Role = codeRoles[f[3]]
	if err1 != nil || err2 != nil || err3 != nil || o.Role == "" {
		return Occurrence{}, false
	}
	if len(f) > 4 {
		o.Node = f[4]
	}
	return o, true
}

// OccurrencesAt returns the occurrences on one line of the file at path,
// in column order: a scan of one row prefix of the file's owner partition.
func (s *Store) OccurrencesAt(ctx context.Context, graph, path string, line int) ([]Occurrence, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	var out []Occurrence
	want := strconv.Itoa(line) + " "
	err := s.scanAll(ctx, rowPrefix(pOwner(graph, ownerID(path)), occBlockRow(line)), func(_ string, v []byte) error {
		for _, l := range strings.Split(string(v), "\n") {
			if !strings.HasPrefix(l, want) {
				continue
			}
			if o, ok := parseOccLine(l); ok {
				o.Path = path
				out = append(out, o)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Column < out[j].Column })
	return out, err
}

// OccurrenceAt returns the occurrence under a cursor at line and column
// (1-based, in characters), or nil. A cursor just after an identifier
// still finds it, as editors place it there after a double click or a
// jump. Where one identifier names two nodes (an embedded field names
// the field and its type), the use wins over the definition.
func (s *Store) OccurrenceAt(ctx context.Context, graph, path string, line, column int) (*Occurrence, error) {
	occs, err := s.OccurrencesAt(ctx, graph, path, line)
	if err != nil {
		return nil, err
	}
	var best *Occurrence
	for pass := 0; pass < 2 && best == nil; pass++ {
		for i := range occs {
			o := &occs[i]
			inside := column >= o.Column && column < o.End
			if pass == 1 {
				inside = column == o.End
			}
			if !inside {
				continue
			}
			if best == nil || best.Role == ingest.RoleDefinition && o.Role != ingest.RoleDefinition {
				best = o
			}
		}
	}
	return best, nil
}

// References returns every occurrence of the node id (its definition
// included), by path, line and column: a scan of the node's partition.
func (s *Store) References(ctx context.Context, graph, id string) ([]Occurrence, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	var out []Occurrence
	err := s.scanAll(ctx, rowPrefix(pNode(graph, id), "r/"), func(_ string, v []byte) error {
		path, rest, _ := strings.Cut(string(v), "\n")
		for _, l := range strings.Split(rest, "\n") {
			if o, ok := parseOccLine(l); ok {
				o.Path, o.Node = path, id
				out = append(out, o)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return out, err
}

// Definitions returns the occurrence declaring each node of ns (nil where
// none), as Definition does. A declaration is almost always among the
// first occurrences of its node in its own file, so one GetMany of each
// node's first r/ chunk for that file answers a whole list (callers spread
// over a hundred files: one read, not a hundred scans); only a node whose
// first chunk holds other occurrences but not its declaration costs a scan
// of its block of position rows.
func (s *Store) Definitions(ctx context.Context, graph string, ns []*Node) ([]*Occurrence, error) {
	if err := ValidGraphID(graph); err != nil {
		return nil, err
	}
	out := make([]*Occurrence, len(ns))
	rest, err := s.definitionsByNode(ctx, graph, ns, out)
	if err != nil || len(rest) == 0 {
		return out, err
	}
	return out, s.definitionsByBlock(ctx, graph, ns, rest, out)
}

// declares reports whether a node's declaration can be stored: it has a
// file and a line in the tree.
func declares(n *Node) bool { return n != nil && n.Path != "" && n.Line != 0 && !n.External }

// definitionsByNode fills out from each node's first chunk of occurrences
// in its own file, and returns the indexes it could not settle: those
// whose chunk exists without the declaration. A node without the chunk
// has no occurrence in its file at all, so no declaration either.
func (s *Store) definitionsByNode(ctx context.Context, graph string, ns []*Node, out []*Occurrence) ([]int, error) {
	var idx []int
	var keys [][]byte
	for i, n := range ns {
		if declares(n) {
			idx = append(idx, i)
			keys = append(keys, kv.Key(pNode(graph, n.ID), fmt.Sprintf("r/%s/%03d", ownerID(n.Path), 0)))
		}
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	var rest []int
	for k, v := range vals {
		i := idx[k]
		if v == nil {
			continue
		}
		if out[i] = declaration(ns[i], v); out[i] == nil {
			rest = append(rest, i)
		}
	}
	return rest, nil
}

// declaration finds n's declaring occurrence in an r/ chunk of its file:
// the first with the definition role on the node's line.
func declaration(n *Node, chunk []byte) *Occurrence {
	_, rest, _ := strings.Cut(string(chunk), "\n")
	want := strconv.Itoa(n.Line) + " "
	for _, l := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(l, want) {
			continue
		}
		if o, ok := parseOccLine(l); ok && o.Role == ingest.RoleDefinition {
			o.Path, o.Node = n.Path, n.ID
			return &o
		}
	}
	return nil
}

// definitionsByBlock fills out for the nodes at idx by reading each block
// of position rows that may hold a declaration once, the blocks in
// parallel.
func (s *Store) definitionsByBlock(ctx context.Context, graph string, ns []*Node, idx []int, out []*Occurrence) error {
	type block struct{ path, row string }
	var blocks []block
	at := map[block][]int{} // the nodes each block may declare
	for _, i := range idx {
		n := ns[i]
		b := block{n.Path, occBlockRow(n.Line)}
		if _, ok := at[b]; !ok {
			blocks = append(blocks, b)
		}
		at[b] = append(at[b], i)
	}
	return s.parallel(ctx, len(blocks), func(ctx context.Context, k int) error {
		b := blocks[k]
		want := map[string]int{} // "line id" → index in ns
		for _, i := range at[b] {
			want[strconv.Itoa(ns[i].Line)+" "+ns[i].ID] = i
		}
		return s.scanAll(ctx, rowPrefix(pOwner(graph, ownerID(b.path)), b.row), func(_ string, v []byte) error {
			for _, l := range strings.Split(string(v), "\n") {
				o, ok := parseOccLine(l)
				if !ok || o.Role != ingest.RoleDefinition {
					continue
				}
				if i, ok := want[strconv.Itoa(o.Line)+" "+o.Node]; ok && out[i] == nil {
					o.Path = b.path
					out[i] = &o // each goroutine writes only its block's nodes
				}
			}
			return nil
		})
	})
}

// Definition returns the occurrence that declares node n, or nil. It is
// on the node's first line (a declaration's name is on the line of its
// keyword or spec), so one block of the file's position rows answers,
// however many references the node has.
func (s *Store) Definition(ctx context.Context, graph string, n *Node) (*Occurrence, error) {
	occs, err := s.Definitions(ctx, graph, []*Node{n})
	if err != nil {
		return nil, err
	}
	return occs[0], nil
}
