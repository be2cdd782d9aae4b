package ingest

import "context"

// Kind is the kind of a graph node.
type Kind string

// Node kinds, spelled as the GraphQL enum NodeKind.
const (
	Variable Kind = "VARIABLE"
	Function Kind = "FUNCTION"
	Class    Kind = "CLASS"
)

// Relation is the type of an edge, spelled as the GraphQL enum Relation.
type Relation string

// Relations: function → variable, function → function, class → class.
const (
	Reads       Relation = "READS"
	Writes      Relation = "WRITES"
	References  Relation = "REFERENCES"
	Calls       Relation = "CALLS"
	Inheritance Relation = "INHERITANCE"
	Composition Relation = "COMPOSITION"
	Aggregation Relation = "AGGREGATION"
	Association Relation = "ASSOCIATION"
	Link        Relation = "LINK"
	Dependency  Relation = "DEPENDENCY"
	Realization Relation = "REALIZATION"
	DashedLink  Relation = "DASHED_LINK"
)

// Relations lists every relation in schema order.
var Relations = []Relation{Reads, Writes, References, Calls, Inheritance, Composition,
	Aggregation, Association, Link, Dependency, Realization, DashedLink}

// File is one source file of a tree, identified by its slash-separated path
// relative to the tree's root.
type File struct {
	Path        string   `json:"path"`
	Name        string   `json:"name"`    // base name
	MD5         string   `json:"md5"`     // 32 lower-case hex digits
	Adler32     string   `json:"adler32"` // 8 lower-case hex digits
	Size        int64    `json:"size"`
	Language    string   `json:"language,omitempty"`
	Diagnostics []string `json:"diagnostics,omitempty"`
	// Facts is the digest of the file's facts (FactsDigest) as Run wrote
	// them; empty for records written before it existed.
	Facts string `json:"facts,omitempty"`
}

// Node is a variable, function or class. Its identity is its qualified
// name within a graph.
type Node struct {
	Kind          Kind   `json:"kind"`
	Name          string `json:"name"`
	QualifiedName string `json:"qualifiedName"`
	Path          string `json:"path,omitempty"` // owning file; empty for external nodes
	Line          int    `json:"line,omitempty"`
	EndLine       int    `json:"endLine,omitempty"`
	External      bool   `json:"external,omitempty"`
}

// Edge is a typed relation between two nodes named by qualified name. Path,
// Line and Column say where it appears in source; the edge belongs to the
// file at Path, so it goes when that file's facts are replaced.
type Edge struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Relation Relation `json:"relation"`
	Path     string   `json:"path,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Dynamic  bool     `json:"dynamic,omitempty"`
}

// Role says what an occurrence of a symbol does there.
type Role string

// Occurrence roles, as SCIP and Kythe record them.
const (
	RoleDefinition Role = "definition" // the declaring identifier
	RoleCall       Role = "call"       // the callee's name in a call
	RoleRead       Role = "read"
	RoleWrite      Role = "write"
	RoleReference  Role = "reference" // address taken, value copied or kept, function value
	RoleType       Role = "type"      // a type name in a type expression
)

// Occurrence is one identifier of a file that resolves to a node: where it
// is (Line, Column and EndColumn 1-based, columns counting the runes of the
// line, EndColumn exclusive), what it does, and the node's qualified name.
// Occurrences belong to their file like its edges.
type Occurrence struct {
	Line      int    `json:"l"`
	Column    int    `json:"c"`
	EndColumn int    `json:"e"`
	Role      Role   `json:"r"`
	Target    string `json:"t"`
}

// Language is a language present in a graph, with its version when known
// (Go: the go line of go.mod).
type Language struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// FileFacts is everything one file contributes to a graph: the file record,
// the nodes it defines and the edges that appear in it. External nodes that
// its edges point at (Node.External) ride along; they are shared by every
// file and are never removed with one.
type FileFacts struct {
	File  File   `json:"file"`
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
	// Occurrences are the file's identifiers that resolve to nodes, in
	// line and column order.
	Occurrences []Occurrence `json:"occurrences,omitempty"`
}

// Sink is what ingest needs of a graph store: the checksums it holds, and
// replacing or removing one file's facts as a unit. The graph store
// (graph/store) implements it in process; the Go client of the public API
// implements it over HTTP, so ingest works against a remote cluster.
type Sink interface {
	// Files returns the files graph holds, by path. A graph that does not
	// exist yet has none (and no error).
	Files(ctx context.Context, graph string) (map[string]File, error)
	// PutFiles replaces each listed file's facts: its old nodes and edges
	// are removed, the new ones written, the file record stored last. It
	// creates the graph if needed.
	PutFiles(ctx context.Context, graph string, facts []FileFacts) error
	// DeleteFiles removes files and their facts.
	DeleteFiles(ctx context.Context, graph string, paths []string) error
	// SetLanguages records the graph's languages and moves updatedAt.
	SetLanguages(ctx context.Context, graph string, langs []Language) error
}
