package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// A node with no raft state and nothing to --join would bootstrap a new
// cluster. That is right the first time, and wrong when the node is the
// seed of a cluster that lives on without it: the seed of a StatefulSet
// (grafo-0, whose --join names itself) that lost its volume must rejoin its
// cluster, not found a second one beside it. --peers names where the rest
// of the cluster may be (a headless service's name resolves to every
// pod); before bootstrapping, the node asks each address whether it is a
// member, and joins through those that are.

// discoverMembers resolves peers (host:port, a host may resolve to several
// addresses) and asks each address other than this node's own (self) who
// it is.
// It returns the cluster addresses of those that are members; none when
// every one answered that it is not (a cluster being created: this node
// bootstraps). While an address does not answer it waits and asks again:
// bootstrapping beside a member it could not reach would split the
// cluster in two.
func (n *Node) discoverMembers(ctx context.Context, peers []string, self func(string) bool) ([]string, error) {
	var logged string
	for {
		var members, silent []string
		for _, addr := range resolvePeers(ctx, peers) {
			if self(addr) {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := n.tr.Call(cctx, addr, methodNodeInfo, nil)
			cancel()
			var info nodeInfo
			if err == nil {
				err = json.Unmarshal(resp, &info)
			}
			switch {
			case err != nil:
				silent = append(silent, fmt.Sprintf("%s (%v)", addr, err))
			case info.ID == n.cfg.NodeID:
				// Ourselves under another address (a NAT, a second name).
			case info.Member:
				members = append(members, addr)
			}
		}
		if len(members) > 0 {
			n.log.Info("--peers: found members of a cluster; joining it instead of bootstrapping", "members", members)
			return members, nil
		}
		if len(silent) == 0 {
			return nil, nil
		}
		if msg := fmt.Sprint(silent); msg != logged {
			n.log.Info("--peers: waiting for every peer to answer before bootstrapping", "silent", silent)
			logged = msg
		}
		n.gate.joinFailed(peers)(errors.New("peers not answering yet: " + fmt.Sprint(silent)))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: --peers %v: %w (not answering: %v)", peers, ctx.Err(), silent)
		case <-time.After(time.Second):
		}
	}
}

// resolvePeers expands each host:port to one address per IP its host
// resolves to. A name that resolves to nothing (a service with no pods
// yet) adds nothing; one that cannot be resolved now is kept as it is,
// so that asking it fails and is asked again.
func resolvePeers(ctx context.Context, peers []string) []string {
	var out []string
	for _, p := range peers {
		host, port, err := net.SplitHostPort(p)
		if err != nil || net.ParseIP(host) != nil {
			out = append(out, p)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, err := net.DefaultResolver.LookupHost(rctx, host)
		cancel()
		var dnsErr *net.DNSError
		switch {
		case err == nil:
			for _, ip := range ips {
				out = append(out, net.JoinHostPort(ip, port))
			}
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		default:
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ownAddrs returns whether an address is one of this node's own (cluster
// or public): one of addrs as written, or an IP of this host's interfaces
// with one of their ports (what a name of this node resolves to; no
// lookup needed).
func ownAddrs(addrs ...string) func(string) bool {
	own := map[string]bool{}
	ports := map[string]bool{}
	for _, a := range addrs {
		if a == "" {
			continue
		}
		own[a] = true
		if _, port, err := net.SplitHostPort(a); err == nil {
			ports[port] = true
		}
	}
	ifaces, _ := net.InterfaceAddrs()
	return func(addr string) bool {
		if own[addr] {
			return true
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || !ports[port] {
			return false
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return false
		}
		if ip.IsUnspecified() {
			return true
		}
		for _, ia := range ifaces {
			if ipn, ok := ia.(*net.IPNet); ok && ipn.IP.Equal(ip) {
				return true
			}
		}
		return false
	}
}
