//go:build cgo

package python

import (
	"fmt"
	"sort"
	"strings"

	"github.com/grafo/grafo/ingest"
)

// moduleUnit names the FUNCTION node that owns the code a module runs
// when it is imported (statements at module level and in class bodies).
const moduleUnit = "<module>"

// analyser extracts the edges of one module.
type analyser struct {
	ix       *index
	m        *module
	from     string // the function (unit) the code being walked belongs to
	cls      *class // its class, for methods
	units    map[*node]bool
	edges    []ingest.Edge
	seen     map[string]bool
	external map[string]bool
	used     map[string]bool // units with edges
	// extClasses are the external classes that class relations reach.
	extClasses map[string]bool
	occs       []ingest.Occurrence
	cols       runeCols
}

// Contexts of an expression being walked.
const (
	ctxLoad   = iota // its value is used
	ctxWhole         // its value is the whole right side, argument or result: copied or kept
	ctxStore         // it is assigned (rebinding a name needs global)
	ctxAug           // it is updated in place (x += 1)
	ctxMutate        // something inside it is assigned (x[i] = 1, x.f = 1)
)

// facts are the file facts of module m.
func (ix *index) facts(m *module) ingest.FileFacts {
	ff := ingest.FileFacts{File: ingest.File{Path: m.path, Diagnostics: m.diags}}
	if m.dup || m.root == nil {
		return ff
	}
	a := &analyser{ix: ix, m: m, units: map[*node]bool{}, seen: map[string]bool{},
		external: map[string]bool{}, used: map[string]bool{}, extClasses: map[string]bool{}}
	for _, d := range m.units {
		a.units[d.n] = true
		for _, s := range d.sameName {
			a.units[s.n] = true
		}
	}
	for _, d := range m.units {
		a.unit(d)
	}
	modUnit := m.name + "." + moduleUnit
	a.from, a.cls = modUnit, nil
	a.walk(m.root, nil, ctxLoad)
	for _, c := range m.classes {
		a.classRelations(c)
	}
	a.definitions()

	for _, d := range m.defs {
		ff.Nodes = append(ff.Nodes, ingest.Node{Kind: d.kind, Name: d.name, QualifiedName: d.qname,
			Path: m.path, Line: d.line, EndLine: d.end})
	}
	if a.used[modUnit] {
		ff.Nodes = append(ff.Nodes, ingest.Node{Kind: ingest.Function, Name: moduleUnit, QualifiedName: modUnit,
			Path: m.path, Line: 1, EndLine: max(1, m.root.endLine)})
	}
	var ext []string
	for q := range a.extClasses {
		a.external[q] = true
	}
	for q := range a.external {
		ext = append(ext, q)
	}
	sort.Strings(ext)
	for _, q := range ext {
		ff.Nodes = append(ff.Nodes, ingest.Node{Kind: externalKind(q), Name: last(q), QualifiedName: q, External: true})
	}
	ff.Edges = a.edges
	ff.Occurrences = a.sortedOccs()
	return ff
}

// externalKind is the kind of the external node q, the same in every
// file: CLASS for a name taken for a class (a call of it constructs, as
// calling a class of the tree without __init__ does), FUNCTION otherwise.
func externalKind(q string) ingest.Kind {
	if isExternalClass(q) {
		return ingest.Class
	}
	return ingest.Function
}

// edge records from → to once per position.
func (a *analyser) edge(rel ingest.Relation, to string, at *node, dynamic bool) {
	e := ingest.Edge{From: a.from, To: to, Relation: rel, Path: a.m.path, Dynamic: dynamic}
	if at != nil {
		e.Line, e.Column = at.line, at.col
	}
	k := fmt.Sprintf("%s %s %s %d %d %v", e.From, e.Relation, e.To, e.Line, e.Column, e.Dynamic)
	if a.seen[k] {
		return
	}
	a.seen[k] = true
	a.used[a.from] = true
	a.edges = append(a.edges, e)
}

// unit walks a function or method and the later definitions of its name.
func (a *analyser) unit(d *def) {
	a.from, a.cls = d.qname, d.owner
	for _, x := range append([]*def{d}, d.sameName...) {
		for _, dec := range x.decorators {
			a.decorator(dec, nil)
		}
		sc := a.ix.scopeOf(x)
		if sc == nil { // nil only while being built, never seen here
			sc = a.funcScope(x, x.n, nil)
		}
		a.params(x.n, sc)
		a.signatureTypes(x.n)
		a.walk(x.n.child("body"), sc, ctxLoad)
	}
}

// funcScope is the scope of a function or lambda: its parameters (the
// first one of a method is self) and the names its body binds.
func (a *analyser) funcScope(d *def, fn *node, parent *scope) *scope {
	sc := newScope(parent)
	if ps := fn.child("parameters"); ps != nil {
		for i, p := range ps.kids {
			name, ann := paramName(p, a.m.src)
			if name == "" {
				continue
			}
			b := &binding{kind: bLocal}
			if i == 0 && d != nil && d.owner != nil && !d.static {
				b = &binding{kind: bSelf, cls: d.owner}
			} else {
				t := vtype{maybe: true} // whatever a caller passes
				if ann != nil {
					if at := a.ix.annotationType(a.m, ann); at.known() {
						t = at
					}
				}
				b.val.add(t, false)
			}
			sc.locals[name] = b
		}
	}
	if body := fn.child("body"); body != nil && fn.kind != "lambda" {
		a.prescan(body, sc)
	}
	return sc
}

// paramName is a parameter's name and annotation.
func paramName(p *node, src []byte) (string, *node) {
	switch p.kind {
	case "identifier":
		return p.text(src), nil
	case "typed_parameter":
		for _, k := range p.kids {
			switch k.kind {
			case "identifier":
				return k.text(src), p.child("type")
			case "list_splat_pattern", "dictionary_splat_pattern":
				if id := k.firstOf("identifier"); id != nil {
					return id.text(src), p.child("type")
				}
			}
		}
	case "default_parameter", "typed_default_parameter":
		if id := p.child("name"); id != nil {
			return id.text(src), p.child("type")
		}
	case "list_splat_pattern", "dictionary_splat_pattern":
		if id := p.firstOf("identifier"); id != nil {
			return id.text(src), nil
		}
	}
	return "", nil
}

// params walks the default values of a function's parameters.
func (a *analyser) params(fn *node, sc *scope) {
	if ps := fn.child("parameters"); ps != nil {
		for _, p := range ps.kids {
			if v := p.child("value"); v != nil {
				a.walk(v, sc, ctxWhole)
			}
		}
	}
}

// prescan binds the names a function body assigns (Python decides at
// compile time that they are local), and its global and nonlocal names.
func (a *analyser) prescan(n *node, sc *scope) {
	for _, k := range n.kids {
		switch k.kind {
		case "global_statement", "nonlocal_statement":
			for _, id := range k.kids {
				if id.kind != "identifier" {
					continue
				}
				if k.kind == "global_statement" {
					sc.globals[id.text(a.m.src)] = true
				} else {
					sc.nonlocals[id.text(a.m.src)] = true
				}
				delete(sc.locals, id.text(a.m.src))
			}
		case "function_definition", "class_definition":
			if id := k.child("name"); id != nil {
				sc.bindLocal(id.text(a.m.src), vtype{}, false) // nested: no node to call
			}
		case "lambda", "list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression":
		case "import_statement", "import_from_statement":
			a.m.importBindings(k, func(name string, b *binding) {
				if !sc.globals[name] && sc.locals[name] == nil {
					sc.locals[name] = b
				}
			}, false)
		case "assignment":
			left, right := k.child("left"), k.child("right")
			for right != nil && right.kind == "assignment" { // a = b = v
				a.bindTargets(sc, right.child("left"), assigned(right), nil)
				right = right.child("right")
			}
			if ann := k.child("type"); ann != nil {
				if t := a.ix.annotationType(a.m, ann); t.known() || right == nil {
					a.bindTargets(sc, left, nil, &t)
					if right != nil {
						a.prescan(&node{kids: []*node{right}}, sc)
					}
					continue
				}
			}
			a.bindTargets(sc, left, right, nil)
			if right != nil {
				a.prescan(&node{kids: []*node{right}}, sc)
			}
		case "augmented_assignment":
			for _, id := range targetNames(k.child("left")) {
				sc.bindLocal(id.text(a.m.src), vtype{}, true) // x += …: the type x had
			}
			a.prescan(k, sc)
		case "for_statement", "for_in_clause":
			a.bindTargets(sc, k.child("left"), nil, nil)
			a.prescan(k, sc)
		case "with_item", "except_clause":
			for _, c := range k.kids {
				if c.kind != "as_pattern" {
					a.prescan(&node{kids: []*node{c}}, sc)
					continue
				}
				var val, alias *node
				for _, x := range c.kids {
					if x.field == "alias" || x.kind == "as_pattern_target" {
						alias = x
					} else if val == nil {
						val = x
					}
				}
				var t vtype
				if k.kind == "with_item" {
					t = a.ix.enterType(a.m, sc, val)
				} else if val != nil {
					t = a.ix.caughtType(a.m, sc, val)
				}
				if alias != nil {
					for _, tg := range alias.kids {
						a.bindTargets(sc, tg, nil, &t)
					}
				}
				if val != nil {
					a.prescan(&node{kids: []*node{val}}, sc)
				}
			}
		case "as_pattern_target": // case patterns
			for _, t := range k.kids {
				a.bindTargets(sc, t, nil, nil)
			}
		case "named_expression":
			if id := k.child("name"); id != nil {
				a.bindTargets(sc, id, k.child("value"), nil)
			}
			a.prescan(k, sc)
		default:
			a.prescan(k, sc)
		}
	}
}

// assigned is the value a (possibly chained) assignment assigns.
func assigned(n *node) *node {
	r := n.child("right")
	for r != nil && r.kind == "assignment" {
		r = r.child("right")
	}
	return r
}

// bindTargets binds the names of assignment target t to value v (nil: not
// known) or, when typ is set, the whole target to a value of that type.
func (a *analyser) bindTargets(sc *scope, t, v *node, typ *vtype) {
	eachTargetOf(t, v, true, func(id, value *node, whole bool) {
		if id.kind != "identifier" {
			return
		}
		var vt vtype
		none := false
		switch {
		case typ != nil && whole:
			vt = *typ
		case value != nil:
			vt, none = a.ix.typeOf(a.m, sc, value)
		}
		sc.bindLocal(id.text(a.m.src), vt, none)
	})
}

// walk visits an expression or statement in scope sc.
func (a *analyser) walk(n *node, sc *scope, ctx int) {
	if n == nil {
		return
	}
	switch n.kind {
	case "identifier":
		a.name(n, sc, ctx)
	case "attribute":
		a.attribute(n, sc, ctx)
	case "subscript":
		a.subscript(n, sc, ctx)
	case "call":
		a.call(n, sc)
	case "assignment":
		a.assignment(n, sc)
	case "augmented_assignment":
		a.walk(n.child("left"), sc, ctxAug)
		a.walk(n.child("right"), sc, ctxLoad)
	case "return_statement":
		a.walkKids(n, sc, ctxWhole)
	case "import_from_statement":
		a.importOccs(n)
	case "type", "global_statement", "nonlocal_statement", "import_statement",
		"future_import_statement", "comment", "string_content", "escape_sequence", "keyword_separator",
		"positional_separator":
		// Not walked: no use in these is recorded here.
	case "ERROR":
		a.walkKids(n, sc, ctxLoad)
	case "decorated_definition":
		a.decoratedDefinition(n, sc)
	case "function_definition":
		a.functionDefinition(n, sc)
	case "class_definition":
		a.classDefinition(n, sc)
	case "lambda":
		lsc := a.funcScope(nil, n, sc)
		a.walk(n.child("body"), lsc, ctxLoad)
	case "list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression":
		a.comprehension(n, sc)
	case "for_statement", "for_in_clause":
		a.forLoop(n, sc)
	case "as_pattern":
		a.asPattern(n, sc)
	case "named_expression":
		a.walk(n.child("name"), sc, ctxStore)
		a.walk(n.child("value"), sc, ctxWhole)
	case "delete_statement":
		a.walkKids(n, sc, ctxMutate)
	case "keyword_argument":
		a.walk(n.child("value"), sc, ctxWhole)
	case "pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern", "expression_list", "tuple", "list":
		a.sequence(n, sc, ctx)
	case "parenthesized_expression":
		a.walkKids(n, sc, ctx)
	default:
		a.walkKids(n, sc, ctxLoad)
	}
}

// walkKids walks every child of n in context ctx.
func (a *analyser) walkKids(n *node, sc *scope, ctx int) {
	for _, k := range n.kids {
		a.walk(k, sc, ctx)
	}
}

// subscript handles x[i]: a load of x[i] loads x, any other use of it
// mutates x; the index is always loaded.
func (a *analyser) subscript(n *node, sc *scope, ctx int) {
	if ctx == ctxLoad || ctx == ctxWhole {
		a.walk(n.child("value"), sc, ctxLoad)
	} else {
		a.walk(n.child("value"), sc, ctxMutate)
	}
	for _, k := range n.children("subscript") {
		a.walk(k, sc, ctxLoad)
	}
}

// assignment handles left = right (and left: T = right): the annotation's
// types, the targets stored, and the value used whole unless it is a
// tuple of values.
func (a *analyser) assignment(n *node, sc *scope) {
	left, right := n.child("left"), n.child("right")
	a.typeOccs(n.child("type"))
	if right == nil {
		return // an annotation alone assigns nothing
	}
	a.walk(left, sc, ctxStore)
	if right.kind == "expression_list" {
		a.walk(right, sc, ctxLoad)
	} else {
		a.walk(right, sc, ctxWhole)
	}
}

// decoratedDefinition handles a decorated def or class: its decorators,
// then the definition, unless that is a unit analysed on its own.
func (a *analyser) decoratedDefinition(n *node, sc *scope) {
	def := n.child("definition")
	if a.units[def] {
		return
	}
	for _, k := range n.kids {
		if k.kind == "decorator" {
			a.decorator(k, sc)
		}
	}
	a.walk(def, sc, ctxLoad)
}

// functionDefinition handles a nested def that is not a unit of its own:
// its parameters and signature types, and its body in a scope of its own.
func (a *analyser) functionDefinition(n *node, sc *scope) {
	if a.units[n] {
		return
	}
	fsc := a.funcScope(nil, n, sc)
	a.params(n, fsc)
	a.signatureTypes(n)
	a.walk(n.child("body"), fsc, ctxLoad)
}

// classDefinition handles a class: its bases in the enclosing scope, its
// body in a class scope prescanned for the names it binds.
func (a *analyser) classDefinition(n *node, sc *scope) {
	if bases := n.child("superclasses"); bases != nil {
		a.walk(bases, sc, ctxLoad)
	}
	if body := n.child("body"); body != nil {
		csc := newScope(sc)
		a.prescan(body, csc)
		a.walk(body, csc, ctxLoad)
	}
}

// comprehension handles a comprehension, whose for-targets are bound in
// a scope of its own before anything in it is walked.
func (a *analyser) comprehension(n *node, sc *scope) {
	csc := newScope(sc)
	for _, k := range n.kids {
		if k.kind == "for_in_clause" {
			a.bindTargets(csc, k.child("left"), nil, nil)
		}
	}
	a.walkKids(n, csc, ctxLoad)
}

// forLoop handles a for statement or clause: its targets are stored, the
// rest loaded.
func (a *analyser) forLoop(n *node, sc *scope) {
	for _, k := range n.kids {
		if k.field == "left" {
			a.walk(k, sc, ctxStore)
		} else {
			a.walk(k, sc, ctxLoad)
		}
	}
}

// asPattern handles "x as y" (with, except, match): the alias is stored,
// the rest loaded.
func (a *analyser) asPattern(n *node, sc *scope) {
	for _, k := range n.kids {
		if k.field == "alias" || k.kind == "as_pattern_target" {
			for _, t := range k.kids {
				a.walk(t, sc, ctxStore)
			}
		} else {
			a.walk(k, sc, ctxLoad)
		}
	}
}

// sequence handles a tuple, list or pattern of several: each element
// takes the sequence's context, except that a use of the whole sequence
// is only a load of each element.
func (a *analyser) sequence(n *node, sc *scope, ctx int) {
	c := ctx
	if c == ctxWhole {
		c = ctxLoad
	}
	a.walkKids(n, sc, c)
}

// varRel is the relation a use in context ctx makes.
func varRel(ctx int) ingest.Relation {
	switch ctx {
	case ctxWhole:
		return ingest.References
	case ctxStore, ctxAug, ctxMutate:
		return ingest.Writes
	}
	return ingest.Reads
}

// name handles a use of a plain name.
func (a *analyser) name(n *node, sc *scope, ctx int) {
	name := n.text(a.m.src)
	if ctx == ctxStore || ctx == ctxAug {
		b := a.m.syms[name]
		if b == nil || b.kind != bDef || b.def.kind != ingest.Variable {
			b = nil
		}
		switch sc.storeKind(name) {
		case "local":
			return
		case "":
			if ctx == ctxStore {
				// A module-level assignment declares, it does not write
				// (no edge); a second one still rewrites the variable.
				if b != nil && sc == nil && b.def.nameNode != n {
					a.occ(n, b.def.qname, ingest.RoleWrite)
				}
				return
			}
		}
		if b != nil {
			a.edge(ingest.Writes, b.def.qname, n, false)
			a.occ(n, b.def.qname, ingest.RoleWrite)
		}
		return
	}
	r := a.ix.names(a.m, sc, []string{name})
	switch {
	case r.def != nil && r.def.kind == ingest.Variable:
		a.varUse(varRel(ctx), r.def, n)
	case r.def != nil:
		a.valueOcc(n, r.def)
	}
}

// varUse records a use of variable d at identifier id: its edge and its
// occurrence.
func (a *analyser) varUse(rel ingest.Relation, d *def, id *node) {
	a.edge(rel, d.qname, id, false)
	a.occ(id, d.qname, roleOf(rel))
}

// attribute handles x.a: a module variable through its module, a class
// attribute through self, cls, its class or a variable of known class.
// When only a prefix resolves to a variable (self.items.count), the use
// is of that variable, and so is an assignment inside it.
func (a *analyser) attribute(n *node, sc *scope, ctx int) {
	names, nodes := chain(n, a.m.src)
	if names == nil {
		a.walk(n.child("object"), sc, ctxLoad)
		return
	}
	r := a.ix.names(a.m, sc, names)
	if r.def != nil {
		if r.def.kind == ingest.Variable {
			a.varUse(varRel(ctx), r.def, nodes[len(nodes)-1])
		} else {
			a.valueOcc(nodes[len(nodes)-1], r.def)
		}
		a.prefixOccs(sc, names, nodes, len(names))
		return
	}
	if r.lastVar == nil {
		a.prefixOccs(sc, names, nodes, len(names))
		return
	}
	rel := ingest.Reads
	if ctx != ctxLoad && ctx != ctxWhole {
		rel = ingest.Writes
	}
	i := len(names) - 1
	for i > 0 && names[i] != r.lastVar.name {
		i--
	}
	a.varUse(rel, r.lastVar, nodes[i])
	a.prefixOccs(sc, names, nodes, i)
}

// call handles a call: its callee, then the variables it uses.
func (a *analyser) call(n *node, sc *scope) {
	fn := n.child("function")
	if fn == nil {
		return
	}
	a.callee(fn, sc, n)
	switch fn.kind {
	case "identifier":
	case "attribute":
		a.walk(fn.child("object"), sc, ctxLoad)
	default:
		a.walk(fn, sc, ctxLoad)
	}
	if args := n.child("arguments"); args != nil {
		for _, k := range args.kids {
			switch k.kind {
			case "list_splat", "dictionary_splat", "generator_expression":
				a.walk(k, sc, ctxLoad)
			default:
				a.walk(k, sc, ctxWhole)
			}
		}
	}
}

// callee adds the CALLS edges of calling fn at the call site at.
func (a *analyser) callee(fn *node, sc *scope, at *node) {
	if fn.kind == "attribute" {
		obj, attr := fn.child("object"), fn.child("attribute")
		if obj != nil && attr != nil && obj.kind == "call" && a.cls != nil {
			if f := obj.child("function"); f != nil && f.kind == "identifier" && f.text(a.m.src) == "super" {
				name := attr.text(a.m.src)
				for _, k := range a.ix.mro(a.cls)[1:] {
					if d := k.members[name]; d != nil && d.kind == ingest.Function {
						a.edge(ingest.Calls, d.qname, at, false)
						a.occ(attr, d.qname, ingest.RoleCall)
						return
					}
				}
				return // a method of a base outside the tree
			}
		}
	}
	names, nodes := chain(fn, a.m.src)
	if names == nil {
		// "…".format(), C().m(), f()[0].m(): a method of the type of the
		// receiver, when it is known.
		if fn.kind == "attribute" {
			if attr := fn.child("attribute"); attr != nil {
				t, _ := a.ix.typeOf(a.m, sc, fn.child("object"))
				a.callRes(a.ix.memberOf(t, []string{attr.text(a.m.src)}), at, attr)
			}
		}
		return
	}
	if len(names) == 1 && names[0] == "super" && sc.lookup("super") == nil && a.m.syms["super"] == nil {
		return // super().m() is handled above
	}
	r := a.ix.names(a.m, sc, names)
	id := nodes[len(nodes)-1] // the callee's name, where its occurrence is
	switch {
	case r.def != nil && r.def.kind == ingest.Function:
		a.edge(ingest.Calls, r.def.qname, at, r.maybe)
		a.occ(id, r.def.qname, ingest.RoleCall)
		// self.m() may run an override of m in a subclass.
		if b := sc.lookup(names[0]); len(names) == 2 && b != nil && b.kind == bSelf {
			for _, s := range a.ix.subs[b.cls] {
				if d := s.members[names[1]]; d != nil && d.kind == ingest.Function && d != r.def {
					a.edge(ingest.Calls, d.qname, at, true)
				}
			}
		}
	case r.def != nil && r.def.kind == ingest.Variable:
		// A call through a variable: the name is the variable's.
		a.varUse(ingest.Reads, r.def, id)
		a.callRes(r, at, nil)
	case r.self != nil:
		if len(names) == 1 {
			a.edge(ingest.Calls, a.ix.ctor(r.self).qname, at, false) // cls()
			a.occ(id, a.ix.ctor(r.self).qname, ingest.RoleCall)
		}
	default: // the walk of fn's object records the variables it reads
		a.callRes(r, at, id)
	}
}

// callRes adds the CALLS edge of calling what r resolved to: a function
// or class of the tree (static), an external function or method of an
// external class, or a variable whose value is known to be a class or
// function of the tree (dynamic: a call through a value, as in Go).
// Where nothing is known there is no edge: no guess. The callee's name id
// (nil: none) is an occurrence of what the static edge names.
func (a *analyser) callRes(r res, at, id *node) {
	to := ""
	switch {
	case r.def != nil && r.def.kind == ingest.Function:
		to = r.def.qname
	case r.def != nil && r.def.kind == ingest.Class:
		to = a.ix.ctor(r.def.cls).qname
	case r.external != "":
		a.external[r.external] = true
		to = r.external
	}
	if to != "" {
		a.edge(ingest.Calls, to, at, r.maybe)
		a.occ(id, to, ingest.RoleCall)
		return
	}
	switch t := a.ix.valueOf(r); {
	case t.of != nil && t.of.kind == ingest.Class:
		a.edge(ingest.Calls, a.ix.ctor(t.of.cls).qname, at, true)
	case t.of != nil:
		a.edge(ingest.Calls, t.of.qname, at, true)
	}
}

// ctor is what C() calls: C.__init__ (its own or inherited from a class
// of the tree), else the class itself.
func (ix *index) ctor(c *class) *def {
	if d := ix.lookup(c, "__init__"); d != nil && d.kind == ingest.Function {
		return d
	}
	return c.def
}

// decorator handles @expr: the decorated function (or, for a class, the
// code running at import) calls expr. @property, @staticmethod,
// @classmethod and @x.setter/getter/deleter add no edge.
func (a *analyser) decorator(dec *node, sc *scope) {
	if len(dec.kids) == 0 {
		return
	}
	e := dec.kids[0]
	if e.kind == "call" {
		a.walk(e, sc, ctxLoad)
		return
	}
	names, _ := chain(e, a.m.src)
	if names == nil {
		a.walk(e, sc, ctxLoad)
		return
	}
	if len(names) == 1 && (names[0] == "property" || names[0] == "staticmethod" || names[0] == "classmethod") {
		return
	}
	if l := names[len(names)-1]; len(names) == 2 && (l == "setter" || l == "getter" || l == "deleter") {
		return
	}
	a.callee(e, sc, e)
	if e.kind == "attribute" {
		a.walk(e.child("object"), sc, ctxLoad)
	}
}

// clsAt is a class found in an annotation or a base list, and where: a
// class of the tree (c) or one outside it (ext, its dotted name).
type clsAt struct {
	c   *class
	ext string
	at  *node
}

// qname is the qualified name of the class's node.
func (t clsAt) qname() string {
	if t.c != nil {
		return t.c.def.qname
	}
	return t.ext
}

// wrappers are the generic types that do not make their argument a
// container: Optional[C] is a C as much as C | None is.
var wrappers = map[string]bool{"Optional": true, "Union": true, "Annotated": true, "Final": true,
	"ClassVar": true, "Type": true, "type": true, "Required": true, "NotRequired": true, "ReadOnly": true}

// annotationClasses finds the classes an annotation names: directly (C,
// Optional[C], C | None, "C") or inside a container (list[C], dict[str,
// C], Optional[list[C]]); classes of the tree, and external ones that
// relations reach (relatable).
func (ix *index) annotationClasses(m *module, n *node) (direct, contained []clsAt) {
	var visit func(n *node, inside bool)
	add := func(r res, at *node, inside bool) {
		t := clsAt{c: ix.classOf(r), at: at}
		if t.c == nil && relatable(r.external) {
			t.ext = r.external
		}
		switch {
		case t.c == nil && t.ext == "":
		case inside:
			contained = append(contained, t)
		default:
			direct = append(direct, t)
		}
	}
	visit = func(n *node, inside bool) {
		switch n.kind {
		case "identifier", "attribute":
			add(ix.exprAt(m, nil, n), n, inside)
		case "string":
			s := strings.Trim(n.text(m.src), `"'`)
			if s != "" && !strings.ContainsAny(s, " []|,()") {
				add(ix.names(m, nil, strings.Split(s, ".")), n, inside)
			}
		case "generic_type", "subscript":
			head := n.child("value")
			if head == nil && len(n.kids) > 0 {
				head = n.kids[0]
			}
			hn := ""
			if head != nil {
				hn = last(head.text(m.src))
			}
			args := false
			for _, k := range n.kids {
				if k == head {
					continue
				}
				if hn == "Annotated" && args {
					break
				}
				args = true
				visit(k, inside || !wrappers[hn])
			}
		case "binary_operator":
			for _, k := range n.kids {
				visit(k, inside)
			}
		default:
			for _, k := range n.kids {
				visit(k, inside)
			}
		}
	}
	visit(n, false)
	return direct, contained
}
