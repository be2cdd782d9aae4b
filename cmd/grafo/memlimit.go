package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/grafo/grafo/autoscale"
)

// defaultMemoryLimit is --memory-limit's default: a node ingesting all of
// GOROOT/src (README "Go") peaks near 250 MiB of live heap; the Go
// runtime's default (collect when the heap doubles) then lets it reach
// twice that. The limit makes the collector run sooner as the node's
// memory nears it, which keeps it under 512 MiB. It is soft: a node whose
// live heap exceeds it keeps running, with more collections.
const defaultMemoryLimit = "400MiB"

// defaultIngestMemoryLimit is grafo ingest's --memory-limit default. All
// of GOROOT/src, tests included, peaks near 650 MiB of live heap in the
// client; with the runtime's default the process grows to 1.4 GiB and
// more, with this limit to about 0.9 GiB, for about 5 % more wall time
// and a quarter more CPU, the collector's (README "Benchmarks"). A tree
// whose live heap nears the limit costs more collections, never a
// failure: the limit is soft.
const defaultIngestMemoryLimit = "900MiB"

// memoryLimit is the soft limit --memory-limit asks for (off or 0: none),
// or ok=false when GOMEMLIMIT is set: the user's own setting wins.
func memoryLimit(flag string, getenv func(string) string) (limit int64, ok bool, err error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false, nil
	}
	if off(flag) {
		return 0, false, nil
	}
	n, err := autoscale.ParseBytes(flag)
	if err != nil {
		return 0, false, fmt.Errorf("--memory-limit: %w", err)
	}
	if n < 64<<20 {
		return 0, false, fmt.Errorf("--memory-limit: %s is below 64MiB, too little to run in", flag)
	}
	return n, true, nil
}

// setMemoryLimit applies --memory-limit to the process.
func setMemoryLimit(flag string) error {
	limit, ok, err := memoryLimit(flag, os.Getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	if ok {
		debug.SetMemoryLimit(limit)
	}
	return nil
}

// defaultGCPercent is grafo serve's --gc-percent default. The runtime's
// 100 (collect when the heap doubles) spent about a tenth of a loaded
// cluster's CPU in the collector; at 300 a quorum write cost about 6 %
// less CPU (README "Benchmarks"). The heap may then grow to four times its
// live size, but --memory-limit still bounds it: near the limit the
// collector runs sooner whatever this says.
const defaultGCPercent = 300

// gcPercent is the collector's target --gc-percent asks for, or ok=false
// when GOGC is set: the user's own setting wins.
func gcPercent(flag int, getenv func(string) string) (pct int, ok bool, err error) {
	if getenv("GOGC") != "" {
		return 0, false, nil
	}
	if flag < 10 || flag > 10000 {
		return 0, false, fmt.Errorf("--gc-percent %d: want 10 to 10000 (GOGC=off in the environment turns the collector off)", flag)
	}
	return flag, true, nil
}

// setGCPercent applies --gc-percent to the process.
func setGCPercent(flag int) error {
	pct, ok, err := gcPercent(flag, os.Getenv)
	if err != nil {
		return usageError{err.Error()}
	}
	if ok {
		debug.SetGCPercent(pct)
	}
	return nil
}

// off reports whether a size flag says none.
func off(flag string) bool {
	f := strings.TrimSpace(flag)
	return f == "off" || f == "0"
}

// cacheSize is the engine cache --cache asks for: negative for off. A
// cache over half the memory limit would keep the collector running.
func cacheSize(flag, memLimit string, getenv func(string) string) (int64, error) {
	if off(flag) {
		return -1, nil
	}
	n, err := autoscale.ParseBytes(flag)
	if err != nil {
		return 0, fmt.Errorf("--cache: %w", err)
	}
	if n < 1<<20 {
		return 0, fmt.Errorf("--cache: %s is below 1MiB; use off for no cache", flag)
	}
	if limit, ok, err := memoryLimit(memLimit, getenv); err == nil && ok && n > limit/2 {
		return 0, fmt.Errorf("--cache %s is over half of --memory-limit %s: raise --memory-limit too", flag, memLimit)
	}
	return n, nil
}
