package assets

import (
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
// included; comment lines are left out.
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
		"// lib/a.js\nconst $lib_a = (() => {\nfunction a() {\n\treturn 41; // the answer, nearly\n}\nreturn { a };\n})();\n",
		"// b.js\nconst $b = (() => {\nconst { a } = $lib_a;\nconst b = a() + 1;\nreturn { b };\n})();\n",
		"// main.js\n(() => {\nconst { b } = $b;\nconst { a: first } = $lib_a;\nconsole.log(first(), b);\n})();\n})();\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("joined script lacks\n%s\nin\n%s", want, s)
		}
	}
	if strings.Index(s, "// lib/a.js") > strings.Index(s, "// b.js") || strings.Contains(s, "the entry") || strings.Contains(s, "a's answer") {
		t.Errorf("order or comments wrong:\n%s", s)
	}
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
// the joined sources, and parse (node --check, when Node is installed).
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
			t.Log("no node: not parsed")
			continue
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
