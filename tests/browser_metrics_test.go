package tests

import (
	"strings"
	"testing"
)

// TestBrowserMetricsPanel: the toolbar of a page of the Go demo app shows,
// on its Metrics tab, what each service measured around the request: the
// HTTP server duration histogram of the page's route, the pool gauge,
// the memory gauge and the shop's counter. The page's exemplar opens its
// span in the trace; the exemplar of another request (an /orders load
// just before) opens that request's trace.
func TestBrowserMetricsPanel(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, demoCaddyfile, app)
	b := browserTab{t, newBrowser(t)}

	orders, _ := get(t, e.base+"/orders")
	ordersTrace, ordersID := traceOf(t, orders)
	b.navigate(e.base + "/")
	// The app's spans are here: its measurements are made (otelhttp
	// records the duration before it ends the SERVER span).
	b.wait("the page's spans", `host.dataset.state === 'ready' && Number(host.dataset.spanCount) >= 7`)
	var rec apiRecord
	getAPI(t, e.base, "requests/"+b.str(`host.dataset.request`), &rec)
	spans := waitSpans(t, e.base, rec.TraceID, has("shop-web", "GET /"))
	server, _ := find(spans, "shop-web", "GET /")
	waitSpans(t, e.base, ordersTrace, has("shop-web", "GET /orders"))
	flushMetrics(t, app)

	b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
	b.tab("metrics")
	shop := `root.querySelector('.tb-sec[data-service="shop-web"]')`
	row := func(name, has string) string {
		return `[...` + shop + `.querySelectorAll('[data-metric="` + name + `"]')].find(r => r.textContent.includes('` + has + `'))`
	}
	page := row("http.server.request.duration", "http.route=/{$}")
	b.wait("the page route's duration histogram", shop+` && `+page+` && /^1 \u00d7 \u00b7 p50 /.test(`+page+`.querySelector('.tb-num').textContent) && `+page+`.querySelector('.tb-spark')`)
	b.wait("the pool, memory and counter rows", row("db.client.connection.count", "db.client.connection.state=idle")+` && `+row("go.memory.used", "")+
		` && `+row("shop.products.loaded", "")+`.querySelector('.tb-num').textContent.startsWith('+')`)
	if first := b.str(`root.querySelector('.tb-sec[data-service]').dataset.service`); first != "shop-web" {
		t.Errorf("first service %q: want the trace's own, shop-web", first)
	}
	if !strings.Contains(b.str(`[...root.querySelectorAll('.tb-sec[data-service]')].map(s => s.dataset.service).join()`), "inventory") {
		b.fail("no section for the inventory service")
	}
	screenshot(t, b.ctx, "metrics.png")

	// The page's exemplar: its span, selected in the waterfall.
	b.do(page + `.querySelector('[data-exemplar="` + rec.TraceID + `"]').click()`)
	b.wait("the exemplar's span in the trace", `root.querySelector('.tb-tab[data-tab=trace]').getAttribute('aria-selected') === 'true' && root.querySelector('.tb-span.tb-sel') && root.querySelector('.tb-span.tb-sel').dataset.spanId === '`+server.SpanID+`'`)

	// Another request's exemplar: that request, its trace.
	b.tab("metrics")
	other := row("http.server.request.duration", "http.route=/orders")
	b.wait("the /orders exemplar", other+` && `+other+`.querySelector('[data-exemplar="`+ordersTrace+`"]')`)
	b.do(other + `.querySelector('[data-exemplar="` + ordersTrace + `"]').click()`)
	b.wait("the /orders request's trace", `host.dataset.request === '`+ordersID+`' && root.querySelector('.tb-tab[data-tab=trace]').getAttribute('aria-selected') === 'true' && root.querySelector('.tb-sum').textContent.includes('/orders')`)
}
