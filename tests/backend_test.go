package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// twoCaddyBackend is the Caddyfile of one of two Caddy instances that
// forward to one Jaeger and read traces back from its query API.
func twoCaddyBackend(service, otlp, query string) string {
	return strings.Replace(globalOptions, "\t\tzipkin {zipkin}\n",
		"\t\tzipkin {zipkin}\n\t\tforward http://"+otlp+"\n\t\tbackend http://"+query+"\n", 1) +
		`http://{site} {
	tracebar {
		service_name ` + service + `
	}
	reverse_proxy {upstream}
}
`
}

// TestJaegerBackendTwoCaddies: edge Caddy → internal Caddy → the demo app,
// which exports only to the internal Caddy's sink; both Caddies forward to
// one real Jaeger and read traces back from it (backend). The edge's toolbar
// shows the whole trace in one tree: its own spans from its store, the
// internal Caddy's and the app's from Jaeger, marked as such.
func TestJaegerBackendTwoCaddies(t *testing.T) {
	j := startJaeger(t)

	internal := newEnv(t)
	app := startDemoApp(t, internal.otlpHTTP)
	internal.startCaddy(t, twoCaddyBackend("caddy-internal", j.otlpHTTP, j.queryHTTP), app, "OTEL_BSP_SCHEDULE_DELAY=100")
	edge := newEnv(t)
	edge.startCaddy(t, twoCaddyBackend("caddy-edge", j.otlpHTTP, j.queryHTTP), internal.site, "OTEL_BSP_SCHEDULE_DELAY=100")

	resp, _ := get(t, edge.base+"/", "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / through both Caddies: %s", resp.Status)
	}
	traceID, edgeServer := traceOf(t, resp)

	// The edge's live stream ends up with every span, from Jaeger.
	spans := waitSpans(t, edge.base, traceID, all(
		has("caddy-edge", "GET /"), has("caddy-internal", "GET /"),
		has("shop-web", "GET /"), has("shop-web", "SELECT products"), has("inventory", "GET /stock")))

	byID := map[string]span{}
	for _, s := range spans {
		if _, dup := byID[s.SpanID]; dup {
			t.Fatalf("span %s %q twice in the edge's stream:%s", s.Service, s.Name, describe(spans))
		}
		byID[s.SpanID] = s
		fromBackend := s.attr("tracebar.source") == "backend"
		if s.Service == "caddy-edge" && fromBackend {
			t.Errorf("the edge's own span %q is marked as from the backend", s.Name)
		}
		if s.Service != "caddy-edge" && !fromBackend {
			t.Errorf("span %s %q reached the edge without the backend's mark", s.Service, s.Name)
		}
	}
	root, _ := find(spans, "caddy-edge", "GET /")
	if root.SpanID != edgeServer || root.ParentSpanID != "" {
		t.Fatalf("the edge's server span is not the root %s:%s", edgeServer, describe(spans))
	}
	inner, _ := find(spans, "caddy-internal", "GET /")
	web, _ := find(spans, "shop-web", "GET /")
	if p := byID[inner.ParentSpanID]; p.Service != "caddy-edge" || p.Kind != 3 {
		t.Fatalf("the internal Caddy's server span is not under the edge's client span:%s", describe(spans))
	}
	if p := byID[web.ParentSpanID]; p.Service != "caddy-internal" || p.Kind != 3 {
		t.Fatalf("the app's server span is not under the internal Caddy's client span:%s", describe(spans))
	}
	// One tree: every span the stream has so far leads up to the edge's root.
	for _, s := range spans {
		x, hops := s, 0
		for x.ParentSpanID != "" && hops <= len(spans) {
			p, ok := byID[x.ParentSpanID]
			if !ok {
				t.Fatalf("span %s %q: parent %s missing:%s", s.Service, s.Name, x.ParentSpanID, describe(spans))
			}
			x, hops = p, hops+1
		}
		if x.SpanID != root.SpanID {
			t.Fatalf("span %s %q is not under the edge's root:%s", s.Service, s.Name, describe(spans))
		}
	}

	// The trace API answers with the merged trace too.
	tr, body := get(t, edge.base+"/__tracebar/api/traces/"+traceID)
	if tr.StatusCode != http.StatusOK {
		t.Fatalf("GET trace: %s", tr.Status)
	}
	if _, ok := find(parseOTLP(t, body), "inventory", "GET /stock"); !ok {
		t.Fatalf("the edge's trace API lacks the app's spans:%s", describe(parseOTLP(t, body)))
	}

	// The internal Caddy got the app's spans through its own sink: not
	// marked there.
	_, body = get(t, internal.base+"/__tracebar/api/traces/"+traceID)
	if s, ok := find(parseOTLP(t, body), "shop-web", "GET /"); !ok || s.attr("tracebar.source") != "" {
		t.Fatalf("the internal Caddy's copy of the app's span: found %v, source %q", ok, s.attr("tracebar.source"))
	}

	// In a browser: the edge's toolbar shows the app's spans in its
	// waterfall, marked as from the backend. (Its full page: in the proxied
	// page itself, the internal Caddy's toolbar, injected first, is the one
	// that shows.)
	t.Run("browser", func(t *testing.T) {
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(edge.base+resp.Header.Get("X-Tracebar-Link"))); err != nil {
			t.Fatal(err)
		}
		wait := func(what, expr string) {
			t.Helper()
			if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](shadow(expr), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
				dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](shadow(`root.textContent.slice(0, 3000)`)))
				t.Fatalf("waiting for %s: %v\n%s", what, err, dump)
			}
		}
		wait("the toolbar", `root.querySelector('.tb-tab[data-tab=trace]')`)
		chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`root.querySelector('.tb-tab[data-tab=trace]').click()`)))
		row := func(service, name string) string {
			return `[...root.querySelectorAll('.tb-span')].find(r => r.querySelector('.tb-svc').textContent === '` + service + `' && r.querySelector('.tb-sn').textContent === '` + name + `')`
		}
		wait("the app's spans from Jaeger, marked", row("inventory", "GET /stock")+` && `+row("inventory", "GET /stock")+`.querySelector('.tb-bk') && `+
			row("caddy-internal", "GET /")+` && `+row("caddy-internal", "GET /")+`.querySelector('.tb-bk')`)
		// The edge's own spans carry no mark; the tree nests the app under
		// both proxies.
		edgeRow := row("caddy-edge", "GET /")
		wait("the edge's root, unmarked", edgeRow+` && !`+edgeRow+`.querySelector('.tb-bk') && `+edgeRow+`.getAttribute('aria-level') === '1'`)
		wait("the app nested under both proxies", `+(`+row("shop-web", "GET /")+` || {getAttribute: () => 0}).getAttribute('aria-level') >= 5`)
		chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(row("inventory", "GET /stock")+`.click()`)))
		wait("the span detail's source", `root.querySelector('.tb-detail') && root.querySelector('.tb-detail').textContent.includes("the team's tracing backend")`)
		screenshot(t, ctx, "backend.png")
	})
}

// TestBackendDownDegrades: a backend that cannot be reached leaves the
// toolbar with the local spans, the page is served as ever, and the trace's
// stream says why the backend's spans are missing.
func TestBackendDownDegrades(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
	cf := strings.Replace(basicCaddyfile, "\t\tzipkin {zipkin}\n", "\t\tzipkin {zipkin}\n\t\tbackend http://"+down+"\n", 1)
	e.startCaddy(t, cf, app)

	resp, _ := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	traceID, _ := traceOf(t, resp)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/__tracebar/api/traces/"+traceID+"/stream", nil)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	var spans []span
	var backend struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	gotBackend := false
	sc := bufio.NewScanner(sresp.Body)
	sc.Buffer(nil, 16<<20)
	event := ""
	for sc.Scan() && !(gotBackend && has("shop-web", "SELECT products")(spans)) {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "spans":
			spans = append(spans, parseOTLP(t, []byte(strings.TrimPrefix(line, "data: ")))...)
		case strings.HasPrefix(line, "data: ") && event == "backend":
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &backend); err != nil {
				t.Fatalf("backend event %q: %v", line, err)
			}
			gotBackend = true
		}
	}
	if !gotBackend || backend.OK || !strings.Contains(backend.Error, down) {
		t.Fatalf("backend event %v %+v, want ok false naming %s (%v)", gotBackend, backend, down, sc.Err())
	}
	if !has("shop-web", "SELECT products")(spans) {
		t.Fatalf("the local spans did not arrive:%s", describe(spans))
	}
	for _, s := range spans {
		if s.attr("tracebar.source") != "" {
			t.Fatalf("span %s %q marked %q", s.Service, s.Name, s.attr("tracebar.source"))
		}
	}

	// The toolbar says so, naming the address in its tooltip.
	b := browserTab{t, newBrowser(t)}
	b.navigate(e.base + "/")
	b.wait("the backend note", `[...root.querySelectorAll('.tb-chip')].some(c => c.textContent.includes('backend unreachable') && c.title.includes('`+down+`'))`)
}
