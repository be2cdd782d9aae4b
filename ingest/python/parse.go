//go:build cgo

package python

import (
	"fmt"
	"sort"

	sitter "github.com/tree-sitter/go-tree-sitter"
	tspy "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// node is a tree-sitter node copied into Go memory, named nodes only, so
// that the analysis makes no cgo call per node and the tree-sitter tree
// can be freed right after parsing.
type node struct {
	kind    string
	field   string // field name in the parent, "" if none
	start   uint32 // byte offsets into the source
	end     uint32
	line    int // 1-based
	col     int // 1-based, in bytes
	endLine int
	kids    []*node
}

// text is the source text of n.
func (n *node) text(src []byte) string { return string(src[n.start:n.end]) }

// child is the first child in field f, nil if none.
func (n *node) child(f string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.field == f {
			return k
		}
	}
	return nil
}

// children are the children in field f.
func (n *node) children(f string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.field == f {
			out = append(out, k)
		}
	}
	return out
}

// firstOf is the first child of kind k, nil if none.
func (n *node) firstOf(k string) *node {
	for _, c := range n.kids {
		if c.kind == k {
			return c
		}
	}
	return nil
}

var (
	language = sitter.NewLanguage(tspy.Language())
	// kinds and fields name the grammar's symbol and field ids, so that
	// copying a tree makes no cgo call (and no C string copy) for them.
	kinds  []string
	named  []bool
	fields []string
)

func init() {
	for id := range uint16(language.NodeKindCount()) {
		kinds = append(kinds, language.NodeKindForId(id))
		named = append(named, language.NodeKindIsNamed(id))
	}
	fields = append(fields, "")
	for id := uint16(1); id <= uint16(language.FieldCount()); id++ {
		fields = append(fields, language.FieldNameForId(id))
	}
}

// newParser returns a parser for Python; the caller closes it. A parser
// is used by one goroutine at a time.
func newParser() *sitter.Parser {
	p := sitter.NewParser()
	if err := p.SetLanguage(language); err != nil {
		panic(fmt.Sprintf("python: tree-sitter language: %v", err)) // only on an ABI mismatch, a build error
	}
	return p
}

// readChunk is the most text tree-sitter gets per read.
const readChunk = 16 << 10

// maxSyntaxDiags caps the syntax-error diagnostics of one file.
const maxSyntaxDiags = 10

// parse parses src and copies its tree. The diagnostics are one "syntax
// error at line N" per line holding an innermost ERROR node (one with no
// error inside) or a missing token: an outer ERROR node often starts
// lines before the mistake, wrapping what tree-sitter recovered.
func parse(p *sitter.Parser, src []byte) (*node, []string) {
	// Parser.Parse hands tree-sitter a C copy of the rest of the text on
	// every read; bounded chunks keep that linear.
	tree := p.ParseWithOptions(func(i int, _ sitter.Point) []byte {
		if i >= len(src) {
			return nil
		}
		return src[i:min(i+readChunk, len(src))]
	}, nil, nil)
	if tree == nil {
		return &node{kind: "module"}, []string{"syntax error at line 1: the parser gave up"}
	}
	defer tree.Close()
	c := tree.Walk()
	defer c.Close()
	cp := &copier{c: c, lines: map[int]bool{}, starts: lineStarts(src)}
	root, _ := cp.conv(0)
	return root, syntaxDiags(cp.lines)
}

// lineStarts returns the byte offset of each line of src.
func lineStarts(src []byte) []uint32 {
	var starts []uint32
	starts = append(starts, 0)
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, uint32(i+1))
		}
	}
	return starts
}

// copier copies a tree-sitter tree into nodes, through a cursor.
type copier struct {
	c      *sitter.TreeCursor
	starts []uint32     // byte offset of each line
	lines  map[int]bool // lines holding an innermost error
}

// lineOf returns the 1-based line holding byte off.
func (cp *copier) lineOf(off uint32) int {
	return sort.Search(len(cp.starts), func(i int) bool { return cp.starts[i] > off })
}

// conv copies the cursor's node; bad reports an error in the subtree.
func (cp *copier) conv(field uint16) (n *node, bad bool) {
	c := cp.c
	tn := c.Node()
	id := tn.KindId()
	n = &node{start: uint32(tn.StartByte()), end: uint32(tn.EndByte())}
	if int(id) < len(kinds) {
		n.kind = kinds[id]
	} else {
		n.kind = tn.Kind() // ERROR (65535)
	}
	if int(field) < len(fields) {
		n.field = fields[field]
	}
	n.line = cp.lineOf(n.start)
	n.col = int(n.start-cp.starts[n.line-1]) + 1
	n.endLine = cp.lineOf(n.end)
	if n.end > n.start && cp.starts[n.endLine-1] == n.end {
		n.endLine-- // a block ending with its newline ends on the line before
	}
	hasErr := tn.HasError()
	inner := false
	if tn.ChildCount() > 0 && c.GotoFirstChild() {
		inner = cp.convKids(n, hasErr)
		c.GotoParent()
	}
	trimTrailingComments(n)
	if hasErr && (tn.IsError() || tn.IsMissing()) && !inner {
		cp.lines[n.line] = true
		inner = true
	}
	return n, inner
}

// convKids copies into n the children from the cursor's node on (its
// first child): named ones, missing tokens when the subtree has an error,
// and what anonymous wrappers hold. It reports an error in any of them.
func (cp *copier) convKids(n *node, hasErr bool) (inner bool) {
	c := cp.c
	for {
		ctn := c.Node()
		cid := ctn.KindId()
		isNamed := int(cid) >= len(named) || named[cid]
		if isNamed || hasErr && ctn.IsMissing() || ctn.ChildCount() > 0 {
			k, bad := cp.conv(c.FieldId())
			inner = inner || bad
			if isNamed {
				n.kids = append(n.kids, k)
			} else {
				n.kids = append(n.kids, k.kids...) // an anonymous wrapper: keep what it holds
			}
		}
		if !c.GotoNextSibling() {
			break
		}
	}
	return inner
}

// trimTrailingComments makes n (the module aside) end where the code of
// its last child ends: a comment trailing a block (tree-sitter keeps it
// inside) does not stretch the block, nor the function or class holding
// it.
func trimTrailingComments(n *node) {
	if k := len(n.kids); k > 0 && n.kind != "module" && n.kids[k-1].end == n.end {
		j := k - 1
		for j >= 0 && n.kids[j].kind == "comment" {
			j--
		}
		if j >= 0 {
			n.endLine = n.kids[j].endLine
		} else if n.kids[k-1].kind == "comment" {
			n.endLine = n.line
		}
	}
}

// syntaxDiags returns one diagnostic per line with an error, in line
// order, at most maxSyntaxDiags and a count of the rest.
func syntaxDiags(lines map[int]bool) []string {
	var ls []int
	for l := range lines {
		ls = append(ls, l)
	}
	sort.Ints(ls)
	var diags []string
	for i, l := range ls {
		if i == maxSyntaxDiags {
			diags = append(diags, fmt.Sprintf("… and %d more syntax errors", len(ls)-i))
			break
		}
		diags = append(diags, fmt.Sprintf("syntax error at line %d", l))
	}
	return diags
}
