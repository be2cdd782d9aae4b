package ingest

import "sort"

// Diff is how a tree on disk differs from what a graph holds.
type Diff struct {
	New       []File   // on disk, not in the graph
	Changed   []File   // in both, checksums differ
	Unchanged []File   // in both, same checksums
	Deleted   []string // in the graph, no longer on disk
}

// Compare diffs the claimed files on disk against held (Sink.Files).
// present lists every path that exists on disk, claimed by a frontend or
// not: a held file that still exists is never reported deleted, so a
// binary built without some frontend does not erase that language's files
// from a graph.
func Compare(disk []File, present map[string]bool, held map[string]File) Diff {
	var d Diff
	for _, f := range disk {
		h, ok := held[f.Path]
		switch {
		case !ok:
			d.New = append(d.New, f)
		case h.MD5 != f.MD5 || h.Adler32 != f.Adler32 || h.Size != f.Size && h.Size != 0:
			d.Changed = append(d.Changed, f)
		default:
			d.Unchanged = append(d.Unchanged, f)
		}
	}
	for p := range held {
		if !present[p] {
			d.Deleted = append(d.Deleted, p)
		}
	}
	sort.Strings(d.Deleted)
	return d
}

// Empty reports whether nothing must be written.
func (d Diff) Empty() bool { return len(d.New)+len(d.Changed)+len(d.Deleted) == 0 }
