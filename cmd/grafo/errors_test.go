package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestCLIErrors is how the CLI fails, from a new user's report: one
// "grafo: " prefix, GraphQL positions kept, null answers not taken for
// success, exit 2 for every usage error (printed once), --help on stdout
// with exit 0, and a hint when no node listens.
func TestCLIErrors(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	p := newProc(t, "errs")
	closed := "http://" + freePort(t) // nobody listens there

	type tc struct {
		name   string
		args   []string
		server string // appended as --server; "" for none
		code   int
		stream string // "stdout" or "stderr": where want must be, once
		want   string
		// otherJSON: the other stream holds this (the null-answer JSON)
		// instead of being empty.
		otherJSON string
	}
	cases := []tc{
		{name: "one prefix on server errors", args: []string{"kv", "get", "no-such-key"}, server: p.url(),
			code: 1, stream: "stderr", want: "grafo: not_found: "},
		{name: "graphql syntax error keeps line:column", args: []string{"query", "query {"}, server: p.url(),
			code: 1, stream: "stderr", want: "grafo: graphql: 1:8: Expected Name, found <EOF>"},
		{name: "missing graph is not success", args: []string{"query", `{ graph(id: "nope") { id } }`}, server: p.url(),
			code: 1, stream: "stderr", want: "grafo: the query answered null for graph (not found)",
			otherJSON: `"graph": null`},
		{name: "missing key through graphql is not success", args: []string{"query", `{ get(key: "nope") { value } }`}, server: p.url(),
			code: 1, stream: "stderr", want: "grafo: the query answered null for get (not found)",
			otherJSON: `"get": null`},
		{name: "unknown flag is a usage error, printed once", args: []string{"kv", "--bogus"},
			code: 2, stream: "stderr", want: "grafo: flag provided but not defined: -bogus"},
		{name: "bad flag value is a usage error", args: []string{"health", "--timeout", "soon"},
			code: 2, stream: "stderr", want: `grafo: invalid value "soon" for flag -timeout`},
		{name: "negative commit wait", args: []string{"serve", "--commit-wait", "-1ms"},
			code: 2, stream: "stderr", want: "grafo: --commit-wait -1ms: negative"},
		{name: "collector target out of range", args: []string{"serve", "--gc-percent", "0"},
			code: 2, stream: "stderr", want: "grafo: --gc-percent 0: want 10 to 10000"},
		{name: "commit wait over a second", args: []string{"serve", "--commit-wait", "2s", "--data", t.TempDir()},
			code: 1, stream: "stderr", want: "grafo: config: commit-wait 2s: more than 1s"},
		{name: "missing operation", args: []string{"kv"},
			code: 2, stream: "stderr", want: "grafo: kv needs put, get or del"},
		{name: "unknown command", args: []string{"frobnicate"},
			code: 2, stream: "stderr", want: `grafo: unknown command "frobnicate"`},
		{name: "stray argument to version", args: []string{"version", "now"},
			code: 2, stream: "stderr", want: "grafo: version takes no arguments"},
		{name: "top-level --help", args: []string{"--help"},
			code: 0, stream: "stdout", want: "Run 'grafo COMMAND --help'"},
		{name: "-h of a subcommand", args: []string{"query", "-h"},
			code: 0, stream: "stdout", want: "any top-level field of the data is null"},
		{name: "connection refused (kv)", args: []string{"kv", "get", "k"}, server: closed,
			code: 1, stream: "stderr", want: "grafo: cannot reach " + closed + " (connection refused): start a node with 'grafo serve' or point --server / GRAFO_SERVER at one"},
		{name: "connection refused (query)", args: []string{"query", "{ graphs { id } }"}, server: closed,
			code: 1, stream: "stderr", want: "grafo: cannot reach " + closed + " (connection refused)"},
		{name: "cluster leave of an unknown node", args: []string{"cluster", "leave", "nobody"}, server: p.url(),
			code: 1, stream: "stderr", want: `no member "nobody"`},
	}
	// --help of every subcommand: usage on stdout, exit 0.
	for _, c := range commands() {
		cases = append(cases, tc{name: c.name + " --help", args: []string{c.name, "--help"},
			code: 0, stream: "stdout", want: "Usage: grafo " + c.name})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.server != "" {
				args = append(append([]string{}, args...), "--server", c.server)
			}
			stdout, stderr, err := grafo(t, args...)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("running grafo %q: %v", args, err)
			}
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			got, other := stderr, stdout
			if c.stream == "stdout" {
				got, other = stdout, stderr
			}
			if n := strings.Count(got, c.want); n != 1 {
				t.Errorf("%s has %q %d times, want once:\n%s", c.stream, c.want, n, got)
			}
			if strings.Contains(stderr, "grafo: grafo:") {
				t.Errorf("doubled prefix: %s", stderr)
			}
			switch {
			case c.otherJSON != "":
				if !strings.HasPrefix(other, "{") || !strings.Contains(other, c.otherJSON) {
					t.Errorf("stdout should hold the JSON with %s, got: %q", c.otherJSON, other)
				}
			case other != "":
				t.Errorf("the other stream should be empty, got: %q", other)
			}
		})
	}
}
