package ingesttest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/grafo/grafo/ingest"
)

// Golden runs fe over each txtar fixture matching pattern and compares
// its facts, in a stable text form (Format), with the fixture's "expected"
// section. An optional "callgraph" section names the call-graph algorithm.
// With update, the expected sections are rewritten instead — review every
// line by hand: goldens are the spec.
func Golden(t *testing.T, fe ingest.Frontend, pattern string, update bool) {
	fixtures, err := filepath.Glob(pattern)
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, fx := range fixtures {
		t.Run(strings.TrimSuffix(filepath.Base(fx), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(fx)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			algo, want, wantOcc := "cha", "", ""
			hasOcc := false
			for _, f := range ar.Files {
				switch f.Name {
				case "expected":
					want = string(f.Data)
					continue
				case "occurrences":
					wantOcc, hasOcc = string(f.Data), true
					continue
				case "callgraph":
					algo = strings.TrimSpace(string(f.Data))
					continue
				}
				WriteFile(t, dir, f.Name, string(f.Data))
			}
			facts := ExtractAll(t, fe, dir, algo)
			got, gotOcc := Format(facts), FormatOccurrences(facts)
			if update {
				for i := range ar.Files {
					switch ar.Files[i].Name {
					case "expected":
						ar.Files[i].Data = []byte(got)
					case "occurrences":
						ar.Files[i].Data = []byte(gotOcc)
					}
				}
				if want == "" {
					ar.Files = append(ar.Files, txtar.File{Name: "expected", Data: []byte(got)})
				}
				if err := os.WriteFile(fx, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("facts differ from %s (-want +got):\n%s\nactual, in golden form:\n%s", fx, lineDiff(want, got), got)
			}
			if hasOcc && gotOcc != wantOcc {
				t.Errorf("occurrences differ from %s (-want +got):\n%s\nactual, in golden form:\n%s", fx, lineDiff(wantOcc, gotOcc), gotOcc)
			}
		})
	}
}

// Unpack writes the source files of a txtar fixture (its golden sections
// "expected", "occurrences" and "callgraph" left out) into a new temporary
// directory and returns it.
func Unpack(t testing.TB, fixture string) string {
	t.Helper()
	ar, err := txtar.ParseFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range ar.Files {
		switch f.Name {
		case "expected", "occurrences", "callgraph":
			continue
		}
		WriteFile(t, dir, f.Name, string(f.Data))
	}
	return dir
}

// WriteFile writes data to the slash-separated path rel under dir,
// creating directories as needed.
func WriteFile(t testing.TB, dir, rel, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ExtractAll runs fe on every claimed file of dir as new, checks that it
// emits each exactly once, and returns the facts with the languages riding
// along as a pseudo file (for Format).
func ExtractAll(t testing.TB, fe ingest.Frontend, dir, algo string) []ingest.FileFacts {
	t.Helper()
	ctx := context.Background()
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := ingest.Walk(ctx, root, ingest.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var files []ingest.File
	changed := map[string]bool{}
	for _, p := range paths {
		if !fe.Claims(p) {
			continue
		}
		f, err := ingest.ChecksumFile(root, p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		changed[p] = true
	}
	var out []ingest.FileFacts
	emitted := map[string]bool{}
	res, err := fe.Extract(ctx, ingest.Request{Root: root, Files: files, Changed: changed, Callgraph: algo,
		Logger: slog.New(slog.DiscardHandler), Parsed: func(int) {}},
		func(ff ingest.FileFacts) error {
			if emitted[ff.File.Path] {
				t.Errorf("%s emitted twice", ff.File.Path)
			}
			emitted[ff.File.Path] = true
			out = append(out, ff)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for p := range changed {
		if !emitted[p] {
			t.Errorf("%s never emitted", p)
		}
	}
	// The languages ride along as a pseudo file for Format.
	langs := ingest.FileFacts{}
	for _, l := range res.Languages {
		langs.File.Diagnostics = append(langs.File.Diagnostics, "LANG "+l.Name+" "+l.Version)
	}
	return append(out, langs)
}

// Format prints facts in the fixtures' stable form: nodes, then edges,
// then diagnostics, each block sorted.
//
//	FUNCTION example.com/a.F a.go:3-5
//	FUNCTION fmt.Println external
//	example.com/a.F CALLS example.com/b.G a.go:4:2 static
//	example.com/a.F READS example.com/a.V a.go:4:5
//	DIAG a.go 3:9: undefined: x
//	LANG go 1.22
func Format(facts []ingest.FileFacts) string {
	nodes, edges, diags := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, ff := range facts {
		for _, n := range ff.Nodes {
			if n.External {
				nodes[fmt.Sprintf("%s %s external", n.Kind, n.QualifiedName)] = true
			} else {
				nodes[fmt.Sprintf("%s %s %s:%d-%d", n.Kind, n.QualifiedName, n.Path, n.Line, n.EndLine)] = true
			}
		}
		for _, e := range ff.Edges {
			s := fmt.Sprintf("%s %s %s %s:%d:%d", e.From, e.Relation, e.To, e.Path, e.Line, e.Column)
			if e.Relation == ingest.Calls {
				if e.Dynamic {
					s += " dynamic"
				} else {
					s += " static"
				}
			}
			edges[s] = true
		}
		for _, d := range ff.File.Diagnostics {
			if ff.File.Path == "" {
				diags[d] = true // LANG lines
				continue
			}
			diags["DIAG "+ff.File.Path+" "+d] = true
		}
	}
	var b strings.Builder
	for _, m := range []map[string]bool{nodes, edges, diags} {
		var ls []string
		for l := range m {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		for _, l := range ls {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// FormatOccurrences prints the occurrences of facts in the fixtures'
// "occurrences" section form, by file, line and column:
//
//	v.go:21:2-7 write example.com/v.Count
func FormatOccurrences(facts []ingest.FileFacts) string {
	var ls []string
	for _, ff := range facts {
		for _, o := range ff.Occurrences {
			ls = append(ls, fmt.Sprintf("%s:%d:%d-%d %s %s", ff.File.Path, o.Line, o.Column, o.EndColumn, o.Role, o.Target))
		}
	}
	sort.SliceStable(ls, func(i, j int) bool { return occLess(ls[i], ls[j]) })
	return strings.Join(ls, "\n") + "\n"
}

// occLess orders "path:line:col-…" lines by path, then line and column
// as numbers.
func occLess(a, b string) bool {
	var pa, pb string
	var la, ca, lb, cb int
	pa, la, ca = splitPos(a)
	pb, lb, cb = splitPos(b)
	if pa != pb {
		return pa < pb
	}
	if la != lb {
		return la < lb
	}
	return ca < cb
}

func splitPos(s string) (string, int, int) {
	pos, _, _ := strings.Cut(s, "-")
	parts := strings.Split(pos, ":")
	if len(parts) < 3 {
		return s, 0, 0
	}
	var l, c int
	fmt.Sscan(parts[len(parts)-2], &l)
	fmt.Sscan(parts[len(parts)-1], &c)
	return strings.Join(parts[:len(parts)-2], ":"), l, c
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
