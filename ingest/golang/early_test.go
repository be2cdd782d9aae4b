package golang

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// realizeTree: *Sq realizes Shape and io.Reader, and names both in a
// function-typed field and a method's signature, whose DEPENDENCY edges
// the realizations overrule; methods.go reaches io.Reader through that
// dependency alone, so its external node must go with it. Other keeps its
// dependency on io.Reader. Total calls Area through the interface, after
// non-ASCII text on the same line: the dynamic edge's column, added at
// completion, counts characters from a column map read again then.
var realizeTree = map[string]string{
	"go.mod":       "module example.com/r\n\ngo 1.22\n",
	"r/iface.go":   "package r\n\ntype Shape interface{ Area() float64 }\n\ntype Sq struct{ f func(Shape) Shape }\n",
	"r/methods.go": "package r\n\nimport \"io\"\n\nfunc (s *Sq) Area() float64 { return 1 }\n\nfunc (s *Sq) Read(p []byte) (int, error) { return 0, io.EOF }\n\nfunc (s *Sq) With(o Shape, r io.Reader) Shape { return o }\n",
	"r/use.go":     "package r\n\nimport \"io\"\n\ntype Other struct{}\n\nfunc (Other) Use(r io.Reader) {}\n\nfunc Total(ss []Shape) (t float64) {\n\tfor _, s := range ss {\n\t\tt += /* é, 世界 */ s.Area()\n\t}\n\treturn t\n}\n",
}

// Extracting each package as soon as it is built, and completing its
// dynamic calls, realizations and overruled dependencies once the module
// is indexed, gives exactly the facts of extracting after indexing.
func TestEarlyExtractionSameFacts(t *testing.T) {
	dirs := map[string]string{}
	for _, name := range []string{"calls", "tests", "occurrences", "oracle/uuid", "oracle/golang-lru"} {
		dirs[name] = ingesttest.Unpack(t, filepath.Join("testdata", name+".txtar"))
	}
	dir := t.TempDir()
	for name, src := range realizeTree {
		ingesttest.WriteFile(t, dir, name, src)
	}
	dirs["realize"] = dir
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			dir, err := filepath.EvalSymlinks(dir)
			if err != nil {
				t.Fatal(err)
			}
			late, lateEarly := factsOf(t, dir, true)
			early, earlyEarly := factsOf(t, dir, false)
			if lateEarly != 0 || earlyEarly == 0 {
				t.Fatalf("%d packages extracted early with the whole program built first, %d with the pipeline: the test compares nothing", lateEarly, earlyEarly)
			}
			if d := mapDiff(late, early); d != "" {
				t.Errorf("facts differ (extracted after indexing vs early):\n%s", d)
			}
			if name == "realize" {
				for _, want := range []string{`"to":"io.Reader","relation":"REALIZATION"`, `"to":"example.com/r/r.Shape","relation":"REALIZATION"`} {
					if !strings.Contains(early["r/iface.go"], want) {
						t.Errorf("iface.go lacks %s:\n%s", want, early["r/iface.go"])
					}
				}
				if m := early["r/methods.go"]; strings.Contains(m, `"to":"example.com/r/r.Shape","relation":"DEPENDENCY"`) ||
					strings.Contains(m, `"to":"io.Reader"`) || strings.Contains(m, `"qualifiedName":"io.Reader"`) {
					t.Errorf("methods.go keeps a dependency a realization overrules, or its external type:\n%s", m)
				}
				if !strings.Contains(early["r/use.go"], `"to":"example.com/r/r.Sq.Area","relation":"CALLS"`) {
					t.Errorf("use.go lacks the dynamic call of Sq.Area:\n%s", early["r/use.go"])
				}
			}
		})
	}
}

// factsOf extracts the module in dir with CHA, the whole program built
// before extraction or with the pipeline, and returns each file's facts
// as JSON and how many packages were extracted early.
func factsOf(t *testing.T, dir string, whole bool) (map[string]string, int) {
	t.Helper()
	l, paths, req := loadCHA(t, dir, whole)
	early := len(l.earlyFiles)
	for _, files := range l.earlyFiles {
		for _, fx := range files {
			if fx.spooled == nil || fx.facts.Nodes != nil || fx.facts.Edges != nil || fx.facts.Occurrences != nil {
				t.Errorf("%s awaits completion with its facts in memory, not in the spool", fx.path)
			}
		}
	}
	var mu sync.Mutex
	out := map[string]string{}
	err := l.extract(context.Background(), req, paths, func(ff ingest.FileFacts) error {
		b, err := json.Marshal(ff)
		mu.Lock()
		defer mu.Unlock()
		out[ff.File.Path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, early
}
