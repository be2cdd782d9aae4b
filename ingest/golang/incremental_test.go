package golang

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// goSteps bounds a random run: every step loads the packages twice
// (incremental and fresh ingest), the costly part.
const goSteps = 40

// goRegressions replay the runs that once found a bug, up to the step
// that failed.
var goRegressions = []ingesttest.Regression{
	// A method moved to another file of its package vanished: the old
	// file's replace deleted the node the new file wrote in the same call.
	{Seed: 1795766981490441819, Steps: 14},
}

// TestIncrementalEqualsFreshGo edits a tree built from the Go golden
// fixtures: a call graph across packages (interface dispatch, function
// values), class relations and variables. Their standard-library imports
// (fmt, io) are swapped for a stand-in module outside the tree with the
// same names: the facts stay external exactly as before, and each load
// parses a few lines instead of half the standard library (the test
// loads the packages twice per step).
func TestIncrementalEqualsFreshGo(t *testing.T) {
	fronts := []ingest.Frontend{&Frontend{CacheDir: t.TempDir()}}
	// Body edits weigh more: most other edits change declarations or
	// break the build, after which only a body edit can be narrow.
	edits := append(goEdits, goBodyEdit(nil), goBodyEdit(nil), goBodyEdit(nil), goSignatureEdit)
	ingesttest.IncrementalRuns(t, goFixtureTree(t), fronts, edits, goRegressions, goSteps)
}

// TestBodyOnlyEditsAreNarrow edits only function bodies of the
// well-typed fixture tree, in ways no other file can see: every
// re-ingest must take the body-only path (re-analysing only the edited
// package) and still leave what a fresh ingest leaves.
func TestBodyOnlyEditsAreNarrow(t *testing.T) {
	fronts := []ingest.Frontend{&Frontend{CacheDir: t.TempDir()}}
	edits := []ingesttest.Edit{goBodyEdit(func(sum ingest.Summary) string {
		if sum.Narrow == 0 {
			return "a body-only edit re-analysed the whole tree"
		}
		return ""
	})}
	ingesttest.Incremental(t, goFixtureTree(t), fronts, edits, 1, 20)
}

// goFixtureTree is the Go golden fixtures as one module, their
// standard-library imports served by a stand-in module.
func goFixtureTree(t *testing.T) map[string]string {
	ext := t.TempDir()
	ingesttest.WriteFile(t, ext, "go.mod", "module example.com/ext\n\ngo 1.22\n")
	ingesttest.WriteFile(t, ext, "fmt/fmt.go", "package fmt\n\nfunc Println(a ...any) (int, error) { return 0, nil }\n\n"+
		"func Sprint(a ...any) string { return \"\" }\n\ntype Stringer interface{ String() string }\n")
	ingesttest.WriteFile(t, ext, "io/io.go", "package io\n\ntype Reader interface{ Read(p []byte) (int, error) }\n\n"+
		"type Writer interface{ Write(p []byte) (int, error) }\n\ntype Closer interface{ Close() error }\n")
	files := ingesttest.FixtureFiles(t, "testdata/calls.txtar", "")
	for p, data := range ingesttest.FixtureFiles(t, "testdata/classes.txtar", "k/") {
		files[p] = data
	}
	for p, data := range ingesttest.FixtureFiles(t, "testdata/vars.txtar", "v/") {
		files[p] = data
	}
	delete(files, "k/go.mod")
	delete(files, "v/go.mod")
	for p, data := range files {
		data = strings.ReplaceAll(data, `"fmt"`, `fmt "example.com/ext/fmt"`)
		files[p] = strings.ReplaceAll(data, `"io"`, `io "example.com/ext/io"`)
	}
	files["go.mod"] += "\nrequire example.com/ext v0.0.0\n\nreplace example.com/ext => " + filepath.ToSlash(ext) + "\n"
	return files
}

// goBodyEdit adds a statement no other file can see to the body of a
// function that is not generic (the change the body-only path is for: a
// generic body's calls of type-parameter values have no record); check
// judges the re-ingest.
func goBodyEdit(check func(ingest.Summary) string) ingesttest.Edit {
	return ingesttest.Edit{Name: "edit body", Check: check, Apply: func(tr *ingesttest.Tree) string {
		return tr.InsertAfter(".go", goPlainBody, func(string, []string) string {
			return "\t_ = " + strconv.Itoa(tr.Rand.IntN(100))
		})
	}}
}

// wholeTree fails a re-ingest that took the body-only path.
func wholeTree(sum ingest.Summary) string {
	if sum.Narrow > 0 {
		return "a change beyond function bodies took the body-only path"
	}
	return ""
}

// goSignatureEdit gives a function a new first parameter: its callers
// (and the call graph's signatures) change, so the whole tree is
// re-analysed.
var goSignatureEdit = ingesttest.Edit{Name: "change signature", Check: wholeTree, Apply: func(tr *ingesttest.Tree) string {
	p := tr.Pick(tr.Paths(".go"))
	locs := goPlainFunc.FindAllStringSubmatchIndex(tr.Files[p], -1)
	if len(locs) == 0 {
		return ""
	}
	loc, src := locs[tr.Rand.IntN(len(locs))], tr.Files[p]
	tr.Write(p, src[:loc[1]]+"_ int, "+src[loc[1]:])
	return fmt.Sprintf("%s: %s", p, src[loc[2]:loc[3]])
}}

// Random edits of a Go tree (module example.com/c). They keep the code
// mostly well-typed, so that the call graph (CHA) has dynamic calls to
// change, but some break it (a renamed function's callers, duplicate
// methods, import cycles): ill-typed packages must be incremental too.

const goModule = "example.com/c"

var (
	goPackage   = regexp.MustCompile(`(?m)^package (\w+)`)
	goFuncDecl  = regexp.MustCompile(`(?m)^func (\w+)[\[(]`)
	goPlainFunc = regexp.MustCompile(`(?m)^func (\w+)\(`)
	goPlainBody = regexp.MustCompile(`(?m)^func (?:\([^)\[]*\) )?\w+\([^\n]*\{$`)
	goGenFunc   = regexp.MustCompile(`(?m)^func (Gen\w+)\(\)`)
	goStruct    = regexp.MustCompile(`(?m)^type (\w+) struct`)
	goIfaceOpen = regexp.MustCompile(`(?m)^type (\w+) interface \{$`)
	goBodyOpen  = regexp.MustCompile(`(?m)^func [^\n]*\{$`)
	goTypeDecl  = regexp.MustCompile(`(?m)^type (\w+) `)
	goMethDecl  = regexp.MustCompile(`(?m)^func \([^)]*\) (\w+)\(`)
	// A whole type declaration, one line or a struct or interface block.
	goWholeType = regexp.MustCompile(`(?m)^type \w+ (?:struct|interface) \{\n(?:[^\n]*\n)*?\}\n|^type \w+ [^\n{]*\n`)
	// One line of a call statement or of an interface method.
	goCallLine = regexp.MustCompile(`(?m)^\t+[\w.]+\([^\n]*\)[^\n{]*\n`)
	goImport   = regexp.MustCompile(`(?m)^import \w+ "[^"]*"\n|^\t(?:\w+ )?"[^"]*"\n`)
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

func goPackageOf(tr *ingesttest.Tree, dir string) string {
	for _, p := range tr.Paths(".go") {
		if path.Dir(p) == dir {
			if m := goPackage.FindStringSubmatch(tr.Files[p]); m != nil {
				return m[1]
			}
		}
	}
	return path.Base(dir)
}

var goEdits = []ingesttest.Edit{
	{Name: "add function", Apply: func(tr *ingesttest.Tree) string {
		return tr.AppendTo(".go", func(p string) string {
			body := ""
			if g := tr.Pick(tr.Names(".go", path.Dir(p), goGenFunc)); g != "" {
				body = "\t" + g + "()\n"
			}
			return "func " + tr.Fresh("GenF") + "() {\n" + body + "}\n"
		})
	}},
	{Name: "remove function", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".go", goWholeFunc) }},
	{Name: "rename function", Apply: func(tr *ingesttest.Tree) string { return tr.Rename(".go", goFuncDecl) }},
	{Name: "rename method", Apply: func(tr *ingesttest.Tree) string { return tr.Rename(".go", goMethDecl) }},
	{Name: "rename type", Apply: func(tr *ingesttest.Tree) string { return tr.Rename(".go", goTypeDecl) }},
	{Name: "remove type", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".go", goWholeType) }},
	{Name: "remove call or interface method", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".go", goCallLine) }},
	{Name: "remove import", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".go", goImport) }},
	{Name: "add method", Apply: func(tr *ingesttest.Tree) string {
		p := tr.Pick(tr.Paths(".go"))
		typ := tr.Pick(tr.Names(".go", path.Dir(p), goStruct))
		if typ == "" {
			return ""
		}
		m := tr.Pick(goMethods)
		recv := "r " + typ
		if tr.Rand.IntN(2) == 0 {
			recv = "r *" + typ
		}
		decl := "func (" + recv + ") " + m + goMethodBody(m) + "\n"
		tr.Write(p, tr.Files[p]+"\n"+decl)
		return fmt.Sprintf("%s: %q", p, decl)
	}},
	{Name: "add type", Apply: func(tr *ingesttest.Tree) string {
		return tr.AppendTo(".go", func(p string) string {
			name := tr.Fresh("GenT")
			decl := "type " + name + " struct{ F int }\n"
			if e := tr.Pick(tr.Names(".go", path.Dir(p), goStruct)); e != "" && tr.Rand.IntN(2) == 0 {
				decl = "type " + name + " struct {\n\t" + e + "\n\tN *" + e + "\n}\n"
			}
			m := tr.Pick(goMethods)
			return decl + "\nfunc (" + name + ") " + m + goMethodBody(m) + "\n"
		})
	}},
	{Name: "add interface", Apply: func(tr *ingesttest.Tree) string {
		return tr.AppendTo(".go", func(string) string {
			return "type " + tr.Fresh("GenI") + " interface {\n\t" + tr.Pick(goMethods) + "\n\t" + tr.Pick(goMethods) + "\n}\n"
		})
	}},
	{Name: "add interface method", Check: wholeTree, Apply: func(tr *ingesttest.Tree) string {
		return tr.InsertAfter(".go", goIfaceOpen, func(string, []string) string { return "\t" + tr.Pick(goMethods) })
	}},
	{Name: "add call", Apply: func(tr *ingesttest.Tree) string {
		return tr.InsertAfter(".go", goBodyOpen, func(p string, _ []string) string {
			switch tr.Rand.IntN(5) {
			case 0:
				if g := tr.Pick(tr.Names(".go", path.Dir(p), goGenFunc)); g != "" {
					return "\t" + g + "()"
				}
				return ""
			case 1: // a function-value call: CHA's candidates are every func() of the tree
				return "\t{\n\t\tvar fv func()\n\t\tif fv != nil {\n\t\t\tfv()\n\t\t}\n\t}"
			case 2: // a closure, itself a candidate of every func() call
				return "\t{\n\t\tf := func() {}\n\t\tf()\n\t}"
			default: // interface dispatch to whatever has the method
				m := tr.Pick(goMethods)
				call := m[:strings.Index(m, "(")] + "()"
				if strings.Contains(m, "[]byte") {
					call = strings.Replace(call, "()", "(nil)", 1)
				}
				return "\t{\n\t\tvar iv interface{ " + m + " }\n\t\tif iv != nil {\n\t\t\tiv." + call + "\n\t\t}\n\t}"
			}
		})
	}},
	{Name: "add import", Apply: func(tr *ingesttest.Tree) string {
		p := tr.Pick(tr.Paths(".go"))
		alias := tr.Fresh("gi")
		var imp, use string
		switch tr.Rand.IntN(3) {
		case 0:
			imp, use = `"example.com/ext/fmt"`, "var _ = "+alias+".Sprint"
		case 1:
			imp, use = `"`+goModule+`/shape"`, "var _ "+alias+".Shape"
		default:
			imp, use = `"`+goModule+`/k"`, "var _ "+alias+".Reader"
		}
		loc := goPackage.FindStringIndex(tr.Files[p])
		if loc == nil {
			return ""
		}
		src := tr.Files[p]
		line := "\nimport " + alias + " " + imp + "\n"
		tr.Write(p, src[:loc[1]]+"\n"+line+src[loc[1]:]+"\n"+use+"\n")
		return fmt.Sprintf("%s: %s", p, imp)
	}},
	{Name: "add file", Apply: func(tr *ingesttest.Tree) string {
		if tr.Rand.IntN(2) == 0 {
			// A new package whose type implements shape.Shape: new
			// dynamic callees for every Shape call in unchanged files.
			dir := tr.Fresh("gp")
			p := dir + "/" + dir + ".go"
			tr.Write(p, "package "+dir+"\n\nimport \""+goModule+"/shape\"\n\ntype T struct{}\n\n"+
				"func (T) Area() float64 { return 1 }\nfunc (*T) Name() string { return \"t\" }\n\n"+
				"var _ shape.Shape = &T{}\n\nfunc Use(s shape.Shape) float64 { return s.Area() }\n")
			return p
		}
		dir := tr.Pick(tr.Dirs(".go"))
		if dir == "" {
			return ""
		}
		name := tr.Fresh("GenT")
		p := path.Join(dir, strings.ToLower(name)+".go")
		tr.Write(p, "package "+goPackageOf(tr, dir)+"\n\ntype "+name+" struct{ V float64 }\n\n"+
			"func (t "+name+") Area() float64 { return t.V }\nfunc (t "+name+") Name() string { return \"g\" }\n\n"+
			"func "+tr.Fresh("GenF")+"() { var s interface{ Name() string } = "+name+"{}; _ = s.Name() }\n")
		return p
	}},
	{Name: "move function", Apply: func(tr *ingesttest.Tree) string {
		// To another file of the same package: same qualified name, new
		// owner, both files written in one ingest.
		from := tr.Pick(tr.Paths(".go"))
		ms := goWholeFunc.FindAllString(tr.Files[from], -1)
		var to []string
		for _, p := range tr.Paths(".go") {
			if p != from && path.Dir(p) == path.Dir(from) {
				to = append(to, p)
			}
		}
		if len(ms) == 0 || len(to) == 0 {
			return ""
		}
		decl, dst := tr.Pick(ms), tr.Pick(to)
		tr.Write(from, strings.Replace(tr.Files[from], decl, "", 1))
		tr.Write(dst, tr.Files[dst]+"\n"+decl)
		first, _, _ := strings.Cut(decl, "\n")
		return fmt.Sprintf("%s → %s: %q", from, dst, first)
	}},
	{Name: "delete file", Apply: func(tr *ingesttest.Tree) string { return tr.DeleteFile(".go", 2) }},
}
