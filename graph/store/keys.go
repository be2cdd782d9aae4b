package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/kv"
)

// Synthetic owners. They start with 0x01, which no file path does.
const (
	apiOwner = "\x01api" // nodes and edges created through GraphQL mutations
	extOwner = "\x01ext" // external nodes, shared by every file
)

const pGraphs = "graphs"

func pGraph(g string) string         { return "g/" + g }
func pFiles(g string) string         { return "g/" + g + "/files" }
func pNode(g, id string) string      { return "g/" + g + "/n/" + id }
func pOwner(g, oid string) string    { return "g/" + g + "/o/" + oid }
func pName(g, bucket string) string  { return "g/" + g + "/name/" + bucket }
func prefix(partition string) []byte { return kv.PartitionPrefix([]byte(partition)) }
func rowPrefix(p, row string) []byte { return kv.Key(p, row) }
func shortHash(parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// NodeID is the stable id of the node named qualifiedName in graph.
func NodeID(graph, qualifiedName string) string { return shortHash(graph, qualifiedName) }

// ownerID names an owner's index partition g/{graph}/o/{ownerID(owner)}.
func ownerID(owner string) string { return shortHash(owner) }

var (
	apiOID = ownerID(apiOwner)
	extOID = ownerID(extOwner)
)

// bucket is the name-index partition of a lower-cased name: its first two
// runes, so a prefix of two or more runes reads one partition.
func bucket(lower string) string {
	if lower == "" {
		return "_"
	}
	i := 0
	for n := 0; n < 2 && i < len(lower); n++ {
		_, size := utf8.DecodeRuneInString(lower[i:])
		i += size
	}
	return lower[:i]
}

func nameRow(lower, id string) string { return lower + "\x01" + id }

func outRow(rel, other, oid string) string { return "out/" + rel + "/" + other + "/" + oid }
func inRow(rel, other, oid string) string  { return "in/" + rel + "/" + other + "/" + oid }
func edgeIndexRow(from, rel, to string) string {
	return "e/" + from + "/" + rel + "/" + to
}

// A file owner indexes its edges grouped by source node: row
// "x/{from}/{chunk}" holds "REL/to" lines, chunked to stay well under the
// pair limit. One row per source instead of one per edge makes an ingest
// write a third fewer rows (an edge is otherwise three rows: out, in and
// index). API mutations keep one "e/" row per edge (edgeIndexRow).
const edgeGroupMax = 8 << 10

func edgeGroupRow(from string, chunk int) string { return fmt.Sprintf("x/%s/%03d", from, chunk) }

// edgeGroups chunks the "REL/to" entries of one source into row values.
func edgeGroups(entries []string) [][]byte {
	var out [][]byte
	var cur []byte
	for _, e := range entries {
		if len(cur) > 0 && len(cur)+1+len(e) > edgeGroupMax {
			out = append(out, cur)
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, '\n')
		}
		cur = append(cur, e...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// ownerRows reads the rows of an owner's index partition: n/{id} for a
// node it defines, e/{from}/{REL}/{to} for an API edge and
// x/{from}/{chunk} for a group of "REL/to" lines of a file's edges. Each
// hook may be nil; other rows (d/, k/, t/, p/) go to other.
type ownerRows struct {
	node  func(id string, v []byte) error // v is the node's indexRec
	edge  func(from, rel, to string)      // once per edge of e/ and x/ rows
	other func(row string, v []byte)
}

// visit parses one row and calls the matching hook; a malformed edge row
// is an error.
func (o ownerRows) visit(row string, v []byte) error {
	switch {
	case strings.HasPrefix(row, "n/"):
		if o.node != nil {
			return o.node(row[2:], v)
		}
	case strings.HasPrefix(row, "e/"):
		p := strings.Split(row, "/")
		if len(p) != 4 {
			return fmt.Errorf("index row %q: malformed", row)
		}
		if o.edge != nil {
			o.edge(p[1], p[2], p[3])
		}
	case strings.HasPrefix(row, "x/"):
		p := strings.Split(row, "/")
		if len(p) != 3 {
			return fmt.Errorf("index row %q: malformed", row)
		}
		for _, line := range strings.Split(string(v), "\n") {
			if rel, to, ok := strings.Cut(line, "/"); ok && o.edge != nil {
				o.edge(p[1], rel, to)
			}
		}
	default:
		if o.other != nil {
			o.other(row, v)
		}
	}
	return nil
}

// isEdgeIndexRow reports whether row is an e/ or x/ row of an owner index.
func isEdgeIndexRow(row string) bool {
	return strings.HasPrefix(row, "e/") || strings.HasPrefix(row, "x/")
}

// decodeIndexRec reads the value of an owner's n/ row.
func decodeIndexRec(id string, v []byte) (indexRec, error) {
	var r indexRec
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("index row n/%s: %w", id, err)
	}
	return r, nil
}

// putName indexes node id under its name and returns the name bucket,
// which the graph partition must list (putBuckets).
func (b *batch) putName(graph, id string, kind ingest.Kind, name string) string {
	lower := strings.ToLower(name)
	bk := bucket(lower)
	b.putJSON(pName(graph, bk), nameRow(lower, id), nameRec{Kind: kind})
	return bk
}

// delName removes node id's row under name from the name index.
func (b *batch) delName(graph, id, name string) {
	lower := strings.ToLower(name)
	b.del(pName(graph, bucket(lower)), nameRow(lower, id))
}

// putBuckets lists name buckets in the graph partition, so deleting the
// graph finds them.
func (b *batch) putBuckets(graph string, buckets map[string]bool) {
	for bk := range buckets {
		b.put(pGraph(graph), "b/"+bk, one)
	}
}

// parseEdgeRow splits "out/REL/other/oid" (or in/…) after its direction.
func parseEdgeRow(row string) (rel, other, oid string, ok bool) {
	parts := strings.Split(row, "/")
	if len(parts) != 4 {
		return "", "", "", false
	}
	return parts[1], parts[2], parts[3], true
}

// MaxGraphIDLen bounds a graph id, in bytes.
const MaxGraphIDLen = 200

// ValidGraphID reports whether g may name a graph: 1 to 200 bytes of
// UTF-8 text without '/' or control characters. '/' would make partitions
// ambiguous (g/a/b is graph "a" row "b"…), control characters are the
// store's separators and invisible in lists. The error names that form.
func ValidGraphID(g string) error {
	bad := g == "" || len(g) > MaxGraphIDLen || !utf8.ValidString(g)
	for _, r := range g {
		if bad || r == '/' || unicode.IsControl(r) {
			bad = true
			break
		}
	}
	if bad {
		return fmt.Errorf("%w: graph id %q: want 1-%d characters of text without '/' or control characters", ErrInvalid, clip(g, 64), MaxGraphIDLen)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// validName refuses control characters in node names: 0x00 and 0x01
// separate the index rows' parts, so a name holding one would be indexed
// where no lookup finds it (counted, never listed), and the others are
// invisible in every answer.
func validName(what, s string) error {
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s %q contains a control character (%U); names are text", ErrInvalid, what, clip(s, 64), r)
		}
	}
	return nil
}
