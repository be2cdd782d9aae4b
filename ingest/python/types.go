//go:build cgo

package python

import (
	"strings"
	"unicode"

	"github.com/grafo/grafo/ingest"
)

// vtype is what the frontend knows of a value: an instance of a class of
// the tree (c), an instance of a class outside it (ext, its dotted name as
// called: threading.RLock, builtins.str), or a class or function of the
// tree itself (of: cls = C, f = helper). maybe says it may also be
// whatever a caller passes (an unannotated parameter is among its
// values): what is resolved through it makes dynamic edges. The zero
// value is unknown.
type vtype struct {
	c     *class
	ext   string
	of    *def
	maybe bool
}

func (t vtype) known() bool { return t.c != nil || t.ext != "" || t.of != nil }

// typeAcc folds the types of the values a name is assigned: one type when
// every value has it (None aside, the usual "not yet"; an unannotated
// parameter makes it maybe), unknown as soon as two differ or one is
// unknown. Inference is flow-insensitive, so this is what keeps it sound.
type typeAcc struct {
	t                vtype
	set, mixed, open bool
}

func (a *typeAcc) add(t vtype, none bool) {
	if none || a.mixed {
		return
	}
	if t.maybe {
		a.open, t.maybe = true, false
		if !t.known() {
			return
		}
	}
	switch {
	case !t.known():
		a.t, a.mixed = vtype{}, true
	case !a.set:
		a.t, a.set = t, true
	case a.t != t:
		a.t, a.mixed = vtype{}, true
	}
}

func (a *typeAcc) typ() vtype {
	if a.mixed {
		return vtype{}
	}
	t := a.t
	t.maybe = a.open
	return t
}

// valueAt is a value assigned to a module variable or an attribute, and
// the function whose code assigns it (nil: module level or class body); a
// nil v is a value that is not known (a for target, a tuple unpacked from
// a call).
type valueAt struct {
	m  *module
	v  *node
	fn *def
}

// literalTypes are the builtin classes of literals and displays.
var literalTypes = map[string]string{"string": "builtins.str", "concatenated_string": "builtins.str",
	"list": "builtins.list", "list_comprehension": "builtins.list", "dictionary": "builtins.dict",
	"dictionary_comprehension": "builtins.dict", "set": "builtins.set", "set_comprehension": "builtins.set",
	"tuple": "builtins.tuple", "integer": "builtins.int", "float": "builtins.float", "true": "builtins.bool",
	"false": "builtins.bool"}

// externalClasses are lowercase names of classes outside the tree; other
// external names are taken for classes when they are CapWords (RLock,
// OrderedDict), the convention, and for functions otherwise (getLogger):
// calling a function gives nothing known.
var externalClasses = map[string]bool{"socket.socket": true, "collections.deque": true,
	"collections.defaultdict": true, "array.array": true, "datetime.datetime": true, "datetime.date": true,
	"datetime.time": true, "datetime.timedelta": true, "builtins.object": true, "builtins.memoryview": true,
	"builtins.range": true, "builtins.slice": true, "builtins.complex": true}

func init() {
	for _, c := range literalTypes {
		externalClasses[c] = true
	}
	for _, c := range []string{"bytes", "bytearray", "frozenset"} {
		externalClasses["builtins."+c] = true
	}
}

// isExternalClass reports whether the external dotted name q is taken for
// a class.
func isExternalClass(q string) bool {
	if externalClasses[q] {
		return true
	}
	if strings.HasPrefix(q, "typing.") || strings.HasPrefix(q, "typing_extensions.") {
		return false // NamedTuple, TypeVar, cast…: not classes of values
	}
	l := last(q)
	return l != "" && unicode.IsUpper(rune(l[0])) && strings.ToUpper(l) != l
}

// typeOf is the type of expression n in scope sc of module m, and whether
// n is None.
func (ix *index) typeOf(m *module, sc *scope, n *node) (vtype, bool) {
	if n == nil {
		return vtype{}, false
	}
	switch n.kind {
	case "none":
		return vtype{}, true
	case "string", "concatenated_string":
		s := n
		if n.kind == "concatenated_string" && len(n.kids) > 0 {
			s = n.kids[0]
		}
		if st := s.firstOf("string_start"); st != nil && strings.ContainsAny(st.text(m.src), "bB") {
			return vtype{ext: "builtins.bytes"}, false
		}
		return vtype{ext: "builtins.str"}, false
	case "parenthesized_expression":
		if len(n.kids) == 1 {
			return ix.typeOf(m, sc, n.kids[0])
		}
	case "identifier", "attribute":
		if names, _ := chain(n, m.src); names != nil {
			return ix.valueOf(ix.names(m, sc, names)), false
		}
	case "call":
		return ix.resultOf(m, sc, n), false
	case "conditional_expression", "boolean_operator":
		// a if c else b; a or b: the type both sides agree on (a and b
		// may be a's falsy value: unknown).
		var sides []*node
		if l, r := n.child("left"), n.child("right"); n.kind == "boolean_operator" {
			if l == nil || r == nil || strings.TrimSpace(string(m.src[l.end:r.start])) != "or" {
				return vtype{}, false
			}
			sides = []*node{l, r}
		} else if len(n.kids) == 3 {
			sides = []*node{n.kids[0], n.kids[2]}
		}
		var acc typeAcc
		for _, k := range sides {
			acc.add(ix.typeOf(m, sc, k))
		}
		return acc.typ(), false
	default:
		if c := literalTypes[n.kind]; c != "" {
			return vtype{ext: c}, false
		}
	}
	return vtype{}, false
}

// valueOf is the type of the value a resolved name stands for.
func (ix *index) valueOf(r res) vtype {
	var t vtype
	switch {
	case r.def != nil && r.def.kind == ingest.Variable:
		t = ix.varType(r.def)
	case r.def != nil:
		t = vtype{of: r.def}
	case r.self != nil:
		t = vtype{c: r.self}
	default:
		t = r.val
	}
	t.maybe = t.maybe || r.maybe
	return t
}

// resultOf is the type of what call n returns: an instance of the class
// called (of the tree, or outside it by isExternalClass), or of the class
// its function's return annotation names.
func (ix *index) resultOf(m *module, sc *scope, n *node) vtype {
	fn := n.child("function")
	if fn == nil {
		return vtype{}
	}
	var t vtype
	if names, _ := chain(fn, m.src); names != nil {
		r := ix.names(m, sc, names)
		if r.external != "" {
			if isExternalClass(r.external) {
				return vtype{ext: r.external}
			}
			return vtype{}
		}
		if r.self != nil && len(names) == 1 {
			return vtype{c: r.self} // cls()
		}
		t = ix.valueOf(r)
	} else if fn.kind == "attribute" {
		obj, _ := ix.typeOf(m, sc, fn.child("object"))
		if attr := fn.child("attribute"); attr != nil {
			t = ix.valueOf(ix.memberOf(obj, []string{attr.text(m.src)}))
		}
	}
	switch {
	case t.of != nil && t.of.kind == ingest.Class:
		return vtype{c: t.of.cls, maybe: t.maybe}
	case t.of != nil && t.of.kind == ingest.Function:
		rt := ix.returnType(t.of)
		rt.maybe = rt.maybe || t.maybe && rt.known()
		return rt
	}
	return vtype{}
}

// returnType is the class a function's return annotation names.
func (ix *index) returnType(d *def) vtype {
	if rt := d.n.child("return_type"); rt != nil {
		return ix.annotationType(d.mod, rt)
	}
	return vtype{}
}

// annotationType is the class an annotation names directly, if one: a
// class of the tree (C, Optional[C], "C"), or outside it when the
// annotation is just its name (int, socket.socket).
func (ix *index) annotationType(m *module, ann *node) vtype {
	var tree []*class
	direct, _ := ix.annotationClasses(m, ann)
	for _, t := range direct {
		if t.c != nil {
			tree = append(tree, t.c)
		}
	}
	if len(tree) == 1 {
		return vtype{c: tree[0]}
	}
	for ann.kind == "type" && len(ann.kids) == 1 {
		ann = ann.kids[0]
	}
	if names, _ := chain(ann, m.src); names != nil {
		if r := ix.names(m, nil, names); r.external != "" && isExternalClass(r.external) {
			return vtype{ext: r.external}
		}
	}
	return vtype{}
}

// memberOf resolves the attribute names rest of a value of type t: a
// member of its class of the tree, or a method of its class outside the
// tree (one name only: what an external method returns is not known).
func (ix *index) memberOf(t vtype, rest []string) res {
	r := ix.memberOf1(t, rest)
	r.maybe = r.maybe || t.maybe
	return r
}

func (ix *index) memberOf1(t vtype, rest []string) res {
	if len(rest) == 0 {
		return res{val: t}
	}
	c := t.c
	if t.of != nil && t.of.kind == ingest.Class {
		c = t.of.cls
	}
	switch {
	case c != nil:
		if d := ix.lookup(c, rest[0]); d != nil {
			return ix.attrs(d, rest[1:])
		}
		if len(rest) == 1 {
			return res{name: rest[0], val: ix.attrType(c, rest[0])}
		}
		return ix.memberOf(ix.attrType(c, rest[0]), rest[1:])
	case t.ext != "" && len(rest) == 1:
		return res{external: t.ext + "." + rest[0]}
	}
	return res{name: rest[len(rest)-1]}
}

// varType is the type of a module variable or attribute: its annotation's
// class, else the type all its assigned values agree on.
func (ix *index) varType(d *def) vtype {
	if d.typ != nil {
		if t := ix.annotationType(d.mod, d.typ); t.known() {
			return t
		}
	}
	if d.owner != nil {
		return ix.attrType(d.owner, d.name)
	}
	if t, ok := ix.types[d]; ok {
		return t
	}
	ix.types[d] = vtype{} // a cycle is unknown
	t := ix.valuesType(d.mod.vals[d.name])
	ix.types[d] = t
	return t
}

// attrType is the type of attribute name of instances of c: the values
// assigned to it in the class bodies and methods of c and its bases
// (self.x = … anywhere, not only in __init__); unknown when the tree also
// assigns an attribute of that name through another object (x.name = …),
// whose class is not known when declaring.
func (ix *index) attrType(c *class, name string) vtype {
	k := attrKey{c, name}
	if t, ok := ix.attrTypes[k]; ok {
		return t
	}
	ix.attrTypes[k] = vtype{}
	if ix.foreign[name] {
		return vtype{} // assigned through some other object: not all values known
	}
	var vals []valueAt
	for _, b := range ix.mro(c) {
		if d := b.members[name]; d != nil && d.kind == ingest.Variable && d.owner == b && d.typ != nil {
			if t := ix.annotationType(b.def.mod, d.typ); t.known() {
				ix.attrTypes[k] = t
				return t
			}
		}
		vals = append(vals, b.vals[name]...)
	}
	t := ix.valuesType(vals)
	ix.attrTypes[k] = t
	return t
}

type attrKey struct {
	c    *class
	name string
}

// valuesType folds the types of assigned values.
func (ix *index) valuesType(vals []valueAt) vtype {
	var acc typeAcc
	for _, v := range vals {
		if v.v == nil {
			return vtype{}
		}
		var sc *scope
		if v.fn != nil {
			if sc = ix.scopeOf(v.fn); sc == nil {
				return vtype{} // being built: a cycle
			}
		}
		acc.add(ix.typeOf(v.m, sc, v.v))
	}
	return acc.typ()
}

// scopeOf is the scope of function d's body, built once; nil while it is
// being built.
func (ix *index) scopeOf(d *def) *scope {
	if sc, ok := ix.scopes[d]; ok {
		return sc
	}
	ix.scopes[d] = nil
	sc := (&analyser{ix: ix, m: d.mod}).funcScope(d, d.n, nil)
	ix.scopes[d] = sc
	return sc
}

// enterType is the type with C() as x gives x: what C's __enter__ (of the
// tree) is annotated to return, or C when it returns self or is not in
// the tree (outside it, __enter__ returning self is the rule: files,
// sockets).
func (ix *index) enterType(m *module, sc *scope, val *node) vtype {
	t, _ := ix.typeOf(m, sc, val)
	if t.c == nil {
		if t.ext != "" {
			return t
		}
		return vtype{}
	}
	e := ix.lookup(t.c, "__enter__")
	if e == nil || e.kind != ingest.Function {
		return t
	}
	if rt := ix.returnType(e); rt.known() {
		return rt
	}
	if returnsSelf(e) {
		return t
	}
	return vtype{}
}

// returnsSelf reports whether every return of method d returns its first
// parameter, and there is one.
func returnsSelf(d *def) bool {
	self := firstParam(d.n, d.mod.src)
	n, ok := 0, self != ""
	eachNode(d.n.child("body"), func(x *node) bool {
		switch x.kind {
		case "function_definition", "class_definition", "lambda":
			return false
		case "return_statement":
			n++
			ok = ok && len(x.kids) == 1 && x.kids[0].kind == "identifier" && x.kids[0].text(d.mod.src) == self
		}
		return true
	})
	return ok && n > 0
}

// caughtType is the type except E as e gives e: an instance of E.
func (ix *index) caughtType(m *module, sc *scope, val *node) vtype {
	names, _ := chain(val, m.src)
	if names == nil {
		return vtype{}
	}
	r := ix.names(m, sc, names)
	if c := ix.classOf(r); c != nil {
		return vtype{c: c}
	}
	if r.external != "" && isExternalClass(r.external) {
		return vtype{ext: r.external}
	}
	return vtype{}
}
