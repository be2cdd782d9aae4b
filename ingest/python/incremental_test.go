//go:build cgo

package python

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// pySteps bounds a random run.
const pySteps = 50

// pyRegressions replay the runs that once found a bug, up to the step
// that failed.
var pyRegressions = []ingesttest.Regression{
	// A module's names became external in a file written before the one
	// that dropped them from the tree: the edges to them dangled.
	{Seed: 1795769135760017122, Steps: 34},
}

// TestIncrementalEqualsFreshPython edits a tree made of the Python golden
// fixtures: packages with relative and star imports, re-exports, classes
// and their bases, inferred calls.
func TestIncrementalEqualsFreshPython(t *testing.T) {
	files := map[string]string{}
	for _, fx := range []string{"calls", "classes", "inference", "modules", "vars"} {
		for p, data := range ingesttest.FixtureFiles(t, "testdata/"+fx+".txtar", "") {
			files[p] = data
		}
	}
	fronts := []ingest.Frontend{New()}
	ingesttest.IncrementalRuns(t, files, fronts, pyEdits, pyRegressions, pySteps)
}

var (
	pyDecl      = regexp.MustCompile(`(?m)^(?:def|class) (\w+)`)
	pyFunc      = regexp.MustCompile(`(?m)^def (\w+)\(`)
	pyClass     = regexp.MustCompile(`(?m)^class (\w+)`)
	pyClassOpen = regexp.MustCompile(`(?m)^class \w+[^\n]*:$`)
	pyDefOpen   = regexp.MustCompile(`(?m)^def \w+\([^\n]*\):$`)
	pyMethOpen  = regexp.MustCompile(`(?m)^    def \w+\(self[^\n]*\):$`)
	pyMethod    = regexp.MustCompile(`(?m)^    def (\w+)\(self`)
	pyCallLine  = regexp.MustCompile(`(?m)^ +(?:return )?[\w.]+\([^\n]*\)\n`)
	pyImport    = regexp.MustCompile(`(?m)^(?:import|from) [^\n]*\n`)
	// A whole top-level def or class: its line and the indented or blank
	// lines after it.
	pyWholeDecl = regexp.MustCompile(`(?m)^(?:def|class) [^\n]*\n(?:[ \t]+[^\n]*\n|\n)*`)
)

// pyModules are the dotted names of the tree's modules (roughly as the
// frontend names them: src/ layouts and __init__ handled).
func pyModules(tr *ingesttest.Tree) []string {
	var out []string
	for _, p := range tr.Paths(".py") {
		m := strings.TrimSuffix(strings.TrimPrefix(p, "src/"), ".py")
		m = strings.TrimSuffix(strings.TrimSuffix(m, "__init__"), "/")
		if m != "" {
			out = append(out, strings.ReplaceAll(m, "/", "."))
		}
	}
	return out
}

var pyEdits = []ingesttest.Edit{
	{Name: "add function", Apply: func(tr *ingesttest.Tree) string {
		return tr.AppendTo(".py", func(p string) string {
			body := "    pass"
			if f := tr.Pick(tr.Names(".py", "", pyFunc)); f != "" {
				body = "    return " + f + "()"
			}
			return "\ndef " + tr.Fresh("gen_f") + "():\n" + body + "\n"
		})
	}},
	{Name: "add class", Apply: func(tr *ingesttest.Tree) string {
		return tr.AppendTo(".py", func(p string) string {
			base := tr.Pick(tr.Names(".py", path.Dir(p), pyClass))
			if base == "" {
				base = "object"
			}
			return "\nclass " + tr.Fresh("GenC") + "(" + base + "):\n    def area(self):\n        return self.name()\n"
		})
	}},
	{Name: "add method", Apply: func(tr *ingesttest.Tree) string {
		return tr.InsertAfter(".py", pyClassOpen, func(string, []string) string {
			call := "pass"
			if m := tr.Pick(tr.Names(".py", "", pyMethod)); m != "" {
				call = "return self." + m + "()"
			}
			return "    def " + tr.Fresh("gen_m") + "(self):\n        " + call + "\n"
		})
	}},
	{Name: "add call", Apply: func(tr *ingesttest.Tree) string {
		if tr.Rand.IntN(2) == 0 {
			return tr.InsertAfter(".py", pyMethOpen, func(string, []string) string {
				if m := tr.Pick(tr.Names(".py", "", pyMethod)); m != "" {
					return "        self." + m + "()"
				}
				return ""
			})
		}
		return tr.InsertAfter(".py", pyDefOpen, func(string, []string) string {
			if f := tr.Pick(tr.Names(".py", "", pyDecl)); f != "" {
				return "    " + f + "()"
			}
			return ""
		})
	}},
	{Name: "remove declaration", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".py", pyWholeDecl) }},
	{Name: "rename declaration", Apply: func(tr *ingesttest.Tree) string { return tr.Rename(".py", pyDecl) }},
	{Name: "rename method", Apply: func(tr *ingesttest.Tree) string { return tr.Rename(".py", pyMethod) }},
	{Name: "remove call", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".py", pyCallLine) }},
	{Name: "remove import", Apply: func(tr *ingesttest.Tree) string { return tr.RemoveBlock(".py", pyImport) }},
	{Name: "add import", Apply: func(tr *ingesttest.Tree) string {
		p, mod := tr.Pick(tr.Paths(".py")), tr.Pick(pyModules(tr))
		if p == "" || mod == "" {
			return ""
		}
		line := "import " + mod + "\n"
		if tr.Rand.IntN(2) == 0 {
			line = "from " + mod + " import *\n"
		}
		tr.Write(p, line+tr.Files[p])
		return p + ": " + strings.TrimSpace(line)
	}},
	{Name: "add file", Apply: func(tr *ingesttest.Tree) string {
		dir := tr.Pick(tr.Dirs(".py"))
		mod := tr.Pick(pyModules(tr))
		if dir == "" || mod == "" {
			return ""
		}
		name := tr.Fresh("gen_mod")
		p := path.Join(dir, name+".py")
		base := tr.Pick(tr.Names(".py", "", pyClass))
		if base == "" {
			base = "object"
		}
		tr.Write(p, "from "+mod+" import *\n\n\nclass GenK("+base+"):\n    def area(self):\n        return 1\n\n\n"+
			"def "+name+"_run():\n    GenK().area()\n")
		return p
	}},
	{Name: "delete file", Apply: func(tr *ingesttest.Tree) string { return tr.DeleteFile(".py", 2) }},
}
