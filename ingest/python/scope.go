//go:build cgo

package python

// scope is a function's (or lambda's, comprehension's, class body's)
// names, chained to the enclosing scope; the module's names are not in
// it (module.syms).
type scope struct {
	parent    *scope
	locals    map[string]*binding
	globals   map[string]bool
	nonlocals map[string]bool
}

func newScope(parent *scope) *scope {
	return &scope{parent: parent, locals: map[string]*binding{}, globals: map[string]bool{}, nonlocals: map[string]bool{}}
}

// lookup is the binding of name in the chain, nil if the name is a
// module-level (or builtin) name there.
func (s *scope) lookup(name string) *binding {
	for ; s != nil; s = s.parent {
		if s.globals[name] {
			return nil
		}
		if s.nonlocals[name] {
			continue
		}
		if b := s.locals[name]; b != nil {
			return b
		}
	}
	return nil
}

// storeKind says what assigning name does in the chain: "global" (a
// declared global: a write of the module variable), "local", or "" when
// no scope of the chain knows the name (module level).
func (s *scope) storeKind(name string) string {
	for ; s != nil; s = s.parent {
		if s.globals[name] {
			return "global"
		}
		if s.nonlocals[name] {
			continue
		}
		if s.locals[name] != nil {
			return "local"
		}
	}
	return ""
}

// bindLocal binds name as a local unless a global or nonlocal statement
// says otherwise, and adds an assigned value's type (t; none: the value is
// None) to what the local is known to hold.
func (s *scope) bindLocal(name string, t vtype, none bool) {
	if s.globals[name] || s.nonlocals[name] {
		return
	}
	b := s.locals[name]
	if b == nil {
		b = &binding{kind: bLocal}
		s.locals[name] = b
	}
	if b.kind == bLocal {
		b.val.add(t, none)
	}
}
