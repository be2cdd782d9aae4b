// Package golang is Grafo's Go frontend: it turns the Go files of a tree
// into graph facts (ingest.FileFacts) as docs/mapping.md's table says.
// Importing it registers the frontend with package ingest.
//
// Design:
//
//   - Every module of the tree (every go.mod) is loaded from its own
//     directory with golang.org/x/tools/go/packages ("./...", GOWORK off,
//     with tests when the tree holds _test.go files: each package's test
//     variant stands for the package, external _test packages are
//     analysed on their own): go list's metadata, then parsed and
//     type-checked here (typecheck.go), dependencies first. Only the
//     analysed packages keep syntax and types.Info, until their facts are
//     out; the rest are checked for their declarations only: packages go
//     list recompiles for a test ("fmt [strconv.test]"), the standard
//     library and dependencies (parsed without bodies). The tree's
//     packages of another module (cmd imports std) still have their bodies
//     checked, without types.Info, since their errors decide where SSA is
//     built. A module none of whose files changed is not loaded at all.
//   - Declarations, static calls, variable and field uses and class
//     relations come from the syntax and go/types. Dynamic calls (through
//     interfaces and function values) come from go/ssa and the call-graph
//     algorithm chosen (static, cha, vta); "static" builds no SSA. SSA is
//     built only for well-typed packages, and dropped as soon as the
//     dynamic call sites are indexed; CHA's edges go straight to that
//     index (no call graph of every static call is built). For CHA the
//     program is built a package at a time while the packages are still
//     being checked (pipeline.go): each package as soon as it and the
//     analysed packages it imports are done, its bodies summarised (call
//     sites, functions used, conversions to interfaces: bodies.go) and
//     freed at once, and its types.Info cut to what extraction reads, so
//     neither the whole program's bodies nor the tree's full types.Info
//     ever live together; then the package is extracted at once and its
//     syntax and types.Info released, the parts that need the whole
//     module (dynamic callees, realizations, the dependencies a
//     realization overrules) completed once it is indexed (early.go);
//     meanwhile the extracted facts wait on disk (spool.go), and the
//     dynamic calls' index stores each callee once (dyn.go).
//     VTA reads the bodies themselves and keeps them all until it is done. The call graph covers every function
//     the tree declares and its closures, reachable or not; CHA's
//     candidates are those functions plus the methods of the exported
//     types of the packages the tree imports directly; a function value
//     reaches only functions used as values; functions of _test.go files
//     are reached only from code linked into the same test binary.
//   - Packages with errors are still extracted from whatever go/types
//     resolved; each error becomes a diagnostic of the file it points at.
//   - A change re-analyses the whole tree, and Run writes the files whose
//     facts changed — except a change that provably reaches no other
//     file (incremental.go): each whole-tree analysis records, on the
//     ingesting machine, a digest per file of what it gives the rest of
//     the tree (its text outside function bodies; the functions its
//     bodies use as values or call, and the types they convert to
//     interfaces) and what CHA found for each kind of dynamic call. When
//     the record describes exactly what the graph holds and every changed
//     file keeps its digest, only the changed files' packages are loaded
//     (dependencies without bodies), their dynamic calls and realizations
//     answered from the record (contrib.go, narrow.go).
//
// Interpretations of the mapping table worth knowing:
//
//   - Code that runs at package initialisation (init functions and
//     package-level variable initialisers, closures in them included)
//     belongs to a FUNCTION node named importpath.init@file.go, one per
//     file, since Go allows many init functions per package.
//   - Types from outside the tree that the tree's types relate to are
//     external CLASS nodes (io.Reader, net/http.Handler, error), carried by
//     each file whose edges reach them, as called external functions are.
//     REALIZATION reaches the non-empty interfaces of the tree, of the
//     packages it imports directly, and error.
//   - A struct field of a named non-interface type by value is COMPOSITION
//     (the table's "named struct type" generalised to every named type);
//     containers ([]I, map[K]I, *I) of a named interface are ASSOCIATION;
//     map keys and type arguments are held like container elements
//     (AGGREGATION); a function-typed field DEPENDS on the named types of
//     its signature. A field of the type's own type (parent *node) relates
//     the type to itself.
//   - A DEPENDENCY pair is one edge, owned by the package's first method
//     (files in order) whose signature names the type.
//   - delete, clear, close and a send WRITE their variable; *p = v writes
//     what p points to, which has no node: p is READ.
//   - Constants are only ever READ (they have no storage to reference).
//   - A key of a struct composite literal (T{F: x}) WRITES the field F.
//   - A call of a closure defined in the same function adds no self edge;
//     a closure defined in G and called from F is F CALLS G (dynamic).
//   - A call of a function value CALLS only the tree's functions the
//     algorithm finds (CHA would add every same-signature function of the
//     standard library); interface calls keep external implementations.
//   - Empty interfaces get no REALIZATION edges (every type would have one).
//   - Occurrences: every identifier that names a node of the graph is
//     recorded with its role — definition, call (the callee's name in a
//     call), read/write/reference (classified like the edges), reference
//     for a function used as a value, type for a type name — and columns in
//     characters. Locals, packages, builtins and symbols outside the tree
//     have no node and no occurrence, except called external functions.
//     An embedded field's name is both the field's definition and a use of
//     its type. Columns of edges count characters too.
package golang
