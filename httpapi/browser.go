package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/grafo/grafo/auth"
)

// Browsers on the same machine are the threat here: any web page can make
// the browser send requests to 127.0.0.1, and without --tokens the API
// answers anyone who can reach it. Two checks keep pages out:
//
//   - Host: a page on a name the attacker controls can rebind that name to
//     127.0.0.1 (DNS rebinding) and then read answers as same-origin. With
//     tokens off, the Host header must be an IP address, localhost (or a
//     *.localhost name), or one of the node's own names (Config.Hosts).
//     With tokens on a rebound page has no token, so any Host is accepted.
//   - Cross-site requests: a state-changing request (any method but GET,
//     HEAD and OPTIONS) or a websocket upgrade is refused when the browser
//     says it comes from another site or origin (Sec-Fetch-Site other than
//     same-origin or none, or an Origin whose host is not the request's).
//     curl, the Go client and the CLI send neither header; the explorer is
//     same-origin.

// checkBrowser returns an auth.ErrForbidden error when r looks like one of
// the requests above.
func (a *api) checkBrowser(r *http.Request) error {
	if !a.cfg.Tokens.Enabled() && !a.knownHost(r.Host) {
		return fmt.Errorf("%w: host %q is not a name of this server (DNS rebinding?); use its address, localhost, or add the name with --allowed-hosts", auth.ErrForbidden, clip(r.Host))
	}
	if safeMethod(r.Method) && !isWebsocket(r) {
		return nil
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("%w: cross-site request refused (Sec-Fetch-Site: %s)", auth.ErrForbidden, clip(site))
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("%w: cross-origin request refused (Origin %q is not this server)", auth.ErrForbidden, clip(origin))
		}
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// knownHost reports whether host (a Host header, port optional) may be
// used with tokens off: rebinding always goes through a DNS name, so IP
// literals are safe, and so are the loopback names and the node's own.
func (a *api) knownHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	for _, n := range a.cfg.Hosts {
		if n == "*" || strings.EqualFold(n, h) {
			return true
		}
	}
	return false
}

// HostNames returns the bare host names of addresses ("host:port",
// "http://host:port" or "host"), for Config.Hosts.
func HostNames(addrs ...string) []string {
	var out []string
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if i := strings.Index(a, "://"); i >= 0 {
			a = a[i+3:]
		}
		a, _, _ = strings.Cut(a, "/")
		if h, _, err := net.SplitHostPort(a); err == nil {
			a = h
		}
		if a = strings.Trim(a, "[]"); a != "" {
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

// clip bounds client-supplied text quoted in an error.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
