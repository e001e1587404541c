package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestZipkinForwardToJaeger: with `forward zipkin://` pointing at the
// Zipkin receiver of a real Jaeger v2 (an OpenTelemetry Collector
// distribution, whose receiver is the Collector's), the proxy's spans
// (through the SDK's batch processor) and the demo app's (which reach
// Jaeger only through Tracebar's OTLP sink) arrive as Zipkin v2 JSON and
// form one trace there: every parent link intact, the kinds (INTERNAL
// too), the app's attributes as tags, the upstream's address as the
// remote endpoint, an event's attributes as its log's fields. No batch was
// dropped (/api/stats).
func TestZipkinForwardToJaeger(t *testing.T) {
	j := startJaeger(t)

	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	cf := strings.Replace(basicCaddyfile, "\t\totlp_grpc {otlp_grpc}\n", "\t\totlp_grpc {otlp_grpc}\n\t\tforward zipkin://"+j.zipkin+"\n", 1)
	// The proxy's spans go through the SDK's batch processor: flush soon.
	e.startCaddy(t, cf, app, "OTEL_BSP_SCHEDULE_DELAY=100")

	resp, _ := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	traceID, serverID := traceOf(t, resp)

	// Zipkin keeps span names in lower case (zipkin-go's JSON, like
	// Zipkin's server, writes them so).
	type want struct{ service, operation, kind string }
	wants := []want{
		{"caddy", "get /", "server"},
		{"caddy", "get upstream", "client"},
		{"shop-web", "get /", "server"},
		{"shop-web", "select products", "client"},
		{"shop-web", "render index.html", "internal"},
		{"inventory", "get /stock", "server"},
		{"inventory", "compute stock", "internal"},
	}
	var spans []jaegerSpan
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		spans, body = j.trace(t, traceID)
		missing := ""
		for _, w := range wants {
			if _, ok := findJaeger(spans, w.service, w.operation, w.kind); !ok {
				missing = fmt.Sprintf("%s %q (%s)", w.service, w.operation, w.kind)
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s Jaeger's trace %s lacks %s:%s\n%.3000s", traceID, missing, describeJaeger(spans), body)
		}
		time.Sleep(100 * time.Millisecond) // polling Jaeger's API: there is no push
	}

	byID := map[string]jaegerSpan{}
	for _, s := range spans {
		if !sameID(s.TraceID, traceID) {
			t.Errorf("span %s %q has trace %s, want %s", s.Service, s.Operation, s.TraceID, traceID)
		}
		byID[s.SpanID] = s
	}
	proxy, _ := findJaeger(spans, "caddy", "get /", "server")
	upstream, _ := findJaeger(spans, "caddy", "get upstream", "client")
	web, _ := findJaeger(spans, "shop-web", "get /", "server")
	query, _ := findJaeger(spans, "shop-web", "select products", "client")
	render, _ := findJaeger(spans, "shop-web", "render index.html", "internal")
	stock, _ := findJaeger(spans, "inventory", "get /stock", "server")
	compute, _ := findJaeger(spans, "inventory", "compute stock", "internal")
	switch {
	case proxy.SpanID != serverID || proxy.parent() != "":
		t.Fatalf("the proxy's server span is not the root %s of traceresponse:%s", serverID, describeJaeger(spans))
	case upstream.parent() != proxy.SpanID:
		t.Fatalf("the proxy's CLIENT span is not the server span's child:%s", describeJaeger(spans))
	case web.parent() != upstream.SpanID:
		t.Fatalf("the app's server span is not the child of the proxy's CLIENT span:%s", describeJaeger(spans))
	case query.parent() != web.SpanID || render.parent() != web.SpanID:
		t.Fatalf("the app's query and render spans are not the children of its server span:%s", describeJaeger(spans))
	case byID[stock.parent()].Service != "shop-web":
		t.Fatalf("the inventory's server span is not the child of a shop-web span:%s", describeJaeger(spans))
	case compute.parent() != stock.SpanID:
		t.Fatalf("compute stock is not the child of the inventory's server span:%s", describeJaeger(spans))
	}
	// One tree: every span leads up to the proxy's server span.
	for _, s := range spans {
		x, hops := s, 0
		for x.parent() != "" && hops < len(spans) {
			p, ok := byID[x.parent()]
			if !ok {
				t.Fatalf("span %s %q: parent %s not in Jaeger's trace:%s", s.Service, s.Operation, x.parent(), describeJaeger(spans))
			}
			x, hops = p, hops+1
		}
		if x.SpanID != proxy.SpanID {
			t.Fatalf("span %s %q is not under the proxy's server span:%s", s.Service, s.Operation, describeJaeger(spans))
		}
	}

	// Attributes came as tags; the upstream's address as the remote
	// endpoint, which the Collector's receiver reads into net.peer.*.
	if q := query.tag("db.query.text"); q != "SELECT id, name, price_cents FROM products ORDER BY id" {
		t.Errorf("select products: db.query.text %q", q)
	}
	if render.tag("template.name") != "index" {
		t.Errorf("render index.html: template.name %q", render.tag("template.name"))
	}
	host, port, _ := strings.Cut(app, ":")
	if upstream.tag("net.peer.ip") != host || upstream.tag("net.peer.port") != port || upstream.tag("server.address") != host {
		t.Errorf("get upstream: net.peer.ip %q net.peer.port %q server.address %q, want %s and %s",
			upstream.tag("net.peer.ip"), upstream.tag("net.peer.port"), upstream.tag("server.address"), host, port)
	}
	// The event "cache miss" and its attribute, as a log with its fields.
	var event, key string
	for _, l := range compute.Logs {
		for _, f := range l.Fields {
			switch f.Key {
			case "event":
				event = fmt.Sprint(f.Value)
			case "cache.key":
				key = fmt.Sprint(f.Value)
			}
		}
	}
	if event != "cache miss" || key != "stock:all" {
		t.Errorf("compute stock's event %q with cache.key %q, want \"cache miss\" and stock:all: %+v", event, key, compute.Logs)
	}

	_, stats := get(t, e.base+"/__tracebar/api/stats")
	if !strings.Contains(string(stats), `"forwardDroppedBatches":0`) {
		t.Errorf("stats %s, want forwardDroppedBatches 0", stats)
	}
}
