// Package assets holds the toolbar's user interface: plain JavaScript and
// CSS, embedded in the binary.
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
)

//go:embed *.js *.css *.html
var files embed.FS

// Version names this build's files. Tags that load them with ?v=Version
// may be cached for good: hook.js, a blocking script in every page's head,
// then costs no request at all.
var Version = func() string {
	sum := sha256.New()
	entries, _ := files.ReadDir(".")
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		sum.Write([]byte(e.Name()))
		sum.Write(b)
	}
	return hex.EncodeToString(sum.Sum(nil))[:12]
}()

// Handler serves the embedded files: for good when asked for this build's
// Version, else to be revalidated, so a stale toolbar is never used.
func Handler() http.Handler {
	fs := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == Version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
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
