package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/grafo/grafo/kv"
)

func runKV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("kv", "grafo kv put KEY VALUE | get KEY | del KEY [flags]  (VALUE - reads standard input)", stderr)
	level := fs.String("consistency", "", "one, quorum, all or linearizable (default: the cluster's W/R)")
	w := fs.Int("w", 0, "acks the write needs (1..N)")
	r := fs.Int("r", 0, "answers the read needs (1..N)")
	sloppy := fs.Bool("sloppy", false, "let hinted writes count toward W")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	lv, err := kv.ParseLevel(*level)
	if err != nil {
		return usageError{err.Error()}
	}
	o := kv.Options{Level: lv, W: *w, R: *r, Sloppy: *sloppy}
	c := newClient(*server)
	if len(pos) == 0 {
		fs.Usage()
		return usageError{"kv needs put, get or del"}
	}
	switch op := pos[0]; {
	case op == "put" && len(pos) == 3:
		val := []byte(pos[2])
		if pos[2] == "-" {
			if val, err = io.ReadAll(io.LimitReader(os.Stdin, kv.MaxPairSize+1)); err != nil {
				return err
			}
		}
		return c.Put(ctx, []byte(pos[1]), val, o)
	case op == "get" && len(pos) == 2:
		val, _, err := c.Get(ctx, []byte(pos[1]), o)
		if err != nil {
			return err
		}
		_, err = stdout.Write(val)
		if err == nil && len(val) > 0 && val[len(val)-1] != '\n' && isTerminal(stdout) {
			fmt.Fprintln(stdout)
		}
		return err
	case (op == "del" || op == "delete") && len(pos) == 2:
		return c.Delete(ctx, []byte(pos[1]), o)
	}
	fs.Usage()
	return usageError{fmt.Sprintf("bad kv arguments %q", pos)}
}
