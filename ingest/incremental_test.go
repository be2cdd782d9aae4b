package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/grafo/grafo/graph/store"
	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/golang"
	"github.com/grafo/grafo/ingest/ingesttest"
	"github.com/grafo/grafo/kv/kvtest"
)

// The property: after any sequence of edits, each followed by an
// incremental ingest, the graph is exactly what a fresh ingest of the same
// tree gives — nodes, edges with their positions and dynamic flags, files
// (with checksums, diagnostics and facts digests), occurrences and stats.
// Each run starts from golden fixtures, applies random edits from a seed
// (printed; GRAFO_INCREMENTAL_SEED=N replays one) and checks after every
// step. Seeds that once found a bug stay in the regression lists.

// goSteps and pySteps bound a random run; every Go step loads the
// packages twice (incremental and fresh), the costly part.
const (
	goSteps = 30
	pySteps = 40
)

// Seeds of the regression runs, each with what it found when it failed.
var (
	goRegressionSeeds = []uint64{}
	pyRegressionSeeds = []uint64{}
)

// TestIncrementalEqualsFreshGo edits a tree built from the Go golden
// fixtures: a call graph across packages (interface dispatch, function
// values), class relations and variables. Their standard-library imports
// (fmt, io) are swapped for a stand-in module outside the tree with the
// same names: the facts stay external exactly as before, and each load
// parses a few lines instead of half the standard library (the test
// loads the packages twice per step).
func TestIncrementalEqualsFreshGo(t *testing.T) {
	ext := t.TempDir()
	ingesttest.WriteFile(t, ext, "go.mod", "module example.com/ext\n\ngo 1.22\n")
	ingesttest.WriteFile(t, ext, "fmt/fmt.go", "package fmt\n\nfunc Println(a ...any) (int, error) { return 0, nil }\n\n"+
		"func Sprint(a ...any) string { return \"\" }\n\ntype Stringer interface{ String() string }\n")
	ingesttest.WriteFile(t, ext, "io/io.go", "package io\n\ntype Reader interface{ Read(p []byte) (int, error) }\n\n"+
		"type Writer interface{ Write(p []byte) (int, error) }\n\ntype Closer interface{ Close() error }\n")
	files := fixtureFiles(t, "golang/testdata/calls.txtar", "")
	for p, data := range fixtureFiles(t, "golang/testdata/classes.txtar", "k/") {
		files[p] = data
	}
	for p, data := range fixtureFiles(t, "golang/testdata/vars.txtar", "v/") {
		files[p] = data
	}
	delete(files, "k/go.mod")
	delete(files, "v/go.mod")
	for p, data := range files {
		data = strings.ReplaceAll(data, `"fmt"`, `fmt "example.com/ext/fmt"`)
		files[p] = strings.ReplaceAll(data, `"io"`, `io "example.com/ext/io"`)
	}
	files["go.mod"] += "\nrequire example.com/ext v0.0.0\n\nreplace example.com/ext => " + filepath.ToSlash(ext) + "\n"
	fronts := []ingest.Frontend{golang.New()}
	for _, seed := range goRegressionSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			propertyRun(t, files, fronts, goEdits, seed, goSteps)
		})
	}
	t.Run("random", func(t *testing.T) {
		propertyRun(t, files, fronts, goEdits, randomSeed(t), goSteps)
	})
}

// randomSeed is GRAFO_INCREMENTAL_SEED if set, else the clock; logged so
// that a failure can be replayed.
func randomSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GRAFO_INCREMENTAL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GRAFO_INCREMENTAL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with GRAFO_INCREMENTAL_SEED=%d)", seed, seed)
	return seed
}

// fixtureFiles returns the source files of a txtar fixture, under prefix.
func fixtureFiles(t *testing.T, fixture, prefix string) map[string]string {
	t.Helper()
	ar, err := txtar.ParseFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range ar.Files {
		switch f.Name {
		case "expected", "occurrences", "callgraph":
			continue
		}
		out[prefix+f.Name] = string(f.Data)
	}
	return out
}

// tree is the edited source tree: its files in memory and on disk.
type tree struct {
	t     *testing.T
	dir   string
	files map[string]string
	rnd   *rand.Rand
	n     int // counter for fresh names
}

func (tr *tree) write(p, data string) {
	tr.files[p] = data
	ingesttest.WriteFile(tr.t, tr.dir, p, data)
}

func (tr *tree) remove(p string) {
	delete(tr.files, p)
	if err := os.Remove(filepath.Join(tr.dir, filepath.FromSlash(p))); err != nil {
		tr.t.Fatal(err)
	}
}

// paths lists the files whose path ends with ext, sorted.
func (tr *tree) paths(ext string) []string {
	var out []string
	for p := range tr.files {
		if strings.HasSuffix(p, ext) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (tr *tree) pick(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	return ps[tr.rnd.IntN(len(ps))]
}

func (tr *tree) fresh(prefix string) string {
	tr.n++
	return fmt.Sprintf("%s%d", prefix, tr.n)
}

// edit is one kind of random change; it returns what it did, "" if it
// found nothing to do.
type edit struct {
	name  string
	apply func(tr *tree) string
}

func propertyRun(t *testing.T, files map[string]string, fronts []ingest.Frontend, edits []edit, seed uint64, steps int) {
	ctx := context.Background()
	tr := &tree{t: t, dir: t.TempDir(), files: map[string]string{}, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for p, data := range files {
		tr.write(p, data)
	}
	inc := store.New(kvtest.NewStore(t), store.Options{})
	fresh := store.New(kvtest.NewStore(t), store.Options{})
	opts := ingest.Options{Frontends: fronts}
	if _, err := ingest.Run(ctx, tr.dir, "inc", inc, opts); err != nil {
		t.Fatal(err)
	}
	var history []string
	refreshed := 0
	for step := 1; step <= steps; step++ {
		var did string
		for did == "" {
			e := edits[tr.rnd.IntN(len(edits))]
			if d := e.apply(tr); d != "" {
				did = e.name + ": " + d
			}
		}
		history = append(history, did)
		sum, err := ingest.Run(ctx, tr.dir, "inc", inc, opts)
		if err != nil {
			t.Fatalf("step %d (%s): incremental ingest: %v", step, did, err)
		}
		refreshed += sum.Refreshed
		g := fmt.Sprintf("fresh%d", step)
		if _, err := ingest.Run(ctx, tr.dir, g, fresh, opts); err != nil {
			t.Fatalf("step %d (%s): fresh ingest: %v", step, did, err)
		}
		want, got := graphText(t, fresh, g, tr), graphText(t, inc, "inc", tr)
		if got != want {
			t.Fatalf("seed %d, step %d: incremental graph differs from a fresh ingest (-fresh +incremental):\n%s\nedits:\n  %s",
				seed, step, lineDiff(want, got), strings.Join(history, "\n  "))
		}
		if _, err := fresh.DeleteGraph(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	// Unchanged now: a re-ingest writes nothing.
	sum, err := ingest.Run(ctx, tr.dir, "inc", inc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.New+sum.Changed+sum.Deleted+sum.Nodes+sum.Edges != 0 || sum.Load != 0 {
		t.Errorf("unchanged re-ingest did work: %+v", sum)
	}
	t.Logf("%d steps; %d unchanged files rewritten because a change elsewhere altered their facts", steps, refreshed)
}

// graphText is everything a graph holds, in a stable text form that does
// not depend on the graph's name: the dump (languages, files, nodes and
// edges, external nodes), the occurrences of every line of every file,
// and the stats.
func graphText(t *testing.T, st *store.Store, g string, tr *tree) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	err := st.Dump(ctx, g, func(r *store.DumpRecord) error {
		switch {
		case r.Graph != nil:
			lines = append(lines, fmt.Sprintf("graph format=%d languages=%v", r.Graph.Format, r.Graph.Languages))
		case r.External != nil:
			for _, n := range r.External {
				lines = append(lines, fmt.Sprintf("external %s %s", n.Kind, n.QualifiedName))
			}
		case r.File != nil:
			f := r.File.File
			lines = append(lines, fmt.Sprintf("file %s %s %s %s %d %s facts=%s diags=%q", f.Path, f.Name, f.MD5, f.Adler32, f.Size, f.Language, f.Facts, f.Diagnostics))
			for _, n := range r.File.Nodes {
				lines = append(lines, fmt.Sprintf("  %s node %+v", f.Path, n))
			}
			for _, e := range r.File.Edges {
				lines = append(lines, fmt.Sprintf("  %s edge %+v", f.Path, e))
			}
		case r.API != nil:
			lines = append(lines, fmt.Sprintf("api %+v", *r.API))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := st.ListFiles(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var occs []store.Occurrence
	for _, f := range files {
		n := strings.Count(tr.files[f.Path], "\n") + 2
		for line := 1; line <= n; line++ {
			os, err := st.OccurrencesAt(ctx, g, f.Path, line)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range os {
				occs = append(occs, o)
				ids = append(ids, o.Node)
			}
		}
	}
	nodes, err := st.NodesByID(ctx, g, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range occs {
		target := "MISSING"
		if nodes[i] != nil {
			target = nodes[i].QualifiedName
		}
		lines = append(lines, fmt.Sprintf("occurrence %s:%d:%d-%d %s %s", o.Path, o.Line, o.Column, o.End, o.Role, target))
	}
	stats, err := st.Stats(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, fmt.Sprintf("stats files=%d nodes=%d edges=%d byKind=%v byRelation=%v",
		stats.Files, stats.Nodes, stats.Edges, stats.ByKind, stats.ByRelation))
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// Text helpers shared by the edits of both languages.

// insertAfter inserts the line text returns after the line of a random
// match of re in a random file with extension ext.
func (tr *tree) insertAfter(ext string, re *regexp.Regexp, text func(p string, m []string) string) string {
	type cand struct {
		p string
		m []int
	}
	var cands []cand
	for _, p := range tr.paths(ext) {
		for _, m := range re.FindAllStringSubmatchIndex(tr.files[p], -1) {
			cands = append(cands, cand{p, m})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	c := cands[tr.rnd.IntN(len(cands))]
	src := tr.files[c.p]
	var m []string
	for i := 0; i < len(c.m); i += 2 {
		if c.m[i] >= 0 {
			m = append(m, src[c.m[i]:c.m[i+1]])
		} else {
			m = append(m, "")
		}
	}
	at := len(src)
	if i := strings.IndexByte(src[c.m[1]:], '\n'); i >= 0 {
		at = c.m[1] + i + 1
	}
	ins := text(c.p, m)
	if ins == "" {
		return ""
	}
	tr.write(c.p, src[:at]+ins+"\n"+src[at:])
	return fmt.Sprintf("%s after %q: %q", c.p, m[0], ins)
}

// appendTo appends text to a random file with extension ext.
func (tr *tree) appendTo(ext string, text func(p string) string) string {
	p := tr.pick(tr.paths(ext))
	if p == "" {
		return ""
	}
	ins := text(p)
	if ins == "" {
		return ""
	}
	tr.write(p, tr.files[p]+"\n"+ins)
	return fmt.Sprintf("%s: %q", p, ins)
}

// names lists group 1 of every match of re in the files with extension
// ext under dir ("" for all), sorted, without repeats.
func (tr *tree) names(ext, dir string, re *regexp.Regexp) []string {
	var out []string
	for _, p := range tr.paths(ext) {
		if dir != "" && path.Dir(p) != dir {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(tr.files[p], -1) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// removeBlock removes a random match of re (a whole declaration).
func (tr *tree) removeBlock(ext string, re *regexp.Regexp) string {
	type cand struct {
		p    string
		a, b int
	}
	var cands []cand
	for _, p := range tr.paths(ext) {
		for _, loc := range re.FindAllStringIndex(tr.files[p], -1) {
			cands = append(cands, cand{p, loc[0], loc[1]})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	c := cands[tr.rnd.IntN(len(cands))]
	src := tr.files[c.p]
	tr.write(c.p, src[:c.a]+src[c.b:])
	first, _, _ := strings.Cut(src[c.a:c.b], "\n")
	return fmt.Sprintf("%s: %q", c.p, first)
}

// rename renames a random declared name (group 1 of re) everywhere in
// files with extension ext, as a word.
func (tr *tree) rename(ext string, re *regexp.Regexp) string {
	old := tr.pick(tr.names(ext, "", re))
	if old == "" {
		return ""
	}
	nu := old + "R" + strconv.Itoa(tr.rnd.IntN(9))
	word := regexp.MustCompile(`\b` + regexp.QuoteMeta(old) + `\b`)
	for _, p := range tr.paths(ext) {
		if s := word.ReplaceAllString(tr.files[p], nu); s != tr.files[p] {
			tr.write(p, s)
		}
	}
	return old + " → " + nu
}

// dirs lists the directories holding files with extension ext.
func (tr *tree) dirs(ext string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range tr.paths(ext) {
		if d := path.Dir(p); !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// deleteFile removes a random file with extension ext, keeping at least
// keep of them.
func (tr *tree) deleteFile(ext string, keep int) string {
	ps := tr.paths(ext)
	if len(ps) <= keep {
		return ""
	}
	p := tr.pick(ps)
	tr.remove(p)
	return p
}
