package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// runDev holds commands for trying Grafo on one machine. `grafo dev
// cluster N` starts N real `grafo serve` processes on consecutive loopback
// ports, prints their addresses once every one is ready, and on Ctrl-C
// (or SIGTERM) stops them, newest first, and deletes their data unless
// --data was given.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", "grafo dev cluster N [--base-port P] [--data DIR] [-- SERVE FLAGS…]", stderr)
	base := fs.Int("base-port", 7170, "node i listens on P+2(i-1) (HTTP) and the port after it (cluster)")
	dataDir := fs.String("data", "", "keep the nodes' data (and logs) in DIR/nI; default: a temporary directory, deleted on exit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || pos[0] != "cluster" {
		fs.Usage()
		return usageError{fmt.Sprintf("bad dev arguments %q", pos)}
	}
	n, err := strconv.Atoi(pos[1])
	if err != nil || n < 1 || n > 9 {
		return usageError{fmt.Sprintf("dev cluster: N must be 1 to 9, got %q", pos[1])}
	}
	if *base < 1024 || *base+2*n > 65535 {
		return usageError{fmt.Sprintf("dev cluster: --base-port %d leaves no room for %d nodes", *base, n)}
	}
	return devCluster(ctx, n, *base, *dataDir, pos[2:], stdout, stderr)
}

type devNode struct {
	id, http, cluster, data string
	cmd                     *exec.Cmd
	done                    chan error
}

func devCluster(ctx context.Context, n, base int, dataDir string, extra []string, stdout, stderr io.Writer) (err error) {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	keep := dataDir != ""
	if !keep {
		if dataDir, err = os.MkdirTemp("", "grafo-dev-"); err != nil {
			return err
		}
	}
	// A port in use would make a node fail later with a less clear error.
	for i := 0; i < 2*n; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", base+i)
		l, lerr := net.Listen("tcp", addr)
		if lerr != nil {
			return fmt.Errorf("dev cluster: %s is in use (another node?); pick other ports with --base-port", addr)
		}
		l.Close()
	}
	var nodes []*devNode
	defer func() {
		stopDev(nodes, stderr)
		if !keep {
			os.RemoveAll(dataDir)
		}
	}()
	for i := 1; i <= n; i++ {
		nd := &devNode{id: fmt.Sprintf("n%d", i), http: fmt.Sprintf("127.0.0.1:%d", base+2*(i-1)),
			cluster: fmt.Sprintf("127.0.0.1:%d", base+2*(i-1)+1), done: make(chan error, 1)}
		nd.data = filepath.Join(dataDir, nd.id)
		if err := os.MkdirAll(nd.data, 0o755); err != nil {
			return err
		}
		args := []string{"serve", "--node-id", nd.id, "--data", nd.data, "--http", nd.http, "--cluster", nd.cluster}
		if i > 1 {
			args = append(args, "--join", nodes[0].http)
		}
		log, err := os.Create(filepath.Join(dataDir, nd.id+".log"))
		if err != nil {
			return err
		}
		defer log.Close()
		nd.cmd = exec.Command(self, append(args, extra...)...)
		nd.cmd.Stdout, nd.cmd.Stderr = log, log
		if err := nd.cmd.Start(); err != nil {
			return err
		}
		go func() { nd.done <- nd.cmd.Wait() }()
		nodes = append(nodes, nd)
	}
	// All start at once: a joiner waits for the seed's address to answer.
	for _, nd := range nodes {
		if err := waitReady(ctx, nd); err != nil {
			return fmt.Errorf("dev cluster: %s: %w (log: %s)", nd.id, err, filepath.Join(dataDir, nd.id+".log"))
		}
	}
	for _, nd := range nodes {
		fmt.Fprintf(stdout, "%s  http://%s  (cluster %s)\n", nd.id, nd.http, nd.cluster)
	}
	fmt.Fprintf(stdout, "%d nodes ready; data and logs in %s; try: grafo cluster status --server http://%s\n", n, dataDir, nodes[0].http)
	fmt.Fprintln(stdout, "Ctrl-C stops every node")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping…")
		return nil
	case err := <-nodes[0].done:
		nodes[0].done <- err // for stopDev
		return fmt.Errorf("dev cluster: n1 exited: %v", err)
	}
}

// waitReady polls the node's /readyz until it answers 200, the node exits,
// or ctx ends.
func waitReady(ctx context.Context, nd *devNode) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := hc.Get("http://" + nd.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-nd.done:
			nd.done <- err
			return fmt.Errorf("exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("not ready after 2 minutes")
}

// stopDev interrupts the nodes, newest first (the seed, holding raft's
// first vote, goes last), and waits for each; one that does not stop in
// 20 s is killed.
func stopDev(nodes []*devNode, stderr io.Writer) {
	for i := len(nodes) - 1; i >= 0; i-- {
		nd := nodes[i]
		nd.cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-nd.done:
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", nd.id, err)
			}
		case <-time.After(20 * time.Second):
			nd.cmd.Process.Kill()
			<-nd.done
			fmt.Fprintf(stderr, "%s: killed after 20 s\n", nd.id)
		}
	}
}
