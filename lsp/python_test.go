//go:build cgo

package lsp_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.lsp.dev/uri"

	_ "github.com/grafo/grafo/ingest/python"
	"github.com/grafo/grafo/lsp"
)

// shopPy has a call, an attribute written and read, and a non-ASCII line
// (UTF-16 counts "é" as one unit, "𝄞" as two) before a use.
const shopPy = `class Cart:
    def __init__(self):
        self.total = 0

    def add(self, price: int) -> "Cart":
        self.total += price
        return self


def checkout(c: Cart) -> int:
    c.add(3)
    s = "é𝄞"; return c.total
`

// Python files answer like Go ones: definition of a method at its call,
// references of an attribute with their columns in UTF-16, hover.
func TestPythonDefinitionAndReferences(t *testing.T) {
	root := filepath.Join(t.TempDir(), "pyshop")
	writeFile(t, filepath.Join(root, "shop.py"), shopPy)
	s, _ := newSession(t, root, lsp.Config{}, nil)
	doc := map[string]any{"uri": uri.File(filepath.Join(root, "shop.py"))}
	var locs []location
	s.call(t, "textDocument/definition", map[string]any{"textDocument": doc, "position": map[string]any{"line": 10, "character": 6}}, &locs)
	if fmt.Sprint(locs) != "[shop.py:4:8-4:11]" {
		t.Errorf("definition of c.add = %v, want shop.py:4:8-4:11", locs)
	}
	s.call(t, "textDocument/references", map[string]any{"textDocument": doc, "position": map[string]any{"line": 2, "character": 14},
		"context": map[string]any{"includeDeclaration": true}}, &locs)
	// Line 12: `    s = "é𝄞"; return c.total` — total at character 23, UTF-16
	// unit 24. self.total in __init__ declares and writes: one location.
	if want := "[shop.py:2:13-2:18 shop.py:5:13-5:18 shop.py:11:24-11:29]"; fmt.Sprint(locs) != want {
		t.Errorf("references of Cart.total = %v, want %s", locs, want)
	}
	var hover struct{ Contents struct{ Value string } }
	s.call(t, "textDocument/hover", map[string]any{"textDocument": doc, "position": map[string]any{"line": 10, "character": 6}}, &hover)
	if want := "**function** `shop.Cart.add`\n\ncallers: 1 · callees: 0"; len(hover.Contents.Value) < len(want) || hover.Contents.Value[:len(want)] != want {
		t.Errorf("hover on c.add = %q", hover.Contents.Value)
	}
}
