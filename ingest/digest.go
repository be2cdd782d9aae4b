package ingest

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
)

// normalise puts a file's facts in one canonical order — nodes by
// qualified name (the file's own first), edges and occurrences by position
// — and sets File.Facts to their digest. The order matters beyond the
// digest: a store keeps the first site of an edge a file states twice, so
// the same facts must always arrive in the same order for an incremental
// ingest to leave what a fresh one leaves.
func normalise(ff *FileFacts) {
	slices.SortStableFunc(ff.Nodes, func(a, b Node) int {
		if a.External != b.External {
			if a.External {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.QualifiedName, b.QualifiedName), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.EndLine, b.EndLine))
	})
	slices.SortStableFunc(ff.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Relation, b.Relation), cmp.Compare(a.To, b.To), cmp.Compare(a.From, b.From),
			cmp.Compare(a.Path, b.Path), boolCmp(a.Dynamic, b.Dynamic))
	})
	slices.SortStableFunc(ff.Occurrences, func(a, b Occurrence) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.EndColumn, b.EndColumn), cmp.Compare(a.Role, b.Role), cmp.Compare(a.Target, b.Target))
	})
	ff.File.Facts = FactsDigest(*ff)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// FactsDigest is a digest of what a file contributes to a graph besides
// its checksums — diagnostics, nodes, edges and occurrences, in the order
// given — as 32 lower-case hex digits. Run stores it in File.Facts, so
// that an unchanged file a frontend re-analysed is rewritten only when a
// change elsewhere changed its facts.
func FactsDigest(ff FileFacts) string {
	d := digester{h: sha256.New()}
	d.int(len(ff.File.Diagnostics))
	for _, s := range ff.File.Diagnostics {
		d.str(s)
	}
	d.int(len(ff.Nodes))
	for _, n := range ff.Nodes {
		d.str(string(n.Kind), n.Name, n.QualifiedName, n.Path)
		d.int(n.Line, n.EndLine, b2i(n.External))
	}
	d.int(len(ff.Edges))
	for _, e := range ff.Edges {
		d.str(e.From, e.To, string(e.Relation), e.Path)
		d.int(e.Line, e.Column, b2i(e.Dynamic))
	}
	d.int(len(ff.Occurrences))
	for _, o := range ff.Occurrences {
		d.str(string(o.Role), o.Target)
		d.int(o.Line, o.Column, o.EndColumn)
	}
	return hex.EncodeToString(d.h.Sum(nil)[:16])
}

// digester writes length-prefixed fields, so that no two different
// sequences of fields hash the same bytes.
type digester struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

func (d *digester) int(vs ...int) {
	for _, v := range vs {
		d.h.Write(d.buf[:binary.PutVarint(d.buf[:], int64(v))])
	}
}

func (d *digester) str(ss ...string) {
	for _, s := range ss {
		d.int(len(s))
		d.h.Write([]byte(s))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
