// Package lsp is Grafo's Language Server Protocol server: an editor talks
// LSP to it on stdio and it answers from a Grafo node over GraphQL, so
// every editor with an LSP client can navigate a graph that a cluster
// holds — definition, references, implementations, hover, symbols, call
// and type hierarchies.
//
// Design: the server is a thin client. It keeps no index of its own; each
// request becomes one or two GraphQL documents (symbolAt for the
// identifier under the cursor, then the node's fields). The graph is the
// workspace folder's name unless Config.Graph says otherwise; paths in the
// graph are relative to the workspace root.
//
// Positions: Grafo counts columns in characters (runes); LSP clients count
// UTF-16 code units unless the client offers another encoding at
// initialize (general.positionEncodings, or clangd's offsetEncoding that
// older Neovims send). The server converts with the text of the line: the
// open buffer's when the editor sent it, else the file on disk.
//
// Caveats: answers reflect the last ingest of the file. Hover says when
// the buffer differs from the ingested file (their MD5s differ); with
// Config.Ingest set (grafo lsp --ingest-on-save), a save re-ingests the
// workspace before the next request is answered. Requests are answered
// one at a time, in order.
package lsp
