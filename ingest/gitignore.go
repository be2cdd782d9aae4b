package ingest

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
)

// ignoreRule is one pattern of a .gitignore file, compiled to a regular
// expression over the slash-separated path relative to the directory that
// holds the .gitignore.
type ignoreRule struct {
	re      *regexp.Regexp
	negate  bool // "!pattern": re-include
	dirOnly bool // "pattern/": matches directories only
}

// ignoreFile is the rules of one .gitignore, in file order (the last match
// wins, as in git).
type ignoreFile struct {
	dir   string // slash-separated, relative to the walk root; "" for the root
	rules []ignoreRule
}

// parseGitignore compiles the patterns of a .gitignore found in dir. It
// supports what real trees use: comments, blank lines, "!" negation,
// leading "/" (anchored), a "/" inside the pattern (anchored), trailing "/"
// (directories only), "*", "?", "[...]" and "**" in all its positions.
// Lines that do not compile are ignored, as git ignores bad patterns.
func parseGitignore(dir string, data []byte) *ignoreFile {
	f := &ignoreFile{dir: dir}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		// Trailing spaces are ignored unless escaped.
		for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, "\\ ") {
			line = line[:len(line)-1]
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r ignoreRule
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		if line == "" {
			continue
		}
		anchored := strings.Contains(line, "/")
		line = strings.TrimPrefix(line, "/")
		expr := globToRegexp(line)
		if anchored {
			expr = "^" + expr + "$"
		} else {
			// No slash: the pattern matches a name at any depth.
			expr = "(?:^|/)" + expr + "$"
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			continue
		}
		r.re = re
		f.rules = append(f.rules, r)
	}
	return f
}

// globToRegexp translates one gitignore glob (without its leading "/" or
// trailing "/") into a regular expression body.
func globToRegexp(g string) string {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '*' && strings.HasPrefix(g[i:], "**"):
			before := i == 0 || g[i-1] == '/'
			after := i+2 == len(g) || g[i+2] == '/'
			if !before || !after {
				// "a**b" is two ordinary stars.
				b.WriteString("[^/]*")
				i++
				continue
			}
			switch {
			case i+2 == len(g): // "x/**" or a lone "**": everything below
				b.WriteString(".*")
				i++
			default: // "**/x" or "a/**/b": zero or more directories
				b.WriteString("(?:.*/)?")
				i += 2
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '\\' && i+1 < len(g):
			i++
			b.WriteString(regexp.QuoteMeta(string(g[i])))
		case c == '[':
			j := strings.IndexByte(g[i+1:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := g[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// match reports whether this file's rules decide rel (relative to the
// walk root): matched is false when no rule applies.
func (f *ignoreFile) match(rel string, isDir bool) (ignored, matched bool) {
	p := rel
	if f.dir != "" {
		if !strings.HasPrefix(rel, f.dir+"/") {
			return false, false
		}
		p = rel[len(f.dir)+1:]
	}
	for i := len(f.rules) - 1; i >= 0; i-- {
		r := f.rules[i]
		if r.dirOnly && !isDir {
			continue
		}
		if r.re.MatchString(p) {
			return !r.negate, true
		}
	}
	return false, false
}

// ignoreStack is the .gitignore files that apply to a directory: its own
// and its ancestors'. Deeper files take precedence, as in git.
type ignoreStack []*ignoreFile

func (s ignoreStack) ignored(rel string, isDir bool) bool {
	for i := len(s) - 1; i >= 0; i-- {
		if ign, ok := s[i].match(rel, isDir); ok {
			return ign
		}
	}
	return false
}
