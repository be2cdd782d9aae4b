package ingest

import (
	"path"
	"regexp"
	"strings"
)

// DefaultMaxFileSize is the default Options.MaxFileSize: larger than any
// hand-written source file, small enough that parsing one costs little
// (a 100 MB file used to take 10 s and half a gigabyte).
const DefaultMaxFileSize = 4 << 20

// absPath finds absolute paths in a message: a slash and at least one name
// right after a blank, a quote or a bracket (or at the start), so that
// "//go:build", URLs and divisions are left alone.
var absPath = regexp.MustCompile(`(^|[\s'"(\[{=,;])((?:/[\w.@+~-]+)+)`)

// scrubPaths makes the paths in diagnostics tree-relative: root's prefix
// is dropped, and any other absolute path (the standard library, the
// module cache, whatever a tool reports) is reduced to "…/" and its base
// name, so stored diagnostics never reveal the host's layout.
func scrubPaths(diags []string, root string) []string {
	for i, d := range diags {
		d = strings.ReplaceAll(d, root+"/", "")
		d = absPath.ReplaceAllStringFunc(d, func(m string) string {
			sub := absPath.FindStringSubmatch(m)
			if sub[2] == root {
				return sub[1] + "."
			}
			return sub[1] + "…/" + path.Base(sub[2])
		})
		diags[i] = d
	}
	return diags
}
