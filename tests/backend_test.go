package tests

import (
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

// TestJaegerBackendTwoCaddies: a request crosses two Caddy instances with
// an app between them (edge Caddy → shop app → internal Caddy → inventory
// API), the app exporting only to the internal Caddy's sink; both Caddies
// forward to one real Jaeger and read traces back from it (backend).
// Either one's toolbar shows the whole trace as one tree: its own spans
// from its store, the others from Jaeger, marked as such.
func TestJaegerBackendTwoCaddies(t *testing.T) {
	j := startJaeger(t)
	internal, edge := newEnv(t), newEnv(t)

	// The app: the shop's web service, and the inventory API it calls
	// through the internal Caddy.
	web := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	inventory := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	appCmd := start(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + internal.otlpHTTP, "OTEL_BSP_SCHEDULE_DELAY=100"},
		demoappBin, "-addr", web, "-inventory", inventory, "-inventory-url", internal.base)
	waitListening(t, web, appCmd)
	internal.startCaddy(t, twoCaddyBackend("caddy-internal", j.otlpHTTP, j.queryHTTP), inventory, "OTEL_BSP_SCHEDULE_DELAY=100")
	edge.startCaddy(t, twoCaddyBackend("caddy-edge", j.otlpHTTP, j.queryHTTP), web, "OTEL_BSP_SCHEDULE_DELAY=100")

	resp, _ := get(t, edge.base+"/", "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / through the edge: %s", resp.Status)
	}
	traceID, edgeServer := traceOf(t, resp)
	whole := all(has("caddy-edge", "GET /"), has("shop-web", "GET /"), has("shop-web", "SELECT products"),
		has("caddy-internal", "GET /stock"), has("inventory", "GET /stock"), has("inventory", "compute stock"))

	for _, c := range []struct {
		name string
		e    *env
		own  string // the service whose spans this Caddy made itself
	}{{"edge", edge, "caddy-edge"}, {"internal", internal, "caddy-internal"}} {
		t.Run(c.name, func(t *testing.T) {
			spans := waitSpans(t, c.e.base, traceID, whole)
			byID := map[string]span{}
			for _, s := range spans {
				if _, dup := byID[s.SpanID]; dup {
					t.Fatalf("span %s %q twice in the stream:%s", s.Service, s.Name, describe(spans))
				}
				byID[s.SpanID] = s
			}
			for _, s := range spans {
				// The internal Caddy got the app's spans through its sink.
				local := s.Service == c.own || (c.name == "internal" && s.Service != "caddy-edge")
				if got := s.attr("tracebar.source") == "backend"; got == local {
					t.Errorf("span %s %q: marked as from the backend: %v", s.Service, s.Name, got)
				}
			}
			root, _ := find(spans, "caddy-edge", "GET /")
			if root.SpanID != edgeServer || root.ParentSpanID != "" {
				t.Fatalf("the edge's server span is not the root %s:%s", edgeServer, describe(spans))
			}
			parentOf := func(service, name string) span { s, _ := find(spans, service, name); return byID[s.ParentSpanID] }
			if p := parentOf("shop-web", "GET /"); p.Service != "caddy-edge" || p.Kind != 3 {
				t.Errorf("the app's server span is not under the edge's CLIENT span:%s", describe(spans))
			}
			if p := parentOf("caddy-internal", "GET /stock"); p.Service != "shop-web" || p.Kind != 3 {
				t.Errorf("the internal Caddy's span is not under the app's call:%s", describe(spans))
			}
			if p := parentOf("inventory", "GET /stock"); p.Service != "caddy-internal" || p.Kind != 3 {
				t.Errorf("the API's span is not under the internal Caddy's CLIENT span:%s", describe(spans))
			}
			// One tree: every span leads up to the edge's root.
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
		})
	}

	// The trace API answers with the merged trace too.
	tr, body := get(t, edge.base+"/__tracebar/api/traces/"+traceID)
	if _, ok := find(parseOTLP(t, body), "inventory", "GET /stock"); tr.StatusCode != http.StatusOK || !ok {
		t.Fatalf("the edge's trace API (%s) lacks the API's spans:%s", tr.Status, describe(parseOTLP(t, body)))
	}

	// In a browser: the page's toolbar shows the whole request in its
	// waterfall, the spans from Jaeger marked.
	t.Run("browser", func(t *testing.T) {
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(edge.base+"/")); err != nil {
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
		chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`(root.querySelector('.tb-panel') && root.querySelector('.tb-panel').offsetParent) || root.querySelector('.tb-badge').click()`)))
		chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](shadow(`root.querySelector('.tb-tab[data-tab=trace]').click()`)))
		row := func(service, name string) string {
			return `[...root.querySelectorAll('.tb-span')].find(r => r.querySelector('.tb-svc').textContent === '` + service + `' && r.querySelector('.tb-sn').textContent === '` + name + `')`
		}
		wait("the API's and the internal Caddy's spans from Jaeger, marked", row("inventory", "GET /stock")+` && `+row("inventory", "GET /stock")+`.querySelector('.tb-bk') && `+
			row("caddy-internal", "GET /stock")+` && `+row("caddy-internal", "GET /stock")+`.querySelector('.tb-bk')`)
		edgeRow := row("caddy-edge", "GET /")
		wait("the edge's root, unmarked", edgeRow+` && !`+edgeRow+`.querySelector('.tb-bk') && `+edgeRow+`.getAttribute('aria-level') === '1'`)
		wait("the API nested under both proxies and the app", `+(`+row("inventory", "GET /stock")+` || {getAttribute: () => 0}).getAttribute('aria-level') >= 7`)
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

	var spans []span
	var backend struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	gotBackend := false
	followEvents(t, traceStream(e.base, traceID), func(event, data string) bool {
		switch event {
		case "spans":
			spans = append(spans, parseOTLP(t, []byte(data))...)
		case "backend":
			if err := json.Unmarshal([]byte(data), &backend); err != nil {
				t.Fatalf("backend event %q: %v", data, err)
			}
			gotBackend = true
		}
		return gotBackend && has("shop-web", "SELECT products")(spans)
	}, func() string { return fmt.Sprintf("backend event %v, local spans:%s", gotBackend, describe(spans)) })
	if backend.OK || !strings.Contains(backend.Error, down) {
		t.Fatalf("backend event %+v, want ok false naming %s", backend, down)
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
