package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv/client"
)

// freeBase returns a port P such that P … P+count-1 are free now.
func freeBase(t *testing.T, count int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(20000)
		ok := true
		for i := 0; i < count && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free run of ports")
	return 0
}

// `grafo dev cluster 3` starts three real nodes that form one cluster,
// prints their addresses, and on Ctrl-C stops them all and deletes their
// data.
func TestDevCluster(t *testing.T) {
	t.Parallel() // its own node(s), ports and browser
	base := freeBase(t, 6)
	cmd := exec.Command(grafoBin, "dev", "cluster", "3", "--base-port", fmt.Sprint(base))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var printed []string
	var dataDir string
	deadline := time.After(3 * time.Minute)
	for dataDir == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dev cluster ended early: %q\n%s", printed, stderr.String())
			}
			printed = append(printed, l)
			if m := regexp.MustCompile(`^3 nodes ready; data and logs in (\S+);`).FindStringSubmatch(l); m != nil {
				dataDir = m[1]
			}
		case <-deadline:
			t.Fatalf("dev cluster not ready: %q\n%s", printed, stderr.String())
		}
	}
	for i, want := range []string{
		fmt.Sprintf("n1  http://127.0.0.1:%d  (cluster 127.0.0.1:%d)", base, base+1),
		fmt.Sprintf("n2  http://127.0.0.1:%d  (cluster 127.0.0.1:%d)", base+2, base+3),
		fmt.Sprintf("n3  http://127.0.0.1:%d  (cluster 127.0.0.1:%d)", base+4, base+5),
	} {
		if printed[i] != want {
			t.Errorf("line %d = %q, want %q", i, printed[i], want)
		}
	}
	st, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", base+4)).Cluster(context.Background())
	if err != nil || len(st.Nodes) != 3 {
		t.Fatalf("cluster seen from n3: %+v %v", st, err)
	}

	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev cluster after Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("dev cluster did not stop after Ctrl-C\n%s", stderr.String())
	}
	for i := 0; i < 6; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", base+i)); err == nil {
			c.Close()
			t.Errorf("port %d still open after stopping", base+i)
		}
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data directory %s left behind: %v", dataDir, err)
	}
	if s := stderr.String(); strings.TrimSpace(s) != "" {
		t.Errorf("dev cluster wrote to stderr: %s", s)
	}
}
