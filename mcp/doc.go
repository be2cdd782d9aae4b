// Package mcp is Grafo's Model Context Protocol server: the tools a coding
// agent calls to ask a code graph questions (list_graphs, search_symbols,
// symbol_at, describe, callers, callees, references, implementations,
// relations, impact, neighbourhood, graph_stats, and ingest on stdio), and
// each graph's file list as a resource.
//
// Every tool is a GraphQL query: the server owns no data and no second
// query layer, so the explorer, the editor front end and agents see the same
// answers. A Querier runs the queries — over HTTP for `grafo mcp` on stdio
// (kv/client, with $GRAFO_TOKEN), in process on a node's /mcp route
// (NewHTTPHandler), where the request's principal travels with the query,
// so API tokens and graph scopes apply exactly as on /graphql.
//
// Answers are compact text for an agent's context: one line per symbol
// (KIND qualified.Name  path:line), every list bounded by a limit, with a
// note when results were cut. A symbol that does not resolve answers with
// the closest names the search finds, so the agent can retry.
package mcp
