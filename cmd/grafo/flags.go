package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/grafo/grafo/kv/client"
)

// newFlags returns a flag set that reports errors instead of exiting.
// fs.Usage writes to fs.Output() (stderr), so parse can send the same text
// to stdout when the user asked for --help.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\nFlags:\n", usage)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%-16s %s%s\n", f.Name, f.Usage, def)
		})
	}
	return fs
}

// helpError is returned by parse for -h/--help: run prints text to stdout
// and exits 0, because asking for help is not a failure.
type helpError struct{ text string }

func (helpError) Error() string { return "help requested" }

// parse parses args allowing flags before, between and after positional
// arguments (`grafo ingest PATH --graph NAME`), which the flag package
// alone does not.
//
// A flag error comes back as usageError (exit 2) after the usage has gone
// to stderr once; the flag package's own printing is silenced so the
// message is not printed twice (once by it, once by main).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				fs.SetOutput(&b)
				usage()
				return nil, helpError{b.String()}
			}
			fs.SetOutput(out)
			usage()
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// envFlags sets every flag not given on the command line from
// GRAFO_<FLAG> (upper case, '-' as '_'), so containers can be configured
// with environment variables alone.
func envFlags(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "GRAFO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if lv, isList := f.Value.(*listFlag); isList {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					lv.Set(item)
				}
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	})
	return err
}

// flagSet reports whether flag name was given, on the command line or as
// GRAFO_<FLAG>.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	_, env := os.LookupEnv("GRAFO_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	return set || env
}

// listFlag is a repeatable string flag; from the environment it takes a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// serverFlag is --server with its default: $GRAFO_SERVER, else
// http://127.0.0.1:7070.
func serverFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("GRAFO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:7070"
	}
	return fs.String("server", def, "URL of any node's public API")
}

// clientFlags starts the flags of a command that talks to a node: its
// flag set and --server.
func clientFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := newFlags(name, usage, stderr)
	return fs, serverFlag(fs)
}

// parseN parses args like parse and requires want positional arguments;
// other counts print the usage and return why as a usage error.
func parseN(fs *flag.FlagSet, args []string, want int, why string) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		fs.Usage()
		return nil, usageError{why}
	}
	return pos, nil
}

// newClient is a client of the node at server with $GRAFO_TOKEN.
func newClient(server string) *client.Client {
	return client.New(server, client.WithToken(os.Getenv("GRAFO_TOKEN")))
}
