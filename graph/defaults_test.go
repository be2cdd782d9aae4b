package graph

import (
	"os"
	"strconv"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSchemaDefaults holds the defaults schema.graphqls declares equal to
// the constants the resolvers and complexity prices use.
func TestSchemaDefaults(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	for _, c := range []struct {
		typ, field, arg string
		want            int
	}{
		{"Node", "callers", "depth", defaultDepth},
		{"Node", "callees", "depth", defaultDepth},
		{"Node", "export", "depth", defaultDepth},
		{"Node", "export", "limit", defaultExportLimit},
	} {
		f := schema.Types[c.typ].Fields.ForName(c.field)
		if f == nil || f.Arguments.ForName(c.arg) == nil || f.Arguments.ForName(c.arg).DefaultValue == nil {
			t.Errorf("%s.%s(%s) has no default in the schema", c.typ, c.field, c.arg)
			continue
		}
		if got := f.Arguments.ForName(c.arg).DefaultValue.Raw; got != strconv.Itoa(c.want) {
			t.Errorf("%s.%s(%s) defaults to %s in the schema, %d in the code", c.typ, c.field, c.arg, got, c.want)
		}
	}
}
