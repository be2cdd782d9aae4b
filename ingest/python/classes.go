//go:build cgo

package python

import (
	"strings"

	"github.com/grafo/grafo/ingest"
)

// abstractBases are the bases that make a class an interface: a class of
// the tree deriving from one of these is realized, not inherited, by its
// subclasses.
var abstractBases = map[string]bool{"typing.Protocol": true, "typing_extensions.Protocol": true,
	"abc.ABC": true}

// abstract reports whether c derives directly from Protocol or ABC, or
// has metaclass ABCMeta.
func (ix *index) abstract(c *class) bool {
	m := c.def.mod
	for _, b := range c.bases {
		if r := ix.exprAt(m, nil, stripSubscript(b)); abstractBases[r.external] {
			return true
		}
	}
	if c.meta != nil {
		if r := ix.exprAt(m, nil, c.meta); r.external == "abc.ABCMeta" {
			return true
		}
	}
	return false
}

// relatable reports whether the external dotted name q is a class that
// attribute and annotation relations reach: a class (isExternalClass)
// that is not a builtin — str, int, list and dict are the language's
// basic types and containers, as Go's int and []T are — nor typing's.
func relatable(q string) bool {
	return q != "" && isExternalClass(q) && !strings.HasPrefix(q, "builtins.") && !abstractBases[q]
}

// declarable reports whether the external dotted name q is a class that
// a class's declaration reaches (a base, what an alias or NewType names):
// builtins too (class E(Exception), NewType('UserId', int)), but not
// object, Protocol, Generic or ABC, which make no edge.
func declarable(q string) bool {
	return q != "" && isExternalClass(q) && !abstractBases[q] && q != "builtins.object"
}

// classAt is the class expression n names, of the tree or external (ok
// false when neither); ext says which external names count.
func (ix *index) classAt(m *module, n *node, ext func(string) bool) (clsAt, bool) {
	r := ix.exprAt(m, nil, stripSubscript(n))
	if c := ix.classOf(r); c != nil {
		return clsAt{c: c, at: n}, true
	}
	if ext(r.external) {
		return clsAt{ext: r.external, at: n}, true
	}
	return clsAt{}, false
}

// classRelations adds the class → class edges of c: INHERITANCE or
// REALIZATION to its bases, COMPOSITION, AGGREGATION and ASSOCIATION
// through its attributes, DEPENDENCY through its methods' annotations,
// LINK or DASHED_LINK for a NewType or an alias. Classes outside the
// tree are targets too, as external CLASS nodes.
func (a *analyser) classRelations(c *class) {
	ix, m := a.ix, a.m
	a.from = c.def.qname
	once := map[string]bool{} // one edge per relation and class, at its first place, as for Go
	edge := func(rel ingest.Relation, to clsAt) {
		q := to.qname()
		if k := string(rel) + " " + q; !once[k] {
			once[k] = true
			if to.c == nil {
				a.extClasses[q] = true
			}
			a.edge(rel, q, to.at, false)
		}
	}
	if c.link != "" {
		if t, ok := ix.classAt(m, c.linkTo, declarable); ok && t.c != c {
			edge(c.link, t)
		}
		return
	}
	related := map[string]bool{}
	abstract := ix.abstract(c)
	for _, b := range c.bases {
		bc, ok := ix.classAt(m, b, declarable)
		if !ok || bc.c == c {
			continue
		}
		related[bc.qname()] = true
		switch {
		case bc.c != nil && ix.abstract(bc.c) && !abstract,
			bc.c == nil && strings.HasPrefix(bc.ext, "collections.abc.") && !abstract:
			edge(ingest.Realization, bc)
		default:
			edge(ingest.Inheritance, bc)
		}
	}
	for _, d := range c.attrs {
		if d.ctor != nil {
			if t, ok := ix.classAt(m, d.ctor.child("function"), relatable); ok {
				t.at = d.typNode
				related[t.qname()] = true
				edge(ingest.Composition, t)
				continue
			}
		}
		if d.typ == nil {
			continue
		}
		direct, contained := ix.annotationClasses(m, d.typ)
		for _, t := range direct {
			t.at = d.typNode
			related[t.qname()] = true
			edge(ingest.Association, t)
		}
		for _, t := range contained {
			t.at = d.typNode
			related[t.qname()] = true
			edge(ingest.Aggregation, t)
		}
	}
	deps := map[string]bool{}
	for _, name := range memberOrder(c) {
		d := c.members[name]
		if d.kind != ingest.Function || d.owner != c {
			continue
		}
		for _, x := range append([]*def{d}, d.sameName...) {
			var anns []*node
			if ps := x.n.child("parameters"); ps != nil {
				for _, p := range ps.kids {
					if t := p.child("type"); t != nil {
						anns = append(anns, t)
					}
				}
			}
			if rt := x.n.child("return_type"); rt != nil {
				anns = append(anns, rt)
			}
			for _, ann := range anns {
				direct, contained := ix.annotationClasses(m, ann)
				for _, t := range append(direct, contained...) {
					if q := t.qname(); t.c != c && !related[q] && !deps[q] {
						deps[q] = true
						edge(ingest.Dependency, t)
					}
				}
			}
		}
	}
}

// newTypes are the functions whose call A = NewType('A', B) declares A.
var newTypes = map[string]bool{"typing.NewType": true, "typing_extensions.NewType": true}

// typeAliases are the annotations that make A: TypeAlias = B an alias.
var typeAliases = map[string]bool{"typing.TypeAlias": true, "typing_extensions.TypeAlias": true}

// linkAliases turns the module variables that declare a type into
// classes: A = NewType('A', B) (LINK B), A: TypeAlias = B, and A = B where
// B names a class (DASHED_LINK B), each assigned once. It repeats until
// nothing changes, since an alias may name an alias declared after it.
func (ix *index) linkAliases(mods []*module) {
	for changed := true; changed; {
		changed = false
		for _, m := range mods {
			if m.dup {
				continue
			}
			for _, d := range m.defs {
				if d.kind != ingest.Variable || d.owner != nil || d.n.kind != "assignment" || len(m.vals[d.name]) != 1 {
					continue
				}
				rel, to := ix.aliasOf(m, d)
				if rel == "" {
					continue
				}
				d.kind, d.typ, d.ctor = ingest.Class, nil, nil
				d.cls = &class{def: d, members: map[string]*def{}, link: rel, linkTo: to, vals: map[string][]valueAt{}}
				if rel == ingest.DashedLink {
					d.cls.bases = []*node{to} // A() and A.m are B's
				}
				m.classes = append(m.classes, d.cls)
				changed = true
			}
		}
	}
}

// aliasOf says whether the module variable d declares a type, and what
// it names.
func (ix *index) aliasOf(m *module, d *def) (ingest.Relation, *node) {
	a := d.n
	left, right := a.child("left"), a.child("right")
	if left != d.nameNode || right == nil {
		return "", nil
	}
	if right.kind == "call" {
		if !newTypes[ix.exprAt(m, nil, right.child("function")).external] {
			return "", nil
		}
		var args []*node
		if as := right.child("arguments"); as != nil {
			for _, k := range as.kids {
				if k.kind != "keyword_argument" && k.kind != "comment" {
					args = append(args, k)
				}
			}
		}
		if len(args) != 2 {
			return "", nil
		}
		return ingest.Link, args[1]
	}
	if t := unwrapType(a.child("type")); t != nil {
		if typeAliases[ix.exprAt(m, nil, t).external] {
			return ingest.DashedLink, right
		}
		return "", nil
	}
	if right.kind != "identifier" && right.kind != "attribute" {
		return "", nil
	}
	if _, ok := ix.classAt(m, right, declarable); ok {
		return ingest.DashedLink, right
	}
	return "", nil
}

// memberOrder lists c's members in source order.
func memberOrder(c *class) []string {
	var names []string
	for _, d := range c.def.mod.defs {
		if d.owner == c {
			names = append(names, d.name)
		}
	}
	return names
}
