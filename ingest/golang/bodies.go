package golang

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"
	"sync"

	"golang.org/x/tools/go/ssa"
)

// SSA bodies are most of the SSA program's memory, and the call-graph
// analysis reads only a few things of them: the call sites, the functions
// used as operands, the types converted to interfaces. bodies keeps those
// (a summary per function), so that indexDynamic can build the program a
// package at a time and drop each package's bodies once summarised,
// instead of holding every body of the program at once.

// callSite is what the analysis reads of one call instruction (an
// ssa.CallCommon without the values that keep its function's body alive).
type callSite struct {
	pos     token.Pos
	invoke  bool
	direct  bool          // the callee operand is an *ssa.Function (not invoke)
	builtin bool          // the callee operand is an *ssa.Builtin
	static  *ssa.Function // StaticCallee(), for calls that are not invoke
	iface   types.Type    // invoke: the underlying interface type of the receiver
	method  *types.Func   // invoke: the method called
	sig     *types.Signature
}

func siteOf(c *ssa.CallCommon) callSite {
	s := callSite{pos: c.Pos(), invoke: c.IsInvoke(), sig: c.Signature()}
	if s.invoke {
		s.iface, s.method = c.Value.Type().Underlying(), c.Method
		return s
	}
	_, s.direct = c.Value.(*ssa.Function)
	_, s.builtin = c.Value.(*ssa.Builtin)
	s.static = c.StaticCallee()
	return s
}

// dropHook, when set (by tests), is called with the number of blocks of
// each body drop frees.
var dropHook func(blocks int)

// fnOperand is a function one of fn's instructions uses: as the called
// value of a call (callee) or otherwise (a value: closure, stored, passed).
type fnOperand struct {
	g      *ssa.Function
	callee bool
}

// fnSummary is what the analysis reads of one SSA function's body.
type fnSummary struct {
	sites  []callSite
	ops    []fnOperand
	ifaces []types.Type // the types of the values converted to interfaces (MakeInterface)
}

// bodies holds the summary of every function summarised so far. A
// function with no summary is read from its SSA body (external functions
// have none: an empty summary).
type bodies struct {
	mu        sync.Mutex
	sums      map[*ssa.Function]*fnSummary
	syntactic map[*ssa.Package]bool // the packages created from syntax
}

func newBodies(syntactic []*ssa.Package) *bodies {
	b := &bodies{sums: map[*ssa.Function]*fnSummary{}, syntactic: map[*ssa.Package]bool{}}
	for _, p := range syntactic {
		b.syntactic[p] = true
	}
	return b
}

// add records that p was created from syntax.
func (b *bodies) add(p *ssa.Package) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syntactic[p] = true
}

// of returns fn's summary, summarising its body now if need be.
func (b *bodies) of(fn *ssa.Function) *fnSummary {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ofLocked(fn)
}

func (b *bodies) ofLocked(fn *ssa.Function) *fnSummary {
	if s, ok := b.sums[fn]; ok {
		return s
	}
	s := summarise(fn)
	b.sums[fn] = s
	return s
}

func summarise(fn *ssa.Function) *fnSummary {
	s := &fnSummary{}
	var buf [10]*ssa.Value
	for _, blk := range fn.Blocks {
		for _, instr := range blk.Instrs {
			if mi, ok := instr.(*ssa.MakeInterface); ok {
				s.ifaces = append(s.ifaces, mi.X.Type())
			}
			var callee *ssa.Value
			if site, ok := instr.(ssa.CallInstruction); ok {
				callee = &site.Common().Value
				s.sites = append(s.sites, siteOf(site.Common()))
			}
			for _, op := range instr.Operands(buf[:0]) {
				if g, ok := (*op).(*ssa.Function); ok {
					s.ops = append(s.ops, fnOperand{g, op == callee})
				}
			}
		}
	}
	return s
}

// drop summarises the built functions reachable from pkg's members, its
// types' declared methods, their closures and the functions they use
// (instances and wrappers its build made), then frees their bodies.
// Functions not built yet (another package's, to be built later) are left
// alone: they are summarised when their package is dropped, or when read.
func (b *bodies) drop(prog *ssa.Program, pkg *ssa.Package) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var visit func(fn *ssa.Function)
	visit = func(fn *ssa.Function) {
		if fn == nil || fn.Blocks == nil {
			return
		}
		if _, done := b.sums[fn]; done {
			return
		}
		s := b.ofLocked(fn)
		for _, anon := range fn.AnonFuncs {
			visit(anon)
		}
		for _, op := range s.ops {
			visit(op.g)
		}
		// Everything that keeps the body reachable: its blocks, and the
		// values whose referrers point into them — a closure's point into
		// its parent's body (the MakeClosure), and the closure outlives
		// it (its parent's AnonFuncs name it). A bound method wrapper's
		// String is spelled from its free variable (funcKey reads it).
		if dropHook != nil {
			dropHook(len(fn.Blocks))
		}
		fn.Blocks, fn.Recover, fn.Locals, fn.Params = nil, nil, nil, nil
		if r := fn.Referrers(); r != nil {
			*r = nil
		}
		for _, fv := range fn.FreeVars {
			*fv.Referrers() = nil
		}
		if !strings.HasSuffix(fn.Name(), "$bound") {
			fn.FreeVars = nil
		}
	}
	for _, m := range pkg.Members {
		switch m := m.(type) {
		case *ssa.Function:
			visit(m)
		case *ssa.Type:
			if n, ok := m.Type().(*types.Named); ok {
				for i := range n.NumMethods() {
					visit(prog.FuncValue(n.Method(i)))
				}
			}
		}
	}
}

// allFunctions is ssautil.AllFunctions reading the functions each body
// uses from bs (the bodies may be gone): every package member, the
// methods of T and *T for the exported named non-interface types of the
// packages built from syntax, and the methods of the runtime types, with
// every function they use, transitively.
func allFunctions(prog *ssa.Program, bs *bodies) map[*ssa.Function]bool {
	seen := map[*ssa.Function]bool{}
	var function func(fn *ssa.Function)
	function = func(fn *ssa.Function) {
		if seen[fn] {
			return
		}
		seen[fn] = true
		for _, op := range bs.of(fn).ops {
			function(op.g)
		}
	}
	methodsOf := func(t types.Type) {
		if types.IsInterface(t) {
			return
		}
		for sel := range prog.MethodSets.MethodSet(t).Methods() {
			if sel.Obj().(*types.Func).Signature().TypeParams() == nil {
				function(prog.MethodValue(sel))
			}
		}
	}
	for _, pkg := range prog.AllPackages() {
		// A package built from syntax has its type information (or had
		// it: Build drops it) — ssautil asks the same of its unexported
		// field; packages created from types have no files.
		syntactic := bs.syntactic[pkg]
		for _, mem := range pkg.Members {
			switch mem := mem.(type) {
			case *ssa.Function:
				function(mem)
			case *ssa.Type:
				if syntactic && ast.IsExported(mem.Name()) && !types.IsInterface(mem.Type()) {
					if named, ok := mem.Type().(*types.Named); ok && named.TypeParams() == nil {
						methodsOf(named)
						methodsOf(types.NewPointer(named))
					}
				}
			}
		}
	}
	for _, t := range prog.RuntimeTypes() {
		methodsOf(t)
	}
	return seen
}
