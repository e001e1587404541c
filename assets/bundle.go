package assets

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// The toolbar's sources are ES modules (toolbar.js and hook.js import
// lib/, model/ and ui/), so Node's test runner can load the model as it
// is. A page's Content-Security-Policy, though, may admit the toolbar by
// the nonce on its one injected tag alone, and hook.js must stay a
// classic, blocking script that runs before the page's own; so the server
// serves each entry joined with its imports into one classic script,
// built once at start-up. No tool rewrites the code: join accepts a small
// grammar, the way the sources are written, and refuses anything else.
//
// A module, line by line:
//
//	import { a, b as c } from './x.js';   at column 0, on one line; a path
//	                                      relative to the module, ending in .js
//	export function f(...                 also export async function, export
//	export const NAME = ...               class, export const; one name each
//	// and /* */ on lines of their own    left out, as are blank lines
//	anything else                         as it is, compacted: no indentation,
//	                                      trailing comment, or space between
//	                                      tokens that cannot run together
//	                                      (compactLine); no break after { ; or ,
//	                                      (joinLines)
//
// Imports come before the module's first statement. Refused: export
// default, export lists and re-exports (export { }, export *), export let
// and var (an exported binding is read once, after its module ran),
// strings and template literals that span lines (a comment is told from
// code by where its line starts),
// default and namespace imports, import(), import.meta, imports and
// exports not at column 0, import cycles, and importing a name the module
// does not export. Top-level await is not detected; the sources have none.
//
// Each module becomes a function scope that returns its exports, run in
// the order ES modules would run (depth first, in import order), named
// after its path (the entry's is not named):
//
//	const $model_time = (() => {
//	... the module, its import lines now `const { a, b: c } = $x;` ...
//	return { nanos, msBetween };
//	})();

var (
	importLine  = regexp.MustCompile(`^import\s*\{([^}]*)\}\s*from\s*'(\.\.?/[^']+\.js)';?\s*$`)
	importName  = regexp.MustCompile(`^([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?$`)
	exportDecl  = regexp.MustCompile(`^export\s+(?:async\s+function\s*\*?|function\s*\*?|class|const)\s*([A-Za-z_$][\w$]*)`)
	exportAny   = regexp.MustCompile(`^\s*export\b`)
	importAny   = regexp.MustCompile(`^\s*import\b`)
	dynamicUse  = regexp.MustCompile(`\bimport\s*(\(|\.\s*meta\b)`)
	statementAt = regexp.MustCompile(`^[A-Za-z_$({\[]`)
)

type module struct {
	name    string            // path in the FS
	lines   []string          // the source, import and export lines rewritten
	imports []string          // modules imported, in order
	names   map[string]string // local name -> "module\x00exported name"
	exports []string
}

// join returns the classic script for the module entry of fsys and its imports.
func join(fsys fs.FS, entry string) ([]byte, error) {
	mods := map[string]*module{}
	var order []*module
	state := map[string]int{} // 1: being loaded (a cycle if seen again), 2: done
	var load func(name, from string) error
	load = func(name, from string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("%s: import cycle through %s", from, name)
		case 2:
			return nil
		}
		state[name] = 1
		m, err := parseModule(fsys, name)
		if err != nil {
			return err
		}
		mods[name] = m
		for _, dep := range m.imports {
			if err := load(dep, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m)
		return nil
	}
	if err := load(entry, entry); err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("/* Tracebar %s: ES modules joined into one classic script at start-up (assets/bundle.go). */", entry), "(() => {", "'use strict';"}
	for _, m := range order {
		for local, ref := range m.names {
			dep, exported, _ := strings.Cut(ref, "\x00")
			if !contains(mods[dep].exports, exported) {
				return nil, fmt.Errorf("%s imports %s (as %s) from %s, which does not export it", m.name, exported, local, dep)
			}
		}
		last := m == order[len(order)-1]
		if last {
			lines = append(lines, "(() => {")
		} else {
			lines = append(lines, fmt.Sprintf("const %s = (() => {", varName(m.name)))
		}
		lines = append(lines, m.lines...)
		if !last {
			lines = append(lines, fmt.Sprintf("return { %s };", strings.Join(m.exports, ", ")))
		}
		lines = append(lines, "})();")
	}
	lines = append(lines, "})();")
	return joinLines(lines), nil
}

// joinLines joins lines into a script, without the line break after a
// line that ends with {, ; or ,: after those a break changes nothing
// (automatic semicolon insertion needs a break where the code could not
// go on, and no restricted production, such as return, ends with them).
// A line holding a / or a backquote keeps its break (it may end in a //
// comment), as does one before a line that starts with --> (an HTML-like
// comment only there).
func joinLines(lines []string) []byte {
	var out bytes.Buffer
	for i, l := range lines {
		out.WriteString(l)
		if i+1 < len(lines) && l != "" && strings.IndexByte("{;,", l[len(l)-1]) >= 0 && !strings.ContainsAny(l, "/`") &&
			!strings.HasPrefix(lines[i+1], "-->") {
			continue
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func parseModule(fsys fs.FS, name string) (*module, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	m := &module{name: name, names: map[string]string{}}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n"), "\n")
	firstStatement := -1
	fail := func(i int, why string) error { return fmt.Errorf("%s:%d: %s: %q", name, i+1, why, lines[i]) }
	inComment := false
	for i, l := range lines {
		// Comments on lines of their own and blank lines are left out: they
		// are for the sources' readers, and the budget counts served bytes.
		trimmed := strings.TrimSpace(l)
		if inComment {
			_, rest, closed := strings.Cut(trimmed, "*/")
			if !closed {
				continue
			}
			inComment, l, trimmed = false, rest, strings.TrimSpace(rest)
		}
		for strings.HasPrefix(trimmed, "/*") {
			_, rest, closed := strings.Cut(trimmed[2:], "*/")
			if !closed {
				inComment = true
			}
			l, trimmed = rest, strings.TrimSpace(rest)
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "//") {
			continue
		}
		if strings.Count(l, "`")%2 != 0 {
			return nil, fail(i, "a template literal spanning lines (a line holding an odd number of backquotes)")
		}
		if strings.HasSuffix(l, "\\") {
			return nil, fail(i, "a string continued on the next line")
		}
		if dynamicUse.MatchString(l) {
			return nil, fail(i, "import() and import.meta are not joined")
		}
		switch {
		case importAny.MatchString(l):
			sub := importLine.FindStringSubmatch(l)
			if sub == nil {
				return nil, fail(i, "not an import this join reads (one line: import { a, b as c } from './x.js';)")
			}
			if firstStatement >= 0 {
				return nil, fail(i, "an import after the module's first statement")
			}
			dep := path.Join(path.Dir(name), sub[2])
			var binds []string
			for _, part := range strings.Split(sub[1], ",") {
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				n := importName.FindStringSubmatch(part)
				if n == nil {
					return nil, fail(i, "not an import name")
				}
				local := n[1]
				if n[2] != "" {
					local = n[2]
				}
				if _, dup := m.names[local]; dup {
					return nil, fail(i, "a name imported twice")
				}
				m.names[local] = dep + "\x00" + n[1]
				if local == n[1] {
					binds = append(binds, local)
				} else {
					binds = append(binds, n[1]+": "+local)
				}
			}
			if !contains(m.imports, dep) {
				m.imports = append(m.imports, dep)
			}
			l = "const { " + strings.Join(binds, ", ") + " } = " + varName(dep) + ";"
		case exportAny.MatchString(l):
			sub := exportDecl.FindStringSubmatch(l)
			if sub == nil {
				return nil, fail(i, "not an export this join reads (export function, async function, class or const, at column 0)")
			}
			if contains(m.exports, sub[1]) {
				return nil, fail(i, "exported twice")
			}
			m.exports = append(m.exports, sub[1])
			l = strings.TrimPrefix(l, "export ")
			if firstStatement < 0 {
				firstStatement = i
			}
		case firstStatement < 0 && statementAt.MatchString(l):
			firstStatement = i
		}
		m.lines = append(m.lines, compactLine(l))
	}
	return m, nil
}

// compactLine takes off a line of code what only its readers need, for
// the budget counts served bytes: its indentation (no string spans
// lines), a trailing // comment and the spaces that part no tokens that
// would run together (keepSpace). Strings (in quotes or backquotes, with
// backslash escapes) stay as they are. A regular expression literal may
// hold quotes and //, so a line with a / outside strings is left as it is
// from there on, but for a comment that starts before any other /. A
// template substitution (${) may nest strings: its line is left as it is.
func compactLine(l string) string {
	l = strings.TrimLeft(l, " \t")
	if strings.Contains(l, "${") {
		return l
	}
	b := make([]byte, 0, len(l))
	for i := 0; i < len(l); i++ {
		switch c := l[i]; c {
		case '\'', '"', '`':
			j := i + 1
			for ; j < len(l) && l[j] != c; j++ {
				if l[j] == '\\' {
					j++
				}
			}
			if j >= len(l) {
				return l // a string that does not end: not code this reads
			}
			b = append(b, l[i:j+1]...)
			i = j
		case '/':
			if strings.HasPrefix(l[i:], "//") && i > 0 && (l[i-1] == ' ' || l[i-1] == '\t') {
				return strings.TrimRight(string(b), " ")
			}
			return string(b) + l[i:] // a regular expression or a division
		case ' ', '\t':
			j := i
			for j < len(l) && (l[j] == ' ' || l[j] == '\t') {
				j++
			}
			if j < len(l) && len(b) > 0 && keepSpace(b[len(b)-1], l[j]) {
				b = append(b, ' ')
			}
			i = j - 1
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// keepSpace reports whether a space between x and y must stay: between
// two characters of names and numbers (return x), two of operators
// (a + +b, a < !b, x-- > y), beside a dot (1 .toString()) and before a
// slash (what follows it is left as it is: compactLine). Beside
// brackets, commas, semicolons, colons and quotes, and between a name and
// an operator, no two tokens can run together into another.
func keepSpace(x, y byte) bool {
	word := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 || strings.IndexByte("_$#\\", c) >= 0
	}
	operator := func(c byte) bool { return strings.IndexByte("+-*/%=<>!&|^~?", c) >= 0 }
	return word(x) && word(y) || operator(x) && operator(y) || x == '.' || y == '.' || y == '/'
}

// varName is the name of a module's exports in the joined script.
func varName(module string) string {
	return "$" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.TrimSuffix(module, ".js"))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
