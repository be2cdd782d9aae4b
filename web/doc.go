// Package web is Grafo's web explorer: a single-page application written by
// hand in plain HTML, CSS and JavaScript (no build step, no CDN, nothing
// fetched from the internet), embedded in the binary with go:embed.
//
// Handler serves the explorer's files; the server mounts it at GET / next
// to GraphQL at /graphql on the same origin. The application talks only to
// /graphql: queries and mutations as POST JSON, live updates as a
// graphChanged subscription over a websocket speaking graphql-transport-ws.
// The cluster page falls back to GET /v1/cluster when the cluster field
// answers with an error. Export asks the server's Node.export for its
// Mermaid and DOT text rather than drawing it again here. Example queries open the query console
// (console.js, #/console): an editor that completes the schema's field
// names from an introspection query, JSON variables and a formatted
// result, talking to nothing but /graphql. Playground serves GraphiQL as
// an extra for those online; its scripts come from a CDN, and without them
// the page says so and links to the console.
//
// Views are hash routes: #/ (graphs), #/graph/ID, #/node/GRAPH/NODEID
// (with ?depth=1..3 for the neighbourhood picture, capped at 40 nodes
// unless &all=1), #/console (?query=&variables=) and #/cluster.
//
// The tests drive headless Chromium (Debian's chromium package) against the
// real GraphQL handler over a single-node store; they fail when no chromium
// binary is on PATH (`make test` installs it, scripts/deps.sh). Run them with -update-screenshot to rewrite
// testdata/explorer.png, the picture the README shows; -update-self-screenshot
// ingests all of Grafo as graph "grafo" and rewrites ../docs/explorer-self.png
// (Coordinator.Put's node view), the README's first picture. The browser
// resolves no host name but loopback: nothing may come from the internet.
package web
