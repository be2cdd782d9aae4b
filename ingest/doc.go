// Package ingest turns source trees into graph records. It owns the
// language-neutral part: the records (File, Node, Edge, Occurrence,
// Language), the tree walk, checksums (MD5 and Adler-32 of the bytes on
// disk), the diff against what a graph already holds, the writer that
// replaces exactly the facts of changed files through a Sink, and Watch,
// which keeps a graph in step with a tree as it changes (fsnotify).
// Language frontends live in subpackages: ingest/golang (go/packages +
// go/types + x/tools callgraph) and ingest/python (tree-sitter).
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
