package tests

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
)

// TestCaddyTracingSpanIsTheParent: with Caddy's own tracing directive
// active, the proxy span continues Caddy's span, which continues the
// incoming context; Caddy's span, exported to the sink by its default
// OTLP endpoint, lands in the same trace.
func TestCaddyTracingSpanIsTheParent(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	cf := strings.Replace(basicCaddyfile, "\ttracebar\n", "\ttracing {\n\t\tspan caddy-tracing\n\t}\n\ttracebar\n", 1)
	e.startCaddy(t, cf, app, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+e.otlpHTTP, "OTEL_BSP_SCHEDULE_DELAY=100")

	const incoming = "00-11111111111111111111111111111111-2222222222222222-01"
	resp, _ := get(t, e.base+"/api/products", "Traceparent", incoming)
	traceID, spanID := traceOf(t, resp)
	if traceID != "11111111111111111111111111111111" {
		t.Fatalf("trace %s, want the incoming one", traceID)
	}
	spans := waitSpans(t, e.base, traceID, all(has("caddy", "GET /api/products"), func(s []span) bool {
		for _, x := range s {
			if x.Name == "caddy-tracing" {
				return true
			}
		}
		return false
	}))
	var tracing span
	for _, s := range spans {
		if s.Name == "caddy-tracing" {
			tracing = s
		}
	}
	proxy, _ := find(spans, "caddy", "GET /api/products")
	if proxy.SpanID != spanID || proxy.ParentSpanID != tracing.SpanID || tracing.ParentSpanID != "2222222222222222" {
		t.Fatalf("want incoming <- tracing <- proxy:%s", describe(spans))
	}
}

// TestReloadKeepsStoreAndSink: `caddy reload` with a changed config keeps
// the recorded requests and the sink's listener.
func TestReloadKeepsStoreAndSink(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	resp, _ := get(t, e.base+"/api/products")
	before, _ := traceOf(t, resp)

	cf := e.writeCaddyfile(t, strings.Replace(basicCaddyfile, "\ttracebar\n", "\ttracebar {\n\t\tservice_name edge\n\t}\n", 1), app)
	out, err := exec.Command(caddyBin, "reload", "--config", cf, "--address", e.admin).CombinedOutput()
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	// The new config answers (a span named by the new service), and the
	// old request is still listed.
	resp, _ = get(t, e.base+"/api/products")
	after, _ := traceOf(t, resp)
	waitSpans(t, e.base, after, has("edge", "GET /api/products"))
	_, list := get(t, e.base+"/__tracebar/api/requests")
	if !bytes.Contains(list, []byte(before)) {
		t.Fatal("requests recorded before the reload are gone")
	}
	// The sink still takes spans for the old trace.
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"late"}}]},"scopeSpans":[{"spans":[{"traceId":%q,"spanId":"00000000000000bb","name":"after reload","startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`,
		before, time.Now().UnixNano(), time.Now().UnixNano())
	r, err := http.Post("http://"+e.otlpHTTP+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("sink after reload: %v %v", err, r)
	}
	waitSpans(t, e.base, before, has("late", "after reload"))

	// A reload that spells the sink's address anew keeps it listening:
	// the new config's listener shares the port with the old one's
	// until that stops.
	_, port, _ := strings.Cut(e.otlpHTTP, ":")
	cf = e.writeCaddyfile(t, strings.Replace(basicCaddyfile, "otlp_http {otlp_http}", "otlp_http localhost:"+port, 1), app)
	if out, err := exec.Command(caddyBin, "reload", "--config", cf, "--address", e.admin).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	body = strings.NewReplacer("after reload", "after respelled reload", "00000000000000bb", "00000000000000bc").Replace(body)
	r, err = http.Post("http://"+e.otlpHTTP+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("sink after a reload that respelled its address: %v %v", err, r)
	}
	waitSpans(t, e.base, before, has("late", "after respelled reload"))
}

// TestForwardToBackend: with `forward`, the proxy's span and the app's
// spans reach the team's backend too (here a second OTLP sink).
func TestForwardToBackend(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	arrived := make(chan struct{}, 100)
	sink := otelbridge.NewSink(store)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink.ServeHTTP(w, r)
		arrived <- struct{}{}
	}))
	defer backend.Close()

	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\t\totlp_grpc {otlp_grpc}\n", "\t\totlp_grpc {otlp_grpc}\n\t\tforward "+backend.URL+"\n", 1), app)
	resp, _ := get(t, e.base+"/", "Accept", "text/html")
	traceID, spanID := traceOf(t, resp)
	id, _ := toolbar.ParseTraceID(traceID)
	deadline := time.After(20 * time.Second)
	for {
		spans, _ := store.Spans(id, 0)
		var proxy, shop bool
		for _, s := range spans {
			proxy = proxy || s.SpanID.String() == spanID
			shop = shop || (s.Name == "SELECT products")
		}
		if proxy && shop {
			break
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("backend got %d spans of the trace; want the proxy's and the app's", len(spans))
		}
	}

	// The app's OTLP log records go on too (the orders page logs a warning).
	resp, _ = get(t, e.base+"/orders", "Accept", "text/html")
	traceID, _ = traceOf(t, resp)
	id, _ = toolbar.ParseTraceID(traceID)
	for {
		if logs, _ := store.Logs(id, 0); len(logs) > 0 {
			return
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatal("backend got no log records of the orders page's trace")
		}
	}
}

// TestSecondCaddyOnTheSinkPortIsAnError: a second Caddy configured with
// the same sink address does not share the port (SO_REUSEPORT would let
// the kernel split the app's exports between the two): it says so at
// start and keeps proxying, and every export reaches the first one.
func TestSecondCaddyOnTheSinkPortIsAnError(t *testing.T) {
	first := newEnv(t)
	app := startDemoApp(t, first.otlpHTTP)
	first.startCaddy(t, basicCaddyfile, app)

	second := newEnv(t)
	second.otlpHTTP, second.otlpGRPC = first.otlpHTTP, first.otlpGRPC
	second.startCaddyLogging(t, basicCaddyfile, app, "OTLP sink not started", "another process listens on "+first.otlpHTTP)
	if resp, _ := get(t, second.base+"/api/products"); resp.StatusCode != 200 {
		t.Fatalf("the second Caddy does not proxy: status %d", resp.StatusCode)
	}

	// Twenty exports on new connections: all land in the first Caddy.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 20 {
		traceID := fmt.Sprintf("%032x", 0xabc000+i)
		body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"app"}}]},"scopeSpans":[{"spans":[{"traceId":%q,"spanId":"00000000000000cc","name":"export %d","startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`,
			traceID, i, time.Now().UnixNano(), time.Now().UnixNano())
		r, err := client.Post("http://"+first.otlpHTTP+"/v1/traces", "application/json", strings.NewReader(body))
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("export %d: %v %v", i, err, r)
		}
		r.Body.Close()
		for _, e := range []*env{first, second} {
			_, got := get(t, e.base+"/__tracebar/api/traces/"+traceID)
			if in := bytes.Contains(got, []byte("export ")); in != (e == first) {
				t.Fatalf("export %d: in the first Caddy's store: %v, in the second's: %v", i, e == first && in, e == second && in)
			}
		}
	}
}
