//go:build cgo

package python

import (
	"strings"

	"github.com/grafo/grafo/ingest"
)

// module is one parsed file and what it declares.
type module struct {
	path, name string
	isPkg      bool // an __init__ file: relative imports start at the module itself
	src        []byte
	root       *node
	diags      []string
	dup        bool // another file has the same module name: not analysed

	syms      map[string]*binding // module-level names
	wildcards []string            // modules imported with *
	defs      []*def              // nodes this file defines, in source order
	units     []*def              // functions and methods, whose bodies are analysed
	classes   []*class
	vals      map[string][]valueAt // values assigned to module variables, for inference
	foreign   map[string]bool      // attributes assigned through another object than self (x.attr = …)
}

// def is a node of the tree: a function, method, class, module variable
// or attribute.
type def struct {
	kind        ingest.Kind
	name, qname string
	mod         *module
	n           *node  // function_definition, class_definition, or the declaring statement
	line, end   int    // span
	owner       *class // methods and attributes: their class
	cls         *class // classes: the class
	static      bool   // a @staticmethod: no self
	decorators  []*node
	typ         *node  // variables: the annotation, if any
	ctor        *node  // variables: the constructor call assigned (self.x = C() in __init__, X = C())
	typNode     *node  // where the annotation or constructor appears, for edge positions
	sameName    []*def // later definitions of the same name (property setters, overloads), analysed as this one
	nameNode    *node  // the identifier that declares it (its definition occurrence)
}

// class is a class definition's members.
type class struct {
	def     *def
	bases   []*node // base class expressions
	meta    *node   // metaclass= expression
	members map[string]*def
	attrs   []*def // attributes in declaration order
	// link is LINK for A = NewType('A', B) and DASHED_LINK for an alias
	// (A = B, A: TypeAlias = B, type A = B), to the class linkTo names;
	// an alias has B as its only base, so that A() and A.m resolve as B's.
	link   ingest.Relation
	linkTo *node
	vals   map[string][]valueAt // values assigned to attributes (class body, self.x = … in methods)

	mro     []*class
	mroDone bool
}

type bindKind int

const (
	bLocal  bindKind = iota // a local name (val: the type of its values)
	bDef                    // a definition of the tree (def)
	bImport                 // an import (target: absolute dotted name)
	bSelf                   // the first parameter of a method (cls: its class)
)

// binding is what a name stands for in a scope.
type binding struct {
	kind   bindKind
	def    *def
	target string
	cls    *class
	val    typeAcc
}

// declare collects the module's definitions and imports.
func (m *module) declare() {
	m.syms = map[string]*binding{}
	if m.root == nil {
		return
	}
	vars, forTargets := m.declareTopLevel()
	m.declareVariables(vars, forTargets)
	m.foreign = map[string]bool{}
	for _, a := range vars {
		m.storeForeign(a, "")
	}
	for _, u := range m.units {
		if globals := m.declareGlobals(u); globals != nil {
			m.globalValues(u, globals)
		}
	}
}

// declareTopLevel declares the module's functions, classes, imports and
// type aliases, outside functions and classes, and returns its
// assignments and for-loop targets for declareVariables. Functions,
// classes and imports come first, so that a variable of the same name
// (try: import x / except: x = None) does not shadow them.
func (m *module) declareTopLevel() (vars, forTargets []*node) {
	var walk func(n *node)
	walk = func(n *node) {
		for _, k := range n.kids {
			switch k.kind {
			case "function_definition", "class_definition", "decorated_definition":
				d := m.declareDef(k, m.name, nil)
				if d != nil {
					m.bindDef(d)
				}
			case "import_statement", "import_from_statement":
				m.importBindings(k, func(name string, b *binding) {
					if m.syms[name] == nil {
						m.syms[name] = b
					}
				}, true)
			case "assignment":
				vars = append(vars, k)
			case "type_alias_statement":
				m.declareTypeAlias(k)
			case "for_statement":
				forTargets = append(forTargets, targetNames(k.child("left"))...)
				walk(k)
			case "lambda", "call":
			default:
				walk(k)
			}
		}
	}
	walk(m.root)
	return vars, forTargets
}

// declareVariables records the values module-level assignments and
// for-loops give each name, and declares as a variable each assigned
// name not already bound.
func (m *module) declareVariables(vars, forTargets []*node) {
	m.vals = map[string][]valueAt{}
	for _, id := range forTargets { // not variables, but they rebind one
		m.vals[id.text(m.src)] = append(m.vals[id.text(m.src)], valueAt{m: m})
	}
	for _, a := range vars {
		eachTarget(a, func(id, value *node, whole bool) {
			if id.kind != "identifier" {
				return
			}
			name := id.text(m.src)
			if value != nil || a.child("right") != nil { // x: T alone assigns nothing
				m.vals[name] = append(m.vals[name], valueAt{m: m, v: value})
			}
			if m.syms[name] != nil {
				return
			}
			d := &def{kind: ingest.Variable, name: name, qname: m.name + "." + name, mod: m,
				n: a, line: a.line, end: a.endLine, typNode: id, nameNode: id}
			if whole {
				d.typ = a.child("type")
				if value != nil && value.kind == "call" {
					d.ctor = value
				}
			}
			m.defs = append(m.defs, d)
			m.syms[name] = &binding{kind: bDef, def: d}
		})
	}
}

// storeForeign records in m.foreign the attributes assignment n stores
// through another object than self (any object when self is "").
func (m *module) storeForeign(n *node, self string) {
	eachTarget(n, func(t, _ *node, _ bool) {
		if obj, attr := t.child("object"), t.child("attribute"); t.kind == "attribute" && obj != nil && attr != nil &&
			(self == "" || obj.kind != "identifier" || obj.text(m.src) != self) {
			m.foreign[attr.text(m.src)] = true
		}
	})
}

// declareGlobals walks the body of unit u, nested definitions aside,
// recording the foreign attributes it stores and declaring as module
// variables the names it declares global that are assigned nowhere at
// module level. It returns the names declared global, nil when none.
func (m *module) declareGlobals(u *def) map[string]bool {
	var globals map[string]bool
	self := ""
	if u.owner != nil && !u.static {
		self = firstParam(u.n, m.src)
	}
	eachNode(u.n.child("body"), func(n *node) bool {
		if n.kind == "function_definition" || n.kind == "class_definition" || n.kind == "lambda" {
			return false
		}
		if n.kind == "assignment" {
			m.storeForeign(n, self)
		}
		if n.kind == "global_statement" {
			if globals == nil {
				globals = map[string]bool{}
			}
			for _, id := range n.kids {
				globals[id.text(m.src)] = true
			}
			for _, id := range n.kids {
				name := id.text(m.src)
				if id.kind != "identifier" || m.syms[name] != nil {
					continue
				}
				d := &def{kind: ingest.Variable, name: name, qname: m.name + "." + name, mod: m,
					n: n, line: n.line, end: n.endLine, nameNode: id}
				m.defs = append(m.defs, d)
				m.syms[name] = &binding{kind: bDef, def: d}
			}
		}
		return true
	})
	return globals
}

// globalValues records what unit u assigns to the names it declares
// global: that counts for their types too.
func (m *module) globalValues(u *def, globals map[string]bool) {
	eachAssignment(u.n.child("body"), func(n *node) {
		if n.kind == "for_statement" {
			for _, id := range targetNames(n.child("left")) {
				if globals[id.text(m.src)] {
					m.vals[id.text(m.src)] = append(m.vals[id.text(m.src)], valueAt{m: m})
				}
			}
			return
		}
		eachTarget(n, func(id, value *node, _ bool) {
			if name := id.text(m.src); id.kind == "identifier" && globals[name] {
				m.vals[name] = append(m.vals[name], valueAt{m: m, v: value, fn: u})
			}
		})
	})
}

// declareTypeAlias declares type A = B: a class, whatever B is (as Go's
// type A = []int), aliasing B.
func (m *module) declareTypeAlias(n *node) {
	left, right := unwrapType(n.child("left")), unwrapType(n.child("right"))
	if left != nil && left.kind == "generic_type" && len(left.kids) > 0 { // type A[T] = …
		left = left.kids[0]
	}
	if left == nil || right == nil || left.kind != "identifier" || m.syms[left.text(m.src)] != nil {
		return
	}
	name := left.text(m.src)
	d := &def{kind: ingest.Class, name: name, qname: m.name + "." + name, mod: m, n: n, line: n.line,
		end: n.endLine, nameNode: left}
	d.cls = &class{def: d, members: map[string]*def{}, link: ingest.DashedLink, linkTo: right,
		bases: []*node{right}, vals: map[string][]valueAt{}}
	m.defs = append(m.defs, d)
	m.classes = append(m.classes, d.cls)
	m.syms[name] = &binding{kind: bDef, def: d}
}

// unwrapType is the expression a type node holds.
func unwrapType(n *node) *node {
	for n != nil && n.kind == "type" && len(n.kids) == 1 {
		n = n.kids[0]
	}
	return n
}

// bindDef binds a module-level function or class; a later definition of
// the same name keeps the first node (conditional definitions).
func (m *module) bindDef(d *def) {
	if b := m.syms[d.name]; b == nil || b.kind != bDef {
		m.syms[d.name] = &binding{kind: bDef, def: d}
	}
}

// declareDef declares a function or class (possibly decorated) under
// prefix; owner is the class of a method. It returns nil for a name
// already declared under prefix.
func (m *module) declareDef(n *node, prefix string, owner *class) *def {
	var decorators []*node
	if n.kind == "decorated_definition" {
		for _, k := range n.kids {
			if k.kind == "decorator" {
				decorators = append(decorators, k)
			}
		}
		n = n.child("definition")
		if n == nil {
			return nil
		}
	}
	nameNode := n.child("name")
	if nameNode == nil {
		return nil
	}
	name := nameNode.text(m.src)
	d := &def{name: name, qname: prefix + "." + name, mod: m, n: n, line: n.line, end: n.endLine,
		owner: owner, decorators: decorators, nameNode: nameNode}
	if owner != nil {
		if old := owner.members[name]; old != nil {
			if old.kind == ingest.Function && n.kind == "function_definition" {
				old.sameName = append(old.sameName, d) // property setter, overloads: one node
			}
			return nil
		}
		owner.members[name] = d
	} else if b := m.syms[name]; b != nil && b.kind == bDef {
		if b.def.kind == ingest.Function && n.kind == "function_definition" {
			b.def.sameName = append(b.def.sameName, d)
		}
		return nil
	}
	switch n.kind {
	case "function_definition":
		d.kind = ingest.Function
		for _, dec := range decorators {
			if t := strings.TrimSpace(strings.TrimPrefix(dec.text(m.src), "@")); t == "staticmethod" {
				d.static = true
			}
		}
		m.defs = append(m.defs, d)
		m.units = append(m.units, d)
	case "class_definition":
		d.kind = ingest.Class
		c := &class{def: d, members: map[string]*def{}}
		d.cls = c
		m.defs = append(m.defs, d)
		m.classes = append(m.classes, c)
		if sc := n.child("superclasses"); sc != nil {
			for _, b := range sc.kids {
				if b.kind == "keyword_argument" {
					if k := b.child("name"); k != nil && k.text(m.src) == "metaclass" {
						c.meta = b.child("value")
					}
					continue
				}
				c.bases = append(c.bases, b)
			}
		}
		m.declareClassBody(c, n.child("body"))
	default:
		return nil
	}
	return d
}

// declareClassBody declares methods, nested classes and attributes: the
// names assigned in the class body and the self.x assigned in __init__.
func (m *module) declareClassBody(c *class, body *node) {
	if body == nil {
		return
	}
	var assigns []*node
	var walk func(n *node)
	walk = func(n *node) {
		for _, k := range n.kids {
			switch k.kind {
			case "function_definition", "class_definition", "decorated_definition":
				m.declareDef(k, c.def.qname, c)
			case "assignment":
				assigns = append(assigns, k)
			case "lambda", "call":
			default:
				walk(k)
			}
		}
	}
	walk(body)
	addAttr := func(name string, stmt, at, typ, ctor *node) {
		if c.members[name] != nil {
			return
		}
		d := &def{kind: ingest.Variable, name: name, qname: c.def.qname + "." + name, mod: m, n: stmt,
			line: stmt.line, end: stmt.endLine, owner: c, typ: typ, ctor: ctor, typNode: at, nameNode: at}
		c.members[name] = d
		c.attrs = append(c.attrs, d)
		m.defs = append(m.defs, d)
	}
	c.vals = map[string][]valueAt{}
	for _, a := range assigns {
		eachTarget(a, func(id, value *node, whole bool) {
			if id.kind != "identifier" {
				return
			}
			var typ, ctor *node
			if whole {
				typ = a.child("type")
				if value != nil && value.kind == "call" {
					ctor = value
				}
			}
			addAttr(id.text(m.src), a, id, typ, ctor)
			if value != nil || a.child("right") != nil {
				c.vals[id.text(m.src)] = append(c.vals[id.text(m.src)], valueAt{m: m, v: value})
			}
		})
	}
	// self.x = … in __init__ declares x; in any method it adds a value.
	init := c.members["__init__"]
	if init != nil && (init.kind != ingest.Function || init.owner != c) {
		init = nil
	}
	var methods []*def
	if init != nil {
		methods = append(methods, init)
	}
	for _, d := range c.def.mod.defs {
		if d.owner == c && d.kind == ingest.Function && d != init {
			methods = append(methods, d)
		}
	}
	for _, d := range methods {
		for _, x := range append([]*def{d}, d.sameName...) {
			self := firstParam(x.n, m.src)
			if self == "" || x.static {
				continue
			}
			eachAssignment(x.n.child("body"), func(n *node) {
				if n.kind != "assignment" {
					return
				}
				eachTarget(n, func(t, value *node, whole bool) {
					obj, attr := t.child("object"), t.child("attribute")
					if t.kind != "attribute" || obj == nil || attr == nil || obj.kind != "identifier" || obj.text(m.src) != self {
						return
					}
					name := attr.text(m.src)
					if d == init {
						var typ, ctor *node
						if whole {
							typ = n.child("type")
							if value != nil && value.kind == "call" {
								ctor = value
							}
						}
						addAttr(name, n, attr, typ, ctor)
					}
					if value != nil || n.child("right") != nil {
						c.vals[name] = append(c.vals[name], valueAt{m: m, v: value, fn: x})
					}
				})
			})
		}
	}
}

// eachAssignment calls f for the assignments and for statements of a
// function body, not those of functions, classes and lambdas inside it.
func eachAssignment(body *node, f func(*node)) {
	eachNode(body, func(n *node) bool {
		switch n.kind {
		case "function_definition", "class_definition", "lambda":
			return false
		case "assignment", "for_statement":
			f(n)
		}
		return true
	})
}

// eachTarget calls f for every identifier and attribute an assignment
// assigns, chained ones too (a = b = v), with the value (nil when a tuple
// is unpacked from something other than a tuple of as many values) and
// whether the target is a whole left side.
func eachTarget(a *node, f func(t, value *node, whole bool)) {
	value := assigned(a)
	for n := a; n != nil && n.kind == "assignment"; n = n.child("right") {
		eachTargetOf(n.child("left"), value, true, f)
	}
}

func eachTargetOf(t, v *node, whole bool, f func(t, value *node, whole bool)) {
	if t == nil {
		return
	}
	switch t.kind {
	case "identifier", "attribute":
		f(t, v, whole)
	case "parenthesized_expression":
		if len(t.kids) == 1 {
			eachTargetOf(t.kids[0], v, whole, f)
		}
	case "pattern_list", "tuple_pattern", "list_pattern", "expression_list", "tuple", "list", "list_splat_pattern":
		var vs []*node
		if v != nil && (v.kind == "expression_list" || v.kind == "tuple" || v.kind == "list") && len(v.kids) == len(t.kids) {
			vs = v.kids
		}
		for i, k := range t.kids {
			var kv *node
			if vs != nil && t.kind != "list_splat_pattern" && k.kind != "list_splat_pattern" {
				kv = vs[i]
			}
			eachTargetOf(k, kv, false, f)
		}
	}
}

// firstParam is the name of a function's first parameter, "" if none.
func firstParam(fn *node, src []byte) string {
	ps := fn.child("parameters")
	if ps == nil || len(ps.kids) == 0 {
		return ""
	}
	p := ps.kids[0]
	switch p.kind {
	case "identifier":
		return p.text(src)
	case "typed_parameter":
		if id := p.firstOf("identifier"); id != nil {
			return id.text(src)
		}
	case "default_parameter", "typed_default_parameter":
		if id := p.child("name"); id != nil {
			return id.text(src)
		}
	}
	return ""
}

// targetNames are the identifiers an assignment target binds.
func targetNames(t *node) []*node {
	if t == nil {
		return nil
	}
	switch t.kind {
	case "identifier":
		return []*node{t}
	case "pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern", "parenthesized_expression", "expression_list", "tuple", "list":
		var out []*node
		for _, k := range t.kids {
			out = append(out, targetNames(k)...)
		}
		return out
	}
	return nil
}

// eachNode visits n and its descendants depth first; f returning false
// skips the node's children.
func eachNode(n *node, f func(*node) bool) {
	if n == nil || !f(n) {
		return
	}
	for _, k := range n.kids {
		eachNode(k, f)
	}
}

// importBindings calls bind for every name an import statement binds.
// Module-level star imports are remembered in m.wildcards.
func (m *module) importBindings(n *node, bind func(string, *binding), top bool) {
	switch n.kind {
	case "import_statement":
		for _, k := range n.children("name") {
			switch k.kind {
			case "dotted_name":
				full := k.text(m.src)
				first, _, _ := strings.Cut(full, ".")
				bind(first, &binding{kind: bImport, target: first})
			case "aliased_import":
				if nm, al := k.child("name"), k.child("alias"); nm != nil && al != nil {
					bind(al.text(m.src), &binding{kind: bImport, target: nm.text(m.src)})
				}
			}
		}
	case "import_from_statement":
		mn := n.child("module_name")
		if mn == nil {
			return
		}
		base := m.absolute(mn)
		if base == "" || base == "__future__" {
			return
		}
		if n.firstOf("wildcard_import") != nil {
			if top {
				m.wildcards = append(m.wildcards, base)
			}
			return
		}
		for _, k := range n.children("name") {
			switch k.kind {
			case "dotted_name":
				bind(k.text(m.src), &binding{kind: bImport, target: base + "." + k.text(m.src)})
			case "aliased_import":
				if nm, al := k.child("name"), k.child("alias"); nm != nil && al != nil {
					bind(al.text(m.src), &binding{kind: bImport, target: base + "." + nm.text(m.src)})
				}
			}
		}
	}
}

// absolute is the absolute module name of an import's module_name: a
// dotted_name as is, a relative_import resolved against m ("" if it goes
// above the top).
func (m *module) absolute(mn *node) string {
	if mn.kind != "relative_import" {
		return strings.Join(strings.Fields(mn.text(m.src)), "")
	}
	dots := 0
	rest := ""
	for _, k := range mn.kids {
		switch k.kind {
		case "import_prefix":
			dots = strings.Count(k.text(m.src), ".")
		case "dotted_name":
			rest = k.text(m.src)
		}
	}
	parts := strings.Split(m.name, ".")
	if !m.isPkg {
		parts = parts[:len(parts)-1] // the package holding the module
	}
	up := dots - 1
	if up > len(parts) {
		return ""
	}
	parts = parts[:len(parts)-up]
	if rest != "" {
		parts = append(parts, rest)
	}
	return strings.Join(parts, ".")
}
