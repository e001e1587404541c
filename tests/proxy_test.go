package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// tagRE matches the tags Tracebar inserts; toolbarTagRE the one before </body>.
var (
	tagRE        = regexp.MustCompile(`<script src="/__tracebar/static/(?:toolbar|hook)\.js\?v=[0-9a-f]{12}"[^>]*></script>`)
	toolbarTagRE = regexp.MustCompile(`<script src="/__tracebar/static/toolbar\.js\?v=[0-9a-f]{12}"[^>]*></script>`)
	hookTagRE    = regexp.MustCompile(`<script src="/__tracebar/static/hook\.js\?v=[0-9a-f]{12}"[^>]*></script>`)
)

// TestGoAppEndToEnd: a page through the proxy carries the toolbar and the
// trace headers, the exchange is recorded, and the app's spans (its server
// span, SQL query, call to a second service) come back under the proxy's span.
func TestGoAppEndToEnd(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)

	const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	resp, body := get(t, e.base+"/", "Accept", "text/html", "Traceparent", incoming, "Authorization", "Bearer s3cret")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	traceID, spanID := traceOf(t, resp)
	if traceID != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("trace %s does not continue the incoming traceparent", traceID)
	}
	if st := resp.Header.Get("Server-Timing"); !strings.Contains(st, `traceparent;desc="00-`+traceID+"-"+spanID) || !strings.Contains(st, "dur=") {
		t.Fatalf("Server-Timing %q lacks the traceparent and the proxy's duration", st)
	}

	// The page is the app's page plus exactly one tag, before </body>.
	tags := toolbarTagRE.FindAll(body, -1)
	if len(tags) != 1 {
		t.Fatalf("want one toolbar tag, found %d in %s", len(tags), body)
	}
	if !bytes.Contains(body, append(tags[0], []byte("</body>")...)) {
		t.Fatalf("tag not right before </body>")
	}
	// The fetch hook runs first: right after <head>.
	if hook := hookTagRE.Find(body); hook == nil || !bytes.Contains(body, append([]byte("<head>"), hook...)) || !bytes.Contains(hook, []byte(`data-tracebar-trace="`+traceID+`"`)) {
		t.Fatalf("hook tag missing after <head> or without the trace id:\n%s", body)
	}
	_, direct := get(t, "http://"+app+"/", "Accept", "text/html")
	if got := tagRE.ReplaceAll(body, nil); !bytes.Equal(got, direct) {
		t.Fatalf("page minus the tag differs from the app's page:\n%s\n---\n%s", got, direct)
	}

	spans := waitSpans(t, e.base, traceID, all(
		has("caddy", "GET /"), has("caddy", "GET upstream"), has("shop-web", "GET /"), has("shop-web", "SELECT products"),
		has("shop-web", "render index.html"), has("inventory", "GET /stock"), has("inventory", "compute stock")))
	proxy, _ := find(spans, "caddy", "GET /")
	if proxy.SpanID != spanID || proxy.ParentSpanID != "b7ad6b7169203331" || proxy.Kind != 2 {
		t.Fatalf("proxy span %+v: want id %s, parent b7ad6b7169203331, kind server", proxy, spanID)
	}
	client, _ := find(spans, "caddy", "GET upstream")
	if client.ParentSpanID != spanID || client.Kind != 3 || client.attr("server.address")+":"+client.attr("server.port") != app {
		t.Fatalf("proxy's CLIENT span %+v: want kind client under %s, server.address %s", client, spanID, app)
	}
	appSpan, _ := find(spans, "shop-web", "GET /")
	if appSpan.ParentSpanID != client.SpanID {
		t.Fatalf("app server span's parent is %s, want the proxy's CLIENT span %s", appSpan.ParentSpanID, client.SpanID)
	}
	sql, _ := find(spans, "shop-web", "SELECT products")
	if sql.attr("db.query.text") == "" || sql.ParentSpanID != appSpan.SpanID {
		t.Fatalf("SQL span %+v: want db.query.text and the app span as parent", sql)
	}
	for _, s := range spans {
		if s.TraceID != traceID {
			t.Fatalf("span %s in trace %s, want %s", s.Name, s.TraceID, traceID)
		}
	}

	// The exchange is recorded: listed first among the proxied requests
	// (the harness's readiness probe of the app, a trace no proxied
	// request started, may come later as a background record), and in
	// full with its headers.
	_, list := get(t, e.base+"/__tracebar/api/requests")
	var reqs []struct {
		ID, TraceID, Method, URL, Kind string
		Status                         int
		DurationMs                     float64
		StartTime                      string
	}
	if err := json.Unmarshal(list, &reqs); err != nil || len(reqs) == 0 {
		t.Fatalf("requests list %s: %v", list, err)
	}
	for len(reqs) > 1 && reqs[0].Kind == "background" {
		reqs = reqs[1:]
	}
	if r := reqs[0]; r.ID != spanID || r.TraceID != traceID || r.Method != "GET" || r.URL != "/" || r.Status != 200 || r.DurationMs <= 0 || r.StartTime == "" {
		t.Fatalf("newest request %+v is not this page", r)
	}
	_, full := get(t, e.base+"/__tracebar/api/requests/"+spanID)
	var rec struct {
		Injected   bool
		DurationMs float64 `json:"durationMs"`
		Timing     struct {
			UpstreamLatency float64 `json:"upstreamLatencyMs"`
		}
		ClientRequest    map[string][]string `json:"clientRequestHeaders"`
		UpstreamRequest  map[string][]string `json:"upstreamRequestHeaders"`
		UpstreamResponse map[string][]string `json:"upstreamResponseHeaders"`
		ClientResponse   map[string][]string `json:"clientResponseHeaders"`
	}
	if err := json.Unmarshal(full, &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.Injected || rec.Timing.UpstreamLatency <= 0 || rec.DurationMs < rec.Timing.UpstreamLatency {
		t.Fatalf("record timing/injection wrong: %s", full)
	}
	if got := rec.ClientRequest["Traceparent"]; len(got) != 1 || got[0] != incoming {
		t.Fatalf("client request traceparent %v, want the incoming one", got)
	}
	if got := rec.UpstreamRequest["Traceparent"]; len(got) != 1 || got[0] != "00-"+traceID+"-"+client.SpanID+"-01" {
		t.Fatalf("upstream got traceparent %v, want the proxy's CLIENT span", got)
	}
	if got := rec.ClientRequest["Authorization"]; len(got) != 1 || got[0] != "[redacted]" {
		t.Fatalf("Authorization stored as %v", got)
	}
	if bytes.Contains(full, []byte("s3cret")) {
		t.Fatal("a secret header value reached the API")
	}
	if rec.UpstreamResponse["Content-Type"] == nil || rec.ClientResponse["Traceresponse"] == nil || rec.UpstreamResponse["Traceresponse"] != nil {
		t.Fatalf("response headers not recorded at both sides: %s", full)
	}

	// An unknown trace is a 404.
	if r, _ := get(t, e.base+"/__tracebar/api/traces/0123456789abcdef0123456789abcdef"); r.StatusCode != 404 {
		t.Fatalf("unknown trace: status %d", r.StatusCode)
	}
}

// TestNonHTMLPassesByteIdentical: JSON is not touched, but still traced.
func TestNonHTMLPassesByteIdentical(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	resp, body := get(t, e.base+"/api/products", "Accept", "*/*")
	_, direct := get(t, "http://"+app+"/api/products")
	if !bytes.Equal(body, direct) {
		t.Fatalf("JSON changed:\n%s\n%s", body, direct)
	}
	if resp.Header.Get("Traceresponse") == "" {
		t.Fatal("JSON response lacks traceresponse")
	}
}

// TestClientsOutsideAllowAreProxiedUntouched: no headers, no toolbar, and
// the prefix goes to the upstream.
func TestClientsOutsideAllowAreProxiedUntouched(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\ttracebar\n", "\ttracebar {\n\t\tallow 10.0.0.0/8\n\t}\n", 1), app)
	resp, body := get(t, e.base+"/", "Accept", "text/html")
	if resp.Header.Get("Traceresponse") != "" || tagRE.Match(body) {
		t.Fatal("a client outside allow got the toolbar")
	}
	if resp, _ := get(t, e.base+"/__tracebar/api/requests"); resp.StatusCode != 404 {
		t.Fatalf("prefix not passed to the upstream for outsiders: status %d", resp.StatusCode)
	}
}

// TestB3Propagation: with b3multi the upstream gets X-B3-* of the proxy span,
// and an incoming B3 context is continued.
func TestB3Propagation(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\ttracebar\n", "\ttracebar {\n\t\tpropagators b3multi tracecontext\n\t}\n", 1), app)
	resp, _ := get(t, e.base+"/api/products", "X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId", "a2fb4a1d1a96d312", "X-B3-Sampled", "1")
	traceID, spanID := traceOf(t, resp)
	if traceID != "463ac35c9f6413ad48485a3953bb6124" {
		t.Fatalf("B3 context not continued: trace %s", traceID)
	}
	client, _ := find(waitSpans(t, e.base, traceID, has("caddy", "GET upstream")), "caddy", "GET upstream")
	_, full := get(t, e.base+"/__tracebar/api/requests/"+spanID)
	var rec struct {
		UpstreamRequest map[string][]string `json:"upstreamRequestHeaders"`
	}
	json.Unmarshal(full, &rec)
	if got := rec.UpstreamRequest["X-B3-Spanid"]; len(got) != 1 || got[0] != client.SpanID || client.ParentSpanID != spanID {
		t.Fatalf("upstream X-B3-SpanId %v, want the CLIENT span %s under %s (headers %v)", got, client.SpanID, spanID, rec.UpstreamRequest)
	}
}

// TestPrefixServesPageAndTakesBrowserSpans: under the prefix, Caddy serves
// the standalone page, links every response to it, and takes the
// browser's spans as OTLP/JSON into the same trace as the proxy's.
func TestPrefixServesPageAndTakesBrowserSpans(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	resp, _ := get(t, e.base+"/api/products")
	traceID, spanID := traceOf(t, resp)
	link := resp.Header.Get("X-Tracebar-Link")
	if link != "/__tracebar/requests/"+spanID {
		t.Fatalf("X-Tracebar-Link %q, want the request's page", link)
	}
	for _, path := range []string{link, "/__tracebar/"} {
		page, body := get(t, e.base+path)
		if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<html")) {
			t.Fatalf("%s: %d %q", path, page.StatusCode, page.Header.Get("Content-Type"))
		}
	}

	browser := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"browser"}}]},
	 "scopeSpans":[{"spans":[{"traceId":"` + traceID + `","spanId":"00f067aa0ba902b7","parentSpanId":"` + spanID + `",
	 "name":"documentLoad","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
	post, err := http.Post(e.base+"/__tracebar/v1/traces", "application/json", strings.NewReader(browser))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != 200 {
		t.Fatalf("browser span intake: status %d", post.StatusCode)
	}
	span, _ := find(waitSpans(t, e.base, traceID, has("browser", "documentLoad")), "browser", "documentLoad")
	if span.ParentSpanID != spanID {
		t.Fatalf("browser span parent %s, want the proxy's span %s", span.ParentSpanID, spanID)
	}
}
