package resp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/kv"
)

// command describes one supported command: how COMMAND and COMMAND DOCS
// present it, who may run it, and run, its handler.
type command struct {
	name                    string
	arity                   int // negative: at least -arity arguments
	flags                   []string
	firstKey, lastKey, step int
	group, summary          string
	role                    auth.Role // needed beyond being authenticated; auth.None: none
	noAuth                  bool
	run                     func(c *conn, args [][]byte)
}

// commands is the command table, in COMMAND's order; commandIndex finds
// one by its lower-case name. Both are filled by init: handlers such as
// COMMAND read the table, which a variable initializer could not allow.
var (
	commands     []command
	commandIndex map[string]*command
)

func init() {
	commands = []command{
		{name: "ping", arity: -1, flags: []string{"fast"}, group: "connection", summary: "Returns PONG, or the given message.", noAuth: true, run: (*conn).ping},
		{name: "echo", arity: 2, flags: []string{"fast"}, group: "connection", summary: "Returns the given string.", run: func(c *conn, args [][]byte) { c.w.bulk(args[1]) }},
		{name: "auth", arity: -2, flags: []string{"noscript", "loading", "stale", "fast", "no_auth"}, group: "connection", summary: "Authenticates the connection with a Grafo API token.", noAuth: true, run: (*conn).auth},
		{name: "hello", arity: -1, flags: []string{"noscript", "loading", "stale", "fast", "no_auth"}, group: "connection", summary: "Handshake; only protocol 2 (RESP2) is supported.", noAuth: true, run: (*conn).hello},
		{name: "quit", arity: -1, flags: []string{"noscript", "loading", "stale", "fast", "no_auth"}, group: "connection", summary: "Closes the connection.", noAuth: true, run: (*conn).quitCmd},
		{name: "select", arity: 2, flags: []string{"loading", "stale", "fast"}, group: "connection", summary: "Selects database 0, the only one.", run: (*conn).selectDB},
		{name: "client", arity: -2, flags: []string{"loading", "stale"}, group: "connection", summary: "SETNAME, GETNAME, SETINFO, ID.", run: (*conn).client},
		{name: "get", arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the value of a key.", role: auth.Read, run: (*conn).get},
		{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, group: "string", summary: "Returns the values of keys.", role: auth.Read, run: (*conn).mget},
		{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, group: "keyspace", summary: "Counts how many of the keys exist.", role: auth.Read, run: (*conn).exists},
		{name: "scan", arity: -2, flags: []string{"readonly"}, group: "keyspace", summary: "Iterates over the keys of the whole cluster, in order (MATCH, COUNT, TYPE).", role: auth.Read, run: (*conn).scan},
		{name: "keys", arity: 2, flags: []string{"readonly"}, group: "keyspace", summary: "Refused: use SCAN, which pages.", role: auth.Read, run: (*conn).keys},
		{name: "set", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Sets the value of a key (no options).", role: auth.Write, run: (*conn).set},
		{name: "mset", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: -1, step: 2, group: "string", summary: "Sets the values of keys (not atomic across keys).", role: auth.Write, run: (*conn).mset},
		{name: "del", arity: -2, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, group: "keyspace", summary: "Deletes keys; returns how many existed.", role: auth.Write, run: (*conn).del},
		{name: "info", arity: -1, flags: []string{"loading", "stale"}, group: "server", summary: "Server, clients, replication (N/W/R, nodes) and keyspace sections.", run: (*conn).info},
		{name: "command", arity: -1, flags: []string{"loading", "stale"}, group: "server", summary: "Describes the supported commands (COUNT, DOCS, INFO, LIST).", run: (*conn).command},
		{name: "config", arity: -2, flags: []string{"loading", "stale"}, group: "server", summary: "CONFIG GET of a few read-only settings.", run: (*conn).config},
		{name: "grafo.consistency", arity: -1, flags: []string{"fast"}, group: "connection", summary: "Sets this connection's consistency: one, quorum, all, linearizable or default.", run: (*conn).consistency},
	}
	commandIndex = make(map[string]*command, len(commands))
	for i := range commands {
		commandIndex[commands[i].name] = &commands[i]
	}
}

// lowerName returns args[0] in lower case, without allocating for names
// that fit the connection's scratch buffer.
func (c *conn) lowerName(name []byte) []byte {
	b := c.lower[:0]
	if len(name) > len(c.lower) {
		b = make([]byte, 0, len(name))
	}
	for _, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	return b
}

func (c *conn) dispatch(args [][]byte) {
	name := c.lowerName(args[0])
	if string(name) == "post" || string(name) == "host:" {
		// An HTTP request: a browser page posting text/plain to this port
		// (cross-protocol scripting). Close without running anything
		// more, as Redis does, so the body's lines never become commands.
		c.s.log.Warn("resp: connection closed: looks like an HTTP request (possible cross-protocol attack)", "remote", c.nc.RemoteAddr().String())
		c.quit = true
		return
	}
	cmd, ok := commandIndex[string(name)]
	if !ok {
		c.unknown(args)
		return
	}
	if cmd.arity > 0 && len(args) != cmd.arity || cmd.arity < 0 && len(args) < -cmd.arity {
		c.w.err(fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd.name))
		return
	}
	if !cmd.noAuth && !c.authed {
		c.w.err("NOAUTH Authentication required.")
		return
	}
	if cmd.role != auth.None && !c.allowed(cmd) {
		return
	}
	cmd.run(c, args)
}

func (c *conn) quitCmd([][]byte) {
	c.w.ok()
	c.quit = true
}

func (c *conn) selectDB(args [][]byte) {
	if string(args[1]) == "0" {
		c.w.ok()
	} else {
		c.w.err("ERR DB index is out of range (Grafo has one database, 0)")
	}
}

func (c *conn) unknown(args [][]byte) {
	var b strings.Builder
	for i, a := range args[1:] {
		if i == 8 || b.Len() > 128 {
			break
		}
		fmt.Fprintf(&b, "'%s' ", clip(a, 64))
	}
	c.w.err(fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", clip(args[0], 64), b.String()))
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// allowed checks the connection's token against cmd, answering an error
// if it does not pass.
func (c *conn) allowed(cmd *command) bool {
	if err := c.principal.Require(cmd.role, ""); err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			c.w.err("NOAUTH Authentication required.")
		} else {
			c.w.err(fmt.Sprintf("NOPERM token role %s cannot run '%s' (needs %s)", c.principal.Role, cmd.name, cmd.role))
		}
		return false
	}
	// Raw keys hold every graph's rows: a token limited to some graphs
	// must not read or write them through the raw store.
	if c.principal.Graphs != nil {
		c.w.err(fmt.Sprintf("NOPERM token is limited to graphs; '%s' on the raw key-value store needs an unscoped token", cmd.name))
		return false
	}
	return true
}

// storeErr answers a store error with its RESP error.
func (c *conn) storeErr(err error) {
	c.w.err(errorReply(err))
	if !errors.Is(err, kv.ErrUnavailable) && !errors.Is(err, kv.ErrTooLarge) && !errors.Is(err, kv.ErrEmptyKey) &&
		!errors.Is(err, kv.ErrInvalidKey) && !errors.Is(err, kv.ErrInvalidConsistency) && !errors.Is(err, kv.ErrClosed) {
		c.s.log.Error("resp: store error", "err", err)
	}
}

// errorReply maps store errors onto RESP error lines, in this one place.
func errorReply(err error) string {
	msg := err.Error()
	strip := func(s error) string {
		if p := s.Error() + ": "; strings.HasPrefix(msg, p) {
			return msg[len(p):]
		}
		return msg
	}
	switch {
	case errors.Is(err, kv.ErrTooLarge):
		return fmt.Sprintf("ERR value too large: key + value exceed %d bytes", kv.MaxPairSize)
	case errors.Is(err, kv.ErrUnavailable):
		return "UNAVAILABLE " + strip(kv.ErrUnavailable)
	case errors.Is(err, kv.ErrClosed):
		return "UNAVAILABLE the store is closed (node shutting down)"
	case errors.Is(err, kv.ErrEmptyKey):
		return "ERR empty key"
	case errors.Is(err, kv.ErrInvalidKey):
		return "ERR invalid key: " + strip(kv.ErrInvalidKey)
	case errors.Is(err, kv.ErrInvalidConsistency):
		return "ERR invalid consistency: " + strip(kv.ErrInvalidConsistency)
	}
	return "ERR internal error: " + msg
}

func (c *conn) get(args [][]byte) {
	cell, err := c.s.cfg.Store.Get(c.s.ctx, kv.Clone(args[1])[0], c.opts)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		c.w.null()
	case err != nil:
		c.storeErr(err)
	case !cell.Live():
		c.w.null()
	default:
		c.w.bulk(cell.Value)
	}
}

func (c *conn) set(args [][]byte) {
	if len(args) > 3 {
		c.w.err(fmt.Sprintf("ERR SET option '%s' is not supported by Grafo (no NX, XX, EX, PX, EXAT, PXAT, KEEPTTL, GET: plain SET key value only)", strings.ToUpper(clip(args[3], 32))))
		return
	}
	kvp := kv.Clone(args[1], args[2])
	if _, err := c.s.cfg.Store.Put(c.s.ctx, kvp[0], kvp[1], c.opts); err != nil {
		c.storeErr(err)
		return
	}
	c.w.ok()
}

// readKeys reads the keys args[1:] at the connection's consistency; if
// the store fails it answers the error and reports false.
func (c *conn) readKeys(args [][]byte) (keys [][]byte, cells []kv.Cell, ok bool) {
	keys = kv.Clone(args[1:]...)
	cells, err := c.s.cfg.Store.GetMany(c.s.ctx, keys, c.opts)
	if err != nil {
		c.storeErr(err)
		return nil, nil, false
	}
	return keys, cells, true
}

func (c *conn) mget(args [][]byte) {
	_, cells, ok := c.readKeys(args)
	if !ok {
		return
	}
	c.w.array(len(cells))
	for _, cell := range cells {
		if cell.Live() {
			c.w.bulk(cell.Value)
		} else {
			c.w.null()
		}
	}
}

func (c *conn) mset(args [][]byte) {
	if len(args)%2 != 1 {
		c.w.err("ERR wrong number of arguments for 'mset' command")
		return
	}
	parts := kv.Clone(args[1:]...)
	writes := make([]kv.Write, 0, len(parts)/2)
	for i := 0; i < len(parts); i += 2 {
		if err := kv.CheckPair(parts[i], parts[i+1]); err != nil {
			// Refuse the whole command before anything is written.
			c.w.err(errorReply(err))
			return
		}
		writes = append(writes, kv.Write{Key: parts[i], Value: parts[i+1]})
	}
	if err := c.s.cfg.Store.Write(c.s.ctx, writes, c.opts); err != nil {
		c.storeErr(err)
		return
	}
	c.w.ok()
}

// del reads the keys first, to count the ones that exist, then writes a
// tombstone for every key given (also the ones this read did not see: a
// replica it did not ask may still hold a value).
func (c *conn) del(args [][]byte) {
	keys, cells, ok := c.readKeys(args)
	if !ok {
		return
	}
	existed := 0
	writes := make([]kv.Write, len(keys))
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		writes[i] = kv.Write{Key: k, Delete: true}
		if cells[i].Live() && !seen[string(k)] {
			existed++
		}
		seen[string(k)] = true
	}
	if err := c.s.cfg.Store.Write(c.s.ctx, writes, c.opts); err != nil {
		c.storeErr(err)
		return
	}
	c.w.int(int64(existed))
}

func (c *conn) exists(args [][]byte) {
	_, cells, ok := c.readKeys(args)
	if !ok {
		return
	}
	n := 0
	for _, cell := range cells {
		if cell.Live() {
			n++
		}
	}
	c.w.int(int64(n))
}

func (c *conn) ping(args [][]byte) {
	switch len(args) {
	case 1:
		c.w.simple("PONG")
	case 2:
		c.w.bulk(args[1])
	default:
		c.w.err("ERR wrong number of arguments for 'ping' command")
	}
}

// auth handles AUTH token and AUTH user token; the user name is ignored
// (a Grafo token carries its own role).
func (c *conn) auth(args [][]byte) {
	if len(args) > 3 {
		c.w.err("ERR syntax error")
		return
	}
	if c.authenticate(string(args[len(args)-1])) {
		c.w.ok()
	}
}

// authenticate checks token (AUTH, HELLO … AUTH) and authenticates the
// connection, or answers the error and reports false.
func (c *conn) authenticate(token string) bool {
	if c.s.cfg.Tokens == nil {
		c.w.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct? (this Grafo node runs without --tokens)")
		return false
	}
	p, err := c.s.cfg.Tokens.Check(token)
	if err != nil {
		c.w.err("WRONGPASS invalid username-password pair or user is disabled.")
		c.s.log.Info("resp: authentication failed", "remote", c.nc.RemoteAddr().String())
		return false
	}
	c.authenticated(p)
	return true
}

// hello answers HELLO [2 [AUTH user token] [SETNAME name]].
func (c *conn) hello(args [][]byte) {
	if len(args) >= 2 {
		v, err := strconv.Atoi(string(args[1]))
		if err != nil {
			c.w.err("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 {
			c.w.err("NOPROTO sorry, this protocol version is not supported (Grafo speaks RESP2 only)")
			return
		}
	}
	var token, name string
	hasAuth := false
	for i := 2; i < len(args); i++ {
		switch strings.ToLower(string(args[i])) {
		case "auth":
			if i+2 >= len(args) {
				c.w.err("ERR Syntax error in HELLO option 'auth'")
				return
			}
			token, hasAuth = string(args[i+2]), true
			i += 2
		case "setname":
			if i+1 >= len(args) {
				c.w.err("ERR Syntax error in HELLO option 'setname'")
				return
			}
			name = string(args[i+1])
			i++
		default:
			c.w.err(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", clip(args[i], 32)))
			return
		}
	}
	if hasAuth && !c.authenticate(token) {
		return
	}
	if !c.authed {
		c.w.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != "" {
		c.name = name
	}
	c.w.array(14)
	c.w.bulkString("server")
	c.w.bulkString("redis")
	c.w.bulkString("version")
	c.w.bulkString(RedisVersion)
	c.w.bulkString("proto")
	c.w.int(2)
	c.w.bulkString("id")
	c.w.int(c.id)
	c.w.bulkString("mode")
	c.w.bulkString("standalone")
	c.w.bulkString("role")
	c.w.bulkString("master")
	c.w.bulkString("modules")
	c.w.array(0)
}

func (c *conn) client(args [][]byte) {
	switch strings.ToLower(string(args[1])) {
	case "setname":
		if len(args) != 3 {
			c.w.err("ERR wrong number of arguments for 'client|setname' command")
			return
		}
		c.name = string(args[2])
		c.w.ok()
	case "getname":
		if c.name == "" {
			c.w.null()
		} else {
			c.w.bulkString(c.name)
		}
	case "setinfo":
		if len(args) != 4 {
			c.w.err("ERR wrong number of arguments for 'client|setinfo' command")
			return
		}
		c.w.ok()
	case "id":
		c.w.int(c.id)
	default:
		c.w.err(fmt.Sprintf("ERR unknown subcommand '%s'. Grafo supports CLIENT SETNAME, GETNAME, SETINFO and ID.", clip(args[1], 32)))
	}
}

// consistency answers GRAFO.CONSISTENCY [one|quorum|all|linearizable|default].
func (c *conn) consistency(args [][]byte) {
	switch len(args) {
	case 1:
		c.w.bulkString(c.opts.Level.String())
	case 2:
		l, err := kv.ParseLevel(string(args[1]))
		if err != nil && strings.EqualFold(string(args[1]), "default") {
			l, err = kv.Default, nil
		}
		if err != nil {
			c.w.err(errorReply(err))
			return
		}
		c.opts = kv.Options{Level: l}
		c.w.ok()
	default:
		c.w.err("ERR wrong number of arguments for 'grafo.consistency' command")
	}
}

func (c *conn) config(args [][]byte) {
	if !strings.EqualFold(string(args[1]), "get") {
		c.w.err(fmt.Sprintf("ERR CONFIG %s is not supported by Grafo (CONFIG GET only)", strings.ToUpper(clip(args[1], 32))))
		return
	}
	if len(args) < 3 {
		c.w.err("ERR wrong number of arguments for 'config|get' command")
		return
	}
	// Grafo's engine commits with an fsync before it acknowledges, much
	// like Redis with appendfsync always; it has no snapshots to "save".
	settings := [][2]string{
		{"save", ""}, {"appendonly", "yes"}, {"appendfsync", "always"},
		{"databases", "1"}, {"maxmemory", "0"}, {"maxclients", strconv.Itoa(c.s.cfg.MaxConns)},
		{"proto-max-bulk-len", strconv.Itoa(c.s.lim.MaxBulk)},
	}
	var out []string
	for _, pat := range args[2:] {
		for _, kvs := range settings {
			if globMatch(strings.ToLower(string(pat)), kvs[0]) {
				out = append(out, kvs[0], kvs[1])
			}
		}
	}
	c.w.strings(out...)
}

// globMatch matches Redis's glob patterns (CONFIG GET, SCAN MATCH): *, ?,
// [abc], [^a-z] and \x for a literal x. It runs in time
// O(len(pat)·len(s)) without recursion: on a mismatch it only retries the
// latest star with one more byte, since an earlier star can absorb nothing
// a later one cannot. (The recursive version was exponential in the number
// of stars: CONFIG GET '************!' took a second.)
func globMatch(pat, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0 // position after the latest *, and where s resumes
	for i < len(s) {
		if p < len(pat) && pat[p] == '*' {
			p++
			star, mark = p, i
			continue
		}
		if p < len(pat) {
			if next, ok := matchByte(pat, p, s[i]); ok {
				p = next
				i++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		p, i = star, mark
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// matchByte matches b against the pattern element at pat[p] (not a star)
// and returns where the next element starts.
func matchByte(pat string, p int, b byte) (int, bool) {
	switch pat[p] {
	case '?':
		return p + 1, true
	case '\\':
		if p+1 < len(pat) {
			return p + 2, pat[p+1] == b
		}
	case '[':
		return matchClass(pat, p+1, b)
	}
	return p + 1, pat[p] == b
}

// matchClass matches b against the class that starts at pat[p] (after its
// '['); as in Redis, a class left open ends with the pattern.
func matchClass(pat string, p int, b byte) (int, bool) {
	negate := p < len(pat) && pat[p] == '^'
	if negate {
		p++
	}
	in := false
	for p < len(pat) && pat[p] != ']' {
		switch {
		case pat[p] == '\\' && p+1 < len(pat):
			in = in || pat[p+1] == b
			p += 2
		case p+2 < len(pat) && pat[p+1] == '-' && pat[p+2] != ']':
			lo, hi := min(pat[p], pat[p+2]), max(pat[p], pat[p+2])
			in = in || lo <= b && b <= hi
			p += 3
		default:
			in = in || pat[p] == b
			p++
		}
	}
	if p < len(pat) {
		p++ // the ]
	}
	return p, in != negate
}

func (c *conn) command(args [][]byte) {
	if len(args) == 1 {
		c.w.array(len(commands))
		for i := range commands {
			c.commandInfo(&commands[i])
		}
		return
	}
	switch strings.ToLower(string(args[1])) {
	case "count":
		c.w.int(int64(len(commands)))
	case "list":
		c.w.array(len(commands))
		for _, cmd := range commands {
			c.w.bulkString(cmd.name)
		}
	case "info":
		names := args[2:]
		if len(names) == 0 {
			c.w.array(len(commands))
			for i := range commands {
				c.commandInfo(&commands[i])
			}
			return
		}
		c.w.array(len(names))
		for _, n := range names {
			if cmd, ok := commandIndex[strings.ToLower(string(n))]; ok {
				c.commandInfo(cmd)
			} else {
				c.w.bw.WriteString("*-1\r\n")
			}
		}
	case "docs":
		var list []*command
		if len(args) == 2 {
			for i := range commands {
				list = append(list, &commands[i])
			}
		} else {
			for _, n := range args[2:] {
				if cmd, ok := commandIndex[strings.ToLower(string(n))]; ok {
					list = append(list, cmd)
				}
			}
		}
		c.w.array(2 * len(list))
		for _, cmd := range list {
			c.w.bulkString(cmd.name)
			c.w.strings("summary", cmd.summary, "since", "1.0.0", "group", cmd.group)
		}
	default:
		c.w.err(fmt.Sprintf("ERR unknown subcommand '%s'. Grafo supports COMMAND, COMMAND COUNT, LIST, INFO and DOCS.", clip(args[1], 32)))
	}
}

// commandInfo writes the ten-element COMMAND reply of Redis 7.
func (c *conn) commandInfo(cmd *command) {
	c.w.array(10)
	c.w.bulkString(cmd.name)
	c.w.int(int64(cmd.arity))
	c.w.array(len(cmd.flags))
	for _, f := range cmd.flags {
		c.w.simple(f)
	}
	c.w.int(int64(cmd.firstKey))
	c.w.int(int64(cmd.lastKey))
	c.w.int(int64(cmd.step))
	c.w.array(0) // ACL categories
	c.w.array(0) // tips
	c.w.array(0) // key specs
	c.w.array(0) // subcommands
}

func (c *conn) info(args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var d InfoData
	if c.s.cfg.Info != nil {
		d = c.s.cfg.Info()
	}
	var b strings.Builder
	section := func(name string, lines ...string) {
		if !all && !want[strings.ToLower(name)] {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
	}
	port := ""
	if _, p, err := net.SplitHostPort(c.s.Addr()); err == nil {
		port = p
	}
	up := time.Since(c.s.start)
	section("Server",
		"redis_version:"+RedisVersion,
		"redis_mode:standalone",
		"grafo_version:"+d.Version,
		"grafo_node_id:"+d.NodeID,
		"os:"+runtime.GOOS,
		"arch_bits:"+strconv.Itoa(strconv.IntSize),
		"go_version:"+runtime.Version(),
		"process_id:"+strconv.Itoa(os.Getpid()),
		"tcp_port:"+port,
		"uptime_in_seconds:"+strconv.Itoa(int(up.Seconds())),
		"uptime_in_days:"+strconv.Itoa(int(up.Hours()/24)),
	)
	section("Clients",
		"connected_clients:"+strconv.FormatInt(c.s.nconns.Load(), 10),
		"maxclients:"+strconv.Itoa(c.s.cfg.MaxConns),
	)
	section("Stats",
		"total_commands_processed:"+strconv.FormatInt(c.s.total.Load(), 10),
	)
	repl := []string{
		"role:master",
		"connected_slaves:0",
		"grafo_replicas:" + strconv.Itoa(d.Replicas),
		"grafo_write_quorum:" + strconv.Itoa(d.WriteQuorum),
		"grafo_read_quorum:" + strconv.Itoa(d.ReadQuorum),
		"grafo_connection_consistency:" + c.opts.Level.String(),
		"grafo_leader:" + d.Leader,
		"grafo_nodes:" + strconv.Itoa(len(d.Nodes)),
	}
	for i, n := range d.Nodes {
		repl = append(repl, fmt.Sprintf("grafo_node%d:id=%s,state=%s,addr=%s", i, n.ID, n.State, n.Addr))
	}
	section("Replication", repl...)
	section("Keyspace", fmt.Sprintf("db0:keys=%d,expires=0,avg_ttl=0", d.Keys))
	c.w.bulkString(b.String())
}
