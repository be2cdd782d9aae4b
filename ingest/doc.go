// Package ingest turns source trees into graph records. It owns the
// language-neutral part: the records (File, Node, Edge, Occurrence,
// Language), the tree walk, checksums (MD5 and Adler-32 of the bytes on
// disk), the diff against what a graph already holds, the writer that
// replaces exactly the facts of changed files through a Sink, and Watch,
// which keeps a graph in step with a tree as it changes (fsnotify).
// Language frontends live in subpackages: ingest/golang (go/packages +
// go/types + x/tools callgraph) and ingest/python (tree-sitter).
//
// Incremental ingest leaves exactly the graph a fresh ingest of the same
// tree gives. A file's facts depend on other files (a type realizes an
// interface declared elsewhere, a dynamic call reaches every
// implementation in the tree, a callee may go away), so a frontend that
// sees any new, changed or deleted file of its language re-analyses its
// whole tree and emits every file; Run writes a file that did not change
// on disk only when its facts did, which it tells by a digest of the facts
// stored in the file record (File.Facts). Unchanged trees cost checksums
// only; a change costs the analysis of the tree but writes only what
// moved. The graph store removes external nodes nothing names any more at
// the end of each ingest (SetLanguages), and batches of a graph that
// already has facts are written one at a time, so that a declaration that
// moved between files is never removed after it was written again.
//
// The tree being ingested is untrusted input. Nothing outside it is read
// through it: the walk follows no symbolic link, and frontends get the
// paths the walk withheld (Request.Withheld) so that the tools they run
// skip them too (the Go frontend hides them from go list with an
// -overlay). Directories more than DefaultMaxDepth (64) levels down are
// not entered and files over DefaultMaxFileSize (4 MiB) are recorded with
// their checksums and a diagnostic but not analysed (Options.MaxDepth,
// MaxFileSize; grafo ingest --max-depth, --max-file-size). Diagnostics are
// stored with tree-relative paths only: any other absolute path in a
// tool's message is cut to its base name. The one exception is the
// graph's Source (source.go): the tree's own absolute root, and from the
// git metadata of the checkout holding it (HEAD and refs, which may live
// outside the tree for a worktree) only a commit hash and a branch name.
package ingest
