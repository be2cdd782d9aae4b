package ingesttest

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
	"github.com/grafo/grafo/kv/kvtest"
)

// RandomSeed is GRAFO_INCREMENTAL_SEED if set, else the clock; logged so
// that a failure can be replayed.
func RandomSeed(t testing.TB) uint64 {
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

// FixtureFiles returns the source files of a txtar fixture, under prefix.
func FixtureFiles(t *testing.T, fixture, prefix string) map[string]string {
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

// Tree is the edited source tree: its files in memory and on disk.
type Tree struct {
	t     *testing.T
	dir   string
	Files map[string]string // path → content
	Rand  *rand.Rand
	n     int // counter for fresh names
}

// Write sets the file at slash path p.
func (tr *Tree) Write(p, data string) {
	tr.Files[p] = data
	WriteFile(tr.t, tr.dir, p, data)
}

func (tr *Tree) remove(p string) {
	delete(tr.Files, p)
	if err := os.Remove(filepath.Join(tr.dir, filepath.FromSlash(p))); err != nil {
		tr.t.Fatal(err)
	}
}

// Paths lists the files whose path ends with ext, sorted.
func (tr *Tree) Paths(ext string) []string {
	var out []string
	for p := range tr.Files {
		if strings.HasSuffix(p, ext) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Pick returns a random element of ps, "" if none.
func (tr *Tree) Pick(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	return ps[tr.Rand.IntN(len(ps))]
}

// Fresh returns a name never returned before, prefix and a number.
func (tr *Tree) Fresh(prefix string) string {
	tr.n++
	return fmt.Sprintf("%s%d", prefix, tr.n)
}

// Regression is a run of Incremental that once found a bug: its seed and
// the step that failed.
type Regression struct {
	Seed  uint64
	Steps int
}

// IncrementalRuns runs Incremental over the regressions, each up to the
// step that once failed, then once from a random seed (RandomSeed) for
// steps steps.
func IncrementalRuns(t *testing.T, files map[string]string, fronts []ingest.Frontend, edits []Edit, regressions []Regression, steps int) {
	for _, rc := range regressions {
		t.Run(fmt.Sprintf("seed=%d", rc.Seed), func(t *testing.T) {
			Incremental(t, files, fronts, edits, rc.Seed, rc.Steps)
		})
	}
	t.Run("random", func(t *testing.T) {
		Incremental(t, files, fronts, edits, RandomSeed(t), steps)
	})
}

// Edit is one kind of random change; it returns what it did, "" if it
// found nothing to do.
type Edit struct {
	Name  string
	Apply func(tr *Tree) string
	// Check, when set, judges the incremental ingest that followed the
	// edit (e.g. which path the frontend took): a non-empty answer fails
	// the run.
	Check func(sum ingest.Summary) string
}

// Incremental checks the property that makes incremental ingest
// trustworthy: after any sequence of edits, each followed by an
// incremental ingest, the graph is exactly what a fresh ingest of the same
// tree gives — nodes, edges with their positions and dynamic flags, files
// (checksums, diagnostics, facts digests), occurrences and stats. A run
// starts from a tree (the frontends' golden fixtures), applies steps
// random edits drawn from a seed (logged; GRAFO_INCREMENTAL_SEED=N
// replays one) and compares after every step. Frontends keep the seeds
// that once found a bug as regression runs.
func Incremental(t *testing.T, files map[string]string, fronts []ingest.Frontend, edits []Edit, seed uint64, steps int) {
	ctx := context.Background()
	tr := &Tree{t: t, dir: t.TempDir(), Files: map[string]string{}, Rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for p, data := range files {
		tr.Write(p, data)
	}
	inc := store.New(kvtest.NewStore(t), store.Options{})
	fresh := store.New(kvtest.NewStore(t), store.Options{})
	opts := ingest.Options{Frontends: fronts}
	if _, err := ingest.Run(ctx, tr.dir, "inc", inc, opts); err != nil {
		t.Fatal(err)
	}
	var history []string
	refreshed, narrow := 0, 0
	var compare time.Duration
	for step := 1; step <= steps; step++ {
		var did string
		var e Edit
		for did == "" {
			e = edits[tr.Rand.IntN(len(edits))]
			if d := e.Apply(tr); d != "" {
				did = e.Name + ": " + d
			}
		}
		history = append(history, did)
		sum, err := ingest.Run(ctx, tr.dir, "inc", inc, opts)
		if err != nil {
			t.Fatalf("step %d (%s): incremental ingest: %v", step, did, err)
		}
		refreshed += sum.Refreshed
		narrow += min(sum.Narrow, 1)
		if e.Check != nil {
			if msg := e.Check(sum); msg != "" {
				t.Fatalf("seed %d, step %d (%s): %s\nedits:\n  %s", seed, step, did, msg, strings.Join(history, "\n  "))
			}
		}
		g := fmt.Sprintf("fresh%d", step)
		if _, err := ingest.Run(ctx, tr.dir, g, fresh, opts); err != nil {
			t.Fatalf("step %d (%s): fresh ingest: %v", step, did, err)
		}
		t1 := time.Now()
		want, got := graphText(t, fresh, g, tr), graphText(t, inc, "inc", tr)
		compare += time.Since(t1)
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
	t.Logf("comparing took %s", compare)
	t.Logf("%d steps; %d unchanged files rewritten because a change elsewhere altered their facts; %d steps re-analysed only the changed packages",
		steps, refreshed, narrow)
}

// graphText is everything a graph holds, in a stable text form that does
// not depend on the graph's name: the dump (languages, files, nodes and
// edges, external nodes), the occurrences of every line of every file,
// and the stats.
func graphText(t *testing.T, st *store.Store, g string, tr *Tree) string {
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
		n := strings.Count(tr.Files[f.Path], "\n") + 2
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

// Text helpers shared by the edits of both languages.

// InsertAfter inserts the line text returns after the line of a random
// match of re in a random file with extension ext.
func (tr *Tree) InsertAfter(ext string, re *regexp.Regexp, text func(p string, m []string) string) string {
	type cand struct {
		p string
		m []int
	}
	var cands []cand
	for _, p := range tr.Paths(ext) {
		for _, m := range re.FindAllStringSubmatchIndex(tr.Files[p], -1) {
			cands = append(cands, cand{p, m})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	c := cands[tr.Rand.IntN(len(cands))]
	src := tr.Files[c.p]
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
	tr.Write(c.p, src[:at]+ins+"\n"+src[at:])
	return fmt.Sprintf("%s after %q: %q", c.p, m[0], ins)
}

// AppendTo appends text to a random file with extension ext.
func (tr *Tree) AppendTo(ext string, text func(p string) string) string {
	p := tr.Pick(tr.Paths(ext))
	if p == "" {
		return ""
	}
	ins := text(p)
	if ins == "" {
		return ""
	}
	tr.Write(p, tr.Files[p]+"\n"+ins)
	return fmt.Sprintf("%s: %q", p, ins)
}

// Names lists group 1 of every match of re in the files with extension
// ext under dir ("" for all), sorted, without repeats.
func (tr *Tree) Names(ext, dir string, re *regexp.Regexp) []string {
	var out []string
	for _, p := range tr.Paths(ext) {
		if dir != "" && path.Dir(p) != dir {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(tr.Files[p], -1) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RemoveBlock removes a random match of re (a whole declaration).
func (tr *Tree) RemoveBlock(ext string, re *regexp.Regexp) string {
	type cand struct {
		p    string
		a, b int
	}
	var cands []cand
	for _, p := range tr.Paths(ext) {
		for _, loc := range re.FindAllStringIndex(tr.Files[p], -1) {
			cands = append(cands, cand{p, loc[0], loc[1]})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	c := cands[tr.Rand.IntN(len(cands))]
	src := tr.Files[c.p]
	tr.Write(c.p, src[:c.a]+src[c.b:])
	first, _, _ := strings.Cut(src[c.a:c.b], "\n")
	return fmt.Sprintf("%s: %q", c.p, first)
}

// Rename renames a random declared name (group 1 of re) everywhere in
// files with extension ext, as a word.
func (tr *Tree) Rename(ext string, re *regexp.Regexp) string {
	old := tr.Pick(tr.Names(ext, "", re))
	if old == "" {
		return ""
	}
	nu := old + "R" + strconv.Itoa(tr.Rand.IntN(9))
	word := regexp.MustCompile(`\b` + regexp.QuoteMeta(old) + `\b`)
	for _, p := range tr.Paths(ext) {
		if s := word.ReplaceAllString(tr.Files[p], nu); s != tr.Files[p] {
			tr.Write(p, s)
		}
	}
	return old + " → " + nu
}

// Dirs lists the directories holding files with extension ext.
func (tr *Tree) Dirs(ext string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range tr.Paths(ext) {
		if d := path.Dir(p); !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// DeleteFile removes a random file with extension ext, keeping at least
// keep of them.
func (tr *Tree) DeleteFile(ext string, keep int) string {
	ps := tr.Paths(ext)
	if len(ps) <= keep {
		return ""
	}
	p := tr.Pick(ps)
	tr.remove(p)
	return p
}
