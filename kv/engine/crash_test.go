package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/engine"
	"github.com/grafo/grafo/kv/engine/enginetest"
)

// crashEnv, when set in the environment, turns the test binary into the
// crash child: it writes to the engine file named by the variable,
// printing each acknowledged key, until it is killed.
const crashEnv = "GRAFO_ENGINE_CRASH_CHILD"

// crashStopEnv, when set to N, makes the crash child stop after N writes
// per writer, with nothing checkpointed (everything in the write-ahead
// log), print "idle" and wait to be killed.
const crashStopEnv = "GRAFO_ENGINE_CRASH_STOP"

// crashCkptEnv, when set, makes the crash child checkpoint in
// transactions of a few keys and kill itself (SIGKILL) after the third
// transaction of a checkpoint that is not its last: bbolt then holds part
// of a checkpoint.
const crashCkptEnv = "GRAFO_ENGINE_CRASH_CKPT"

// crashSmallSegmentsEnv, when set, makes the crash child start a segment
// (and a checkpoint) every 32 KiB of log, so that most segments are
// recycled ones.
const crashSmallSegmentsEnv = "GRAFO_ENGINE_CRASH_SMALL_SEGMENTS"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(path string) {
	cfg := engine.Config{}
	stop, _ := strconv.Atoi(os.Getenv(crashStopEnv))
	if stop > 0 {
		cfg.CheckpointInterval = time.Hour
	}
	if os.Getenv(crashSmallSegmentsEnv) != "" {
		cfg.CheckpointBytes = 32 << 10
	}
	if os.Getenv(crashCkptEnv) != "" {
		cfg.CheckpointTxBytes = 4096
		partial := 0 // the checkpointer is one goroutine: no lock
		cfg.TestingAfterCheckpointTx = func(last bool) {
			if !last {
				if partial++; partial == 3 {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {}
				}
			}
		}
	}
	e, err := engine.Open(path, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	value := strings.Repeat("grafo crash test value ", 40)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; stop == 0 || i < stop; i++ {
				k := fmt.Sprintf("crash/%d/%06d", w, i)
				if _, err := e.Apply(context.Background(), kv.Entry{Key: []byte(k), Cell: kv.Cell{Value: []byte(value + k), Version: kv.Version{TS: uint64(i + 1), Node: "child"}}}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", k) // unbuffered: one write per ack
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Fprintln(os.Stdout, "idle")
	select {}
}

// TestKill9KeepsAcknowledgedWrites kills a writing process with SIGKILL
// mid-stream and checks every write it acknowledged is on disk and the
// file is consistent. (A process crash, not a power cut: it shows Apply
// acknowledges only committed transactions.)
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := killAfter(t, 500, crashEnv+"="+path)
	wantRecovered(t, path, acked, "kill -9")
}

// The same with segments recycled many times over: the segments a crash
// leaves hold stale records of earlier incarnations after their own.
func TestKill9WithRecycledSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	// A spare seen while the child writes and gone later was renamed into
	// a new segment: recycled. (At the kill there may be no spare at all:
	// each is taken by the next segment.)
	seen := map[string]bool{}
	recycled := false
	watch := func() {
		spares, err := filepath.Glob(path + ".wal-spare.*")
		if err != nil {
			t.Fatal(err)
		}
		now := map[string]bool{}
		for _, sp := range spares {
			now[sp] = true
			seen[sp] = true
		}
		for sp := range seen {
			recycled = recycled || !now[sp]
		}
	}
	acked := killAfterWatching(t, 3000, watch, crashEnv+"="+path, crashSmallSegmentsEnv+"=1")
	if !recycled {
		t.Fatalf("no spare segment was reused in %d writes in 32 KiB segments (spares seen: %d)", len(acked), len(seen))
	}
	wantRecovered(t, path, acked, "kill -9 with recycled segments")
}

// killAfter runs the crash child with env and kills it with SIGKILL once
// it has acknowledged n writes; it returns every write acknowledged.
func killAfter(t *testing.T, n int, env ...string) []string {
	t.Helper()
	return killAfterWatching(t, n, func() {}, env...)
}

// killAfterWatching is killAfter calling watch after each ack until the
// kill.
func killAfterWatching(t *testing.T, n int, watch func(), env ...string) []string {
	t.Helper()
	cmd, sc := startCrashChild(t, env...)
	var acked []string
	killed := false
	for sc.Scan() {
		k, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = append(acked, k)
		if !killed {
			watch()
		}
		if len(acked) == n && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed || werr == nil || !strings.Contains(werr.Error(), "killed") {
		t.Fatalf("child was not killed as planned: %v (acks %d)", werr, len(acked))
	}
	return acked
}

// TestKill9MidCheckpoint kills the process between two transactions of a
// checkpoint: bbolt holds part of the checkpoint's keys under the previous
// checkpoint's counters. Open must recount, replay the log, and keep every
// acknowledged write with exact counters.
func TestKill9MidCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd, sc := startCrashChild(t, crashEnv+"="+path, crashCkptEnv+"=1")
	var acked []string
	for sc.Scan() {
		k, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			t.Fatalf("child said %q", sc.Text())
		}
		acked = append(acked, k)
	}
	if werr := cmd.Wait(); werr == nil || !strings.Contains(werr.Error(), "killed") {
		t.Fatalf("child did not kill itself mid-checkpoint: %v (acks %d)", werr, len(acked))
	}
	wantRecovered(t, path, acked, "kill -9 mid-checkpoint")
}

// wantRecovered opens the engine file at path after a crash and checks its
// invariants and that every acknowledged write survived.
func wantRecovered(t *testing.T, path string, acked []string, crash string) {
	t.Helper()
	e := enginetest.MustOpenPath(t, path, engine.Config{})
	if err := enginetest.CheckInvariants(e); err != nil {
		t.Fatalf("after %s: %v", crash, err)
	}
	wantAcked(t, e, acked)
	if e.Keys() < int64(len(acked)) {
		t.Fatalf("after %s: Keys() = %d, fewer than the %d acknowledged keys", crash, e.Keys(), len(acked))
	}
	t.Logf("%d acknowledged writes survived %s; %d keys on disk", len(acked), crash, e.Keys())
}

// wantAcked checks every acknowledged key holds its value.
func wantAcked(t *testing.T, e *engine.Engine, acked []string) {
	t.Helper()
	keys := make([][]byte, len(acked))
	for i, k := range acked {
		keys[i] = []byte(k)
	}
	cells, err := e.GetMany(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cells {
		if !c.Live() || !strings.HasSuffix(string(c.Value), acked[i]) {
			t.Fatalf("acknowledged %s lost or wrong after kill -9: %+v", acked[i], c)
		}
	}
}

// startCrashChild starts this test binary as the crash child with env
// added, and returns it with a scanner of its output.
func startCrashChild(t *testing.T, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}
