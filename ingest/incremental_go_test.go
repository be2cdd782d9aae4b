package ingest_test

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Random edits of a Go tree (module example.com/c). They keep the code
// mostly well-typed, so that the call graph (CHA) has dynamic calls to
// change, but some break it (a renamed function's callers, duplicate
// methods, import cycles): ill-typed packages must be incremental too.

const goModule = "example.com/c"

var (
	goPackage   = regexp.MustCompile(`(?m)^package (\w+)`)
	goFuncDecl  = regexp.MustCompile(`(?m)^func (\w+)[\[(]`)
	goGenFunc   = regexp.MustCompile(`(?m)^func (Gen\w+)\(\)`)
	goStruct    = regexp.MustCompile(`(?m)^type (\w+) struct`)
	goIfaceOpen = regexp.MustCompile(`(?m)^type (\w+) interface \{$`)
	goBodyOpen  = regexp.MustCompile(`(?m)^func [^\n]*\{$`)
	// A whole top-level function or method: one line, or up to the first
	// closing brace at the start of a line.
	goWholeFunc = regexp.MustCompile(`(?m)^func [^\n]*\{\n(?:[^\n]*\n)*?\}\n|^func [^\n]*\}\n`)
)

// Methods whose names the fixtures' interfaces (shape.Namer, shape.Shape,
// k.Reader …) and the added ones use, so added types realize them.
var goMethods = []string{"Area() float64", "Name() string", "Read() string", "String() string", "Close() error", "Gen()",
	"Write(p []byte) (int, error)"}

var goResults = map[string]string{"float64": "0", "string": `""`, "error": "nil", "(int, error)": "0, nil"}

func goMethodBody(sig string) string {
	res := sig[strings.Index(sig, ")")+1:]
	if r := strings.TrimSpace(res); r != "" {
		return " { return " + goResults[r] + " }"
	}
	return " {}"
}

func (tr *tree) goPackageOf(dir string) string {
	for _, p := range tr.paths(".go") {
		if path.Dir(p) == dir {
			if m := goPackage.FindStringSubmatch(tr.files[p]); m != nil {
				return m[1]
			}
		}
	}
	return path.Base(dir)
}

var goEdits = []edit{
	{"add function", func(tr *tree) string {
		return tr.appendTo(".go", func(p string) string {
			body := ""
			if g := tr.pick(tr.names(".go", path.Dir(p), goGenFunc)); g != "" {
				body = "\t" + g + "()\n"
			}
			return "func " + tr.fresh("GenF") + "() {\n" + body + "}\n"
		})
	}},
	{"remove function", func(tr *tree) string { return tr.removeBlock(".go", goWholeFunc) }},
	{"rename function", func(tr *tree) string { return tr.rename(".go", goFuncDecl) }},
	{"add method", func(tr *tree) string {
		p := tr.pick(tr.paths(".go"))
		typ := tr.pick(tr.names(".go", path.Dir(p), goStruct))
		if typ == "" {
			return ""
		}
		m := tr.pick(goMethods)
		recv := "r " + typ
		if tr.rnd.IntN(2) == 0 {
			recv = "r *" + typ
		}
		decl := "func (" + recv + ") " + m + goMethodBody(m) + "\n"
		tr.write(p, tr.files[p]+"\n"+decl)
		return fmt.Sprintf("%s: %q", p, decl)
	}},
	{"add type", func(tr *tree) string {
		return tr.appendTo(".go", func(p string) string {
			name := tr.fresh("GenT")
			decl := "type " + name + " struct{ F int }\n"
			if e := tr.pick(tr.names(".go", path.Dir(p), goStruct)); e != "" && tr.rnd.IntN(2) == 0 {
				decl = "type " + name + " struct {\n\t" + e + "\n\tN *" + e + "\n}\n"
			}
			m := tr.pick(goMethods)
			return decl + "\nfunc (" + name + ") " + m + goMethodBody(m) + "\n"
		})
	}},
	{"add interface", func(tr *tree) string {
		return tr.appendTo(".go", func(string) string {
			return "type " + tr.fresh("GenI") + " interface {\n\t" + tr.pick(goMethods) + "\n\t" + tr.pick(goMethods) + "\n}\n"
		})
	}},
	{"add interface method", func(tr *tree) string {
		return tr.insertAfter(".go", goIfaceOpen, func(string, []string) string { return "\t" + tr.pick(goMethods) })
	}},
	{"add call", func(tr *tree) string {
		return tr.insertAfter(".go", goBodyOpen, func(p string, _ []string) string {
			switch tr.rnd.IntN(5) {
			case 0:
				if g := tr.pick(tr.names(".go", path.Dir(p), goGenFunc)); g != "" {
					return "\t" + g + "()"
				}
				return ""
			case 1: // a function-value call: CHA's candidates are every func() of the tree
				return "\t{\n\t\tvar fv func()\n\t\tif fv != nil {\n\t\t\tfv()\n\t\t}\n\t}"
			case 2: // a closure, itself a candidate of every func() call
				return "\t{\n\t\tf := func() {}\n\t\tf()\n\t}"
			default: // interface dispatch to whatever has the method
				m := tr.pick(goMethods)
				call := m[:strings.Index(m, "(")] + "()"
				if strings.Contains(m, "[]byte") {
					call = strings.Replace(call, "()", "(nil)", 1)
				}
				return "\t{\n\t\tvar iv interface{ " + m + " }\n\t\tif iv != nil {\n\t\t\tiv." + call + "\n\t\t}\n\t}"
			}
		})
	}},
	{"add import", func(tr *tree) string {
		p := tr.pick(tr.paths(".go"))
		alias := tr.fresh("gi")
		var imp, use string
		switch tr.rnd.IntN(3) {
		case 0:
			imp, use = `"example.com/ext/fmt"`, "var _ = "+alias+".Sprint"
		case 1:
			imp, use = `"`+goModule+`/shape"`, "var _ "+alias+".Shape"
		default:
			imp, use = `"`+goModule+`/k"`, "var _ "+alias+".Reader"
		}
		loc := goPackage.FindStringIndex(tr.files[p])
		if loc == nil {
			return ""
		}
		src := tr.files[p]
		line := "\nimport " + alias + " " + imp + "\n"
		tr.write(p, src[:loc[1]]+"\n"+line+src[loc[1]:]+"\n"+use+"\n")
		return fmt.Sprintf("%s: %s", p, imp)
	}},
	{"add file", func(tr *tree) string {
		if tr.rnd.IntN(2) == 0 {
			// A new package whose type implements shape.Shape: new
			// dynamic callees for every Shape call in unchanged files.
			dir := tr.fresh("gp")
			p := dir + "/" + dir + ".go"
			tr.write(p, "package "+dir+"\n\nimport \""+goModule+"/shape\"\n\ntype T struct{}\n\n"+
				"func (T) Area() float64 { return 1 }\nfunc (*T) Name() string { return \"t\" }\n\n"+
				"var _ shape.Shape = &T{}\n\nfunc Use(s shape.Shape) float64 { return s.Area() }\n")
			return p
		}
		dir := tr.pick(tr.dirs(".go"))
		if dir == "" {
			return ""
		}
		name := tr.fresh("GenT")
		p := path.Join(dir, strings.ToLower(name)+".go")
		tr.write(p, "package "+tr.goPackageOf(dir)+"\n\ntype "+name+" struct{ V float64 }\n\n"+
			"func (t "+name+") Area() float64 { return t.V }\nfunc (t "+name+") Name() string { return \"g\" }\n\n"+
			"func "+tr.fresh("GenF")+"() { var s interface{ Name() string } = "+name+"{}; _ = s.Name() }\n")
		return p
	}},
	{"delete file", func(tr *tree) string { return tr.deleteFile(".go", 2) }},
}
