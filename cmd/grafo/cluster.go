package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/grafo/grafo/autoscale"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, server := clientFlags("cluster", "grafo cluster status | join ADDR | leave [NODE] [--wait D] | remove NODE [--force] | cleanup [--server URL] [--json]", stderr)
	asJSON := fs.Bool("json", false, "print status as JSON")
	force := fs.Bool("force", false, "remove: also a node that heartbeats see as up")
	wait := fs.Duration("wait", 0, "leave: wait up to this long until the node has left and its ranges have new owners (e.g. 10m; a Kubernetes preStop hook)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := newClient(*server)
	switch {
	case len(pos) == 1 && pos[0] == "status":
		return clusterStatus(ctx, c, *asJSON, stdout)
	case len(pos) == 2 && pos[0] == "join":
		return c.Join(ctx, pos[1])
	case len(pos) >= 1 && len(pos) <= 2 && pos[0] == "leave":
		return clusterLeave(ctx, c, pos[1:], *wait, stdout)
	case len(pos) == 1 && pos[0] == "cleanup":
		return clusterCleanup(ctx, c, stdout, stderr)
	case len(pos) == 2 && pos[0] == "remove":
		if err := c.Remove(ctx, pos[1], *force); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s; its ranges are being re-replicated from the surviving replicas\n", pos[1])
		return nil
	}
	fs.Usage()
	return usageError{fmt.Sprintf("bad cluster arguments %q", pos)}
}

// clusterStatus prints GET /v1/cluster: settings, members, streams in
// progress and the autoscaler.
func clusterStatus(ctx context.Context, c *client.Client, asJSON bool, stdout io.Writer) error {
	st, err := c.Cluster(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "replicas N=%d  W=%d  R=%d  leader=%s  hints pending=%d  rebalancing=%v\n",
		st.Replicas, st.WriteQuorum, st.ReadQuorum, st.Leader, st.HintsPending, st.Rebalancing)
	if eff := effective(st); eff != "" {
		fmt.Fprintln(stdout, eff)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tHTTP\tCLUSTER\tWEIGHT\tVNODES\tKEYS")
	for _, n := range st.Nodes {
		keys := fmt.Sprint(n.Keys)
		if n.Keys < 0 {
			keys = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", n.ID, n.State, n.HTTP, n.Cluster, n.Weight, n.VNodes, keys)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range st.Nodes {
		if p := n.Progress; p != nil && (!p.Finished || len(p.Unavailable) > 0) {
			fmt.Fprintf(stdout, "%s: %s %d/%d ranges, %d bytes streamed", n.ID, p.Kind, p.RangesDone, p.RangesTotal, p.BytesStreamed)
			if len(p.Unavailable) > 0 {
				fmt.Fprintf(stdout, "; no live replica for %d ranges: %v", len(p.Unavailable), p.Unavailable)
			}
			fmt.Fprintln(stdout)
		}
	}
	printAutoscale(stdout, st.Autoscale)
	return nil
}

// clusterLeave makes a node leave; without NODE, the node this process
// belongs to: GRAFO_NODE_ID is in a container's environment, so a
// preStop hook needs no shell.
func clusterLeave(ctx context.Context, c *client.Client, names []string, wait time.Duration, stdout io.Writer) error {
	node := os.Getenv("GRAFO_NODE_ID")
	if len(names) == 1 {
		node = names[0]
	}
	if node == "" {
		return usageError{"cluster leave: name the node (or set GRAFO_NODE_ID)"}
	}
	if err := c.Leave(ctx, node); err != nil {
		return err
	}
	if wait > 0 {
		return waitLeft(ctx, c, node, wait, stdout)
	}
	return nil
}

// clusterCleanup asks every member to clean its own engine, each through
// its own public address, with the same token.
func clusterCleanup(ctx context.Context, c *client.Client, stdout, stderr io.Writer) error {
	st, err := c.Cluster(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for _, n := range st.Nodes {
		if n.State != "up" {
			fmt.Fprintf(stdout, "%s: skipped (%s)\n", n.ID, n.State)
			continue
		}
		var res struct{ Checked, Purged, Kept int }
		nc := newClient("http://" + n.HTTP)
		if err := nc.Do(ctx, "POST", "/v1/cluster/cleanup", nil, &res); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", n.ID, err)
			failed++
			continue
		}
		fmt.Fprintf(stdout, "%s: %d cells of ranges it no longer owns, %d deleted, %d kept (owners could not vouch for them)\n", n.ID, res.Checked, res.Purged, res.Kept)
	}
	if failed > 0 {
		return fmt.Errorf("cleanup failed on %d nodes", failed)
	}
	return nil
}

// printAutoscale is the autoscaler part of `cluster status`.
func printAutoscale(w io.Writer, as *autoscale.Status) {
	if as == nil {
		return
	}
	fmt.Fprintf(w, "\nautoscale %s\n", as.Spec)
	if !as.Leader {
		fmt.Fprintln(w, "  no leader's autoscaler answered yet")
		return
	}
	for _, r := range as.Readings {
		fmt.Fprintf(w, "  %-7s %10.4g  target %-10.4g %4.0f%%\n", r.Signal, r.Value, r.Target, r.Ratio*100)
	}
	if as.Current != nil {
		fmt.Fprintf(w, "  now: %s: %s\n", as.Current.Action, as.Current.Reason)
	}
	if as.Last != nil {
		fmt.Fprintf(w, "  last decision %s: %s %s: %s\n", as.Last.At.UTC().Format(time.RFC3339), as.Last.Action, as.Last.Node, as.Last.Reason)
	}
	if !as.NextAllowed.IsZero() {
		fmt.Fprintf(w, "  next change allowed after %s\n", as.NextAllowed.UTC().Format(time.RFC3339))
	}
	if as.Acting != "" {
		fmt.Fprintf(w, "  acting: %s\n", as.Acting)
	}
	if as.Error != "" {
		fmt.Fprintf(w, "  last actuator error: %s\n", as.Error)
	}
}

// waitLeft polls until node is no longer a member.
func waitLeft(ctx context.Context, c *client.Client, node string, limit time.Duration, stdout io.Writer) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := c.Cluster(ctx)
		// An unreachable node proves nothing; the leaving node itself,
		// once it has left, says so and serves nothing else.
		member := err != nil && !errors.Is(err, kv.ErrNotMember)
		for _, n := range st.Nodes {
			member = member || n.ID == node
		}
		if !member {
			fmt.Fprintf(stdout, "%s has left; its ranges have new owners\n", node)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s has not left after %s (last error: %v)", node, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// effective says what N, W and R a key gets with the current membership
// when it is less than configured (a single node of a cluster configured
// for N=3 keeps one copy and needs one ack), so that the refusal of w=2
// on one node is no surprise. Empty when nothing is capped.
func effective(st client.ClusterStatus) string {
	ring := 0 // nodes owning ranges: every member but those still joining
	for _, n := range st.Nodes {
		if n.State != "joining" {
			ring++
		}
	}
	n := min(st.Replicas, ring)
	if n >= st.Replicas || n == 0 {
		return ""
	}
	return fmt.Sprintf("effective with %d node(s) in the ring: N=%d  W=%d  R=%d (a w or r above %d is refused)",
		ring, n, min(st.WriteQuorum, n), min(st.ReadQuorum, n), n)
}
