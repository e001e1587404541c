// Package assets holds the toolbar's user interface: plain JavaScript and
// CSS, embedded in the binary.
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
)

//go:embed *.js *.css *.html
var files embed.FS

// Handler serves the embedded files. They are tied to the binary, so
// browsers revalidate them rather than cache a stale toolbar.
func Handler() http.Handler {
	fs := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fs.ServeHTTP(w, r)
	})
}

// Page serves the standalone toolbar page (page.html): the same panels,
// full size, for any request, HTML or not.
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' "+pageScriptHash+"; img-src 'self' data:; frame-ancestors 'none'")
		http.ServeFileFS(w, r, files, "page.html")
	})
}

// pageScriptHash allows page.html's one inline script, which finds the
// prefix in the page's path and loads toolbar.js from there.
var pageScriptHash = func() string {
	b, _ := files.ReadFile("page.html")
	_, s, _ := bytes.Cut(b, []byte("<script>"))
	s, _, _ = bytes.Cut(s, []byte("</script>"))
	sum := sha256.Sum256(s)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()
