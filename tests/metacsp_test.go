package tests

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestToolbarUnderMetaCSP: a policy set by <meta http-equiv> (which the
// proxy cannot change without changing the page) still lets the toolbar
// run: the toolbar's tag carries the page's nonce, and the page's
// un-nonced script stays blocked.
func TestToolbarUnderMetaCSP(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><head>`+
			`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-m3ta' 'strict-dynamic'; style-src 'nonce-m3ta'; connect-src 'self'">`+
			`<title>start</title></head><body><h1>meta</h1>`+
			`<script nonce="m3ta">document.title = 'nonced ran';</script>`+
			`<script>document.title = 'policy weakened';</script></body></html>`)
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))

	_, body := get(t, e.base+"/", "Accept", "text/html")
	if tag := toolbarTagRE.Find(body); !strings.Contains(string(tag), `nonce="m3ta"`) {
		t.Fatalf("toolbar tag %q lacks the meta policy's nonce", tag)
	}
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](shadow(`host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 1`), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("toolbar not working under the meta policy: %v", err)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`)); title != "nonced ran" {
		t.Fatalf("title %q: the page's policy was weakened or broken", title)
	}
}
