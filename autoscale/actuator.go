package autoscale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Actuator adds or removes a machine. Down is called only after the
// node has left the ring and handed its ranges over.
type Actuator interface {
	Up(ctx context.Context) error
	Down(ctx context.Context, node string) error
}

// Exec is the --autoscale-exec actuator: it runs CMD up, or CMD down
// NODE. CMD is split on spaces, with no shell, so the node image needs
// none (it may be our own binary: "/grafo autoscale-docker").
type Exec struct {
	argv    []string
	timeout time.Duration
}

// ExecTimeout bounds one actuator run: starting a machine may pull
// images, but a hung command must not stop the autoscaler for ever.
const ExecTimeout = 5 * time.Minute

// NewExec parses CMD.
func NewExec(cmd string) (*Exec, error) {
	argv := strings.Fields(cmd)
	if len(argv) == 0 {
		return nil, errors.New("autoscale: --autoscale-exec is empty")
	}
	return &Exec{argv: argv, timeout: ExecTimeout}, nil
}

func (e *Exec) Up(ctx context.Context) error { return e.run(ctx, "up") }

func (e *Exec) Down(ctx context.Context, node string) error { return e.run(ctx, "down", node) }

func (e *Exec) run(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.argv[0], append(e.argv[1:], args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("autoscale: %s %s: %w: %s", strings.Join(e.argv, " "), strings.Join(args, " "), err, tail(out.String(), 512))
	}
	return nil
}

// tail keeps the end of a command's output, where errors are.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
