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
		fmt.Fprintf(stdout, "replicas N=%d  W=%d  R=%d  leader=%s  hints pending=%d  rebalancing=%v\n\n",
			st.Replicas, st.WriteQuorum, st.ReadQuorum, st.Leader, st.HintsPending, st.Rebalancing)
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
		return nil
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
