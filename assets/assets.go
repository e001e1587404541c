// Package assets holds the toolbar's user interface: plain JavaScript (ES
// modules, joined into classic scripts at start-up: bundle.go) and CSS,
// embedded in the binary.
//
// Where things are: toolbar.js, hook.js and page.js are the entry modules
// (see entries); lib/ holds what they share, model/ the toolbar's pure data
// code (tested by node --test assets/test/ on traces in testdata/), ui/
// the DOM side, one module per panel in ui/panels/. page.html is the
// standalone page at <prefix>/, which loads page.js.
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed *.js *.css *.html lib model ui
var files embed.FS

// scripts are the served scripts, each an entry module joined with its
// imports (bundle.go), by file name.
var scripts = func() map[string][]byte {
	out, err := joinScripts(files)
	if err != nil {
		panic("assets: " + err.Error()) // the embedded sources are broken: fail at start, not in pages
	}
	return out
}()

// entries are the served scripts: hook.js, the fetch hook every page's
// head gets; toolbar.js, the toolbar every page gets; page.js, the
// standalone page (page.html) with the history dashboard.
var entries = []string{"toolbar.js", "hook.js", "page.js"}

// joinScripts builds the served scripts from the sources in fsys.
func joinScripts(fsys fs.FS) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, entry := range entries {
		b, err := join(fsys, entry)
		if err != nil {
			return nil, fmt.Errorf("joining %s: %w", entry, err)
		}
		out[entry] = b
	}
	return out, nil
}

// Version names this build's files. Tags that load them with ?v=Version
// may be cached for good: hook.js, a blocking script in every page's head,
// then costs no request at all. It hashes the scripts as served too, so a
// change in how they are joined is a new version.
var Version = func() string {
	sum := sha256.New()
	for _, name := range entries {
		sum.Write([]byte("served " + name))
		sum.Write(scripts[name])
	}
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := files.ReadFile(name)
		sum.Write([]byte(name))
		sum.Write(b)
		return nil
	})
	return hex.EncodeToString(sum.Sum(nil))[:12]
}()

// Handler serves the embedded files: for good when asked for this build's
// Version, else to be revalidated, so a stale toolbar is never used. The
// scripts are served joined; the module sources behind them are not served.
func Handler() http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == Version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if b, ok := scripts[name]; ok {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
			return
		}
		if st, err := fs.Stat(files, name); strings.Contains(name, "/") || err == nil && st.IsDir() && name != "." {
			http.NotFound(w, r)
			return
		}
		fsrv.ServeHTTP(w, r)
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
