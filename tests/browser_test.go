package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// demoCaddyfile is Caddyfile.example's shape: compression in front.
var demoCaddyfile = strings.Replace(basicCaddyfile, "\ttracebar\n", "\tencode gzip zstd\n\ttracebar {\n\t\ttrace_link http://localhost:16686/trace/{trace_id}\n\t}\n", 1)

// newBrowser starts Debian's headless Chromium for the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not installed: tests/run.sh installs it (apt-get install chromium)")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(home, "profile")), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

// shadow evaluates a JS expression with `root` bound to the toolbar's shadow root.
func shadow(expr string) string {
	return `(() => { const host = document.getElementById('tracebar-root'); const root = host && host.shadowRoot; if (!root) return null; return (` + expr + `); })()`
}

// TestBrowserShowsToolbarWithLiveWaterfall opens a page of the Go demo app
// through Caddy in headless Chromium: the toolbar appears, its waterfall
// fills with the app's spans as they arrive, a span added later appears
// without a reload, and hostile attribute values render as text.
func TestBrowserShowsToolbarWithLiveWaterfall(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, demoCaddyfile, app)
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](shadow(expr), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('tracebar-root') ? document.getElementById('tracebar-root').outerHTML + ' ' + document.getElementById('tracebar-root').shadowRoot.textContent.slice(0, 2000) : 'no toolbar'`))
			t.Fatalf("waiting for %s: %v\n%s", what, err, dump)
		}
	}
	// Proxy span, the app's server span, SQL, template, outgoing call, and
	// the inventory service's two spans.
	wait("the app's spans", `Number(host.dataset.spanCount) >= 7`)
	badge, err := chromedp.Run(ctx, chromedp.Evaluate[string](shadow(`root.querySelector('.tb-badge').textContent`)))
	if err != nil || !strings.Contains(badge, "200") {
		t.Fatalf("badge %q (%v) lacks the status", badge, err)
	}

	// Open the trace panel: the rows are there and a click shows details.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`(root.querySelector('.tb-panel') && root.querySelector('.tb-panel').offsetParent) || root.querySelector('.tb-badge').click()`))); err != nil {
		t.Fatal(err)
	}
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`root.querySelector('.tb-tab[data-tab=trace]').click()`)))
	wait("waterfall rows", `[...root.querySelectorAll('.tb-span')].some(r => r.textContent.includes('SELECT products'))`)
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`[...root.querySelectorAll('.tb-span')].find(r => r.textContent.includes('SELECT products')).click()`)))
	wait("span details", `root.querySelector('.tb-detail') && root.querySelector('.tb-detail').textContent.includes('db.query.text')`)
	screenshot(t, ctx, "trace.png")

	// The trace link of the configured backend is there.
	link, _ := chromedp.Run(ctx, chromedp.Evaluate[string](shadow(`root.querySelector('a.tb-link') ? root.querySelector('a.tb-link').href : ''`)))
	if !strings.HasPrefix(link, "http://localhost:16686/trace/") || len(link) != len("http://localhost:16686/trace/")+32 {
		t.Fatalf("trace link %q", link)
	}

	// A span that arrives now, long after the page loaded, shows up live;
	// its hostile values are text, not markup.
	traceID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/__tracebar/api/requests?limit=50').then(r => r.json()).then(rs => rs.find(r => r.url === '/' && r.method === 'GET').traceId)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	xss := `<img src=x onerror="document.title='pwned'">`
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"late-worker"}}]},"scopeSpans":[{"spans":[{"traceId":%q,"spanId":"00000000000000aa","name":"late <b>job</b>","kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[{"key":"payload","value":{"stringValue":%q}}]}]}]}]}`,
		traceID, time.Now().UnixNano(), time.Now().UnixNano()+1e6, xss)
	resp, err := http.Post("http://"+e.otlpHTTP+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("posting a late span: %v %v", err, resp)
	}
	wait("the late span", `[...root.querySelectorAll('.tb-span')].some(r => r.textContent.includes('late <b>job</b>'))`)
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`[...root.querySelectorAll('.tb-span')].find(r => r.textContent.includes('late <b>job</b>')).click()`)))
	wait("the hostile attribute as text", `root.querySelector('.tb-detail').textContent.includes('onerror')`)
	n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](shadow(`root.querySelectorAll('img, b').length`)))
	title, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
	if n != 0 || title == "pwned" {
		t.Fatalf("span values were rendered as HTML (%d elements, title %q)", n, title)
	}

	// The other panels show this request's data.
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`root.querySelector('.tb-tab[data-tab=headers]').click()`)))
	wait("headers panel", `root.textContent.includes('Traceparent') || root.textContent.toLowerCase().includes('traceparent')`)
	screenshot(t, ctx, "headers.png")
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`root.querySelector('.tb-tab[data-tab=timing]').click()`)))
	wait("timing panel", `root.textContent.includes('DOMContentLoaded')`)
	screenshot(t, ctx, "timing.png")
}

// screenshot saves the page when TRACEBAR_SCREENSHOTS names a folder
// (tests/screenshots.sh sets it).
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("TRACEBAR_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserToolbarUnderStrictCSP: a page whose Content-Security-Policy
// allows only nonced scripts and styles and no connections still gets a
// working toolbar, and the policy still blocks the page's un-nonced script.
func TestBrowserToolbarUnderStrictCSP(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-r4nd0m'; style-src 'nonce-r4nd0m'")
		io.WriteString(w, `<!doctype html><html><head><title>start</title></head><body><h1>strict</h1>`+
			`<script nonce="r4nd0m">document.title = 'nonced ran';</script>`+
			`<script>document.title = 'policy weakened';</script></body></html>`)
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](shadow(`host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 1 && root.querySelector('.tb-badge').offsetParent !== null`), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`String(document.getElementById('tracebar-root') && document.getElementById('tracebar-root').dataset.state)`))
		t.Fatalf("toolbar not working under the page's CSP (state %s): %v", state, err)
	}
	title, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
	if title != "nonced ran" {
		t.Fatalf("title %q: the page's policy was weakened or broken", title)
	}
}
