package golang

import (
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/grafo/grafo/ingest"
)

// Facts come back from the spool exactly as they went, empty slices and
// nil ones alike (the writer's JSON tells them apart), and the spool
// leaves no file in the directory it goes to.
func TestSpoolGivesBackExactFacts(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the spool's file is in the temporary directory: %v", left)
	}
	if fi, err := s.f.Stat(); err != nil || filepath.Dir(s.f.Name()) != filepath.Clean(tmp) || fi.Size() != 0 {
		t.Errorf("the spool is %s (%v), not a new file in TMPDIR %s", s.f.Name(), err, tmp)
	}
	full := &fileX{path: "a.go", pos: []token.Pos{7, 9}, facts: ingest.FileFacts{
		File:        ingest.File{Path: "a.go", Diagnostics: []string{"d"}},
		Nodes:       []ingest.Node{{Kind: ingest.Function, Name: "F", QualifiedName: "m.F", Path: "a.go", Line: 3, EndLine: 5}},
		Edges:       []ingest.Edge{{From: "m.F", To: "m.G", Relation: ingest.Calls, Path: "a.go", Line: 4, Column: 2, Dynamic: true}},
		Occurrences: []ingest.Occurrence{{Line: 4, Column: 2, EndColumn: 3, Role: ingest.RoleDefinition, Target: "m.G"}},
	}}
	empty := &fileX{path: "b.go", pos: []token.Pos{}, facts: ingest.FileFacts{File: ingest.File{Path: "b.go"}, Nodes: []ingest.Node{}, Edges: []ingest.Edge{}}}
	none := &fileX{path: "c.go", facts: ingest.FileFacts{File: ingest.File{Path: "c.go"}}}
	fxs := []*fileX{full, empty, none}
	var wants []ingest.FileFacts
	var wantPos [][]token.Pos
	for _, fx := range fxs {
		wants, wantPos = append(wants, fx.facts), append(wantPos, fx.pos)
		if err := s.spill(fx); err != nil {
			t.Fatal(err)
		}
		if fx.facts.Nodes != nil || fx.facts.Edges != nil || fx.facts.Occurrences != nil || fx.pos != nil || fx.spooled == nil {
			t.Fatalf("%s: facts still in memory after spill", fx.path)
		}
	}
	for i := len(fxs) - 1; i >= 0; i-- { // any order
		fx := fxs[i]
		if err := s.unspill(fx); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fx.facts, wants[i]) || !reflect.DeepEqual(fx.pos, wantPos[i]) {
			t.Errorf("%s: got back %#v %#v, want %#v %#v", fx.path, fx.facts, fx.pos, wants[i], wantPos[i])
		}
	}
	// A record cut short or damaged is an error, not a panic or a large
	// allocation.
	if err := s.spill(full); err != nil {
		t.Fatal(err)
	}
	at := *full.spooled
	full.spooled = &spooled{off: at.off, n: at.n - 3}
	if err := s.unspill(full); err == nil {
		t.Error("a record cut short came back without an error")
	}
	if _, err := s.f.WriteAt([]byte{0x00, 0xff, 0xff, 0xff, 0xff, 0x0f}, at.off); err != nil {
		t.Fatal(err)
	}
	full.spooled = &at
	if err := s.unspill(full); err == nil {
		t.Error("a record claiming 4 billion nodes came back without an error")
	}
	if full.spooled == nil {
		t.Error("a failed read forgot where the facts are")
	}
	if err := s.close(); err != nil {
		t.Error(err)
	}
}

// The spool writes every field of the facts by hand: a field added to
// them must be added to spill and unspill too, or early-extracted files
// would lose it.
func TestSpoolCoversEveryField(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields int
	}{{ingest.Node{}, 7}, {ingest.Edge{}, 7}, {ingest.Occurrence{}, 5}, {ingest.FileFacts{}, 4}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, the spool knows %d: add the new ones to spool.go (and here)", c.v, n, c.fields)
		}
	}
}
