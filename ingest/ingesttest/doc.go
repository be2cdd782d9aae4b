// Package ingesttest is the golden-fixture harness shared by the language
// frontends' tests: txtar fixtures holding source files and the expected
// nodes, edges and diagnostics in a stable text form, compared line by
// line, printed in full on failure (the style of x/tools' callgraph tests).
// Git and GitCommitAll turn a fixture tree into a git checkout.
package ingesttest
