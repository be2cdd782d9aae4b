package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/grafo/grafo/kv/client"
)

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("cluster", "grafo cluster status | join ADDR | leave NODE | remove NODE [--force] | cleanup [--server URL] [--json]", stderr)
	server := serverFlag(fs)
	asJSON := fs.Bool("json", false, "print status as JSON")
	force := fs.Bool("force", false, "remove: also a node that heartbeats see as up")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := client.New(*server, client.WithToken(os.Getenv("GRAFO_TOKEN")))
	switch {
	case len(pos) == 1 && pos[0] == "status":
		st, err := c.Cluster(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
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
		return tw.Flush()
	case len(pos) == 2 && pos[0] == "join":
		return c.Join(ctx, pos[1])
	case len(pos) == 2 && pos[0] == "leave":
		return c.Leave(ctx, pos[1])
	case len(pos) == 1 && pos[0] == "cleanup":
		// Every member cleans its own engine: ask each, through its own
		// public address, with the same token.
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
			nc := client.New("http://"+n.HTTP, client.WithToken(os.Getenv("GRAFO_TOKEN")))
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
