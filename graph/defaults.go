package graph

// Defaults of optional GraphQL arguments, shared by the resolvers and the
// complexity prices. schema.graphqls declares some of them again (`depth:
// Int = 1`); TestSchemaDefaults keeps the two spellings equal.
const (
	defaultNodesFirst  = 100 // Graph.nodes, Node.references
	defaultSearchFirst = 20  // Query.search, Graph.search
	defaultDepth       = 1   // Node.callers, Node.callees, Node.export
	defaultExportLimit = 100 // Node.export
)

// intArg is an optional Int argument: def when absent or null.
func intArg(v *int, def int) int {
	if v == nil {
		return def
	}
	return *v
}
