package caddymodule

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tracebar/tracebar/assets"
	"github.com/tracebar/tracebar/inject"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler records every exchange of an allowed client, traces it, passes
// the trace context upstream, and injects the toolbar into HTML pages. It
// serves the toolbar's UI and API under Prefix.
type Handler struct {
	// Prefix under which the toolbar and its API are served. Default /__tracebar.
	Prefix string `json:"prefix,omitempty"`
	// Allow lists the client networks (CIDR or address) that get the
	// toolbar, its API and the trace headers. Default: loopback. Other
	// clients are proxied untouched.
	Allow []string `json:"allow,omitempty"`
	// Propagators named as in OTEL_PROPAGATORS: tracecontext, baggage, b3,
	// b3multi. Default: OTEL_PROPAGATORS, else tracecontext and baggage.
	Propagators []string `json:"propagators,omitempty"`
	// ServiceName is the service.name of the proxy's spans. Default caddy.
	ServiceName string `json:"service_name,omitempty"`
	// Hosts are the Host names that get the toolbar besides IP literals,
	// localhost and *.localhost ("*.example.test" matches subdomains, "*"
	// any): a guard against DNS rebinding. Not checked when Secret is set.
	Hosts []string `json:"hosts,omitempty"`
	// Secret, when set, turns the toolbar on only for browsers that have
	// visited <prefix>/enable?secret=<Secret> (an HttpOnly, SameSite=Strict
	// cookie), for teams sharing a dev host. Placeholders such as
	// {env.TRACEBAR_SECRET} are replaced.
	Secret string `json:"secret,omitempty"`
	// TraceLink is a URL template for the trace in a tracing backend, with
	// {trace_id} replaced, e.g. http://localhost:16686/trace/{trace_id}
	// (Jaeger). The toolbar links to it.
	TraceLink string `json:"trace_link,omitempty"`

	allow  []netip.Prefix
	prop   propagation.TextMapPropagator
	tp     tracerProvider
	tracer trace.Tracer
	store  *toolbar.Store
	redact *toolbar.Redactor
	ui     http.Handler
	logger *zap.Logger

	guesses     *guessLimit   // wrong secrets at <prefix>/enable
	warnedHosts *atomic.Int64 // Host warnings logged, bounded
}

var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.tracebar", New: func() caddy.Module { return new(Handler) }}
}

// Provision sets defaults, builds the tracer provider and joins the app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.Prefix == "" {
		h.Prefix = "/__tracebar"
	}
	h.Prefix = "/" + strings.Trim(h.Prefix, "/")
	if len(h.Allow) == 0 {
		h.Allow = []string{"127.0.0.0/8", "::1/128"}
	}
	h.allow = h.allow[:0]
	for _, s := range h.Allow {
		p, err := parsePrefix(s)
		if err != nil {
			return fmt.Errorf("tracebar: allow: %w", err)
		}
		h.allow = append(h.allow, p)
	}
	if len(h.Propagators) == 0 {
		h.Propagators = otelbridge.DefaultPropagators()
	}
	prop, err := otelbridge.Propagator(h.Propagators)
	if err != nil {
		return fmt.Errorf("tracebar: propagators: %w", err)
	}
	h.prop = prop
	if h.ServiceName == "" {
		h.ServiceName = "caddy"
	}
	if h.Secret != "" {
		h.Secret = caddy.NewReplacer().ReplaceAll(h.Secret, "")
		if h.Secret == "" {
			return fmt.Errorf("tracebar: secret is empty after replacing placeholders")
		}
		if len(h.Secret) < minSecret {
			return fmt.Errorf("tracebar: secret must have at least %d characters (it guards the toolbar against guessing)", minSecret)
		}
		h.guesses = new(guessLimit)
	}
	h.warnedHosts = new(atomic.Int64)
	for i, host := range h.Hosts {
		if hp, _, err := net.SplitHostPort(host); err == nil {
			host = hp // a Host's port does not matter
		}
		h.Hosts[i] = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	}

	appIface, err := ctx.App("tracebar")
	if err != nil {
		return fmt.Errorf("tracebar: getting app: %w", err)
	}
	app := appIface.(*App)
	h.store = app.Store()
	h.redact = app.Redactor()

	// A debug toolbar shows every request, whatever an incoming sampling
	// flag says: both providers sample all. Spans that are forwarded are
	// the SDK's, which exports them; others go straight to the store.
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(h.ServiceName))
	if f := app.Forwarder(); f != nil {
		h.tp = sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithSpanProcessor(otelbridge.NewStoreProcessor(h.store, res)),
			sdktrace.WithSpanProcessor(f.SpanProcessor()))
	} else {
		h.tp = otelbridge.NewStoreTracerProvider(h.store, res)
	}
	h.tracer = h.tp.Tracer("github.com/tracebar/tracebar")

	api := toolbar.NewAPI(h.store)
	if err := app.configureAPI(api); err != nil {
		return fmt.Errorf("tracebar: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("GET /static/", http.StripPrefix("/static/", assets.Handler()))
	mux.Handle("POST /v1/traces", app.Sink()) // the browser's spans, same origin
	mux.Handle("GET /{$}", assets.Page())
	mux.Handle("GET /requests/{id}", assets.Page())
	h.ui = http.StripPrefix(h.Prefix, mux)
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if h.Prefix == "/" {
		return fmt.Errorf("tracebar: prefix / would hide every page of the site behind the toolbar")
	}
	if strings.ContainsAny(h.Prefix, " \t\"'<>") {
		return fmt.Errorf("tracebar: prefix %q must be a plain path", h.Prefix)
	}
	if h.TraceLink != "" && !strings.HasPrefix(h.TraceLink, "http://") && !strings.HasPrefix(h.TraceLink, "https://") {
		return fmt.Errorf("tracebar: trace_link %q must be an http(s) URL", h.TraceLink)
	}
	return nil
}

// Cleanup shuts the tracer provider down.
func (h *Handler) Cleanup() error {
	if h.tp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.tp.Shutdown(ctx)
}

// tracerProvider is the SDK's provider, or otelbridge's StoreTracerProvider.
type tracerProvider interface {
	trace.TracerProvider
	Shutdown(context.Context) error
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.URL.Path == h.Prefix || strings.HasPrefix(r.URL.Path, h.Prefix+"/") {
		return h.serveToolbar(w, r, next)
	}
	if !h.active(r) {
		return next.ServeHTTP(w, r)
	}
	if h.Secret != "" {
		dropCookie(r)
	}
	// A WebSocket is recorded and its tunnel observed (websocket.go);
	// other tunnels (CONNECT, h2c and other upgrades) go through untouched.
	ws := isWebSocket(r)
	if !ws && (r.Method == http.MethodConnect || headerValue(r.Header, "Upgrade") != "") {
		delete(r.Header, toolbar.ReplayHeader)
		return next.ServeHTTP(w, r)
	}

	start := time.Now()
	ctx := r.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// No active span from Caddy's tracing module: continue the
		// caller's context, if any. (Caddy's span already continues it.)
		ctx = h.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	// Attributes are set once, at the end: one slice instead of growing two.
	ctx, span := h.tracer.Start(ctx, r.Method+" "+r.URL.Path, serverKind, trace.WithTimestamp(start))
	sc := span.SpanContext()
	id, traceID := sc.SpanID().String(), sc.TraceID().String()

	// Let Go's transport decompress pages that may get the toolbar (and
	// HEAD, whose head must be the GET's): the client's Accept-Encoding
	// goes, and the record says so (the uncompressed alert is not the
	// app's doing then).
	dropEncoding := wantsHTML(r)
	x := &exchange{
		h:     h,
		start: start,
		span:  span,
		attrs: requestAttributes(r, h.redact),
		rec: &toolbar.Record{
			ID:            id,
			TraceID:       toolbar.TraceID(sc.TraceID()),
			Method:        r.Method,
			URL:           h.redact.URL(r.URL.RequestURI()),
			Host:          r.Host,
			Proto:         r.Proto,
			RemoteAddr:    r.RemoteAddr,
			StartTime:     start,
			TraceLink:     strings.ReplaceAll(h.TraceLink, "{trace_id}", traceID),
			ClientRequest: h.redact.Header(r.Header),
			ReplayOf:      replayID(headerValue(r.Header, toolbar.ReplayHeader)),

			AcceptEncodingDropped: dropEncoding && headerValue(r.Header, "Accept-Encoding") != "",
		},
	}
	x.publish()

	// The upstream call is a CLIENT span under the server span; the
	// upstream gets its context, never a stale incoming one. If the chain
	// never calls an upstream (file_server, respond), the span is dropped.
	cctx, client := h.tracer.Start(ctx, r.Method+" upstream", clientKind)
	x.client = client
	for _, f := range staleHeaders {
		delete(r.Header, f)
	}
	delete(r.Header, toolbar.ReplayHeader) // the toolbar's, not the app's
	h.prop.Inject(cctx, propagation.HeaderCarrier(r.Header))
	// Behind another Tracebar (edge Caddy → internal Caddy → app), the page
	// gets the outer one's toolbar, which shows the whole trace (with a
	// backend, across both); a second toolbar would cover it.
	x.inner = headerValue(r.Header, outerHeader) != ""
	r.Header[outerHeader] = []string{"1"}
	if dropEncoding {
		delete(r.Header, "Accept-Encoding")
	}
	ctx = httptrace.WithClientTrace(ctx, x.clientTrace())
	r = r.WithContext(ctx)
	x.watchBody(r)
	if ws {
		x.ws = newWSSession()
		if r.Method == http.MethodConnect && r.Body != nil && r.Body != http.NoBody {
			// Extended CONNECT: the client's frames are the request body.
			r.Body = &tunnelBody{ReadCloser: r.Body, flow: &x.ws.fromClient}
		}
	}

	rw := &responseWriter{ResponseWriter: w, x: x, req: r}
	defer func() {
		// reverse_proxy panics with http.ErrAbortHandler when a body
		// breaks off mid-way; finish the record and span, then go on.
		if p := recover(); p != nil {
			err := fmt.Errorf("response aborted: %v", p)
			rw.finish(err)
			x.end(r, rw, err, nil)
			panic(p)
		}
	}()
	err := next.ServeHTTP(rw, r)
	x.end(r, rw, err, rw.finish(err))
	return err
}

// serveToolbar routes every URL under Prefix: the form that takes the
// secret, for allowed clients; the UI, its API and the browser's spans, for
// clients that get the toolbar. For any other client they go on as without
// Tracebar.
func (h *Handler) serveToolbar(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch {
	case h.Secret != "" && r.URL.Path == h.Prefix+"/enable" && h.allowed(r):
		h.enable(w, r)
	case !h.active(r):
		return next.ServeHTTP(w, r)
	case r.URL.Path == h.Prefix:
		http.Redirect(w, r, h.Prefix+"/", http.StatusFound)
	default:
		h.ui.ServeHTTP(w, r)
	}
	return nil
}

// The spans' kinds, as options made once: an option made per request is
// an allocation.
var (
	serverKind = trace.WithSpanKind(trace.SpanKindServer)
	clientKind = trace.WithSpanKind(trace.SpanKindClient)
)

// outerHeader tells a Tracebar further along the request's way that the
// page gets a toolbar already.
const outerHeader = "X-Tracebar-Outer"

// staleHeaders are the propagation headers of every supported format: an
// incoming context never reaches the upstream, whatever is configured.
var staleHeaders = []string{"Traceparent", "Tracestate", "B3", "X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags"}

func wantsHTML(r *http.Request) bool {
	if !inject.WantsDocument(r.Header) {
		return false
	}
	a := headerValue(r.Header, "Accept")
	return strings.Contains(a, "text/html") || strings.Contains(a, "application/xhtml+xml")
}

// headerValue is h.Get(key) for a key in canonical form, as net/http reads
// its own keys: Header's methods canonicalize the key on each call, a
// tenth of Tracebar's cost on a small request (BenchmarkHandlerJSON).
// The keys Tracebar itself sets and deletes are indexed so too.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
