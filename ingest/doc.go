// Package ingest turns source trees into graph records. It owns the
// language-neutral part: the records (File, Node, Edge, Occurrence,
// Language), the tree walk, checksums (MD5 and Adler-32 of the bytes on
// disk), the diff against what a graph already holds, the writer that
// replaces exactly the facts of changed files through a Sink, and Watch,
// which keeps a graph in step with a tree as it changes (fsnotify).
// Language frontends live in subpackages: ingest/golang (go/packages +
// go/types + x/tools callgraph) and ingest/python (tree-sitter).
package ingest
