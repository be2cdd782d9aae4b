package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X main.version=… -X main.commit=…" by the Makefile.
var (
	version = "dev"
	commit  = ""
)

func buildInfo() (ver, rev string) {
	ver, rev = version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Parsed only so that --help and stray arguments behave as in every
	// other command.
	fs := newFlags("version", "grafo version", stderr)
	_, err := parseN(fs, args, 0, "version takes no arguments")
	if err != nil {
		return err
	}
	ver, rev := buildInfo()
	fmt.Fprintf(stdout, "grafo %s\ncommit %s\ngo %s %s/%s\n", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
