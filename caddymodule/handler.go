package caddymodule

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tracebar/tracebar/assets"
	"github.com/tracebar/tracebar/inject"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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
	tp     *sdktrace.TracerProvider
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

	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(h.ServiceName))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		// A debug toolbar shows every request, whatever an incoming
		// sampling flag says.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(otelbridge.NewStoreProcessor(h.store, res)),
	}
	if f := app.Forwarder(); f != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(f.SpanProcessor()))
	}
	h.tp = sdktrace.NewTracerProvider(opts...)
	h.tracer = h.tp.Tracer("github.com/tracebar/tracebar")

	api := toolbar.NewAPI(h.store)
	if f := app.Forwarder(); f != nil {
		api.ForwardDropped = f.Dropped
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
	if h.Secret != "" && r.URL.Path == h.Prefix+"/enable" && h.allowed(r) {
		h.enable(w, r)
		return nil
	}
	if !h.active(r) {
		return next.ServeHTTP(w, r)
	}
	if h.Secret != "" {
		dropCookie(r)
	}
	if r.URL.Path == h.Prefix {
		http.Redirect(w, r, h.Prefix+"/", http.StatusFound)
		return nil
	}
	if strings.HasPrefix(r.URL.Path, h.Prefix+"/") {
		h.ui.ServeHTTP(w, r)
		return nil
	}
	// Never wrap tunnels: WebSocket and CONNECT go through untouched.
	if r.Method == http.MethodConnect || r.Header.Get("Upgrade") != "" {
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
	ctx, span := h.tracer.Start(ctx, r.Method+" "+r.URL.Path,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start))
	sc := span.SpanContext()
	id, traceID := sc.SpanID().String(), sc.TraceID().String()

	x := &exchange{
		h:     h,
		start: start,
		span:  span,
		attrs: requestAttributes(r, h.redact),
		rec: toolbar.Record{
			ID:            id,
			TraceID:       traceID,
			SpanID:        id,
			Method:        r.Method,
			URL:           h.redact.URL(r.URL.RequestURI()),
			Host:          r.Host,
			Proto:         r.Proto,
			RemoteAddr:    r.RemoteAddr,
			StartTime:     start,
			TraceLink:     strings.ReplaceAll(h.TraceLink, "{trace_id}", traceID),
			ClientRequest: h.redact.Header(r.Header),
		},
	}
	x.publish()

	// The upstream call is a CLIENT span under the server span; the
	// upstream gets its context, never a stale incoming one. If the chain
	// never calls an upstream (file_server, respond), the span is dropped.
	cctx, client := h.tracer.Start(ctx, r.Method+" upstream", trace.WithSpanKind(trace.SpanKindClient))
	x.client = client
	for _, f := range staleHeaders {
		r.Header.Del(f)
	}
	h.prop.Inject(cctx, propagation.HeaderCarrier(r.Header))
	// Let Go's transport decompress pages that may get the toolbar (and
	// HEAD, whose head must be the GET's).
	if wantsHTML(r) {
		r.Header.Del("Accept-Encoding")
	}
	ctx = httptrace.WithClientTrace(ctx, x.clientTrace())
	r = r.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &x.reqBytes}
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

// staleHeaders are the propagation headers of every supported format: an
// incoming context never reaches the upstream, whatever is configured.
var staleHeaders = []string{"Traceparent", "Tracestate", "B3", "X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags"}

func wantsHTML(r *http.Request) bool {
	if !inject.WantsDocument(r.Header) {
		return false
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "text/html") || strings.Contains(a, "application/xhtml+xml")
}

func requestAttributes(r *http.Request, redact *toolbar.Redactor) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := make([]attribute.KeyValue, 0, 10) // room for the response's two
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme),
		semconv.ServerAddress(r.Host),
		semconv.NetworkProtocolVersion(strings.TrimPrefix(r.Proto, "HTTP/")),
	)
	if q := r.URL.RawQuery; q != "" {
		attrs = append(attrs, semconv.URLQuery(redact.Query(q)))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddress(host))
	}
	return attrs
}

// exchange is the proxy's working state for one request; rec is published
// to the store as copies.
type exchange struct {
	h      *Handler
	start  time.Time
	span   trace.Span // the SERVER span
	attrs  []attribute.KeyValue
	client trace.Span // the CLIENT span of the upstream call

	reqBytes atomic.Int64 // the transport may read the body in its own goroutine

	mu  sync.Mutex // guards what follows against httptrace callbacks
	rec toolbar.Record

	upstream       toolbar.Headers // as written upstream, redacted at the end
	upstreamCalled bool
	phases         [phaseCount]time.Time
	connectErr     error
}

// Phases of the upstream round trip that httptrace reports. The network
// ones become events of the CLIENT span when they happened.
const (
	dnsStart = iota
	dnsDone
	connectStart
	connectDone
	tlsStart
	tlsDone
	firstByte
	phaseCount
)

var phaseNames = [phaseCount]string{"dns.start", "dns.done", "connect.start", "connect.done", "tls.start", "tls.done", "response.first_byte"}

func (x *exchange) publish() {
	x.mu.Lock()
	rec := x.rec
	x.mu.Unlock()
	x.h.store.PutRequest(&rec)
}

func (x *exchange) since(t time.Time) float64 { return toolbar.Millis(t.Sub(x.start)) }

// clientTrace observes the upstream round trip (reverse_proxy passes the
// request context to its transport): the headers as sent, DNS, connect,
// TLS and time to first byte. The callbacks only note times; end turns
// them into the record's timing and the CLIENT span's events. A second
// round trip (a retry) starts the record's timing over; the span keeps
// every one.
func (x *exchange) clientTrace() *httptrace.ClientTrace {
	phase := func(p int) {
		now := time.Now()
		x.mu.Lock()
		x.phases[p] = now
		x.mu.Unlock()
	}
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			now := time.Now()
			x.mu.Lock()
			if x.upstreamCalled { // a retry, or a second call (forward_auth): the first stays on the span
				x.phaseEvents()
				x.client.AddEvent("next_round_trip", trace.WithTimestamp(now))
			}
			x.upstreamCalled = true
			if x.upstream == nil {
				x.upstream = make(toolbar.Headers, 0, 16)
			}
			x.upstream = x.upstream[:0]
			x.phases = [phaseCount]time.Time{}
			x.connectErr = nil
			x.rec.Timing = toolbar.Timing{UpstreamStartMs: x.since(now)}
			x.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			x.mu.Lock()
			x.rec.Timing.ConnReused = info.Reused
			x.mu.Unlock()
		},
		DNSStart:          func(httptrace.DNSStartInfo) { phase(dnsStart) },
		DNSDone:           func(httptrace.DNSDoneInfo) { phase(dnsDone) },
		TLSHandshakeStart: func() { phase(tlsStart) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { phase(tlsDone) },
		// Dialing may try several addresses, even at once (happy
		// eyeballs): connect spans from the first try to the connection
		// that worked, or to the last failure if none did.
		ConnectStart: func(string, string) {
			now := time.Now()
			x.mu.Lock()
			if x.phases[connectStart].IsZero() {
				x.phases[connectStart] = now
			}
			x.mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			now := time.Now()
			x.mu.Lock()
			// A dial of an earlier round trip may report late: not this one's.
			if !x.phases[connectStart].IsZero() && (x.phases[connectDone].IsZero() || x.connectErr != nil) {
				x.phases[connectDone], x.connectErr = now, err
			}
			x.mu.Unlock()
		},
		WroteHeaderField: func(key string, value []string) {
			key = http.CanonicalHeaderKey(key)
			x.mu.Lock()
			for _, v := range value {
				x.upstream = append(x.upstream, toolbar.HeaderField{Name: key, Value: v})
			}
			x.mu.Unlock()
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			now := time.Now()
			x.mu.Lock()
			x.rec.Timing.WroteRequestMs = x.since(now)
			x.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			now := time.Now()
			x.mu.Lock()
			x.phases[firstByte] = now
			x.rec.Timing.FirstByteMs = x.since(now)
			x.mu.Unlock()
		},
	}
}

// phaseEvents adds the phases that happened to the CLIENT span, and their
// lengths to the record. x.mu is held.
func (x *exchange) phaseEvents() {
	t, timing := &x.phases, &x.rec.Timing
	length := func(from, to int) float64 {
		if t[from].IsZero() || t[to].IsZero() {
			return 0
		}
		return toolbar.Millis(t[to].Sub(t[from]))
	}
	timing.DNSMs, timing.ConnectMs, timing.TLSMs = length(dnsStart, dnsDone), length(connectStart, connectDone), length(tlsStart, tlsDone)
	for p, at := range t {
		if at.IsZero() {
			continue
		}
		if p == connectDone && x.connectErr != nil {
			x.client.AddEvent(phaseNames[p], trace.WithTimestamp(at), trace.WithAttributes(attribute.String("error.message", x.connectErr.Error())))
			continue
		}
		x.client.AddEvent(phaseNames[p], trace.WithTimestamp(at))
	}
}

// end completes the record and the span. err is the handler chain's;
// sendErr that of passing the body on to the client.
func (x *exchange) end(r *http.Request, rw *responseWriter, err, sendErr error) {
	now := time.Now()
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	x.mu.Lock()
	rec := &x.rec
	rec.Done = true
	rec.Status = rw.status
	if rec.Status == 0 && err == nil {
		rec.Status = http.StatusOK // nothing written: net/http answers 200
	}
	if err == nil && sendErr != nil {
		rec.Error = "sending the response: " + sendErr.Error()
	}
	if err != nil {
		rec.Error = err.Error()
		if rec.Status == 0 {
			// Caddy's error handling will answer; report its status.
			rec.Status = http.StatusInternalServerError
			var he caddyhttp.HandlerError
			if errors.As(err, &he) && he.StatusCode != 0 {
				rec.Status = he.StatusCode
			}
		}
	}
	rec.DurationMs = toolbar.Millis(now.Sub(x.start))
	rec.Timing.TotalMs = rec.DurationMs
	rec.RequestBytes = x.reqBytes.Load()
	rec.ResponseBytes = rw.bodyBytes
	rec.ClientBytes = rw.clientBytes
	if x.upstreamCalled {
		rec.UpstreamRequest = x.h.redact.Fields(x.upstream)
		x.phaseEvents()
	} else if repl != nil {
		if _, ok := repl.Get("http.reverse_proxy.upstream.hostport"); ok {
			// A transport without httptrace: php_fastcgi's.
			rec.UpstreamRequest, rec.UpstreamParams = x.fastCGIRequest(r, repl)
		}
	}
	if repl != nil {
		if d, ok := repl.Get("http.reverse_proxy.upstream.latency"); ok {
			if d, ok := d.(time.Duration); ok {
				rec.Timing.UpstreamLatency = toolbar.Millis(d)
			}
		}
		if d, ok := repl.Get("http.reverse_proxy.upstream.duration"); ok {
			if d, ok := d.(time.Duration); ok {
				rec.Timing.UpstreamTotal = toolbar.Millis(d)
			}
		}
	}
	status := rec.Status
	upstreamCalled := x.upstreamCalled
	x.mu.Unlock()

	// Transports without httptrace (php_fastcgi's) still set the upstream.
	hostport := ""
	if repl != nil {
		hostport, _ = repl.GetString("http.reverse_proxy.upstream.hostport")
	}
	if upstreamCalled || hostport != "" {
		if repl != nil {
			if host, port, err := net.SplitHostPort(hostport); err == nil {
				x.client.SetAttributes(attribute.String("server.address", host), attribute.String("server.port", port))
			}
			if code, ok := repl.Get("http.reverse_proxy.status_code"); ok {
				if code, ok := code.(int); ok {
					x.client.SetAttributes(semconv.HTTPResponseStatusCode(code))
					if code >= 400 { // a client span's error, by the semantic conventions
						x.client.SetStatus(codes.Error, http.StatusText(code))
					}
				}
			}
		}
		if err != nil {
			x.client.SetStatus(codes.Error, err.Error())
		}
		x.client.End(trace.WithTimestamp(now))
	}

	x.span.SetAttributes(append(x.attrs,
		semconv.HTTPResponseStatusCode(status),
		attribute.Int64("http.response.body.size", rw.clientBytes),
	)...)
	if status >= 500 {
		x.span.SetStatus(codes.Error, http.StatusText(status))
	}
	if err != nil {
		x.span.RecordError(err)
		x.span.SetStatus(codes.Error, err.Error())
	}
	x.span.End(trace.WithTimestamp(now))
	x.publish()
}

// countingBody counts request body bytes as the handler chain reads them.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
