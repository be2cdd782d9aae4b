package model

import (
	"time"

	"github.com/grafo/grafo/ingest"
)

// Graph is a graph's header; files, nodes and stats resolve lazily.
type Graph struct {
	ID        string
	CreatedAt time.Time
	UpdatedAt time.Time
	Languages []*Language
}

// Language is a language present in a graph.
type Language struct {
	Name    string
	Version *string
}

// Node is a graph node; file, edges, callers and callees resolve lazily.
type Node struct {
	ID            string
	Kind          ingest.Kind
	Name          string
	QualifiedName string
	Line          *int
	EndLine       *int
	External      bool

	GraphID string // the graph the node belongs to
	Path    string // its file, "" when none
}

// Edge is a relation seen from one end; node (the other end) and file
// resolve lazily.
type Edge struct {
	Relation ingest.Relation
	Line     *int
	Column   *int
	Dynamic  bool

	GraphID string
	OtherID string // the other end's node id
	Path    string // where the relation appears, "" when unknown
	Cursor  string // position in Node.edges (edgeCursor)
}

// File is a source file of a graph.
type File struct {
	Name     string
	Path     string
	Md5      string
	Adler32  string
	Language *string

	GraphID      string
	Diags        []string // diagnostics kept in the file record
	SpilledDiags int      // diagnostics kept in rows of their own
}

// NodeConnection is one page of nodes; totalCount resolves lazily from
// the filter.
type NodeConnection struct {
	Nodes    []*Node
	PageInfo *PageInfo

	GraphID string
	Kind    ingest.Kind
	Name    string
}

// PageInfo says how to ask for the next page.
type PageInfo struct {
	EndCursor   *string
	HasNextPage bool
}

// Occurrence is an identifier naming a node; file and node resolve lazily.
type Occurrence struct {
	Line      int
	Column    int
	EndColumn int
	Role      string

	GraphID string
	Path    string
	NodeID  string
}

// OccurrenceConnection is one page of a node's references.
type OccurrenceConnection struct {
	Nodes      []*Occurrence
	TotalCount int
	PageInfo   *PageInfo
}
