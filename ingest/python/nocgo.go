//go:build !cgo

package python

import "github.com/grafo/grafo/ingest"

// Without cgo there is no tree-sitter, so no Python frontend: Run reports
// the Python files it leaves out with this reason.
func init() {
	ingest.Unavailable("python", "the python frontend is not in this binary "+
		"(it needs cgo for tree-sitter; this grafo was built with CGO_ENABLED=0)")
}
