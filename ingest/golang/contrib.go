package golang

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"go/ast"
	"go/token"
	"go/types"
	"iter"
	"slices"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
)

// What one file gives the rest of the tree, and what CHA answered for
// each kind of dynamic call: recorded by every whole-tree analysis so
// that the next run can tell a change no other file can see (the
// body-only path of incremental.go) and answer the changed file's
// dynamic calls without the tree.
//
// A file's contribution digest covers its text outside function bodies
// (every declaration, signature and import: what type-checks the other
// files and what CHA's method sets and signatures come from) and, from
// SSA, what its function bodies add to the whole-program analysis: the
// functions they use as values (CHA's candidates for calls of function
// values), the functions they call (the call graph's function set, which
// brings methods of types outside the tree into the candidates of
// interface calls) and the types they convert to interfaces (whose
// methods the program then holds). Nothing else in a function body is
// seen by another file's facts. Types are spelled with their package
// paths; a type naming a function-local type or a type parameter could
// spell two different types alike, so a file whose record needs one gets
// no digest (and is always re-analysed with the tree).

// textDigest records the digest of a tree file's text outside its
// function bodies.
func (l *loaded) textDigest(rel string, fset *token.FileSet, f *ast.File, src []byte) {
	tf := fset.File(f.FileStart)
	if tf == nil {
		return
	}
	d := newDigest()
	prev := 0
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil || !fd.Body.Rbrace.IsValid() {
			continue
		}
		a, b := tf.Offset(fd.Body.Lbrace), tf.Offset(fd.Body.Rbrace)+1
		if a < prev || b > len(src) {
			return // positions do not match the source: no digest
		}
		d.add(string(src[prev:a]))
		prev = b
	}
	d.add(string(src[prev:]))
	l.mu.Lock()
	l.text[rel] = d.sum()
	l.mu.Unlock()
}

// digest hashes length-prefixed strings.
type digest struct{ h [][]byte }

func newDigest() *digest { return &digest{} }

func (d *digest) add(s string) { d.h = append(d.h, []byte(s)) }

func (d *digest) sum() string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, b := range d.h {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// record fills l.contrib (the contribution digest of every file of a
// well-typed package) and l.keys (each dynamic call's key → the callees
// found for it), from the SSA functions of the tree and l.dyn.
// contrib, when not nil, holds the digests already (the pipeline made
// them as it built each package).
func (l *loaded) record(prog *ssa.Program, funcs map[*ssa.Function]bool, syntactic []*ssa.Package, bs *bodies, contrib map[string]string) {
	if contrib == nil {
		contrib = l.contributions(prog, syntactic, bs)
	}
	l.contrib = contrib
	l.keys = map[string][]callee{}
	kr := &keyRecorder{l: l, spelled: map[types.Type]string{}, sums: map[string]keySum{}, conflict: map[string]bool{}}
	for fn := range funcs {
		if !ownsSites(fn) {
			continue
		}
		for _, site := range bs.of(fn).sites {
			kr.site(site)
		}
	}
	for k := range kr.conflict {
		delete(l.keys, k)
	}
}

// contributions digests what each file of the well-typed packages gives
// the rest of the tree. The functions of a file are those it declares and
// their closures, whoever reaches them: the same set whether the whole
// program was built or only the file's package.
func (l *loaded) contributions(prog *ssa.Program, syntactic []*ssa.Package, bs *bodies) map[string]string {
	built := map[*types.Package]bool{}
	for _, sp := range syntactic {
		built[sp.Pkg] = true
	}
	out := map[string]string{}
	memo := newSpellings(bs)
	for _, p := range l.pkgs {
		if p.Types != nil && built[p.Types] {
			l.contributionsOf(prog, memo, p, out)
		}
	}
	return out
}

// contributionsOf adds the contribution digests of p's files to out.
func (l *loaded) contributionsOf(prog *ssa.Program, memo *spellings, p *packages.Package, out map[string]string) {
	for _, f := range p.Syntax {
		r := l.rel(f.FileStart)
		l.mu.Lock() // the checks of other packages add theirs meanwhile
		t, ok := l.text[r]
		l.mu.Unlock()
		if r == "" || !ok {
			continue
		}
		if es, ok := memo.fileEntries(prog, p.TypesInfo, f); ok {
			out[r] = contribDigest(t, es)
		}
	}
}

func newSpellings(bs *bodies) *spellings {
	return &spellings{funcs: map[*ssa.Function]string{}, types: map[types.Type]string{}, bs: bs}
}

// spellings memoises funcKey and typeKey: the same callees and types
// recur across a package's bodies.
type spellings struct {
	funcs map[*ssa.Function]string
	types map[types.Type]string
	bs    *bodies
}

func (sp *spellings) fn(g *ssa.Function) string {
	k, ok := sp.funcs[g]
	if !ok {
		k = funcKey(g)
		sp.funcs[g] = k
	}
	return k
}

func (sp *spellings) typ(t types.Type) string {
	k, ok := sp.types[t]
	if !ok {
		k = typeKey(t)
		sp.types[t] = k
	}
	return k
}

// fileEntries lists the body entries (bodyEntries) of the functions f
// declares and of their closures.
func (sp *spellings) fileEntries(prog *ssa.Program, info *types.Info, f *ast.File) ([]string, bool) {
	var out []string
	ok := true
	var visit func(fn *ssa.Function)
	visit = func(fn *ssa.Function) {
		es, fine := sp.bodyEntries(fn)
		out, ok = append(out, es...), ok && fine
		for _, anon := range fn.AnonFuncs {
			visit(anon)
		}
	}
	for _, d := range f.Decls {
		fd, isFunc := d.(*ast.FuncDecl)
		if !isFunc {
			continue
		}
		obj, _ := info.Defs[fd.Name].(*types.Func)
		if obj == nil {
			continue
		}
		fn := prog.FuncValue(obj)
		if fn == nil {
			return nil, false
		}
		visit(fn)
	}
	return out, ok
}

// ownsSites reports whether fn's call sites are the ones indexDynamic
// keeps: wrappers and thunks repeat their method's.
func ownsSites(fn *ssa.Function) bool {
	return fn.Synthetic == "" || fn.Synthetic == "package initializer" || fn.Object() != nil
}

func contribDigest(text string, entries []string) string {
	sort.Strings(entries)
	d := newDigest()
	d.add(text)
	prev := ""
	for i, e := range entries {
		if i == 0 || e != prev {
			d.add(e)
		}
		prev = e
	}
	return d.sum()
}

// bodyEntries lists what fn's body adds to the whole-program analysis:
// "T f" for a function used as a value, "C f" for one called that the
// analysis would not hold otherwise, "M t" for a type converted to an
// interface. ok is false when one of them cannot be spelled uniquely.
func (sp *spellings) bodyEntries(fn *ssa.Function) (out []string, ok bool) {
	ok = true
	s := sp.bs.of(fn)
	for _, t := range s.ifaces {
		k := sp.typ(t)
		ok = ok && k != ""
		out = append(out, "M "+k)
	}
	for _, op := range s.ops {
		if op.callee && alwaysHeld(op.g) {
			continue
		}
		k := sp.fn(op.g)
		ok = ok && k != ""
		if op.callee {
			out = append(out, "C "+k)
		} else {
			out = append(out, "T "+k)
		}
	}
	return out, ok
}

// alwaysHeld reports whether g, a package-level function, is in the
// call graph's function set whoever calls it (every package member is,
// whether its package was built from source or from types only).
func alwaysHeld(g *ssa.Function) bool {
	return g.Parent() == nil && g.Pkg != nil && g.Signature.Recv() == nil && g.Pkg.Members[g.Name()] == g
}

// funcKey spells an SSA function with its signature, "" when a type in
// it could be ambiguous.
func funcKey(g *ssa.Function) string {
	parts := []string{g.String(), typeKey(g.Signature)}
	if r := g.Signature.Recv(); r != nil {
		parts = append(parts, typeKey(r.Type()))
	}
	for _, t := range g.TypeArgs() {
		parts = append(parts, typeKey(t))
	}
	for _, p := range parts {
		if p == "" {
			return ""
		}
	}
	return strings.Join(parts, " ")
}

// dynKey is the key of a dynamic call whose callees CHA finds from its
// kind alone: an interface call by the interface and the method, a call
// of a function value by the signature; "" when the call has no such key
// (a closure or bound method the call resolves to, a builtin) or its
// types could be ambiguous. spell is typeKey, or a memo of it.
func dynKey(c callSite, spell func(types.Type) string) string {
	if c.builtin {
		return ""
	}
	if c.invoke {
		if k := spell(c.iface); k != "" {
			return "I " + k + " " + c.method.Id()
		}
		return ""
	}
	if c.static != nil {
		return ""
	}
	if k := spell(c.sig); k != "" {
		return "S " + k
	}
	return ""
}

// keyRecorder keys the dynamic calls of the tree with what
// indexDynamic found for them. Keys are memoised by type (spelling an
// interface is costly and the same few are called everywhere), and a
// site's callees are compared with the key's first by an
// order-independent sum, not sorted again.
type keyRecorder struct {
	l        *loaded
	spelled  map[types.Type]string
	sums     map[string]keySum
	conflict map[string]bool
}

type keySum struct {
	sum uint64
	n   int
}

// site records one call; a key seen with two different callee sets
// (which CHA would not give) is marked in conflict and dropped.
func (kr *keyRecorder) site(c callSite) {
	l := kr.l
	if c.direct || !c.pos.IsValid() || l.rel(c.pos) == "" {
		return
	}
	k := kr.key(c)
	if k == "" {
		return
	}
	cs := l.dyn.at(c.pos)
	got := keySum{calleeSum(cs), cs.len()}
	if prev, seen := kr.sums[k]; seen {
		if prev != got {
			kr.conflict[k] = true
		}
		return
	}
	kr.sums[k] = got
	l.keys[k] = sortedCallees(cs.all())
}

// key is dynKey, memoised by the interface or signature type.
func (kr *keyRecorder) key(c callSite) string {
	return dynKey(c, func(t types.Type) string {
		sp, ok := kr.spelled[t]
		if !ok {
			sp = typeKey(t)
			kr.spelled[t] = sp
		}
		return sp
	})
}

// calleeSum adds up FNV-1a hashes of the callees' names and kinds.
func calleeSum(cs calleeList) uint64 {
	var sum uint64
	for c := range cs.all() {
		h := uint64(14695981039346656037)
		for i := 0; i < len(c.qn); i++ {
			h = (h ^ uint64(c.qn[i])) * 1099511628211
		}
		if c.anon {
			h = (h ^ 1) * 1099511628211
		}
		sum += h
	}
	return sum
}

func sortedCallees(cs iter.Seq[callee]) []callee {
	out := slices.Collect(cs)
	sort.Slice(out, func(i, j int) bool {
		if out[i].qn != out[j].qn {
			return out[i].qn < out[j].qn
		}
		return !out[i].anon && out[j].anon
	})
	return out
}

// typeKey spells t with full package paths, "" when t names a
// function-local type or a type parameter (the same spelling could then
// stand for another type).
func typeKey(t types.Type) string {
	if t == nil || !spellable(t) {
		return ""
	}
	return types.TypeString(t, nil)
}

func spellable(t types.Type) bool {
	switch t := t.(type) {
	case *types.Basic:
		return true
	case *types.Named:
		return packageLevel(t.Obj()) && allSpellable(t.TypeArgs().Len(), func(i int) types.Type { return t.TypeArgs().At(i) })
	case *types.Alias:
		return packageLevel(t.Obj()) && spellable(types.Unalias(t))
	case *types.TypeParam:
		return false
	case *types.Pointer:
		return spellable(t.Elem())
	case *types.Slice:
		return spellable(t.Elem())
	case *types.Array:
		return spellable(t.Elem())
	case *types.Chan:
		return spellable(t.Elem())
	case *types.Map:
		return spellable(t.Key()) && spellable(t.Elem())
	case *types.Tuple:
		return allSpellable(t.Len(), func(i int) types.Type { return t.At(i).Type() })
	case *types.Signature:
		return spellable(t.Params()) && spellable(t.Results())
	case *types.Struct:
		return allSpellable(t.NumFields(), func(i int) types.Type { return t.Field(i).Type() })
	case *types.Interface:
		return allSpellable(t.NumExplicitMethods(), func(i int) types.Type { return t.ExplicitMethod(i).Type() }) &&
			allSpellable(t.NumEmbeddeds(), t.EmbeddedType)
	case *types.Union:
		return allSpellable(t.Len(), func(i int) types.Type { return t.Term(i).Type() })
	}
	return false
}

func allSpellable(n int, at func(int) types.Type) bool {
	for i := range n {
		if !spellable(at(i)) {
			return false
		}
	}
	return true
}

// packageLevel reports whether a type name is declared at package level
// (or in the universe).
func packageLevel(tn *types.TypeName) bool {
	return tn.Pkg() == nil || tn.Parent() == nil || tn.Parent() == tn.Pkg().Scope()
}
