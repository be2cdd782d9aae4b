package server

import (
	"context"
	"strings"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/resp"
)

// startRESP starts the Redis protocol front end on cfg.RESPAddr, if set,
// over the node's coordinator, with the same tokens as the HTTP API.
func (n *Node) startRESP() error {
	if n.cfg.RESPAddr == "" {
		return nil
	}
	// n.tokens is the --tokens file Start loaded for the HTTP API (nil: off).
	tokens := n.tokens
	srv, err := resp.NewServer(resp.Config{
		Addr: n.cfg.RESPAddr, Store: kv.UserSpace(n.coord), // raw keys never reach graph rows
		Tokens: tokens, Info: n.respInfo, Logger: n.log,
	})
	if err != nil {
		return err
	}
	n.goServe("resp", srv.Serve, func(context.Context) error { return srv.Close() })
	n.log.Info("resp front end started", "addr", srv.Addr(), "auth", tokens.Enabled())
	return nil
}

// respInfo is what INFO tells Redis clients about this node and its cluster.
func (n *Node) respInfo() resp.InfoData {
	st := n.cluster.State()
	d := resp.InfoData{
		NodeID: n.cfg.NodeID, Replicas: st.Replicas, WriteQuorum: st.WriteQuorum, ReadQuorum: st.ReadQuorum,
		Leader: st.Leader, Keys: n.engine.Keys(),
	}
	if d.WriteQuorum == 0 {
		d.WriteQuorum = st.Replicas/2 + 1
	}
	if d.ReadQuorum == 0 {
		d.ReadQuorum = st.Replicas/2 + 1
	}
	for _, nd := range st.Nodes {
		d.Nodes = append(d.Nodes, resp.NodeInfo{ID: nd.ID, State: strings.ToLower(string(nd.State)), Addr: nd.HTTP})
	}
	return d
}
