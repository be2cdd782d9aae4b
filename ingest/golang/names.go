package golang

import "go/types"

// Qualified names as the contract spells them: importpath.Func,
// importpath.Type, importpath.Type.Method (either receiver),
// importpath.Var, importpath.Type.Field.

func pkgPrefix(p *types.Package) string {
	if p == nil {
		return "" // universe: error.Error
	}
	return p.Path() + "."
}

// typeQN names a package-level type, "" for a type local to a function.
func typeQN(tn *types.TypeName) string {
	if tn.Pkg() != nil && tn.Parent() != nil && tn.Parent() != tn.Pkg().Scope() {
		return ""
	}
	return pkgPrefix(tn.Pkg()) + tn.Name()
}

// funcQN names a function or method by its generic origin, "" for methods
// of unnamed or local types.
func funcQN(fn *types.Func) string {
	fn = fn.Origin()
	recv := fn.Signature().Recv()
	if recv == nil {
		return pkgPrefix(fn.Pkg()) + fn.Name()
	}
	if n := namedOf(recv.Type()); n != nil {
		if q := typeQN(n.Obj()); q != "" {
			return q + "." + fn.Name()
		}
	}
	return ""
}

// namedOf returns the generic origin of t or *t when it is a named type.
func namedOf(t types.Type) *types.Named {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Origin()
	}
	return nil
}

// elemNamed strips pointers, slices, arrays, map values and channels from
// t and returns the named type at the bottom, with whether any wrapper was
// stripped.
func elemNamed(t types.Type) (n *types.Named, wrapped bool) {
	for {
		switch u := types.Unalias(t).(type) {
		case *types.Named:
			return u.Origin(), wrapped
		case *types.Pointer:
			t = u.Elem()
		case *types.Slice:
			t = u.Elem()
		case *types.Array:
			t = u.Elem()
		case *types.Map:
			t = u.Elem()
		case *types.Chan:
			t = u.Elem()
		default:
			return nil, wrapped
		}
		wrapped = true
	}
}

// isInterfaceMethod reports whether fn is an abstract method.
func isInterfaceMethod(fn *types.Func) bool {
	recv := fn.Signature().Recv()
	return recv != nil && types.IsInterface(recv.Type())
}
