//go:build cgo

package graph_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	_ "github.com/grafo/grafo/ingest/python"
)

// pyCallees is an independent reading of the call sites of a tree:
// CPython's own parser (ast) lists, for every call and every decorator,
// where the call starts and the identifier naming the callee (a Name, or
// the attribute of an Attribute), with 1-based byte columns as the
// frontend's edges have them. Outer calls come first (ast.walk is breadth
// first): super().m() and super() start at the same place.
const pyCallees = `
import ast, json, os, sys
out, broken = [], []
for dp, _, fs in os.walk(sys.argv[1]):
    for f in sorted(fs):
        if not f.endswith(".py"):
            continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, sys.argv[1]).replace(os.sep, "/")
        try:
            tree = ast.parse(open(p, "rb").read())
        except SyntaxError:
            broken.append(rel)
            continue
        def site(at, fn):
            if isinstance(fn, ast.Name):
                l, c, name = fn.lineno, fn.col_offset, fn.id
            elif isinstance(fn, ast.Attribute):
                l, c, name = fn.end_lineno, fn.end_col_offset - len(fn.attr), fn.attr
            else:
                return
            out.append({"path": rel, "line": at.lineno, "col": at.col_offset + 1, "idLine": l, "idCol": c + 1, "name": name})
        for n in ast.walk(tree):
            if isinstance(n, ast.Call):
                site(n, n.func)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for d in n.decorator_list:
                    if not isinstance(d, ast.Call):
                        site(d, d)
print(json.dumps({"sites": out, "broken": broken}))
`

type pySite struct {
	Path          string
	Line, Col     int
	IDLine, IDCol int
	Name          string
}

// On every call site of the Python golden fixtures, symbolAt on the
// callee's name (its first and its last character) answers the function
// the site's static CALLS edge names; where the site has only dynamic
// edges, a function it answers is one of their targets.
func TestSymbolAtEveryCallSiteOfThePythonGoldens(t *testing.T) {
	e := newEnv(t)
	type parsed struct {
		callee map[callSite]pySite
		broken []string // files CPython rejects: tree-sitter's recovery is not checked
	}
	byDir := map[string]parsed{}
	checked := e.checkCallSites(t, "python", func(g, dir string, s callSite) (string, [][2]int) {
		pd, ok := byDir[dir]
		if !ok {
			out, err := exec.Command("python3", "-c", pyCallees, dir).Output()
			if err != nil {
				t.Fatalf("python3: %v", err)
			}
			var ps struct {
				Sites  []pySite
				Broken []string
			}
			if err := json.Unmarshal(out, &ps); err != nil {
				t.Fatal(err)
			}
			pd = parsed{callee: map[callSite]pySite{}, broken: ps.Broken}
			for _, p := range ps.Sites {
				if _, ok := pd.callee[callSite{p.Path, p.Line, p.Col}]; !ok {
					pd.callee[callSite{p.Path, p.Line, p.Col}] = p
				}
			}
			byDir[dir] = pd
		}
		p, ok := pd.callee[s]
		if !ok {
			if !slices.Contains(pd.broken, s.path) {
				t.Errorf("%s: CALLS edge at %s:%d:%d is no call site CPython sees", g, s.path, s.line, s.col)
			}
			return "", nil
		}
		src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.path)))
		if err != nil {
			t.Fatal(err)
		}
		line := strings.Split(string(src), "\n")[p.IDLine-1]
		first := utf8.RuneCountInString(line[:p.IDCol-1]) + 1
		return p.Name, [][2]int{{p.IDLine, first}, {p.IDLine, first + utf8.RuneCountInString(p.Name) - 1}}
	})
	if checked < 100 {
		t.Fatalf("only %d call sites checked", checked)
	}
	t.Log(fmt.Sprint(checked, " callee positions checked"))
}

// The references of a Python variable are exactly its definition, reads,
// writes and references, with character columns (the last line of app.py
// has "é" and "ö" before one).
func TestReferencesOfAPythonVariable(t *testing.T) {
	e := newEnv(t)
	e.ingestFixtureOf(t, "python", "pyvars", "vars.txtar")
	for qn, want := range map[string][]string{
		"app.Counter.value": {"app.py:9:14-19 definition", "app.py:9:14-19 write", "app.py:13:14-19 write",
			"app.py:14:34-39 reference", "app.py:15:21-26 reference", "app.py:18:14-19 write",
			"app.py:23:13-18 reference", "app.py:27:7-12 write", "app.py:27:39-44 reference"},
		"conf.LIMIT": {"app.py:2:18-23 reference", "app.py:18:27-32 reference", "app.py:19:24-25 reference", "conf.py:1:1-6 definition",
			"conf.py:19:16-21 reference", "conf.py:26:12-17 reference", "conf.py:43:18-23 read", "conf.py:48:11-16 read"},
		"conf.CACHE": {"conf.py:3:1-6 definition", "conf.py:19:5-10 write", "conf.py:25:9-14 reference", "conf.py:49:1-6 write"},
	} {
		if got := e.references(t, "pyvars", qn); !slices.Equal(got, want) {
			t.Errorf("references of %s:\n got %q\nwant %q", qn, got, want)
		}
	}
}
