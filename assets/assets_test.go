package assets

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesToolbarFiles(t *testing.T) {
	tests := []struct{ path, ctype string }{
		{"/toolbar.js", "text/javascript"},
		{"/toolbar.css", "text/css"},
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

// TestToolbarFitsItsBudget: the toolbar stays small (under 40 KB gzip)
// and never writes markup from data (no innerHTML and friends).
func TestToolbarFitsItsBudget(t *testing.T) {
	var all, gz bytes.Buffer
	for _, f := range []string{"toolbar.js", "toolbar.css"} {
		b, err := files.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	w := gzip.NewWriter(&gz)
	w.Write(all.Bytes())
	w.Close()
	if gz.Len() > 40<<10 {
		t.Fatalf("toolbar is %d bytes gzipped, budget 40 KB", gz.Len())
	}
	js, _ := files.ReadFile("toolbar.js")
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if bytes.Contains(js, []byte(sink)) {
			t.Errorf("toolbar.js uses %s", sink)
		}
	}
}
