package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/grafo/grafo/autoscale"
)

// runAutoscaleDocker is the actuator a containerised node runs as
// --autoscale-exec "/grafo autoscale-docker --template CONTAINER".
func runAutoscaleDocker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("autoscale-docker", "grafo autoscale-docker --template CONTAINER [--docker-host URL] [--join ADDR] up | down NODE", stderr)
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	dockerHost := fs.String("docker-host", host, "Docker Engine API (unix:///path or tcp://host:port; default $DOCKER_HOST or the local socket)")
	template := fs.String("template", "", "container whose image, environment, user, networks and bind mounts a new node copies")
	join := fs.String("join", os.Getenv("GRAFO_ADVERTISE"), "cluster address new nodes join through (default: the calling node's GRAFO_ADVERTISE)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	d, err := autoscale.NewDocker(*dockerHost, *template, *join)
	if err != nil {
		return usageError{err.Error()}
	}
	d.Out = stdout
	switch {
	case len(pos) == 1 && pos[0] == "up":
		return d.Up(ctx)
	case len(pos) == 2 && pos[0] == "down":
		return d.Down(ctx, pos[1])
	}
	fs.Usage()
	return usageError{fmt.Sprintf("autoscale-docker takes up or down NODE, got %q", pos)}
}
