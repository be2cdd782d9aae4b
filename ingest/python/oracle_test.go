//go:build cgo

package python

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// jediPython is a Python that can import jedi: Debian's /usr/bin/python3
// first (python3 on PATH may be a pyenv shim without python3-jedi).
func jediPython(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import jedi").Run() == nil {
			return p
		}
	}
	t.Fatal("python3-jedi missing: run make deps (apt-get install python3-jedi)")
	return ""
}

// jediSite is one line of testdata/jedi_calls.py's output.
type jediSite struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Col   int    `json:"col"`
	Name  string `json:"name"`
	Self  bool   `json:"self"`
	Class string `json:"class"`
	Bases []string
	Defs  []struct {
		FullName string `json:"full_name"`
		Type     string `json:"type"`
		InTree   bool   `json:"in_tree"`
	} `json:"defs"`
}

// TestOracleJedi compares the CALLS edges of the frontend on
// testdata/oracle (json and logging of CPython 3.11, code nobody here
// wrote) with jedi's definitions for the same call sites.
//
//   - A call site is a call whose callee is a name or ends in .name
//     (f(…), a.b.m(…)), keyed by where the call expression starts (line,
//     byte column), which is where Grafo puts the edge. Calls chained from
//     one start (a.b().c()) share a key; their jedi answers are pooled.
//   - jedi can judge a site when its goto (following imports), else its
//     infer, names at least one function or class there.
//   - A jedi definition is in-tree when it lies in testdata/oracle and is
//     a FUNCTION or CLASS node of the graph (nested functions are not). A
//     class stands for what calling it calls: its __init__, own or the
//     first found along jedi's bases, else the class itself.
//   - Static and dynamic are the edges' Dynamic flag.
//   - An edge is right when its target is one of jedi's definitions for
//     its site, or, for a dynamic edge at a self.m() or cls.m() site, an
//     m of a class deriving (by jedi's bases) from the class of one of
//     them: the override self.m() may dispatch to.
//
// Precision of dynamic and of static edges to nodes of the tree is over
// such edges at sites jedi can judge; recall is over the (site, in-tree
// definition) pairs jedi gives. Edges to external nodes (static or
// dynamic) cannot be matched by name (jedi names the class that defines
// a method, Grafo the class of the receiver): one is consistent when
// jedi's definitions for its site all lie outside the tree.
// $GRAFO_ORACLE_DIR judges another tree instead (packages at its root).
func TestOracleJedi(t *testing.T) {
	py := jediPython(t)
	dir := "testdata/oracle"
	if d := os.Getenv("GRAFO_ORACLE_DIR"); d != "" {
		dir = d // another tree to judge on, e.g. more of the standard library
	}
	t0 := time.Now()
	// jedi takes most of the time: one process per CPU, each on a share
	// of the files.
	n := max(1, min(runtime.GOMAXPROCS(0), 4))
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stderr bytes.Buffer
			cmd := exec.Command(py, "testdata/jedi_calls.py", dir, strconv.Itoa(k), strconv.Itoa(n))
			cmd.Stderr = &stderr
			if outs[k], errs[k] = cmd.Output(); errs[k] != nil {
				errs[k] = fmt.Errorf("jedi_calls.py: %v\n%s", errs[k], stderr.String())
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	out := bytes.Join(outs, nil)
	tJedi := time.Since(t0)
	t1 := time.Now()
	facts := ingesttest.ExtractAll(t, New(), dir, "cha")
	tGrafo := time.Since(t1)

	nodes := map[string]bool{} // FUNCTION and CLASS nodes of the tree
	type site struct {
		path      string
		line, col int
	}
	edges := map[site][]ingest.Edge{}
	for _, ff := range facts {
		for _, n := range ff.Nodes {
			if !n.External && n.Kind != ingest.Variable {
				nodes[n.QualifiedName] = true
			}
		}
		for _, e := range ff.Edges {
			if e.Relation == ingest.Calls {
				k := site{e.Path, e.Line, e.Column}
				edges[k] = append(edges[k], e)
			}
		}
	}

	bases := map[string][]string{}
	type answer struct {
		inTree  map[string]bool // normalized in-tree definitions
		outside int             // definitions outside the tree (or not nodes)
		self    bool
	}
	answers := map[site]*answer{}
	var sites []jediSite
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s jediSite
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("jedi output %q: %v", sc.Text(), err)
		}
		if s.Class != "" {
			bases[s.Class] = s.Bases
			continue
		}
		sites = append(sites, s)
	}
	if len(sites) < 1000 {
		t.Fatalf("jedi reported %d call sites; the oracle slice has over 1,000", len(sites))
	}
	// ctor is what calling class c calls, along jedi's bases.
	var ctor func(c string, seen map[string]bool) string
	ctor = func(c string, seen map[string]bool) string {
		if seen[c] {
			return ""
		}
		seen[c] = true
		if nodes[c+".__init__"] {
			return c + ".__init__"
		}
		for _, b := range bases[c] {
			if r := ctor(b, seen); r != "" {
				return r
			}
		}
		return ""
	}
	for _, s := range sites {
		k := site{s.Path, s.Line, s.Col}
		a := answers[k]
		if a == nil {
			a = &answer{inTree: map[string]bool{}}
			answers[k] = a
		}
		a.self = a.self || s.Self
		for _, d := range s.Defs {
			if !d.InTree || !nodes[d.FullName] {
				a.outside++
				continue
			}
			if d.Type == "class" {
				if c := ctor(d.FullName, map[string]bool{}); c != "" {
					a.inTree[c] = true
					continue
				}
			}
			a.inTree[d.FullName] = true
		}
	}
	// derives reports whether class c is, or derives from, class b.
	var derives func(c, b string, depth int) bool
	derives = func(c, b string, depth int) bool {
		if c == b {
			return true
		}
		if depth > 20 {
			return false
		}
		for _, x := range bases[c] {
			if derives(x, b, depth+1) {
				return true
			}
		}
		return false
	}
	override := func(to string, a *answer) bool {
		i := strings.LastIndexByte(to, '.')
		if i < 0 {
			return false
		}
		for d := range a.inTree {
			j := strings.LastIndexByte(d, '.')
			if j >= 0 && d[j:] == to[i:] && derives(to[:i], d[:j], 0) {
				return true
			}
		}
		return false
	}

	var dynAll, dynOK, statAll, statOK, extAll, extOK, want, found int
	var bad, missed []string
	for k, es := range edges {
		a := answers[k]
		if a == nil || len(a.inTree)+a.outside == 0 {
			continue // jedi cannot judge
		}
		for _, e := range es {
			ok := a.inTree[e.To]
			where := fmt.Sprintf("%s:%d:%d %s → %s", k.path, k.line, k.col, e.From, e.To)
			switch {
			case !nodes[e.To]:
				extAll++
				if len(a.inTree) == 0 {
					extOK++
				} else {
					bad = append(bad, "external "+where)
				}
			case e.Dynamic:
				dynAll++
				if ok || a.self && override(e.To, a) {
					dynOK++
				} else {
					bad = append(bad, "dynamic "+where)
				}
			default:
				statAll++
				if ok {
					statOK++
				} else {
					bad = append(bad, "static "+where)
				}
			}
		}
	}
	for k, a := range answers {
		for d := range a.inTree {
			want++
			hit := false
			for _, e := range edges[k] {
				hit = hit || e.To == d
			}
			if hit {
				found++
			} else {
				missed = append(missed, fmt.Sprintf("%s:%d:%d → %s", k.path, k.line, k.col, d))
			}
		}
	}
	pct := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	t.Logf("jedi %v (%d call sites), frontend %v", tJedi.Round(time.Millisecond), len(sites), tGrafo.Round(time.Millisecond))
	t.Logf("dynamic in-tree CALLS precision %.1f%% (%d of %d judged)", pct(dynOK, dynAll), dynOK, dynAll)
	t.Logf("static in-tree CALLS precision %.1f%% (%d of %d judged)", pct(statOK, statAll), statOK, statAll)
	t.Logf("external CALLS consistent with jedi %.1f%% (%d of %d judged)", pct(extOK, extAll), extOK, extAll)
	t.Logf("in-tree CALLS recall %.1f%% (%d of %d)", pct(found, want), found, want)
	sort.Strings(bad)
	sort.Strings(missed)
	for i, s := range bad {
		if i == 40 {
			break
		}
		t.Logf("wrong: %s", s)
	}
	for i, s := range missed {
		if i == 40 {
			break
		}
		t.Logf("missed: %s", s)
	}
	if dynAll == 0 || statAll == 0 || want == 0 {
		t.Fatalf("nothing to judge: %d dynamic, %d static edges, %d in-tree definitions", dynAll, statAll, want)
	}
	if p := pct(dynOK, dynAll); p < 95 {
		t.Errorf("dynamic in-tree CALLS precision %.1f%% < 95%%", p)
	}
	if statOK != statAll {
		t.Errorf("static in-tree CALLS precision %.1f%% < 100%%", pct(statOK, statAll))
	}
	if p := pct(extOK, extAll); p < 95 {
		t.Errorf("external CALLS consistency %.1f%% < 95%%", p)
	}
	if p := pct(found, want); p < 95 {
		t.Errorf("in-tree CALLS recall %.1f%% < 95%%", p)
	}
}
