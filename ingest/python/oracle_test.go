//go:build cgo

package python

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	out := runJedi(t, py, dir)
	tJedi := time.Since(t0)
	t1 := time.Now()
	facts := ingesttest.ExtractAll(t, New(), dir, "cha")
	tGrafo := time.Since(t1)

	o := &jediOracle{nodes: map[string]bool{}}
	edges := o.grafoCalls(facts)
	var sites []jediSite
	o.bases, sites = parseJedi(t, out)
	if len(sites) < 1000 {
		t.Fatalf("jedi reported %d call sites; the oracle slice has over 1,000", len(sites))
	}
	sc := o.judge(edges, o.answers(sites))

	t.Logf("jedi %v (%d call sites), frontend %v", tJedi.Round(time.Millisecond), len(sites), tGrafo.Round(time.Millisecond))
	sc.log(t)
	if sc.dynAll == 0 || sc.statAll == 0 || sc.want == 0 {
		t.Fatalf("nothing to judge: %d dynamic, %d static edges, %d in-tree definitions", sc.dynAll, sc.statAll, sc.want)
	}
	if p := pct(sc.dynOK, sc.dynAll); p < 95 {
		t.Errorf("dynamic in-tree CALLS precision %.1f%% < 95%%", p)
	}
	if sc.statOK != sc.statAll {
		t.Errorf("static in-tree CALLS precision %.1f%% < 100%%", pct(sc.statOK, sc.statAll))
	}
	if p := pct(sc.extOK, sc.extAll); p < 95 {
		t.Errorf("external CALLS consistency %.1f%% < 95%%", p)
	}
	if p := pct(sc.found, sc.want); p < 95 {
		t.Errorf("in-tree CALLS recall %.1f%% < 95%%", p)
	}
}

// runJedi runs testdata/jedi_calls.py on dir and returns its output.
// jedi takes most of the time: one process per CPU (at most 4), each on
// a share of the files.
func runJedi(t *testing.T, py, dir string) []byte {
	t.Helper()
	n := max(1, min(runtime.GOMAXPROCS(0), 4))
	cache := t.TempDir()
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stderr bytes.Buffer
			cmd := exec.Command(py, "testdata/jedi_calls.py", dir, strconv.Itoa(k), strconv.Itoa(n))
			// A cache of its own: jedi's pickles are not safe to share
			// between processes (a half-written one fails a reader).
			cmd.Env = append(os.Environ(), "JEDI_CACHE_DIR="+filepath.Join(cache, strconv.Itoa(k)))
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
	return bytes.Join(outs, nil)
}

// parseJedi splits jedi_calls.py's output into the bases of each class
// and the call sites.
func parseJedi(t *testing.T, out []byte) (bases map[string][]string, sites []jediSite) {
	t.Helper()
	bases = map[string][]string{}
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
	return bases, sites
}

// callSite is where a call starts: Grafo's edge position, jedi's key.
type callSite struct {
	path      string
	line, col int
}

// jediAnswer is what jedi says a call site calls.
type jediAnswer struct {
	inTree  map[string]bool // normalized in-tree definitions
	outside int             // definitions outside the tree (or not nodes)
	self    bool
}

// jediOracle holds what the judging needs of both sides: the FUNCTION
// and CLASS nodes of the tree (Grafo's) and the class bases (jedi's).
type jediOracle struct {
	nodes map[string]bool
	bases map[string][]string
}

// grafoCalls records the tree's FUNCTION and CLASS nodes in o.nodes and
// returns the CALLS edges by site.
func (o *jediOracle) grafoCalls(facts []ingest.FileFacts) map[callSite][]ingest.Edge {
	edges := map[callSite][]ingest.Edge{}
	for _, ff := range facts {
		for _, n := range ff.Nodes {
			if !n.External && n.Kind != ingest.Variable {
				o.nodes[n.QualifiedName] = true
			}
		}
		for _, e := range ff.Edges {
			if e.Relation == ingest.Calls {
				k := callSite{e.Path, e.Line, e.Column}
				edges[k] = append(edges[k], e)
			}
		}
	}
	return edges
}

// ctor is what calling class c calls, along jedi's bases.
func (o *jediOracle) ctor(c string, seen map[string]bool) string {
	if seen[c] {
		return ""
	}
	seen[c] = true
	if o.nodes[c+".__init__"] {
		return c + ".__init__"
	}
	for _, b := range o.bases[c] {
		if r := o.ctor(b, seen); r != "" {
			return r
		}
	}
	return ""
}

// answers pools jedi's definitions by call site, a class standing for
// what calling it calls.
func (o *jediOracle) answers(sites []jediSite) map[callSite]*jediAnswer {
	answers := map[callSite]*jediAnswer{}
	for _, s := range sites {
		k := callSite{s.Path, s.Line, s.Col}
		a := answers[k]
		if a == nil {
			a = &jediAnswer{inTree: map[string]bool{}}
			answers[k] = a
		}
		a.self = a.self || s.Self
		for _, d := range s.Defs {
			if !d.InTree || !o.nodes[d.FullName] {
				a.outside++
				continue
			}
			if d.Type == "class" {
				if c := o.ctor(d.FullName, map[string]bool{}); c != "" {
					a.inTree[c] = true
					continue
				}
			}
			a.inTree[d.FullName] = true
		}
	}
	return answers
}

// derives reports whether class c is, or derives from, class b.
func (o *jediOracle) derives(c, b string, depth int) bool {
	if c == b {
		return true
	}
	if depth > 20 {
		return false
	}
	for _, x := range o.bases[c] {
		if o.derives(x, b, depth+1) {
			return true
		}
	}
	return false
}

// override reports whether to is a method overriding, in a derived
// class, one of the in-tree definitions of a.
func (o *jediOracle) override(to string, a *jediAnswer) bool {
	i := strings.LastIndexByte(to, '.')
	if i < 0 {
		return false
	}
	for d := range a.inTree {
		j := strings.LastIndexByte(d, '.')
		if j >= 0 && d[j:] == to[i:] && o.derives(to[:i], d[:j], 0) {
			return true
		}
	}
	return false
}

// oracleScore counts the edges judged and found right, by kind, and the
// in-tree definitions wanted and found, with the wrong and missed ones.
type oracleScore struct {
	dynAll, dynOK, statAll, statOK, extAll, extOK, want, found int
	bad, missed                                                []string
}

// judge scores Grafo's CALLS edges against jedi's answers: precision
// over the edges at sites jedi can judge, recall over jedi's in-tree
// definitions.
func (o *jediOracle) judge(edges map[callSite][]ingest.Edge, answers map[callSite]*jediAnswer) *oracleScore {
	sc := &oracleScore{}
	for k, es := range edges {
		a := answers[k]
		if a == nil || len(a.inTree)+a.outside == 0 {
			continue // jedi cannot judge
		}
		for _, e := range es {
			ok := a.inTree[e.To]
			where := fmt.Sprintf("%s:%d:%d %s → %s", k.path, k.line, k.col, e.From, e.To)
			switch {
			case !o.nodes[e.To]:
				sc.extAll++
				if len(a.inTree) == 0 {
					sc.extOK++
				} else {
					sc.bad = append(sc.bad, "external "+where)
				}
			case e.Dynamic:
				sc.dynAll++
				if ok || a.self && o.override(e.To, a) {
					sc.dynOK++
				} else {
					sc.bad = append(sc.bad, "dynamic "+where)
				}
			default:
				sc.statAll++
				if ok {
					sc.statOK++
				} else {
					sc.bad = append(sc.bad, "static "+where)
				}
			}
		}
	}
	for k, a := range answers {
		for d := range a.inTree {
			sc.want++
			hit := false
			for _, e := range edges[k] {
				hit = hit || e.To == d
			}
			if hit {
				sc.found++
			} else {
				sc.missed = append(sc.missed, fmt.Sprintf("%s:%d:%d → %s", k.path, k.line, k.col, d))
			}
		}
	}
	return sc
}

// log logs the precisions and recall, and the first 40 wrong and missed
// edges.
func (sc *oracleScore) log(t *testing.T) {
	t.Helper()
	t.Logf("dynamic in-tree CALLS precision %.1f%% (%d of %d judged)", pct(sc.dynOK, sc.dynAll), sc.dynOK, sc.dynAll)
	t.Logf("static in-tree CALLS precision %.1f%% (%d of %d judged)", pct(sc.statOK, sc.statAll), sc.statOK, sc.statAll)
	t.Logf("external CALLS consistent with jedi %.1f%% (%d of %d judged)", pct(sc.extOK, sc.extAll), sc.extOK, sc.extAll)
	t.Logf("in-tree CALLS recall %.1f%% (%d of %d)", pct(sc.found, sc.want), sc.found, sc.want)
	sort.Strings(sc.bad)
	sort.Strings(sc.missed)
	for i, s := range sc.bad {
		if i == 40 {
			break
		}
		t.Logf("wrong: %s", s)
	}
	for i, s := range sc.missed {
		if i == 40 {
			break
		}
		t.Logf("missed: %s", s)
	}
}

// pct is a as a percentage of b, 0 when b is.
func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
