// Package assets holds the toolbar's user interface: plain JavaScript and
// CSS, embedded in the binary.
package assets

import (
	"embed"
	"net/http"
)

//go:embed toolbar.js toolbar.css
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
