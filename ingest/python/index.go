//go:build cgo

package python

import (
	"strings"

	"github.com/grafo/grafo/ingest"
)

// index holds every module of the tree, for resolving names across them.
type index struct {
	mods map[string]*module // by module name
	defs map[string]*def    // by qualified name
	subs map[*class][]*class
	memo map[string]res // resolve's answers; star imports would otherwise make it exponential
	// foreign are the attribute names assigned through another object than
	// self somewhere (h.formatter = f): their values are not all known.
	foreign map[string]bool

	// Inference, computed on demand (types.go).
	types     map[*def]vtype
	attrTypes map[attrKey]vtype
	scopes    map[*def]*scope
}

func newIndex(mods []*module) *index {
	ix := &index{mods: map[string]*module{}, defs: map[string]*def{},
		subs: map[*class][]*class{}, memo: map[string]res{},
		types: map[*def]vtype{}, attrTypes: map[attrKey]vtype{}, scopes: map[*def]*scope{}}
	for _, m := range mods {
		if o := ix.mods[m.name]; o != nil {
			m.dup = true
			m.diags = append(m.diags, "module "+m.name+" is also defined by "+o.path+", which wins: not analysed")
			continue
		}
		ix.mods[m.name] = m
	}
	ix.foreign = map[string]bool{}
	for _, m := range mods {
		if !m.dup {
			m.declare()
			for a := range m.foreign {
				ix.foreign[a] = true
			}
		}
	}
	for _, m := range mods {
		if m.dup {
			continue
		}
		var keep []*def
		for _, d := range m.defs {
			if o := ix.defs[d.qname]; o != nil {
				continue // e.g. a module pkg.a and a name a in pkg/__init__.py
			}
			ix.defs[d.qname] = d
			keep = append(keep, d)
		}
		m.defs = keep
	}
	ix.linkAliases(mods)
	for _, m := range ix.mods {
		for _, c := range m.classes {
			for _, b := range ix.mro(c)[1:] {
				ix.subs[b] = append(ix.subs[b], c)
			}
		}
	}
	return ix
}

// res is what a name or expression resolves to.
type res struct {
	def      *def    // a definition of the tree
	mod      *module // a module of the tree
	self     *class  // self (or cls) of a method of this class
	external string  // a dotted name outside the tree
	lastVar  *def    // the last variable along an attribute chain
	name     string  // unresolved: the last name
	local    bool    // unresolved: a local variable
	val      vtype   // unresolved: the type of its value, if known
	maybe    bool    // found through a value that may be something else: dynamic
}

// classOf is the class r names, nil if none.
func (*index) classOf(r res) *class {
	if r.def != nil && r.def.kind == ingest.Class {
		return r.def.cls
	}
	return nil
}

// resolve resolves an absolute dotted name: a definition or module of the
// tree, else an external name when no prefix of it is a module of the tree.
func (ix *index) resolve(t string, depth int) res {
	if r, ok := ix.memo[t]; ok {
		return r
	}
	if depth > 10 {
		return res{name: last(t)}
	}
	ix.memo[t] = res{name: last(t)} // a cycle of imports resolves to nothing
	r := ix.resolveOnce(t, depth)
	ix.memo[t] = r
	return r
}

func (ix *index) resolveOnce(t string, depth int) res {
	if d := ix.defs[t]; d != nil {
		return res{def: d}
	}
	if m := ix.mods[t]; m != nil {
		return res{mod: m}
	}
	parts := strings.Split(t, ".")
	for i := len(parts) - 1; i >= 1; i-- {
		if m := ix.mods[strings.Join(parts[:i], ".")]; m != nil {
			return ix.member(m, parts[i:], depth)
		}
	}
	return res{external: t}
}

// member resolves the names rest inside module m.
func (ix *index) member(m *module, rest []string, depth int) res {
	b := m.syms[rest[0]]
	if b == nil {
		for _, w := range m.wildcards {
			if r := ix.resolve(w+"."+strings.Join(rest, "."), depth+1); r.def != nil || r.mod != nil || r.external != "" {
				return r
			}
		}
		return res{name: rest[len(rest)-1]}
	}
	switch b.kind {
	case bImport:
		return ix.resolve(strings.Join(append([]string{b.target}, rest[1:]...), "."), depth+1)
	case bDef:
		return ix.attrs(b.def, rest[1:])
	}
	return res{name: rest[len(rest)-1]}
}

// attrs follows the attribute names rest from the definition d: members
// of classes, and of variables whose type is known.
func (ix *index) attrs(d *def, rest []string) res {
	for i, name := range rest {
		switch d.kind {
		case ingest.Variable:
			r := ix.memberOf(ix.varType(d), rest[i:])
			if r.lastVar == nil {
				r.lastVar = d
			}
			return r
		case ingest.Function:
			return res{name: rest[len(rest)-1]}
		}
		if d = ix.lookup(d.cls, name); d == nil {
			return res{name: rest[len(rest)-1]}
		}
	}
	r := res{def: d}
	if d.kind == ingest.Variable {
		r.lastVar = d
	}
	return r
}

// lookup finds a member of c or of its bases in method resolution order.
func (ix *index) lookup(c *class, name string) *def {
	for _, k := range ix.mro(c) {
		if d := k.members[name]; d != nil {
			return d
		}
	}
	return nil
}

// mro is c followed by its bases of the tree, depth first, left to right,
// each once (a simplification of C3 that agrees with it on the usual
// hierarchies).
func (ix *index) mro(c *class) []*class {
	if c.mroDone {
		return c.mro
	}
	c.mroDone = true // cycles stop here
	c.mro = []*class{c}
	seen := map[*class]bool{c: true}
	for _, b := range c.bases {
		bc := ix.classOf(ix.exprAt(c.def.mod, nil, stripSubscript(b)))
		if bc == nil {
			continue
		}
		for _, k := range ix.mro(bc) {
			if !seen[k] {
				seen[k] = true
				c.mro = append(c.mro, k)
			}
		}
	}
	return c.mro
}

// stripSubscript turns Base[T] into Base.
func stripSubscript(n *node) *node {
	for n != nil && (n.kind == "subscript" || n.kind == "generic_type") {
		if v := n.child("value"); v != nil {
			n = v
		} else if len(n.kids) > 0 {
			n = n.kids[0]
		} else {
			break
		}
	}
	return n
}

// chain is the dotted names of an identifier or attribute chain with the
// node of each name, nil if n is something else.
func chain(n *node, src []byte) ([]string, []*node) {
	switch n.kind {
	case "identifier":
		return []string{n.text(src)}, []*node{n}
	case "attribute":
		obj, attr := n.child("object"), n.child("attribute")
		if obj == nil || attr == nil {
			return nil, nil
		}
		names, nodes := chain(obj, src)
		if names == nil {
			return nil, nil
		}
		return append(names, attr.text(src)), append(nodes, attr)
	}
	return nil, nil
}

// exprAt resolves an identifier or attribute chain in scope sc of module
// m (sc nil: the module scope).
func (ix *index) exprAt(m *module, sc *scope, n *node) res {
	if n == nil {
		return res{}
	}
	names, _ := chain(n, m.src)
	if names == nil {
		return res{}
	}
	return ix.names(m, sc, names)
}

// names resolves a dotted chain of names in scope sc of module m.
func (ix *index) names(m *module, sc *scope, names []string) res {
	b := sc.lookup(names[0])
	if b == nil {
		b = m.syms[names[0]]
		if b == nil {
			for _, w := range m.wildcards {
				if r := ix.resolve(w+"."+strings.Join(names, "."), 0); r.def != nil || r.mod != nil {
					return r
				}
			}
			if builtins[names[0]] {
				return res{external: "builtins." + strings.Join(names, ".")}
			}
			return res{name: names[len(names)-1]}
		}
	}
	switch b.kind {
	case bImport:
		return ix.resolve(strings.Join(append([]string{b.target}, names[1:]...), "."), 0)
	case bDef:
		return ix.attrs(b.def, names[1:])
	case bSelf:
		if len(names) == 1 {
			return res{self: b.cls}
		}
		return ix.memberOf(vtype{c: b.cls}, names[1:])
	default: // bLocal
		t := b.val.typ()
		if len(names) == 1 {
			return res{name: names[0], local: true, val: t}
		}
		return ix.memberOf(t, names[1:])
	}
}

func last(dotted string) string {
	if i := strings.LastIndexByte(dotted, '.'); i >= 0 {
		return dotted[i+1:]
	}
	return dotted
}

// builtins are the names of Python's builtins module; calls of them are
// calls of external functions builtins.NAME.
var builtins = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`abs aiter all anext any ascii bin bool breakpoint bytearray bytes
		callable chr classmethod compile complex delattr dict dir divmod enumerate eval exec filter float
		format frozenset getattr globals hasattr hash help hex id input int isinstance issubclass iter len
		list locals map max memoryview min next object oct open ord pow print property range repr reversed
		round set setattr slice sorted staticmethod str sum super tuple type vars zip __import__
		BaseException BaseExceptionGroup Exception ExceptionGroup ArithmeticError AssertionError
		AttributeError BlockingIOError BrokenPipeError BufferError ChildProcessError ConnectionAbortedError
		ConnectionError ConnectionRefusedError ConnectionResetError EOFError EnvironmentError
		FileExistsError FileNotFoundError FloatingPointError GeneratorExit IOError ImportError
		IndentationError IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt
		LookupError MemoryError ModuleNotFoundError NameError NotADirectoryError NotImplementedError
		OSError OverflowError PermissionError ProcessLookupError RecursionError ReferenceError
		RuntimeError StopAsyncIteration StopIteration SyntaxError SystemError SystemExit TabError
		TimeoutError TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError
		UnicodeTranslateError ValueError ZeroDivisionError Warning UserWarning DeprecationWarning
		PendingDeprecationWarning SyntaxWarning RuntimeWarning FutureWarning ImportWarning
		UnicodeWarning BytesWarning ResourceWarning EncodingWarning`) {
		builtins[n] = true
	}
}
