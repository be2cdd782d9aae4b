package autoscale

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// NodeLabel marks the containers Docker started for the autoscaler, with
// the node id as value; Down removes only those.
const NodeLabel = "grafo.autoscale.node"

// Docker is an actuator on the Docker Engine API (the socket, no CLI: a
// FROM-scratch image has none). Up clones a template container — image,
// environment, user, networks, restart policy, bind mounts — as a new
// node with an id of its own, a fresh /data volume, and --join set to
// the node that asked (GRAFO_ADVERTISE of the calling process). Down
// stops and removes a container it started, volume included.
type Docker struct {
	Template string // name or id of the container to clone
	Join     string // cluster address the new node joins through
	// Out, when set, gets a line for every container started or removed
	// (the command's stdout; the library itself prints nothing).
	Out  io.Writer
	hc   *http.Client
	base string
}

// NewDocker talks to host: "unix:///var/run/docker.sock" or "tcp://h:p".
func NewDocker(host, template, join string) (*Docker, error) {
	d := &Docker{Template: template, Join: join}
	switch {
	case strings.HasPrefix(host, "unix://"):
		path := strings.TrimPrefix(host, "unix://")
		d.hc = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", path)
		}}}
		d.base = "http://docker"
	case strings.HasPrefix(host, "tcp://"):
		d.hc, d.base = &http.Client{}, "http://"+strings.TrimPrefix(host, "tcp://")
	default:
		return nil, fmt.Errorf("docker host %q: want unix:///path or tcp://host:port", host)
	}
	if template == "" {
		return nil, fmt.Errorf("docker actuator: --template (the container to clone) is required")
	}
	return d, nil
}

// container is the part of GET /containers/{id}/json this uses.
type container struct {
	ID     string
	Name   string
	Config struct {
		Image  string
		Env    []string
		User   string
		Labels map[string]string
	}
	HostConfig struct {
		NetworkMode   string
		RestartPolicy json.RawMessage
		Binds         []string
	}
	Mounts []struct {
		Type        string
		Source      string
		Destination string
		RW          bool
	}
	NetworkSettings struct {
		Networks map[string]json.RawMessage
	}
}

func (d *Docker) Up(ctx context.Context) error {
	var tpl container
	if err := d.call(ctx, "GET", "/containers/"+url.PathEscape(d.Template)+"/json", nil, &tpl); err != nil {
		return fmt.Errorf("template %s: %w", d.Template, err)
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	id := "auto-" + hex.EncodeToString(suffix)
	join := d.Join
	if join == "" {
		join = envOf(tpl.Config.Env, "GRAFO_ADVERTISE")
	}
	env := setEnv(tpl.Config.Env, map[string]string{
		"GRAFO_NODE_ID": id, "GRAFO_ADVERTISE": id + ":7071", "GRAFO_ADVERTISE_HTTP": id + ":7070", "GRAFO_JOIN": join,
	})
	labels := map[string]string{NodeLabel: id}
	if p := tpl.Config.Labels["com.docker.compose.project"]; p != "" {
		// `docker compose down --remove-orphans` then removes it too.
		labels["com.docker.compose.project"] = p
	}
	// Bind mounts (the Docker socket) come along; the template's data
	// volume does not: the image's VOLUME gives the new node its own.
	var binds []string
	for _, m := range tpl.Mounts {
		if m.Type == "bind" {
			b := m.Source + ":" + m.Destination
			if !m.RW {
				b += ":ro"
			}
			binds = append(binds, b)
		}
	}
	endpoints := map[string]any{}
	for net := range tpl.NetworkSettings.Networks {
		endpoints[net] = map[string]any{"Aliases": []string{id}}
	}
	body := map[string]any{
		"Image": tpl.Config.Image, "Env": env, "User": tpl.Config.User, "Hostname": id, "Labels": labels,
		"HostConfig": map[string]any{
			"NetworkMode": tpl.HostConfig.NetworkMode, "RestartPolicy": tpl.HostConfig.RestartPolicy, "Binds": binds,
		},
		"NetworkingConfig": map[string]any{"EndpointsConfig": endpoints},
	}
	name := id
	if p := labels["com.docker.compose.project"]; p != "" {
		name = p + "-" + id
	}
	var created struct{ Id string }
	if err := d.call(ctx, "POST", "/containers/create?name="+url.QueryEscape(name), body, &created); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := d.call(ctx, "POST", "/containers/"+created.Id+"/start", nil, nil); err != nil {
		d.call(ctx, "DELETE", "/containers/"+created.Id+"?v=1&force=1", nil, nil)
		return fmt.Errorf("start %s: %w", name, err)
	}
	d.say("started node %s in container %s", id, name)
	return nil
}

func (d *Docker) Down(ctx context.Context, node string) error {
	filters, _ := json.Marshal(map[string][]string{"label": {NodeLabel + "=" + node}})
	var list []struct{ Id string }
	if err := d.call(ctx, "GET", "/containers/json?all=1&filters="+url.QueryEscape(string(filters)), nil, &list); err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("no container labelled %s=%s: the autoscaler removes only machines it started", NodeLabel, node)
	}
	for _, c := range list {
		// The node has already left the ring: a short stop is enough.
		if err := d.call(ctx, "POST", "/containers/"+c.Id+"/stop?t=10", nil, nil); err != nil {
			return err
		}
		if err := d.call(ctx, "DELETE", "/containers/"+c.Id+"?v=1&force=1", nil, nil); err != nil {
			return err
		}
	}
	d.say("removed node %s's container", node)
	return nil
}

func (d *Docker) say(format string, args ...any) {
	if d.Out != nil {
		fmt.Fprintf(d.Out, format+"\n", args...)
	}
}

func (d *Docker) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker API: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
		return fmt.Errorf("docker API %s %s: %s: %s", method, path, resp.Status, tail(string(b), 300))
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

func envOf(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// setEnv replaces or adds the variables in set.
func setEnv(env []string, set map[string]string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := set[name]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}
