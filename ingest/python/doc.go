// Package python is Grafo's Python frontend: it turns the Python files of
// a tree into graph facts (ingest.FileFacts). Importing it registers the
// frontend with package ingest. It parses with tree-sitter
// (github.com/tree-sitter/go-tree-sitter and tree-sitter-python), which
// needs cgo: built with CGO_ENABLED=0 the package registers no frontend,
// and ingest reports the Python files it leaves out and why.
//
// Design:
//
//   - When any Python file changed, every one of the tree is parsed (two
//     goroutines or GOMAXPROCS, a parser each) and its tree copied into
//     Go memory at once; calls resolve across modules, so the declarations
//     of unchanged files are needed, but only changed files are emitted.
//   - Resolution is by name and by light, flow-insensitive type inference
//     (types.go), computed on demand and memoized: module symbols
//     (definitions, imports, star imports of modules of the tree),
//     function scopes (parameters, assigned names, global and nonlocal,
//     imports inside functions), self and cls, and the types of values.
//     A value's type comes from a parameter's annotation (kept when
//     stored on self), a return annotation (f = make() where
//     def make() -> C), C(...) (of the tree, or an external class:
//     builtins, CapWords names, socket.socket and a few others), with C()
//     as x (C's __enter__ returning self or annotated), except E as e, a
//     name holding a class or function (cls = C), and literals ("…",
//     [...], {...}: builtins.str, list, dict…). A name's type is the one
//     all its values agree on (None aside): a local's assignments, a
//     module variable's assignments including those under global in
//     functions, an attribute's class-body values and self.x = … in every
//     method of its class and bases (none when the tree also assigns an
//     attribute of that name through another object: x.attr = …). Values that disagree, for targets,
//     tuples unpacked from a call, anything unknown make it unknown. An
//     unannotated parameter among the values makes the type a maybe:
//     what is found through it is dynamic.

// How Python maps onto the graph:
//
//   - Module names are dotted paths from the package root (the parent of
//     the topmost directory of a chain of __init__.py directories), else
//     from the tree's root: pkg/sub/mod.py is pkg.sub.mod, pkg/__init__.py
//     is pkg; when the tree's root is a package its base name comes first
//     (ingesting .../json gives json.decoder). A second file with the same
//     module name (mod.py and mod/__init__.py) gets a diagnostic and no
//     facts; a .pyi stub is analysed only when its .py is missing.
//   - FUNCTION module.func and module.Class.method (nested classes:
//     module.Outer.Inner.method); CLASS module.Class; VARIABLE module.VAR
//     (names assigned at module level, including in if/try blocks, and
//     names only declared global in a function), module.Class.attr (names
//     assigned in the class body and self.attr assigned in __init__).
//     Every target of a chained assignment (a = b = c = x) and of a tuple
//     or list target ((self.host, self.port) = …) is declared. A name both
//     imported and assigned (try: import x / except: x = None) is the
//     import: no VARIABLE, and calls through it go to the module.
//     Module-level for targets are not variables (loop temporaries).
//     Functions and classes win over a variable of the same name; later
//     definitions of a name (a property's setter, conditional
//     definitions) are one node, the first, and their bodies count as its.
//   - Code run at import (module level and class bodies) belongs to
//     FUNCTION module.<module>, spanning the file, present only when that
//     code has edges — like Go's init@file.
//   - CALLS: through imports (import m, import m as n, from m import f as
//     g, relative imports), self.m() and cls.m() along the class's bases
//     (depth-first, left to right, each base once), super().m() from the
//     next base, C() to C.__init__ (own or inherited) or to the class when
//     there is none, x.m() where x's type is inferred (above). These are
//     static. self.m() also CALLS (dynamic) every override of m in
//     subclasses of the tree. A call through a variable or attribute
//     holding a class or function of the tree (cls = C; cls(), a class
//     attribute factory = C; self.factory()) is dynamic, as in Go, and so
//     is anything found through a maybe type. Calls to names outside the
//     tree (the standard library, dependencies, builtins as builtins.len)
//     and methods of external classes whose receiver's class is known
//     ("…".format as builtins.str.format, self._lock.acquire() after
//     self._lock = threading.RLock() as threading.RLock.acquire: the class
//     as called, not where the method is defined) go to external FUNCTION
//     nodes. Where nothing is known there is no edge: no guess by name.
//   - Calls and uses inside nested functions, lambdas and comprehensions
//     belong to the enclosing function or method; parameter defaults too.
//   - Decorators: the decorated function CALLS the decorator (@d and
//     @m.d; for @d(args) it CALLS the factory d, and the calls in args are
//     its own too); @property, @staticmethod, @classmethod and
//     @x.setter/getter/deleter add nothing; a class decorator is called by
//     module.<module>.
//   - READS/WRITES/REFERENCES of module variables and attributes (through
//     m.VAR, self.attr, cls.attr, Class.attr, or a variable of known
//     class): an assignment of the name writes the module variable only
//     under global (otherwise it makes a local); x[i] = …, x.f = …, del
//     x[i], x += … write x; the whole right side of an assignment, a whole
//     argument, a returned value REFERENCE it; any other use READS it.
//     When only a prefix of a chain is a variable (self.items.append) the
//     use is of that variable. Assignments at module level declare, they
//     do not write; self.x = … in __init__ does write. Names used in
//     annotations are not READ: annotations make the class relations
//     below, not uses.
//   - Class → class, one edge per relation and pair, at its first place:
//     INHERITANCE to bases of the tree; REALIZATION instead when the base
//     derives directly from typing.Protocol or abc.ABC or has metaclass
//     abc.ABCMeta (and the class itself is not one: a Protocol extending a
//     Protocol inherits it); COMPOSITION for an attribute assigned C(…);
//     AGGREGATION for an attribute annotated with a container of a class
//     (list[C], dict[str, C], Optional[list[C]]); ASSOCIATION for one
//     annotated with the class (C, Optional[C], C | None, "C");
//     DEPENDENCY for classes in methods' parameter and return annotations
//     with no stronger relation. Classes outside the tree are targets too,
//     as external CLASS nodes (classes.go: bases, builtins included, except
//     Protocol, Generic, ABC and object; attributes and annotations,
//     builtins aside). A = NewType('A', B) is CLASS A LINK B; a
//     module-level A = B of a class (assigned once), A: TypeAlias = B and
//     type A = B are CLASS A DASHED_LINK B, whose members are B's.
//   - Occurrences (occurrences.go): every identifier that resolves to a
//     node, with the role of its edge (a callee's name names what the
//     CALLS edge names), class names in annotations and bases as type
//     uses, names brought in by from-imports, definitions at the declaring
//     names; columns count characters.
//   - Spans: line is where the def or class keyword (or the assignment)
//     starts, endLine the last line of its code: a comment trailing a
//     body, which tree-sitter keeps inside it, does not count.
//   - The language record is python with requires-python of the topmost
//     pyproject.toml, else the topmost .python-version, else no version.
//   - A file that does not parse is recorded with whatever tree-sitter
//     recovered and one "syntax error at line N" diagnostic per line
//     holding an innermost ERROR node or a missing token (at most 10).
//   - Only the facts of changed files are rewritten, so an edge that an
//     unchanged file would gain from a change elsewhere (a new override, a
//     type inferred from another module) appears when that file is next
//     changed or the graph is ingested afresh.
package python
