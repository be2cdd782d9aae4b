package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("query", "grafo query 'GRAPHQL' [--var k=v …] [--server URL]  (GRAPHQL - reads standard input)\n\n"+
		"Prints the result's data as JSON. Exits 1 when the server reports errors, and also\n"+
		"when any top-level field of the data is null (a graph(...) or node(...) that does\n"+
		"not exist): the JSON is still printed, and stderr names the null fields.", stderr)
	var vars listFlag
	fs.Var(&vars, "var", "variable k=v (repeatable); v is parsed as JSON when it is valid JSON, else taken as a string")
	pos, err := parseN(fs, args, 1, "query takes one GraphQL document")
	if err != nil {
		return err
	}
	doc := pos[0]
	if doc == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		doc = string(b)
	}
	vm := map[string]any{}
	for _, kvs := range vars {
		k, v, ok := strings.Cut(kvs, "=")
		if !ok || k == "" {
			return usageError{fmt.Sprintf("--var %q: want k=v", kvs)}
		}
		var val any
		if json.Unmarshal([]byte(v), &val) != nil {
			val = v
		}
		vm[k] = val
	}
	c := newClient(*server)
	var data json.RawMessage
	qerr := c.GraphQL(ctx, doc, vm, &data)
	var v any
	if len(data) > 0 && string(data) != "null" && json.Unmarshal(data, &v) == nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
	if qerr != nil {
		return qerr
	}
	return nullFields(v)
}

// nullFields fails when a top-level field of the data is null. Every
// top-level field of Grafo's schema that can be null (graph, node, ...)
// is null only for something that does not exist, so a script running
// `grafo query` would otherwise take "not found" for success (exit 0 and
// `null`).
func nullFields(data any) error {
	m, ok := data.(map[string]any)
	if !ok {
		return errors.New("the query answered no data")
	}
	var null []string
	for k, v := range m {
		if v == nil {
			null = append(null, k)
		}
	}
	if len(null) == 0 {
		return nil
	}
	sort.Strings(null)
	return fmt.Errorf("the query answered null for %s (not found)", strings.Join(null, ", "))
}
