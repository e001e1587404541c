package assets

import (
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestJoinRunsModulesInImportOrder: each module becomes a scope that
// returns its exports, dependencies first, depth first in import order
// (as ES modules run); imports become reads of those exports, aliases
// included; comments, indentation, spaces between tokens and line breaks
// that change nothing are left out. The script runs (with node).
func TestJoinRunsModulesInImportOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"main.js":     {Data: []byte("/* the entry */\nimport { b } from './b.js';\nimport { a as first } from './lib/a.js';\n\nconsole.log(first(), b);\n")},
		"b.js":        {Data: []byte("import { a } from './lib/a.js';\n// b is a's answer\nexport const b = a() + 1;\n")},
		"lib/a.js":    {Data: []byte("export function a() {\n\treturn 41; // the answer, nearly\n}\n")},
		"unused.js":   {Data: []byte("this is not JavaScript")},
		"lib/note.md": {Data: []byte("")},
	}
	got, err := join(fsys, "main.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		"const $lib_a = (() => {function a(){return 41;}\nreturn { a };})();",
		"const $b = (() => {const{a}=$lib_a;const b=a()+1;return { b };})();",
		"(() => {const{b}=$b;const{a:first}=$lib_a;console.log(first(),b);})();})();\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("joined script lacks\n%s\nin\n%s", want, s)
		}
	}
	if strings.Index(s, "$lib_a =") > strings.Index(s, "$b =") || strings.Contains(s, "the entry") || strings.Contains(s, "a's answer") || strings.Contains(s, "nearly") {
		t.Errorf("order or comments wrong:\n%s", s)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not installed: the joined script is run with it")
	}
	if out, err := exec.Command(node, "-e", s).CombinedOutput(); err != nil || string(out) != "41 42\n" {
		t.Errorf("the joined script printed %q (%v), want 41 42", out, err)
	}
}

// TestJoinLinesKeepsTheBreaksThatMatter: a line that ends with {, ; or ,
// runs on into the next; other lines, lines that may end in a comment or
// hold a template, and lines before --> keep their break; the last ends
// with one.
func TestJoinLinesKeepsTheBreaksThatMatter(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"after { ; and ,", []string{"if(a){", "f(b,", "c);", "}"}, "if(a){f(b,c);}\n"},
		{"a statement that may go on", []string{"return", "x;", "a = b", "++c;"}, "return\nx;a = b\n++c;\n"},
		{"a comment after a slash", []string{"a = b / c; // half;", "d;"}, "a = b / c; // half;\nd;\n"},
		{"a template", []string{"s = `;`;", "t;"}, "s = `;`;\nt;\n"},
		{"before an HTML-like comment", []string{"x;", "--> y", "z;"}, "x;\n--> y\nz;\n"},
	}
	for _, tt := range tests {
		if got := string(joinLines(tt.lines)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestCompactLineKeepsWhatCodeNeeds: indentation, trailing comments and
// spaces between tokens that cannot run together go; strings, spaces that
// part names or operators, and whatever follows a / (a regular expression
// or a division) or shares a line with ${ stay as they are.
func TestCompactLineKeepsWhatCodeNeeds(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"indentation, spaces and a comment", "\t\tconst a = b + c; // the sum", "const a=b+c;"},
		{"tabs between tokens", "a\t=\tb;", "a=b;"},
		{"a // in a string", "if (x) { return 'a // b'; }", "if(x){return'a // b';}"},
		{"a comment holding quotes", `const s = "it's" + 'x'; // the page's own`, `const s="it's"+'x';`},
		{"an escaped quote", `x = 'it\'s // not' + y; // c`, `x='it\'s // not'+y;`},
		{"a template without substitutions", "const t = `a // b`; // c", "const t=`a // b`;"},
		{"a template substitution", "const t = `${a} // b`; // c", "const t = `${a} // b`; // c"},
		{"operators apart", "return a + +b - -c;", "return a+ +b- -c;"},
		{"no comment or arrow made", "if (x-- > y && a < !b) f(x => x);", "if(x-- >y&&a< !b)f(x=>x);"},
		{"a dot beside a number", "(1 .toString(), f(a, ...rest))", "(1 .toString(),f(a, ...rest))"},
		{"a regular expression with quotes", "const re = /'[^']*'/; // quoted", "const re= /'[^']*'/; // quoted"},
		{"a regular expression after return", "return /x/.test(s) ? 'a' : 'b';", "return /x/.test(s) ? 'a' : 'b';"},
		{"a division", "a = b / c; // half", "a=b / c; // half"},
		{"a block comment", "a = b; /* c */ d", "a=b; /* c */ d"},
		{"a string that does not end", "\tconst x = 'a", "const x = 'a"},
		{"keywords and strings", "case 'a': return x in 'b' ? -1 : 1;", "case'a':return x in'b'? -1:1;"},
	}
	for _, tt := range tests {
		if got := compactLine(tt.line); got != tt.want {
			t.Errorf("%s: compactLine(%q) = %q, want %q", tt.name, tt.line, got, tt.want)
		}
	}
}

// TestJoinedModulesPassTheModelTests: the model's tests (node --test
// assets/test), which also load every UI module, pass against the code
// the served scripts hold. Every module of lib/, model/ and ui/ is joined
// as join joins an entry's imports (import lines rewritten, every line
// compacted, the lines joined) into one classic script, run as one; each
// module the tests import is a shim that reads that module's exports from
// it. Each module's code in that script is, byte for byte, its code in
// every served script that holds it.
func TestJoinedModulesPassTheModelTests(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not installed: the toolbar's model tests need it")
	}
	sources := fstest.MapFS{}
	var modules []string
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		sources[name] = &fstest.MapFile{Data: b}
		if strings.HasSuffix(name, ".js") && strings.Contains(name, "/") {
			modules = append(modules, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The entry imports every export of every module, each under a name of
	// its own, and hands them to the shims by module.
	const entry, global = "joined-test-entry.js", "globalThis.__tracebarJoinedModules"
	var imports, table []string
	exports := map[string][]string{}
	for i, name := range modules {
		m, err := parseModule(sources, name)
		if err != nil {
			t.Fatal(err)
		}
		exports[name] = m.exports
		var binds, fields []string
		for _, e := range m.exports {
			alias := fmt.Sprintf("m%d_%s", i, e)
			binds = append(binds, e+" as "+alias)
			fields = append(fields, e+": "+alias)
		}
		if len(binds) > 0 {
			imports = append(imports, "import { "+strings.Join(binds, ", ")+" } from './"+name+"';")
		}
		table = append(table, "'"+name+"': { "+strings.Join(fields, ", ")+" },")
	}
	sources[entry] = &fstest.MapFile{Data: []byte(strings.Join(imports, "\n") + "\n" + global + " = {\n" + strings.Join(table, "\n") + "\n};\n")}
	joined, err := join(sources, entry)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("joined.js", joined)
	write("run-joined.js", []byte("import { readFileSync } from 'node:fs';\nimport { runInThisContext } from 'node:vm';\n"+
		"runInThisContext(readFileSync(new URL('./joined.js', import.meta.url), 'utf8'), { filename: 'joined.js' });\n"))
	for _, name := range modules {
		shim := "import '" + strings.Repeat("../", strings.Count(name, "/")) + "run-joined.js';\n"
		if len(exports[name]) > 0 {
			shim += "export const { " + strings.Join(exports[name], ", ") + " } = " + global + "['" + name + "'];\n"
		}
		write(name, []byte(shim))
	}
	err = fs.WalkDir(os.DirFS("."), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(name, "test/") && !strings.HasPrefix(name, "testdata/") && name != "package.json" {
			return err
		}
		b, err := os.ReadFile(name)
		write(name, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tests, _ := filepath.Glob(filepath.Join(dir, "test", "*.test.js"))
	if len(tests) < 10 {
		t.Fatalf("only %d test files copied", len(tests))
	}
	if out, err := exec.Command(node, append([]string{"--test"}, tests...)...).CombinedOutput(); err != nil {
		t.Fatalf("the model's tests fail on the joined modules: %v\n%s", err, out)
	}

	// The code tested is the code served.
	compared := 0
	for _, name := range modules {
		tested := moduleBlock(t, joined, name, exports[name])
		for _, served := range entries {
			if !strings.Contains(string(scripts[served]), "const "+varName(name)+" = (() => {") {
				continue
			}
			if got := moduleBlock(t, scripts[served], name, exports[name]); got != tested {
				t.Errorf("%s in %s is not the code tested:\n%s\nwant\n%s", name, served, got, tested)
			}
			compared++
		}
	}
	if compared < len(modules) {
		t.Errorf("%d modules in the served scripts, want at least each of the %d once", compared, len(modules))
	}
}

// moduleBlock is module's scope in a joined script: from its head to the
// return of its exports.
func moduleBlock(t *testing.T, script []byte, module string, exports []string) string {
	t.Helper()
	s := string(script)
	head, end := "const "+varName(module)+" = (() => {", "return { "+strings.Join(exports, ", ")+" };})();"
	i := strings.Index(s, head)
	if i < 0 {
		t.Fatalf("no %s in the joined script", module)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("%s: no end of its scope", module)
	}
	return s[i : i+j+len(end)]
}

// TestJoinRefusesWhatItDoesNotRead: syntax outside the grammar fails the
// join, with the file and line, instead of shipping a broken toolbar.
func TestJoinRefusesWhatItDoesNotRead(t *testing.T) {
	tests := []struct{ name, main, other, want string }{
		{"default export", "export default function () {}\n", "", "main.js:1: not an export"},
		{"export list", "const a = 1;\nexport { a };\n", "", "main.js:2: not an export"},
		{"re-export", "export * from './x.js';\n", "", "main.js:1: not an export"},
		{"exported let", "export let a = 1;\n", "", "main.js:1: not an export"},
		{"indented export", "if (1) {\n\texport const a = 1;\n}\n", "", "main.js:2: not an export"},
		{"default import", "import x from './x.js';\n", "export const x = 1;\n", "main.js:1: not an import"},
		{"namespace import", "import * as x from './x.js';\n", "export const x = 1;\n", "main.js:1: not an import"},
		{"bare specifier", "import { x } from 'x';\n", "", "main.js:1: not an import"},
		{"multi-line import", "import {\n\tx\n} from './x.js';\n", "export const x = 1;\n", "main.js:1: not an import"},
		{"dynamic import", "const m = import('./x.js');\n", "", "main.js:1: import() and import.meta"},
		{"import.meta", "console.log(import.meta.url);\n", "", "main.js:1: import() and import.meta"},
		{"import after code", "const a = 1;\nimport { x } from './x.js';\n", "export const x = 1;\n", "main.js:2: an import after"},
		{"missing export", "import { y } from './x.js';\n", "export const x = 1;\n", "imports y (as y) from x.js, which does not export it"},
		{"second declarator", "import { y } from './x.js';\n", "export const x = 1, y = 2;\n", "imports y (as y) from x.js"},
		{"cycle", "import { x } from './x.js';\nexport const m = 1;\n", "import { m } from './main.js';\nexport const x = m;\n", "import cycle through main.js"},
		{"missing module", "import { x } from './nope.js';\n", "", "nope.js"},
		{"template across lines", "const s = `a\nb`;\n", "", "main.js:1: a template literal"},
	}
	for _, tt := range tests {
		fsys := fstest.MapFS{"main.js": {Data: []byte(tt.main)}}
		if tt.other != "" {
			fsys["x.js"] = &fstest.MapFile{Data: []byte(tt.other)}
		}
		_, err := join(fsys, "main.js")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
}

// TestServedScriptsAreClassicScripts: the served scripts (entries)
// hold no import or export (a classic <script> would throw on one), are
// the joined sources, and parse (node --check).
func TestServedScriptsAreClassicScripts(t *testing.T) {
	dir := t.TempDir()
	for _, f := range entries {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/"+f, nil))
		body := rec.Body.String()
		if rec.Code != 200 || body != string(scripts[f]) {
			t.Fatalf("%s: %d, not the joined script", f, rec.Code)
		}
		for _, line := range strings.Split(body, "\n") {
			if importAny.MatchString(line) || exportAny.MatchString(line) {
				t.Errorf("%s: module syntax left: %q", f, line)
			}
		}
		path := filepath.Join(dir, f)
		if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		node, err := exec.LookPath("node")
		if err != nil {
			t.Fatal("node not installed: the served scripts are parsed with it")
		}
		if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", f, err, out)
		}
	}
	if !strings.Contains(string(scripts["hook.js"]), "function tagIds(") || !strings.Contains(string(scripts["toolbar.js"]), "function tagIds(") {
		t.Error("hook.js and toolbar.js do not share lib/tag.js")
	}
}

// TestModuleSourcesAreNotServed: only the joined scripts, the stylesheet
// and the page are served; the modules behind them are not.
func TestModuleSourcesAreNotServed(t *testing.T) {
	for _, p := range []string{"/model/trace.js", "/ui/", "/lib/tag.js", "/ui/panels/sql.js"} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 404 {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}
}
