package tests

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserRedirectPanelListsOnlyTheChainThatLedHere logs in the way real
// apps do: GET /admin/ redirects to the login form, the form POSTs, and the
// POST redirects back to /admin/. On the final page the Requests panel's
// "Redirects that led here" lists the one redirect the browser followed to
// load it (POST /login/ 302), not the first GET /admin/ 302, which led to
// the form, a page of its own.
func TestBrowserRedirectPanelListsOnlyTheChainThatLedHere(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := func(title, body string) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><html><head><title>`+title+`</title></head><body>`+body+`</body></html>`)
		}
		c, _ := r.Cookie("session")
		switch {
		case r.URL.Path == "/admin/" && r.Method == http.MethodGet && c != nil && c.Value == "ok":
			page("Admin", `<h1>Admin</h1><p id="who">logged in</p>`)
		case r.URL.Path == "/admin/" && r.Method == http.MethodGet:
			http.Redirect(w, r, "/login/", http.StatusFound)
		case r.URL.Path == "/login/" && r.Method == http.MethodGet:
			page("Log in", `<form method="post" action="/login/"><input name="user" value="ada"><button type="submit">Log in</button></form>`)
		case r.URL.Path == "/login/" && r.Method == http.MethodPost:
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "ok", Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/admin/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/admin/")
	b.wait("the login form", `location.pathname === '/login/' && document.forms.length === 1 && host.dataset.state === 'ready'`)
	b.do(`document.forms[0].submit()`)
	b.wait("the admin page after logging in", `location.pathname === '/admin/' && document.getElementById('who') && host.dataset.state === 'ready'`)
	if n := b.str(`performance.getEntriesByType('navigation')[0].redirectCount`); n != "1" {
		b.fail("the browser followed %s redirects to load /admin/, want 1", n)
	}
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("requests")
	sec := `[...root.querySelectorAll('.tb-sec')].find(s => s.querySelector('h3').textContent.startsWith('Redirects that led here'))`
	// The whole flow is in the history before the redirects are judged.
	b.wait("the flow in the history", `[...root.querySelectorAll('.tb-sec')].some(s => s.querySelector('h3').textContent.startsWith('History') && s.querySelectorAll('.tb-req').length >= 4)`)
	b.wait("the redirect that led here", sec+` && `+sec+`.querySelectorAll('.tb-req').length >= 1`)
	rows := b.str(`JSON.stringify([...` + sec + `.querySelectorAll('.tb-req')].map(r => r.querySelector('.tb-meth').textContent + ' ' + r.querySelector('.tb-url').textContent + ' ' + r.querySelector('.tb-chip').textContent))`)
	if rows != `["POST /login/ 302"]` {
		b.fail("Redirects that led here lists %s, want only the POST /login/ 302", rows)
	}
	if note := b.str(sec + `.textContent`); !strings.Contains(note, "followed 1 redirect") {
		b.fail("the section does not say the browser followed 1 redirect: %q", note)
	}
}

// nullTexts lists, per panel, the text nodes of the panel body that read
// "null": what DOM append(null) leaves on screen.
const nullTexts = `(() => {
	const w = document.createTreeWalker(root.querySelector('.tb-body'), NodeFilter.SHOW_TEXT), out = [];
	for (let n = w.nextNode(); n; n = w.nextNode()) if (/^\s*(null|undefined)\s*$/.test(n.data)) out.push((n.parentNode.className || n.parentNode.nodeName) + ': ' + JSON.stringify(n.data));
	return JSON.stringify(out);
})()`

// TestBrowserPanelsShowNoNullText: on the demo's orders page (an exception,
// a log record, an N+1 and a single query), no panel shows a stray "null"
// under or between its entries.
func TestBrowserPanelsShowNoNullText(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, demoCaddyfile, app)
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/orders")
	b.wait("the page's spans", `host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 10`)
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("logs")
	b.wait("the exception and the log record", `[...root.querySelectorAll('.tb-log-error')].some(l => l.textContent.includes('coupon "SPRING" expired')) && [...root.querySelectorAll('.tb-log-warn')].some(l => l.textContent.includes('order 3 is waiting for stock'))`)
	if got := b.str(nullTexts); got != "[]" {
		b.fail("the Logs panel shows %s", got)
	}
	b.tab("sql")
	b.wait("the N+1 and the single query", `root.querySelector('.tb-qg[data-sql="N+1"]') && root.querySelector('.tb-qg[data-sql=single]')`)
	if got := b.str(nullTexts); got != "[]" {
		b.fail("the SQL panel shows %s", got)
	}
	for _, tab := range []string{"timing", "headers", "requests"} {
		b.tab(tab)
		b.wait(tab+" content", `root.querySelector('.tb-body .tb-sec')`)
		if got := b.str(nullTexts); got != "[]" {
			b.fail("the %s panel shows %s", tab, got)
		}
	}
}

// TestBrowserLogsLeaveOutTheProxyPhaseEvents: the proxy's upstream phases
// (dns.start ... response.first_byte) are timing, shown on its CLIENT
// span in the trace, not log lines: the Logs panel lists the app's events
// without them.
func TestBrowserLogsLeaveOutTheProxyPhaseEvents(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, demoCaddyfile, app)
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/")
	b.wait("the page's spans", `host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 7`)
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("trace")
	client := `[...root.querySelectorAll('.tb-span')].find(r => r.querySelector('.tb-sn').textContent === 'GET upstream')`
	b.wait("the proxy's CLIENT span", client)
	b.do(client + `.click()`)
	b.wait("its phase events in the span detail", `root.querySelector('.tb-detail') && root.querySelector('.tb-detail').textContent.includes('response.first_byte')`)
	b.tab("logs")
	b.wait("the app's span event", `[...root.querySelectorAll('.tb-log')].some(l => l.textContent.includes('cache miss'))`)
	logs := b.str(`root.querySelector('.tb-body').textContent`)
	for _, ev := range []string{"response.first_byte", "connect.start", "connect.done", "dns.start", "next_round_trip"} {
		if strings.Contains(logs, ev) {
			b.fail("the Logs panel lists the proxy's %s event", ev)
		}
	}
}

// TestBrowserShowsFastCGIParamsAndTheEncodingAfterTracebar: a PHP page
// behind php_fastcgi, compressed by encode in front of Tracebar. The
// Headers panel's "Proxy -> upstream" shows the FastCGI params Caddy sent,
// and the sizes say that the body was counted before encode compressed it.
func TestBrowserShowsFastCGIParamsAndTheEncodingAfterTracebar(t *testing.T) {
	dir := t.TempDir()
	// Over encode's minimum_length (512 bytes), so it compresses.
	os.WriteFile(filepath.Join(dir, "index.php"), []byte(`<!doctype html><html><head><title>php</title></head><body>`+
		`<?php for ($i = 0; $i < 60; $i++) echo "<p>row $i of a page long enough to compress</p>\n"; ?></body></html>`), 0o644)
	php := startPHPFPM(t, dir)
	e := newEnv(t)
	e.startCaddy(t, strings.NewReplacer("{dir}", dir, "{php}", php).Replace(globalOptions+`http://{site} {
	encode gzip zstd
	tracebar
	root * {dir}
	php_fastcgi {php}
}
`), "")
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/index.php?q=1")
	b.wait("the toolbar", `host.dataset.state === 'ready' && document.querySelectorAll('p').length === 60`)
	enc := b.str(`performance.getEntriesByType('navigation')[0].encodedBodySize < performance.getEntriesByType('navigation')[0].decodedBodySize`)
	if enc != "true" {
		b.fail("the page was not compressed on the way to the browser")
	}
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("headers")
	up := `[...root.querySelectorAll('.tb-sec')].find(s => s.querySelector('h3').textContent.startsWith('Proxy \u2192 upstream'))`
	b.wait("the FastCGI params", up+` && `+up+`.textContent.includes('FastCGI params')`)
	params := b.str(up + `.textContent`)
	for _, want := range []string{"SCRIPT_FILENAME", filepath.Join(dir, "index.php"), "QUERY_STRING", "q=1", "REQUEST_URI", "/index.php?q=1"} {
		if !strings.Contains(params, want) {
			b.fail("Proxy \u2192 upstream lacks %q: %q", want, params)
		}
	}
	if strings.Contains(params, "no upstream request") {
		b.fail("Proxy \u2192 upstream says there was no upstream request: %q", params)
	}
	b.tab("timing")
	sent := `[...root.querySelectorAll('.tb-kv tr')].find(r => r.querySelector('th').textContent === 'Sent to client')`
	b.wait("the size sent to client", sent)
	if got := b.str(sent + `.textContent`); !strings.Contains(got, "by Caddy\u2019s encode") || !(strings.Contains(got, "before gzip") || strings.Contains(got, "before zstd")) {
		b.fail("Sent to client does not say the body was compressed after it was counted: %q", got)
	}
}

// TestBrowserSelectedSpanStaysInViewAsSpansArriveAbove selects the last row
// of a trace taller than the waterfall, then exports spans that start
// before it. The rows they add above push it down; the waterfall scrolls
// with it, so the span the user is reading stays on screen.
func TestBrowserSelectedSpanStaysInViewAsSpansArriveAbove(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Jobs</title><p>queued</p>`)
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/")
	b.wait("the toolbar", `host.dataset.state === 'ready'`)
	traceID := b.str(`fetch('/__tracebar/api/requests?limit=50').then(r => r.json()).then(rs => rs.find(r => r.url === '/').traceId)`)
	parent := b.str(`host.dataset.request`)
	// export posts n spans named name 0 … name n-1, children of the
	// proxy's span, starting at the given time one millisecond apart.
	export := func(name string, n int, at time.Time) {
		t.Helper()
		var spans []string
		for i := range n {
			start := at.Add(time.Duration(i) * time.Millisecond).UnixNano()
			spans = append(spans, fmt.Sprintf(`{"traceId":%q,"spanId":"%016x","parentSpanId":%q,"name":"%s %d","kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}`,
				traceID, len(name)<<32|i+1, parent, name, i, start, start+int64(time.Millisecond)))
		}
		body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"worker"}}]},"scopeSpans":[{"spans":[` + strings.Join(spans, ",") + `]}]}]}`
		resp, _ := send(t, http.MethodPost, "http://"+e.otlpHTTP+"/v1/traces", "application/json", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("exporting %s spans: %s", name, resp.Status)
		}
	}
	export("step", 20, time.Now().Add(time.Second))
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("trace")
	// The waterfall's summary ("53 spans · ...") counts spans once it has
	// drawn them; the host's span count comes before that.
	drawn := func(n int) string {
		return fmt.Sprintf(`[...root.querySelectorAll('.tb-nm')].some(n => parseInt(n.textContent) >= %d && n.textContent.includes('spans'))`, n)
	}
	b.wait("the job's steps in the waterfall", drawn(22)+` && root.querySelector('.tb-span[tabindex="0"]')`)
	// The keyboard's way to the last row: End, then Enter selects it.
	b.do(`root.querySelector('.tb-span[tabindex="0"]').focus()`)
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(kb.End), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	selected := `root.querySelector('.tb-span.tb-sel')`
	onScreen := `(() => { const r = ` + selected + `, box = r && r.getBoundingClientRect(), view = root.querySelector('.tb-scroll').getBoundingClientRect();
		return !!r && box.top >= view.top && box.bottom <= view.bottom; })()`
	b.wait("the last step selected, on screen", selected+` && `+selected+`.textContent.includes('step 19') && root.querySelector('.tb-scroll').scrollTop > 0 && `+onScreen)

	export("early", 30, time.Now().Add(-time.Minute))
	b.wait("the early spans in the waterfall", drawn(52))
	if !strings.Contains(b.str(`root.querySelector('.tb-detail').textContent`), "step 19") {
		b.fail("the detail no longer shows step 19")
	}
	if b.str(onScreen) != "true" {
		b.fail("the selected span scrolled off screen when spans arrived above it")
	}
}
