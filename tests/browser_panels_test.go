package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browserTab drives one Chromium tab for a test; every failure dumps what
// the toolbar shows.
type browserTab struct {
	t   *testing.T
	ctx context.Context
}

func (b browserTab) fail(format string, args ...any) {
	b.t.Helper()
	dump, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => { const h = document.getElementById('tracebar-root'); return location.href + ' ' + (h ? JSON.stringify(h.dataset) + ' ' + h.shadowRoot.textContent.slice(0, 3000) : 'no toolbar: ' + document.body.outerHTML.slice(0, 2000)); })()`))
	b.t.Fatalf(format+"\n%s", append(args, dump)...)
}

func (b browserTab) navigate(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("navigate %s: %v", url, err)
	}
}

// wait polls a JS condition with `host` and `root` bound to the toolbar.
func (b browserTab) wait(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](shadow(expr), chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		// A navigation replaced the page under the poll ("Cannot find
		// context", "Inspected target navigated"): poll the new one.
		if strings.Contains(err.Error(), "timeout") || time.Now().After(deadline) {
			b.fail("waiting for %s: %v", what, err)
		}
	}
}

// do runs JS with the toolbar bound, for its effects.
func (b browserTab) do(expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](shadow(expr), chromedp.EvalAwaitPromise)); err != nil {
		b.fail("running %s: %v", expr, err)
	}
}

// str evaluates JS with the toolbar bound to a string.
func (b browserTab) str(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](shadow(`Promise.resolve(`+expr+`).then(String)`), chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail("evaluating %s: %v", expr, err)
	}
	return v
}

func (b browserTab) tab(name string) {
	b.t.Helper()
	b.do(`root.querySelector('.tb-tab[data-tab=` + name + `]').click()`)
	b.wait(name+" tab", `root.querySelector('.tb-tab[data-tab=`+name+`]').getAttribute('aria-selected') === 'true'`)
}

// TestBrowserPanels loads the demo app's orders page through a redirect and
// walks every panel of its toolbar: SQL with the N+1 flagged, logs with the
// exception event and the app's OTLP log record, the requests the page made
// after load with the browser's spans in the waterfall, the redirect and
// the history; then the trace tools, what the toolbar remembers, keyboard,
// body swaps, export and the standalone pages.
func TestBrowserPanels(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, demoCaddyfile, app)
	b := browserTab{t, newBrowser(t)}

	b.navigate(e.base + "/old-orders")
	// Proxy, app server span, 5 queries, coupon, render, documentLoad,
	// and the two calls after load (browser span, proxy, app, query).
	b.wait("the page's spans", `host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 10`)
	b.wait("the page's fetch and XHR", `document.body.dataset.fetched === 'done'`)
	if got := b.str(`location.pathname`); got != "/orders" {
		t.Fatalf("redirect led to %q", got)
	}
	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.wait("the badge's error count", `root.querySelector('.tb-badge .tb-errn') && root.querySelector('.tb-badge').textContent.includes('200')`)

	t.Run("sql", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.tab("sql")
		nplus := `root.querySelector('.tb-qg[data-sql="N+1"]')`
		b.wait("the N+1 group", nplus+` && `+nplus+`.textContent.includes('SELECT name, price_cents FROM products WHERE id = ?') && `+nplus+`.textContent.includes('\u00d74')`)
		for _, want := range []string{"WHERE id = 3", "WHERE id = 1", "4\u00d7 under", "GET /orders"} {
			if !strings.Contains(b.str(nplus+`.textContent`), want) {
				b.fail("N+1 group lacks %q", want)
			}
		}
		b.wait("the single orders query", `[...root.querySelectorAll('.tb-qg[data-sql=single]')].some(g => g.textContent.includes('SELECT id, customer, product_id FROM orders ORDER BY id'))`)
		b.wait("the N+1 count on the tab", `root.querySelector('.tb-tab[data-tab=sql] .tb-n.tb-bad')`)
		screenshot(t, b.ctx, "sql.png")
		// A query's span opens in the trace (the rows are in the order the
		// spans arrived, so the one to click is found by its text).
		b.do(`[...` + nplus + `.querySelectorAll('.tb-qi tr')].find(r => r.textContent.includes('WHERE id = 3')).querySelector('.tb-go').click()`)
		defer func() {
			if t.Failed() {
				t.Log(b.str(`(() => { const sc = root.querySelector('.tb-scroll'), r = [...root.querySelectorAll('.tb-span')]; return JSON.stringify({top: sc.scrollTop, ch: sc.clientHeight, sh: sc.scrollHeight, rows: r.length, first: r[0] && r[0].style.top, last: r.length && r[r.length-1].style.top, h: root.querySelector('.tb-rows').style.height, dp: root.querySelector('.tb-dpane').clientHeight, body: root.querySelector('.tb-body').clientHeight}); })()`))
			}
		}()
		b.wait("the query's span in the trace", `root.querySelector('.tb-tab[data-tab=trace]').getAttribute('aria-selected') === 'true' && root.querySelector('.tb-detail') && root.querySelector('.tb-detail').textContent.includes('SELECT name, price_cents FROM products WHERE id = 3') && root.querySelector('.tb-span.tb-sel')`)
	})

	t.Run("logs", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.tab("logs")
		exc := `[...root.querySelectorAll('.tb-log-error')].find(l => l.textContent.includes('coupon "SPRING" expired'))`
		b.wait("the exception event", exc+` && `+exc+`.textContent.includes('exception') && `+exc+`.querySelector('pre').textContent.includes('main.(*shop).orders')`)
		warn := `[...root.querySelectorAll('.tb-log-warn')].find(l => l.textContent.includes('order 3 is waiting for stock'))`
		b.wait("the app's OTLP log record", warn+` && `+warn+`.textContent.includes('WARN') && `+warn+`.textContent.includes('shop-web')`)
		screenshot(t, b.ctx, "logs.png")
		// Filtering by level hides the errors, keeps the warning.
		b.do(`root.querySelector('.tb-lv[data-lvl=error]').click()`)
		b.wait("errors filtered out", `!`+exc+` && `+warn)
		b.do(`root.querySelector('.tb-lv[data-lvl=error]').click()`)
		b.wait("errors back", exc)
		// The exception's span shows it in its detail pane.
		b.do(exc + `.querySelector('.tb-go').click()`)
		b.wait("the exception in the span detail", `root.querySelector('.tb-detail') && root.querySelector('.tb-detail').textContent.includes('Exceptions') && root.querySelector('.tb-detail').textContent.includes('*errors.errorString')`)
	})

	t.Run("requests", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.tab("requests")
		row := func(url string) string {
			return `[...root.querySelectorAll('.tb-req[data-hook-span]')].find(r => r.querySelector('.tb-url').textContent === '` + url + `' && r.dataset.reqId)`
		}
		b.wait("the fetch and the XHR made after load", row("/api/products")+` && `+row("/api/products?via=xhr")+` && `+row("/api/products?via=xhr")+`.textContent.includes('xhr')`)
		b.wait("the redirect that led here", `[...root.querySelectorAll('.tb-sec')].some(s => s.textContent.includes('Redirects that led here') && s.textContent.includes('/old-orders') && s.textContent.includes('302'))`)
		b.wait("the history", `[...root.querySelectorAll('.tb-sec')].some(s => s.textContent.includes('History') && s.querySelectorAll('.tb-req').length >= 4)`)
		// A request made now appears in the history, live.
		get(t, e.base+"/api/products?live=1")
		b.wait("a new request in the history", `[...root.querySelectorAll('.tb-req')].some(r => r.textContent.includes('/api/products?live=1'))`)
		screenshot(t, b.ctx, "requests.png")

		// The fetch's browser CLIENT span is the parent of the proxy's
		// server span for it, and a child of the page's documentLoad span,
		// itself a child of the proxy's span for the page.
		b.wait("the browser spans in the trace", `(() => {
			const H = window.__tracebarHook, sp = window.__tracebar.spans;
			const f = H.list.find(x => x.url.endsWith('/api/products') && x.requestId);
			const c = f && sp.get(f.spanId), proxy = f && sp.get(f.requestId), page = sp.get(H.pageSpanId);
			return c && proxy && page && c.svc === 'browser' && c.kind === 3 && c.name === 'HTTP GET' && c.p === H.pageSpanId && proxy.p === f.spanId &&
				page.name === 'documentLoad' && page.p === host.dataset.request && page.events.some(e => e.name === 'domContentLoadedEventEnd');
		})()`)
		fetchSpan := b.str(`window.__tracebarHook.list.find(x => x.url.endsWith('/api/products')).spanId`)
		b.do(row("/api/products") + `.click()`)
		b.wait("the fetch's panels", `host.dataset.request !== '' && root.querySelector('.tb-back') && root.querySelector('.tb-sum').textContent.includes('/api/products') && Number(host.dataset.spanCount) >= 3`)
		b.do(`root.querySelector('.tb-back').click()`)
		b.wait("back to the page", `!root.querySelector('.tb-back') && root.querySelector('.tb-sum').textContent.includes('/orders')`)
		b.tab("trace")
		b.wait("the fetch span in the waterfall", `root.querySelector('.tb-span[data-span-id="`+fetchSpan+`"]') && root.querySelector('.tb-span[data-span-id="`+fetchSpan+`"]').textContent.includes('browser')`)
	})

	t.Run("trace", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.tab("trace")
		b.wait("rows", `root.querySelectorAll('.tb-span').length >= 10`)
		// The critical path runs through this request's span.
		b.wait("the critical path", `root.querySelector('.tb-span.tb-me.tb-cp') && root.querySelectorAll('.tb-span.tb-cp').length >= 3`)
		// Search by attribute.
		b.do(`(() => { const q = root.querySelector('.tb-q'); q.value = 'coupon.code=spring'; q.dispatchEvent(new Event('input')); })()`)
		b.wait("one match", `root.querySelectorAll('.tb-span.tb-hit').length === 1 && root.querySelector('.tb-span.tb-hit').textContent.includes('apply coupon') && root.querySelector('.tb-hits').textContent === '1 match'`)
		if n := b.str(`root.querySelectorAll('.tb-span:not(.tb-hit):not(.tb-dim)').length`); n != "0" {
			b.fail("%s rows neither match nor lead to a match", n)
		}
		b.do(`(() => { const q = root.querySelector('.tb-q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`)
		all := b.str(`root.querySelectorAll('.tb-span').length`)
		// Collapse all, expand to depth 2, expand all.
		b.do(`root.querySelector('[data-act=collapse]').click()`)
		b.wait("collapsed", `[...root.querySelectorAll('.tb-span')].every(r => r.getAttribute('aria-level') === '1')`)
		b.do(`(() => { const s = root.querySelector('.tb-selx'); s.value = '2'; s.dispatchEvent(new Event('change')); })()`)
		b.wait("two levels", `Math.max(...[...root.querySelectorAll('.tb-span')].map(r => +r.getAttribute('aria-level'))) === 2`)
		b.do(`root.querySelector('[data-act=expand]').click()`)
		b.wait("expanded", `root.querySelectorAll('.tb-span').length === `+all)
		// Keyboard: the tree is one tab stop; arrows move, Left folds.
		b.do(`root.querySelector('.tb-span[tabindex="0"]').focus()`)
		if err := chromedp.Do(b.ctx, chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowLeft)); err != nil {
			t.Fatal(err)
		}
		b.wait("focus moved and folded", `root.activeElement && root.activeElement.classList.contains('tb-span') && (root.activeElement.getAttribute('aria-level') === '2' && root.activeElement.getAttribute('aria-expanded') === 'false' || root.activeElement.getAttribute('aria-level') === '1')`)
	})

	t.Run("remembered", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.do(`root.querySelector('[data-act=theme]').click()`)
		b.do(`root.querySelector('[data-act=pos]').click()`)
		b.wait("light theme, bottom left", `host.dataset.theme === 'light' && host.dataset.pos === 'bl' && host.style.left === '12px'`)
		b.tab("logs")
		b.navigate(e.base + "/orders")
		b.wait("the panel, tab, theme and corner after a reload", `host.dataset.state === 'ready' && !root.querySelector('.tb-panel').hidden && root.querySelector('.tb-tab[data-tab=logs]').getAttribute('aria-selected') === 'true' && host.dataset.theme === 'light' && host.dataset.pos === 'bl'`)
		for _, th := range []string{"dark", "auto"} {
			b.do(`root.querySelector('[data-act=theme]').click()`)
			b.wait(th+" theme", `host.dataset.theme === '`+th+`'`)
			if th == "dark" {
				screenshot(t, b.ctx, "dark.png")
			}
		}
		for range 3 { // back to the bottom right corner
			b.do(`root.querySelector('[data-act=pos]').click()`)
		}
		b.wait("bottom right", `host.dataset.pos === 'br'`)
		// Alt+T toggles, Esc closes.
		if err := chromedp.Do(b.ctx, chromedp.KeyEvent("t", chromedp.KeyModifiers(chromedp.ModifierAlt))); err != nil {
			t.Fatal(err)
		}
		b.wait("closed by Alt+T", `root.querySelector('.tb-panel').hidden && localStorage.getItem('tracebar.open') === '0'`)
		if err := chromedp.Do(b.ctx, chromedp.KeyEvent("t", chromedp.KeyModifiers(chromedp.ModifierAlt))); err != nil {
			t.Fatal(err)
		}
		b.wait("opened by Alt+T, focus on the tab", `!root.querySelector('.tb-panel').hidden && root.activeElement && root.activeElement.classList.contains('tb-tab')`)
		if err := chromedp.Do(b.ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
			t.Fatal(err)
		}
		b.wait("closed by Esc, focus on the badge", `root.querySelector('.tb-panel').hidden && root.activeElement === root.querySelector('.tb-badge')`)
	})

	t.Run("body swaps", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// Turbo replaces <body>; htmx boost empties it.
		b.do(`(() => { const nb = document.createElement('body'); nb.append('swapped'); document.body.replaceWith(nb); })()`)
		b.wait("the toolbar back after a body swap", `document.body.textContent.startsWith('swapped') && document.body.contains(host) && document.querySelectorAll('#tracebar-root').length === 1`)
		b.do(`document.body.replaceChildren(document.createTextNode('emptied'))`)
		b.wait("the toolbar back after the body was emptied", `document.body.contains(host)`)
	})

	t.Run("export", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
		b.do(`(() => { const c = URL.createObjectURL; URL.createObjectURL = blob => { blob.text().then(t => { window.__download = t; }); return c(blob); }; })()`)
		b.do(`root.querySelector('[data-act=download]').click()`)
		b.wait("the OTLP JSON download", `window.__download && JSON.parse(window.__download).resourceSpans.length > 0 && window.__download.includes(host.shadowRoot.querySelector('.tb-tid').title.slice(6))`)
	})

	t.Run("turbo visit", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// What Turbo does for a visit: fetch the page, push its URL,
		// swap the body, fire turbo:load. The toolbar follows to it.
		b.do(`(async () => {
			const r = await fetch('/', { headers: { Accept: 'text/html' } });
			await r.text();
			window.__visited = r.headers.get('X-Tracebar-Request').split('/').pop();
			history.pushState({}, '', '/');
			const nb = document.createElement('body'); nb.append('visited'); document.body.replaceWith(nb);
			dispatchEvent(new Event('turbo:load'));
		})()`)
		b.wait("the visited page's request in the toolbar", `window.__visited && host.dataset.request === window.__visited && host.dataset.state === 'ready' && root.querySelector('.tb-sum').textContent.includes('GET')`)
	})

	t.Run("standalone", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// An API response has no toolbar; its header links to its page.
		resp, _ := get(t, e.base+"/api/products?standalone=1")
		link := resp.Header.Get("X-Tracebar-Link")
		if !strings.HasPrefix(link, "/__tracebar/requests/") {
			t.Fatalf("X-Tracebar-Link %q", link)
		}
		b.navigate(e.base + link)
		b.wait("the request's panels in a page", `host.dataset.state === 'ready' && !root.querySelector('.tb-badge') && root.querySelector('.tb-sum').textContent.includes('/api/products?standalone=1') && Number(host.dataset.spanCount) >= 3`)
		b.tab("trace")
		b.wait("its waterfall", `[...root.querySelectorAll('.tb-span')].some(r => r.textContent.includes('SELECT products'))`)
		b.tab("sql")
		b.wait("its query", `root.querySelector('.tb-qg') && root.querySelector('.tb-qg').textContent.includes('SELECT id, name, price_cents FROM products ORDER BY id')`)
		b.tab("headers")
		b.wait("its headers", `root.querySelector('.tb-hdr') && root.textContent.toLowerCase().includes('content-type')`)
		screenshot(t, b.ctx, "page.png")
		if title := b.str(`document.title`); !strings.Contains(title, "/api/products") {
			t.Fatalf("page title %q", title)
		}

		// <prefix>/ lists recent requests, live; a row opens its page.
		b.navigate(e.base + "/__tracebar/")
		b.wait("the history list", `[...root.querySelectorAll('a.tb-req')].some(r => r.textContent.includes('/orders')) && root.querySelectorAll('.tb-tab').length === 1`)
		get(t, e.base+"/api/products?later=1")
		b.wait("a new request, live", `[...root.querySelectorAll('a.tb-req')].some(r => r.textContent.includes('/api/products?later=1'))`)
		screenshot(t, b.ctx, "history.png")
		b.do(`[...root.querySelectorAll('a.tb-req')].find(r => r.textContent.includes('/old-orders')).click()`)
		b.wait("the redirect's page", `location.pathname.startsWith('/__tracebar/requests/') && host.dataset.state === 'ready' && root.querySelector('.tb-sum').textContent.includes('302')`)
	})
}

// TestBrowserLargeTrace renders a trace of 5,000 spans (a deep and wide
// tree over 8 services, with SQL, events and errors) that the sink holds
// before the page loads; the page's request continues it. It prints how
// long the toolbar takes, and checks the virtual list still shows every
// row when scrolled, and that search and folding work at that size.
func TestBrowserLargeTrace(t *testing.T) {
	up := newHTMLServer(t, `<!doctype html><html><head><title>big</title></head><body><h1>big trace</h1></body></html>`)
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, up)

	const n = 5000
	traceID := "5a5a" + strings.Repeat("0", 24) + "0001"
	doc, rootSpan := bigTrace(traceID, n)
	resp, err := http.Post("http://"+e.otlpHTTP+"/v1/traces", "application/json", strings.NewReader(doc))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("posting %d spans: %v %v", n, err, resp)
	}
	resp.Body.Close()

	b := browserTab{t, newBrowser(t)}
	b.navigate(e.base + "/")
	b.do(`localStorage.setItem('tracebar.open', '0')`)
	if err := chromedp.Do(b.ctx, withHeader("traceparent", "00-"+traceID+"-"+rootSpan+"-01")); err != nil {
		t.Fatal(err)
	}
	b.navigate(e.base + "/")
	b.wait("5,000 spans loaded", fmt.Sprintf(`host.dataset.state === 'ready' && Number(host.dataset.spanCount) > %d`, n))
	merge := b.str(`window.__tracebar.perf.load.toFixed(1)`)

	// Open the panel on the trace: time from the click to the next frame.
	b.do(`localStorage.setItem('tracebar.tab', 'trace')`)
	b.do(`root.querySelector('.tb-tab[data-tab=trace]').click()`)
	open := b.str(`new Promise(res => { const t = performance.now(); root.querySelector('.tb-badge').click(); requestAnimationFrame(() => setTimeout(() => res((performance.now() - t).toFixed(1)))); })`)
	render := b.str(`window.__tracebar.perf.render.toFixed(1)`)
	b.wait("rows", `root.querySelectorAll('.tb-span').length > 10`)
	t.Logf("5,000-span trace: ingest (parse and index) %s ms; open the trace panel: %s ms to the next frame (render %s ms)", merge, open, render)

	// Filtering 5,000 spans by an attribute, then folding to one level.
	filter := b.str(`new Promise(res => { const q = root.querySelector('.tb-q'), t = performance.now(); q.value = 'needle-4321'; q.dispatchEvent(new Event('input')); requestAnimationFrame(() => setTimeout(() => res((performance.now() - t).toFixed(1)))); })`)
	b.wait("the one match", `root.querySelectorAll('.tb-span.tb-hit').length === 1 && root.querySelector('.tb-span.tb-hit').textContent.includes('op 4321')`)
	b.do(`(() => { const q = root.querySelector('.tb-q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`)
	t.Logf("filter 5,000 spans by attribute: %s ms to the next frame", filter)

	// The virtual list: scrolled to the end, the last span in tree order is there.
	b.do(`(() => { const sc = root.querySelector('.tb-scroll'); sc.scrollTop = sc.scrollHeight; })()`)
	b.wait("the last row", `root.querySelector('.tb-rows').style.height === Number(host.dataset.spanCount) * 24 + 'px' && root.querySelector('.tb-span[data-span-id="`+fmt.Sprintf("%016x", n)+`"]')`)
	screenshot(t, b.ctx, "large.png")
	b.do(`root.querySelector('[data-act=collapse]').click()`)
	b.wait("folded to the roots", `[...root.querySelectorAll('.tb-span')].every(r => r.getAttribute('aria-level') === '1')`)
}

// bigTrace returns an OTLP/JSON document of n spans in one trace: a root,
// then each span's parent a few ids back, so the tree is both wide and
// deep; ids are the span's index in hex, in depth-first order.
func bigTrace(traceID string, n int) (string, string) {
	type kv = map[string]any
	str := func(k, v string) kv { return kv{"key": k, "value": kv{"stringValue": v}} }
	start := time.Now().Add(-2 * time.Second).UnixNano()
	byService := map[int][]kv{}
	// Depth-first ids: span i's parent is the nearest earlier span whose
	// subtree is still open; a simple rule gives a tree of depth ~8.
	parents := make([]int, n+1)
	depth := make([]int, n+1)
	stack := []int{1}
	for i := 2; i <= n; i++ {
		for len(stack) > 1 && (i%7 == 0 && len(stack) > 2 || len(stack) > 8) {
			stack = stack[:len(stack)-1]
		}
		parents[i] = stack[len(stack)-1]
		depth[i] = len(stack)
		if i%3 != 0 {
			stack = append(stack, i)
		}
	}
	for i := 1; i <= n; i++ {
		s := start + int64(i)*200_000
		sp := kv{"traceId": traceID, "spanId": fmt.Sprintf("%016x", i), "name": fmt.Sprintf("op %d", i), "kind": 1 + i%5,
			"startTimeUnixNano": fmt.Sprint(s), "endTimeUnixNano": fmt.Sprint(s + int64(1+(8-depth[i]))*3_000_000),
			"attributes": []kv{str("iteration", fmt.Sprint(i)), str("needle", fmt.Sprintf("needle-%d", i))}}
		if parents[i] != 0 {
			sp["parentSpanId"] = fmt.Sprintf("%016x", parents[i])
		}
		if i%10 == 0 {
			sp["attributes"] = append(sp["attributes"].([]kv), str("db.system.name", "postgresql"), str("db.query.text", fmt.Sprintf("SELECT * FROM t WHERE id = %d", i%37)))
		}
		if i%50 == 0 {
			sp["events"] = []kv{{"name": "checkpoint", "timeUnixNano": fmt.Sprint(s + 1000)}}
		}
		if i%97 == 0 {
			sp["status"] = kv{"code": 2, "message": "boom"}
		}
		byService[i%8] = append(byService[i%8], sp)
	}
	var rs []kv
	for svc, spans := range byService {
		rs = append(rs, kv{"resource": kv{"attributes": []kv{str("service.name", fmt.Sprintf("service-%d", svc))}},
			"scopeSpans": []kv{{"scope": kv{"name": "bigtrace"}, "spans": spans}}})
	}
	b, _ := json.Marshal(kv{"resourceSpans": rs})
	return string(b), fmt.Sprintf("%016x", 1)
}

// newHTMLServer is an upstream that answers every request with page.
func newHTMLServer(t *testing.T, page string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// withHeader makes the tab send an extra request header from now on.
func withHeader(name, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{name: value}})
		return err
	})
}

// TestBrowserFetchHook: hook.js, in <head> before the page's scripts, sees
// the calls of a page that kept its own reference to fetch. Same-origin
// fetch (URL or Request) and XHR get a traceparent naming the browser's
// span for the call, and the proxy's span for each becomes its child; a
// traceparent the app set is left alone; a cross-origin call gets nothing
// (no header, so no CORS preflight) and is not listed.
func TestBrowserFetchHook(t *testing.T) {
	type seen struct{ method, uri, traceparent string }
	var mu sync.Mutex
	var got []seen
	record := func(r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.RequestURI(), r.Header.Get("Traceparent")})
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "*")
		io.WriteString(w, "{}")
	}))
	defer other.Close()
	const appTrace = "00-1111111111111111111111111111aaaa-2222222222222222-01"
	page := `<!doctype html><html><head><title>hook</title><script>const f = window.fetch;</script></head><body><p>hook</p><script>
addEventListener('load', async () => {
  await f('` + other.URL + `/cross');
  await f('/data?app', {headers: {traceparent: '` + appTrace + `'}});
  await f(new Request('/data?request', {headers: {'X-App': '1'}}));
  await new Promise(res => { const x = new XMLHttpRequest(); x.open('POST', '/data?xhr'); x.onloadend = res; x.send('x'); });
  document.body.dataset.done = '1';
});
</script></body></html>`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/data" {
			record(r)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	b := browserTab{t, newBrowser(t)}
	b.navigate(e.base + "/")
	b.wait("the page's calls", `document.body.dataset.done === '1' && window.__tracebarHook.list.length === 3 && window.__tracebarHook.list.every(x => x.end && x.requestId)`)

	var hook struct {
		TraceID    string `json:"traceId"`
		PageSpanID string `json:"pageSpanId"`
		List       []struct {
			Kind, Method, URL, SpanID, RequestID string
			Own                                  bool
			Status                               int
		} `json:"list"`
	}
	if err := json.Unmarshal([]byte(b.str(`JSON.stringify(window.__tracebarHook, (k, v) => k === 'fetch' ? undefined : v)`)), &hook); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range got {
		switch {
		case s.uri == "/cross":
			if s.method != "GET" || s.traceparent != "" {
				t.Errorf("cross-origin call got %s with traceparent %q", s.method, s.traceparent)
			}
		case s.uri == "/data?app":
			if !strings.Contains(s.traceparent, "1111111111111111111111111111aaaa") {
				t.Errorf("the app's traceparent was replaced: upstream got %q", s.traceparent)
			}
		case strings.HasPrefix(s.uri, "/data?"):
			if !strings.Contains(s.traceparent, "-"+hook.TraceID+"-") {
				t.Errorf("%s %s: upstream traceparent %q is not in the page's trace %s", s.method, s.uri, s.traceparent, hook.TraceID)
			}
		}
	}
	if len(got) != 4 {
		t.Errorf("servers saw %+v (a preflight, or a call missing)", got)
	}
	for _, x := range hook.List {
		if strings.Contains(x.URL, "/cross") || strings.Contains(x.URL, "/__tracebar") {
			t.Errorf("hook lists %s", x.URL)
		}
	}
	// The proxy's span for each hooked call is a child of the browser's span
	// for it, itself a child of the page span.
	var want []func([]span) bool
	for _, x := range hook.List {
		if !strings.Contains(x.URL, "/data?request") && !strings.Contains(x.URL, "/data?xhr") {
			continue
		}
		if !x.Own || x.Status != 200 || (strings.Contains(x.URL, "xhr") != (x.Kind == "xhr")) || (x.Kind == "xhr" && x.Method != "POST") {
			t.Errorf("hook entry %+v", x)
		}
		x := x
		want = append(want, func(spans []span) bool {
			var proxy, browser bool
			for _, s := range spans {
				proxy = proxy || s.SpanID == x.RequestID && s.ParentSpanID == x.SpanID
				browser = browser || s.SpanID == x.SpanID && s.Service == "browser" && s.ParentSpanID == hook.PageSpanID && s.Kind == 3 && s.Name == "HTTP "+x.Method && s.attr("http.request.method") == x.Method
			}
			return proxy && browser
		})
	}
	if len(want) != 2 {
		t.Fatalf("hooked calls: %+v", hook.List)
	}
	waitSpans(t, e.base, hook.TraceID, all(append(want, has("browser", "documentLoad"))...))
}
