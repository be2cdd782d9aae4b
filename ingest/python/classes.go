//go:build cgo

package python

import (
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

// classRelations adds the class → class edges of c: INHERITANCE or
// REALIZATION to its bases, COMPOSITION, AGGREGATION and ASSOCIATION
// through its attributes, DEPENDENCY through its methods' annotations.
func (a *analyser) classRelations(c *class) {
	ix, m := a.ix, a.m
	a.from = c.def.qname
	once := map[string]bool{} // one edge per relation and class, at its first place, as for Go
	edge := func(rel ingest.Relation, to *class, at *node) {
		if k := string(rel) + " " + to.def.qname; !once[k] {
			once[k] = true
			a.edge(rel, to.def.qname, at, false)
		}
	}
	related := map[*class]bool{}
	abstract := ix.abstract(c)
	for _, b := range c.bases {
		bc := ix.classOf(ix.exprAt(m, nil, stripSubscript(b)))
		if bc == nil || bc == c {
			continue
		}
		related[bc] = true
		if ix.abstract(bc) && !abstract {
			edge(ingest.Realization, bc, b)
		} else {
			edge(ingest.Inheritance, bc, b)
		}
	}
	for _, d := range c.attrs {
		if d.ctor != nil {
			if t := ix.classOf(ix.exprAt(m, nil, d.ctor.child("function"))); t != nil {
				related[t] = true
				edge(ingest.Composition, t, d.typNode)
				continue
			}
		}
		if d.typ == nil {
			continue
		}
		direct, contained := ix.annotationClasses(m, d.typ)
		for _, t := range direct {
			related[t.c] = true
			edge(ingest.Association, t.c, d.typNode)
		}
		for _, t := range contained {
			related[t.c] = true
			edge(ingest.Aggregation, t.c, d.typNode)
		}
	}
	deps := map[*class]bool{}
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
					if t.c == c || related[t.c] || deps[t.c] {
						continue
					}
					deps[t.c] = true
					edge(ingest.Dependency, t.c, t.at)
				}
			}
		}
	}
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
