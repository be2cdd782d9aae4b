package graph_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestExportGolden exports a small shop whose neighbourhoods hold every
// relation, in every format, and compares the text with the golden files
// in testdata/export (go test -run ExportGolden -update rewrites them).
// Cart's class relations and Cart.Add's calls and variable accesses
// together cover all twelve relations.
func TestExportGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	defer e.h.Close()
	e.createGraph(t, "shop")
	e.post(t, `mutation {
	  upsertNodes(graphId: "shop", nodes: [
	    {kind: CLASS, name: "Cart", qualifiedName: "example.com/shop.Cart"},
	    {kind: CLASS, name: "Base", qualifiedName: "example.com/shop.Base"},
	    {kind: CLASS, name: "Store", qualifiedName: "example.com/shop.Store"},
	    {kind: CLASS, name: "Money", qualifiedName: "example.com/shop.Money"},
	    {kind: CLASS, name: "Item", qualifiedName: "example.com/shop.Item"},
	    {kind: CLASS, name: "Logger", qualifiedName: "example.com/shop.Logger"},
	    {kind: CLASS, name: "Clock", qualifiedName: "example.com/shop.Clock"},
	    {kind: CLASS, name: "Price", qualifiedName: "example.com/shop.Price"},
	    {kind: CLASS, name: "Basket", qualifiedName: "example.com/shop.Basket"},
	    {kind: FUNCTION, name: "main", qualifiedName: "example.com/shop.main"},
	    {kind: FUNCTION, name: "Add", qualifiedName: "example.com/shop.Cart.Add"},
	    {kind: FUNCTION, name: "Save", qualifiedName: "example.com/shop.Store.Save"},
	    {kind: FUNCTION, name: "Println", qualifiedName: "fmt.Println", external: true},
	    {kind: VARIABLE, name: "items", qualifiedName: "example.com/shop.Cart.items"},
	    {kind: VARIABLE, name: "limit", qualifiedName: "example.com/shop.limit"},
	    {kind: VARIABLE, name: "last", qualifiedName: "example.com/shop.last"}]) { id }
	  upsertEdges(graphId: "shop", edges: [
	    {from: "example.com/shop.Cart", to: "example.com/shop.Base", relation: INHERITANCE},
	    {from: "example.com/shop.Cart", to: "example.com/shop.Store", relation: REALIZATION},
	    {from: "example.com/shop.Cart", to: "example.com/shop.Money", relation: COMPOSITION},
	    {from: "example.com/shop.Cart", to: "example.com/shop.Item", relation: AGGREGATION},
	    {from: "example.com/shop.Cart", to: "example.com/shop.Logger", relation: ASSOCIATION},
	    {from: "example.com/shop.Cart", to: "example.com/shop.Clock", relation: DEPENDENCY},
	    {from: "example.com/shop.Price", to: "example.com/shop.Money", relation: LINK},
	    {from: "example.com/shop.Basket", to: "example.com/shop.Cart", relation: DASHED_LINK},
	    {from: "example.com/shop.main", to: "example.com/shop.Cart.Add", relation: CALLS},
	    {from: "example.com/shop.Cart.Add", to: "fmt.Println", relation: CALLS},
	    {from: "example.com/shop.Cart.Add", to: "example.com/shop.Store.Save", relation: CALLS, dynamic: true},
	    {from: "example.com/shop.Cart.Add", to: "example.com/shop.Cart.items", relation: WRITES},
	    {from: "example.com/shop.Cart.Add", to: "example.com/shop.limit", relation: READS},
	    {from: "example.com/shop.Cart.Add", to: "example.com/shop.last", relation: REFERENCES}])
	}`, &map[string]any{})

	formats := []struct{ gql, ext string }{{"MERMAID_FLOWCHART", "mermaid"}, {"MERMAID_CLASS", "mermaid-class"}, {"DOT", "dot"}}
	starts := []struct{ name, qn string }{{"cart", "example.com/shop.Cart"}, {"add", "example.com/shop.Cart.Add"}}
	got := map[string]string{}
	for _, s := range starts {
		for _, f := range formats {
			var out struct {
				Graph struct{ Node struct{ Export string } }
			}
			e.post(t, `query($q: String!, $f: ExportFormat!) { graph(id: "shop") { node(qualifiedName: $q) { export(format: $f, depth: 2) } } }`,
				&out, client.Var("q", s.qn), client.Var("f", f.gql))
			name := s.name + "." + f.ext
			got[name] = out.Graph.Node.Export
			checkGolden(t, filepath.Join("testdata", "export", name), got[name])
		}
	}

	// The contract's directions, independent of the golden files: Whole *--
	// Part, Whole o-- Part, Parent <|-- Child, Interface <|.. Impl.
	for _, want := range []string{
		"shop_Base <|-- shop_Cart : inheritance", "shop_Store <|.. shop_Cart : realization",
		"shop_Cart *-- shop_Money : composition", "shop_Cart o-- shop_Item : aggregation",
		"shop_Cart --> shop_Logger : association", "shop_Cart ..> shop_Clock : dependency",
		"shop_Price -- shop_Money : link", "shop_Basket .. shop_Cart : dashed_link",
	} {
		if !strings.Contains(got["cart.mermaid-class"], want+"\n") {
			t.Errorf("class diagram lacks %q", want)
		}
	}
	for _, want := range []string{
		"shop_main --> shop_Cart_Add\n", "shop_Cart_Add -.-> shop_Store_Save\n", "shop_Cart_Add --> fmt_Println\n",
		"shop_Cart_Add -->|writes| shop_Cart_items\n", "shop_Cart_Add -->|reads| shop_limit\n", "shop_Cart_Add -->|references| shop_last\n",
	} {
		if !strings.Contains(got["add.mermaid"], want) {
			t.Errorf("flowchart lacks %q", want)
		}
	}
	for _, want := range []string{
		`"example.com/shop.Cart" -> "example.com/shop.Money" [label="COMPOSITION", style=solid, dir=back, arrowtail=diamond]`,
		`"example.com/shop.Cart" -> "example.com/shop.Item" [label="AGGREGATION", style=solid, dir=back, arrowtail=odiamond]`,
		`"example.com/shop.Cart" -> "example.com/shop.Base" [label="INHERITANCE", style=solid, arrowhead=empty]`,
	} {
		if !strings.Contains(got["cart.dot"], want) {
			t.Errorf("dot lacks %q", want)
		}
	}
	// A flowchart draws no class relation and a class diagram no call.
	if strings.Contains(got["cart.mermaid"], "--") || strings.Contains(got["add.mermaid-class"], "-->") {
		t.Errorf("a format drew relations of the other:\n%s\n%s", got["cart.mermaid"], got["add.mermaid-class"])
	}
}

// checkGolden compares got with the file at path, or rewrites the file
// under -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run ExportGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}
