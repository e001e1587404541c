package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestHandlerServesToolbarFiles(t *testing.T) {
	tests := []struct{ path, ctype string }{
		{"/toolbar.js", "text/javascript"},
		{"/toolbar.css", "text/css"},
		{"/hook.js", "text/javascript"},
		{"/page.js", "text/javascript"},
		{"/dashboard.css", "text/css"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.ctype) || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/nope.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("unknown file: %d", rec.Code)
	}
}

// TestHandlerCachesThisBuildForGood: the versioned URL of this build may be
// cached forever; any other is revalidated.
func TestHandlerCachesThisBuildForGood(t *testing.T) {
	for q, want := range map[string]string{"?v=" + Version: "public, max-age=31536000, immutable", "?v=0123456789ab": "no-cache", "": "no-cache"} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/hook.js"+q, nil))
		if got := rec.Header().Get("Cache-Control"); rec.Code != 200 || got != want {
			t.Errorf("%q: %d, Cache-Control %q, want %q", q, rec.Code, got, want)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(Version) {
		t.Fatalf("Version %q", Version)
	}
}

// TestToolbarFitsItsBudget: the toolbar (with the fetch hook), as served,
// stays small (under 40 KB gzip) and never writes markup from data (no
// innerHTML and friends), in any of its modules.
func TestToolbarFitsItsBudget(t *testing.T) {
	var all, gz bytes.Buffer
	for _, f := range []string{"toolbar.js", "toolbar.css", "hook.js"} {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/"+f, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", f, rec.Code)
		}
		all.Write(rec.Body.Bytes())
	}
	w := gzip.NewWriter(&gz)
	w.Write(all.Bytes())
	w.Close()
	if gz.Len() > 40<<10 {
		t.Fatalf("toolbar is %d bytes gzipped, budget 40 KB", gz.Len())
	}
	t.Logf("toolbar.js + toolbar.css + hook.js, as served: %d bytes, %d gzipped", all.Len(), gz.Len())
	checked := map[string][]byte{"served toolbar.js": scripts["toolbar.js"], "served hook.js": scripts["hook.js"]}
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".html")) {
			checked[name], _ = files.ReadFile(name)
		}
		return err
	})
	if len(checked) < 20 {
		t.Fatalf("only %d files checked: %v", len(checked), slices.Sorted(maps.Keys(checked)))
	}
	for f, js := range checked {
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc"} {
			if bytes.Contains(js, []byte(sink)) {
				t.Errorf("%s uses %s", f, sink)
			}
		}
	}
}

// TestPageRunsOnlyItsOwnScript: the standalone page's policy allows its one
// inline script (by hash, not 'unsafe-inline') and the same origin only;
// the page loads nothing from elsewhere.
func TestPageRunsOnlyItsOwnScript(t *testing.T) {
	for _, path := range []string{"/", "/requests/0123456789abcdef"} {
		rec := httptest.NewRecorder()
		Page().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body, csp := rec.Body.String(), rec.Header().Get("Content-Security-Policy")
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		scripts := regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(body, -1)
		if len(scripts) != 1 || scripts[0][1] != "" {
			t.Fatalf("want one plain inline script, got %q", scripts)
		}
		sum := sha256.Sum256([]byte(scripts[0][2]))
		if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, "script-src 'self' "+hash) || strings.Contains(csp, "unsafe") {
			t.Fatalf("policy %q does not allow exactly the page's script (%s)", csp, hash)
		}
		if strings.Contains(body, "//") && regexp.MustCompile(`(src|href)=["']?(https?:)?//`).MatchString(body) {
			t.Fatalf("the page loads something from elsewhere: %s", body)
		}
	}
}
