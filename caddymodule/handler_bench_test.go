package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// benchHandler is a Handler as Provision leaves it when nothing is
// forwarded, without a Caddy context.
func benchHandler(b testing.TB) *Handler {
	store := toolbar.NewStore(toolbar.Limits{})
	prop, err := otelbridge.Propagator(otelbridge.DefaultPropagators())
	if err != nil {
		b.Fatal(err)
	}
	h := &Handler{Prefix: "/__tracebar", prop: prop, store: store, redact: toolbar.NewRedactor()}
	for _, s := range []string{"127.0.0.0/8", "::1/128"} {
		p, _ := parsePrefix(s)
		h.allow = append(h.allow, p)
	}
	h.tp = otelbridge.NewStoreTracerProvider(store, resource.Empty())
	h.tracer = h.tp.Tracer("bench")
	return h
}

// upstreamJSON plays reverse_proxy for a small JSON response: the
// transport's httptrace callbacks, then the upstream's head and body.
var upstreamJSON = caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
	if t := httptrace.ContextClientTrace(r.Context()); t != nil {
		t.GetConn("127.0.0.1:9")
		t.GotConn(httptrace.GotConnInfo{Reused: true})
		for k, v := range r.Header {
			t.WroteHeaderField(k, v)
		}
		t.WroteRequest(httptrace.WroteRequestInfo{})
		t.GotFirstResponseByte()
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{"27"}
	h["Etag"] = []string{`"dn5t868ocupu-r"`}
	h["Last-Modified"] = []string{"Fri, 27 Nov 2026 07:20:46 GMT"}
	h["Server"] = []string{"Caddy"}
	h["Vary"] = []string{"Accept-Encoding"}
	h["Via"] = []string{"1.1 Caddy"}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(`{"ok":true,"items":[1,2,3]}`))
	return err
})

type caddyHandler func(http.ResponseWriter, *http.Request) error

func (f caddyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// benchRequest is a browser's small API request from loopback, and the
// context Caddy gives it.
func benchRequest() (*http.Request, context.Context) {
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080/api/items?page=2", nil)
	req.RemoteAddr = "127.0.0.1:50000"
	req.Header = http.Header{
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},
		"Accept":          {"application/json"},
		"Accept-Encoding": {"gzip, deflate, br"},
		"Accept-Language": {"en-US,en;q=0.9"},
		"Cookie":          {"session=" + strings.Repeat("s", 40)},
		"Referer":         {"http://127.0.0.1:8080/"},
	}
	return req, context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer())
}

// BenchmarkHandlerJSON is Tracebar's own cost for one small JSON exchange:
// span, trace context, record and headers, with the upstream played in
// process.
func BenchmarkHandlerJSON(b *testing.B) {
	h := benchHandler(b)
	req, ctx := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		r := req.Clone(ctx)
		if err := h.ServeHTTP(httptest.NewRecorder(), r, upstreamJSON); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerOutsideJSON is the same exchange for a client outside
// allow: what Tracebar costs a request it leaves alone.
func BenchmarkHandlerOutsideJSON(b *testing.B) {
	h := benchHandler(b)
	h.allow = h.allow[:0]
	p, _ := parsePrefix("10.0.0.0/8")
	h.allow = append(h.allow, p)
	req, ctx := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ServeHTTP(httptest.NewRecorder(), req.Clone(ctx), upstreamJSON); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeersJSON is the same exchange with nothing around the upstream
// (plain reverse_proxy's share) and inside otelhttp as Caddy's tracing
// wraps it, with the span batched to an exporter that drops it
// (OTEL_TRACES_EXPORTER=none): the figures BenchmarkHandlerJSON's cost is
// weighed against.
func BenchmarkPeersJSON(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(dropExporter{}))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	traced := otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamJSON.ServeHTTP(w, r)
	}), "", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	for _, bb := range []struct {
		name  string
		serve func(http.ResponseWriter, *http.Request)
	}{
		{"plain", func(w http.ResponseWriter, r *http.Request) { upstreamJSON.ServeHTTP(w, r) }},
		{"tracing", traced.ServeHTTP},
	} {
		b.Run(bb.name, func(b *testing.B) {
			req, ctx := benchRequest()
			b.ReportAllocs()
			for b.Loop() {
				bb.serve(httptest.NewRecorder(), req.Clone(ctx))
			}
		})
	}
}

// dropExporter is what OTEL_TRACES_EXPORTER=none gives Caddy's tracing.
type dropExporter struct{}

func (dropExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropExporter) Shutdown(context.Context) error                             { return nil }
