package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Role is what a token may do. Higher roles include lower ones.
type Role int

const (
	// None is no access (no or unknown token).
	None Role = iota
	// Read allows queries, get and subscriptions.
	Read
	// Write also allows mutations, put, delete and ingest.
	Write
	// Admin also allows cluster join and leave.
	Admin
)

func (r Role) String() string {
	switch r {
	case Read:
		return "read"
	case Write:
		return "write"
	case Admin:
		return "admin"
	}
	return "none"
}

// ParseRole parses read, write or admin.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "read":
		return Read, nil
	case "write":
		return Write, nil
	case "admin":
		return Admin, nil
	}
	return None, fmt.Errorf("auth: unknown role %q (want read, write or admin)", s)
}

// Errors of authorization, mapped to 401 and 403 by the front ends.
var (
	// ErrUnauthenticated: no token, or a token not in the file.
	ErrUnauthenticated = errors.New("auth: missing or invalid token")
	// ErrForbidden: a valid token whose role or graphs do not allow it.
	ErrForbidden = errors.New("auth: not allowed")
)

// Principal is who a request acts as.
type Principal struct {
	Role Role
	// Graphs limits the principal to these graphs; nil means all.
	Graphs map[string]bool
	// ID is a fingerprint of the token, safe to log.
	ID string
}

// Can reports whether p has at least role need.
func (p Principal) Can(need Role) bool { return p.Role >= need }

// CanGraph reports whether p may touch graph.
func (p Principal) CanGraph(graph string) bool {
	return p.Graphs == nil || p.Graphs[graph]
}

// Require returns nil if p has role need (and, when graph is not empty,
// may touch graph), else ErrForbidden with a message saying why.
func (p Principal) Require(need Role, graph string) error {
	if p.Role == None {
		return ErrUnauthenticated
	}
	if !p.Can(need) {
		return fmt.Errorf("%w: token role %s, this needs %s", ErrForbidden, p.Role, need)
	}
	if graph != "" && !p.CanGraph(graph) {
		return fmt.Errorf("%w: token is not scoped to graph %q", ErrForbidden, graph)
	}
	return nil
}

// Tokens is a loaded tokens file. A nil *Tokens means authentication is
// off: every request acts as an unscoped admin.
type Tokens struct {
	entries []entry
}

type entry struct {
	sum [32]byte // sha256 of the token: compared in constant time
	p   Principal
}

// Load reads a tokens file.
func Load(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: tokens file: %w", err)
	}
	defer f.Close()
	return parse(path, f)
}

// Parse reads the tokens format: `TOKEN ROLE [GRAPH,GRAPH…]` a line;
// blank lines and lines starting with # are skipped. A token given twice
// is an error: which of its lines would apply is anyone's guess.
func Parse(r io.Reader) (*Tokens, error) { return parse("tokens", r) }

// parse reads a tokens file; errors name it as name:line.
func parse(name string, r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	sc := bufio.NewScanner(r)
	line := 0
	seen := map[[32]byte]int{}
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("auth: %s:%d: want TOKEN ROLE [GRAPH,…]", name, line)
		}
		if len(f[0]) < 8 {
			return nil, fmt.Errorf("auth: %s:%d: token shorter than 8 characters", name, line)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("auth: %s:%d: %w", name, line, err)
		}
		p := Principal{Role: role}
		if len(f) == 3 {
			p.Graphs = map[string]bool{}
			for _, g := range strings.Split(f[2], ",") {
				if g = strings.TrimSpace(g); g != "" {
					p.Graphs[g] = true
				}
			}
		}
		sum := sha256.Sum256([]byte(f[0]))
		if first, dup := seen[sum]; dup {
			return nil, fmt.Errorf("auth: %s:%d: duplicate token (first on line %d)", name, line, first)
		}
		seen[sum] = line
		p.ID = hex.EncodeToString(sum[:4])
		t.entries = append(t.entries, entry{sum: sum, p: p})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.entries) == 0 {
		return nil, errors.New("auth: tokens file has no tokens")
	}
	return t, nil
}

// Check returns the principal of token, or ErrUnauthenticated. Every entry
// is compared, in constant time, so timing tells nothing about which
// tokens exist.
func (t *Tokens) Check(token string) (Principal, error) {
	if t == nil {
		return Principal{Role: Admin, ID: "open"}, nil
	}
	sum := sha256.Sum256([]byte(token))
	var found Principal
	ok := 0
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			found = e.p
			ok = 1
		}
	}
	if ok == 0 || token == "" {
		return Principal{}, ErrUnauthenticated
	}
	return found, nil
}

// Enabled reports whether tokens are required.
func (t *Tokens) Enabled() bool { return t != nil }

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal in ctx. A context without one (authentication
// off, or an internal caller) is an unscoped admin.
func From(ctx context.Context) Principal {
	if p, ok := ctx.Value(ctxKey{}).(Principal); ok {
		return p
	}
	return Principal{Role: Admin, ID: "internal"}
}

// BearerToken extracts the token of an `Authorization: Bearer TOKEN`
// header value.
func BearerToken(header string) string {
	const p = "bearer "
	if len(header) > len(p) && strings.EqualFold(header[:len(p)], p) {
		return strings.TrimSpace(header[len(p):])
	}
	return ""
}

type admitKey struct{}

// WithAdmission returns ctx carrying admit, which a long-lived connection
// (a websocket) calls through Admit once it has authenticated: the HTTP
// layer counts a connection as pending until then, so unauthenticated
// sockets cannot use up the budget of established ones.
func WithAdmission(ctx context.Context, admit func() error) context.Context {
	return context.WithValue(ctx, admitKey{}, admit)
}

// Admit calls ctx's admission hook, if any; an error means the connection
// must close (no room for it).
func Admit(ctx context.Context) error {
	if f, ok := ctx.Value(admitKey{}).(func() error); ok {
		return f()
	}
	return nil
}
