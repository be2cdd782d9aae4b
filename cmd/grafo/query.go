package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/grafo/grafo/kv/client"
)

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", "grafo query 'GRAPHQL' [--var k=v …] [--server URL]  (GRAPHQL - reads standard input)", stderr)
	server := serverFlag(fs)
	var vars listFlag
	fs.Var(&vars, "var", "variable k=v (repeatable); v is parsed as JSON when it is valid JSON, else taken as a string")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError{"query takes one GraphQL document"}
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
	c := client.New(*server, client.WithToken(os.Getenv("GRAFO_TOKEN")))
	var data json.RawMessage
	qerr := c.GraphQL(ctx, doc, vm, &data)
	if len(data) > 0 && string(data) != "null" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		var v any
		if json.Unmarshal(data, &v) == nil {
			enc.Encode(v)
		}
	}
	return qerr
}
