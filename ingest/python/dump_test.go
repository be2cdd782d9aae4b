//go:build cgo

package python

import (
	"fmt"
	"strings"
	"testing"
)

func TestDumpTmp(t *testing.T) {
	src := []byte("with C() as x, D():\n    pass\ntry:\n    pass\nexcept E as e:\n    pass\na = b = c = 1\n(self.h, self.p) = h, p\nx = b'x'\ny = f'{x}'\nz = 'a' 'b'\ndef f():\n    pass\n    # trailing\n\nv = 1\n")
	p := newParser()
	root, _ := parse(p, src)
	var dump func(n *node, d int)
	dump = func(n *node, d int) {
		fmt.Printf("%s%s[%s] %d-%d %q\n", strings.Repeat("  ", d), n.kind, n.field, n.line, n.endLine, n.text(src))
		for _, k := range n.kids {
			dump(k, d+1)
		}
	}
	dump(root, 0)
}
