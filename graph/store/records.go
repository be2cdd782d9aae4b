package store

import (
	"time"

	"github.com/grafo/grafo/ingest"
)

// Node is a stored node.
type Node struct {
	ID            string      `json:"-"`
	Kind          ingest.Kind `json:"k"`
	Name          string      `json:"n"`
	QualifiedName string      `json:"q"`
	Path          string      `json:"p,omitempty"`
	Line          int         `json:"l,omitempty"`
	EndLine       int         `json:"e,omitempty"`
	External      bool        `json:"x,omitempty"`
	// Owner is the file path that defined the node, or a synthetic owner
	// (API mutations, external nodes).
	Owner string `json:"o,omitempty"`
}

// Direction selects a node's outgoing or incoming edges.
type Direction int

// Directions.
const (
	Out Direction = iota
	In
)

// Edge is one stored relation seen from one of its ends.
type Edge struct {
	From, To string // node ids
	Relation ingest.Relation
	Path     string
	Line     int
	Column   int
	Dynamic  bool
	// Row is the edge's row in the partition of the node it was read
	// from (EdgesOf): where EdgeQuery.After resumes.
	Row string
}

// Other returns the id of the end that is not seen from dir's side.
func (e Edge) Other(dir Direction) string {
	if dir == In {
		return e.From
	}
	return e.To
}

// edgeRec is the value of an out/in row.
type edgeRec struct {
	Path    string `json:"p,omitempty"`
	Line    int    `json:"l,omitempty"`
	Column  int    `json:"c,omitempty"`
	Dynamic bool   `json:"d,omitempty"`
}

// indexRec is the value of an owner index n/{id} row.
type indexRec struct {
	Kind    ingest.Kind `json:"k"`
	Name    string      `json:"n"`
	Line    int         `json:"l,omitempty"`
	EndLine int         `json:"e,omitempty"`
}

// File is a stored file record. Diagnostics that do not fit in the row are
// spilled into rows of the file's owner partition and loaded on demand.
type File struct {
	ingest.File
	Spilled int `json:"spilled,omitempty"`
}

// GraphMeta is a graph's header.
type GraphMeta struct {
	ID        string
	CreatedAt time.Time
	UpdatedAt time.Time
	Languages []ingest.Language
}

// Stats are exact counts of a graph's facts.
type Stats struct {
	Files      int
	Nodes      int
	Edges      int
	ByKind     map[ingest.Kind]int
	ByRelation map[ingest.Relation]int
}

// counts is the value of a stats/{oid} row.
type counts struct {
	Kinds     map[ingest.Kind]int     `json:"k,omitempty"`
	Relations map[ingest.Relation]int `json:"r,omitempty"`
}

func (c *counts) addNode(k ingest.Kind) {
	if c.Kinds == nil {
		c.Kinds = map[ingest.Kind]int{}
	}
	c.Kinds[k]++
}

func (c *counts) addEdge(r ingest.Relation) {
	if c.Relations == nil {
		c.Relations = map[ingest.Relation]int{}
	}
	c.Relations[r]++
}

// Change is an event published for every change of a graph.
type Change struct {
	GraphID string    `json:"graphId"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Nodes   []string  `json:"nodes"`
}

// Change kinds.
const (
	GraphCreated     = "GRAPH_CREATED"
	GraphDeleted     = "GRAPH_DELETED"
	NodesUpserted    = "NODES_UPSERTED"
	NodesDeleted     = "NODES_DELETED"
	EdgesUpserted    = "EDGES_UPSERTED"
	FilesChanged     = "FILES_CHANGED"
	LanguagesChanged = "LANGUAGES_CHANGED"
)
