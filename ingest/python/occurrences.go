//go:build cgo

package python

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/grafo/grafo/ingest"
)

// occ records that identifier id names the node target, with role. The
// analyser calls it where it resolves a name: declarations, callees (the
// node the CALLS edge names), variable uses (the role of their edge) and
// class names in types.
func (a *analyser) occ(id *node, target string, role ingest.Role) {
	if id == nil || target == "" || id.end <= id.start {
		return
	}
	a.occAt(id.line, id.col, utf8.RuneCount(a.m.src[id.start:id.end]), target, role)
}

// occAt records an occurrence of n runes at a byte column of a line.
func (a *analyser) occAt(line, byteCol, n int, target string, role ingest.Role) {
	c := a.cols.column(a.m.src, line, byteCol)
	a.occs = append(a.occs, ingest.Occurrence{Line: line, Column: c, EndColumn: c + n, Role: role, Target: target})
}

// definitions records the declaring identifier of every node of the
// module, and of the later definitions of a name (a property's setter)
// as definitions of its node.
func (a *analyser) definitions() {
	for _, d := range a.m.defs {
		a.occ(d.nameNode, d.qname, ingest.RoleDefinition)
		for _, s := range d.sameName {
			a.occ(s.nameNode, d.qname, ingest.RoleDefinition)
		}
	}
}

// valueOcc records a use of a function or class as a value (passed,
// stored, compared: isinstance(x, C)): a function is referenced, a class
// named as a type, as Go records them.
func (a *analyser) valueOcc(id *node, d *def) {
	switch d.kind {
	case ingest.Function:
		a.occ(id, d.qname, ingest.RoleReference)
	case ingest.Class:
		a.occ(id, d.qname, ingest.RoleType)
	}
}

// prefixOccs records the classes and functions that the leading names of
// an attribute chain name (mod.C in mod.C.m()): the chain's last name and
// its variables are recorded with their edges.
func (a *analyser) prefixOccs(sc *scope, names []string, nodes []*node, upto int) {
	for i := 1; i < upto; i++ {
		if r := a.ix.names(a.m, sc, names[:i]); r.def != nil && r.def.kind != ingest.Variable {
			a.valueOcc(nodes[i-1], r.def)
		}
	}
}

// importOccs records the names a from-import brings in that are nodes of
// the tree (from conf import LIMIT, Store as S): a variable's value is
// copied (reference), a function referenced, a class named.
func (a *analyser) importOccs(n *node) {
	mn := n.child("module_name")
	if mn == nil {
		return
	}
	base := a.m.absolute(mn)
	if base == "" {
		return
	}
	for _, k := range n.children("name") {
		if k.kind == "aliased_import" {
			k = k.child("name")
		}
		if k == nil || k.kind != "dotted_name" {
			continue
		}
		r := a.ix.resolve(base+"."+k.text(a.m.src), 0)
		id := k
		if len(k.kids) > 0 {
			id = k.kids[len(k.kids)-1]
		}
		switch {
		case r.def == nil:
		case r.def.kind == ingest.Variable:
			a.occ(id, r.def.qname, ingest.RoleReference)
		default:
			a.valueOcc(id, r.def)
		}
	}
}

// signatureTypes records the classes named in a function's parameter and
// return annotations (which the walk of its body does not visit).
func (a *analyser) signatureTypes(fn *node) {
	if ps := fn.child("parameters"); ps != nil {
		for _, p := range ps.kids {
			a.typeOccs(p.child("type"))
		}
	}
	a.typeOccs(fn.child("return_type"))
}

// typeOccs records the classes of the tree an annotation names, in code
// ("C", list[C]) and in string annotations ("C", "mod.C").
func (a *analyser) typeOccs(ann *node) {
	if ann == nil {
		return
	}
	direct, contained := a.ix.annotationClasses(a.m, ann)
	for _, t := range append(direct, contained...) {
		if t.c == nil {
			continue // an external class has a node only where a relation reaches it
		}
		at := t.at
		if at.kind == "attribute" {
			at = at.child("attribute")
		}
		if at.kind != "string" {
			a.occ(at, t.c.def.qname, ingest.RoleType)
			continue
		}
		// Inside "mod.C": the last name, after the opening quote.
		txt := at.text(a.m.src)
		q := strings.IndexAny(txt, `"'`)
		if q < 0 || strings.ContainsRune(txt, '\n') {
			continue
		}
		inner := strings.Trim(txt[q:], `"'`)
		name := last(inner)
		off := q + 1 + len(inner) - len(name)
		a.occAt(at.line, at.col+off, utf8.RuneCountInString(name), t.c.def.qname, ingest.RoleType)
	}
}

// sortedOccs are the recorded occurrences by line and column, each once.
func (a *analyser) sortedOccs() []ingest.Occurrence {
	sort.SliceStable(a.occs, func(i, j int) bool {
		x, y := a.occs[i], a.occs[j]
		if x.Line != y.Line {
			return x.Line < y.Line
		}
		if x.Column != y.Column {
			return x.Column < y.Column
		}
		// self.x = … in __init__ declares x and writes it: declaration first.
		return x.Role == ingest.RoleDefinition && y.Role != ingest.RoleDefinition
	})
	out := a.occs[:0]
	seen := map[ingest.Occurrence]bool{}
	for _, o := range a.occs {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

// roleOf is the occurrence role of a variable use with relation rel.
func roleOf(rel ingest.Relation) ingest.Role {
	switch rel {
	case ingest.Writes:
		return ingest.RoleWrite
	case ingest.References:
		return ingest.RoleReference
	}
	return ingest.RoleRead
}

// runeCols turns tree-sitter's byte columns into character columns for
// the lines holding non-ASCII bytes; ASCII lines need no conversion.
type runeCols struct {
	starts []int // byte offset of each line, built on first need
	ascii  int   // 1: the source is ASCII; 0: not known yet
}

func (rc *runeCols) column(src []byte, line, byteCol int) int {
	if rc.ascii == 0 {
		rc.ascii = 1
		for _, b := range src {
			if b >= utf8.RuneSelf {
				rc.ascii = -1
				break
			}
		}
		if rc.ascii < 0 {
			rc.starts = append(rc.starts, 0)
			for i, b := range src {
				if b == '\n' {
					rc.starts = append(rc.starts, i+1)
				}
			}
		}
	}
	if rc.ascii > 0 || line < 1 || line > len(rc.starts) {
		return byteCol
	}
	s := rc.starts[line-1]
	if s+byteCol-1 > len(src) {
		return byteCol
	}
	return utf8.RuneCount(src[s:s+byteCol-1]) + 1
}
