package caddymodule

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

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

// exchange is the proxy's working state for one request. rec is published
// to the store as a copy while the exchange is in flight, and handed over
// at its end: from then on the exchange writes only its own fields (a late
// httptrace callback writes timing, which no record shares).
type exchange struct {
	h      *Handler
	start  time.Time
	span   trace.Span // the SERVER span
	attrs  []attribute.KeyValue
	client trace.Span // the CLIENT span of the upstream call
	inner  bool       // another Tracebar before this one puts in the toolbar

	reqBytes atomic.Int64 // the transport may read the body in its own goroutine
	body     *captureBody // a form or JSON body captured for replay, or nil

	// A session's observers: ws for a WebSocket request (its flows count
	// once the upgrade happened), sse once the response turned out to be
	// an event stream. The record's Session points at session.
	ws      *wsSession
	sse     *sseCounter
	session *toolbar.Session

	mu     sync.Mutex // guards what follows against httptrace callbacks
	rec    *toolbar.Record
	timing toolbar.Timing // the record's, until it is published

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

// publish puts a copy of the record in flight in the store.
func (x *exchange) publish() {
	x.mu.Lock()
	rec := *x.rec
	rec.Timing = x.timing
	if rec.Session != nil {
		s := *rec.Session // the published record never changes
		rec.Session = &s
	}
	x.mu.Unlock()
	x.h.store.PutRequest(&rec)
}

// openSession marks the exchange a session of kind (toolbar.RecordWebSocket
// or RecordSSE) that opened now, and publishes it, in flight.
func (x *exchange) openSession(kind string) {
	now := time.Now()
	x.mu.Lock()
	x.rec.Kind = kind
	x.session = &toolbar.Session{OpenedAt: now}
	x.rec.Session = x.session
	x.mu.Unlock()
	x.publish()
}

// closeSession fills the session's figures at its end. x.mu is held.
func (x *exchange) closeSession(now time.Time) {
	s := x.session
	s.ClosedAt = now
	s.DurationMs = toolbar.Millis(now.Sub(s.OpenedAt))
	switch {
	case x.ws != nil:
		x.ws.figures(s)
	case x.sse != nil:
		s.ClientToServer = toolbar.Flow{Bytes: x.reqBytes.Load()}
		s.ServerToClient = toolbar.Flow{Bytes: x.sse.bytes, Messages: x.sse.events}
	}
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
			x.timing = toolbar.Timing{UpstreamStartMs: x.since(now)}
			x.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			x.mu.Lock()
			x.timing.ConnReused = info.Reused
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
			x.timing.WroteRequestMs = x.since(now)
			x.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			now := time.Now()
			x.mu.Lock()
			x.phases[firstByte] = now
			x.timing.FirstByteMs = x.since(now)
			x.mu.Unlock()
		},
	}
}

// phaseEvents adds the phases that happened to the CLIENT span, and their
// lengths to the record. x.mu is held.
func (x *exchange) phaseEvents() {
	t, timing := &x.phases, &x.timing
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
	var body *toolbar.Body
	if x.body != nil {
		body = x.body.finish(x.h.redact)
	}
	x.mu.Lock()
	rec := x.rec
	rec.Done = true
	rec.RequestBody = body
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
	if rec.Session != nil {
		x.closeSession(now)
	}
	rec.RequestBytes = x.reqBytes.Load()
	rec.ResponseBytes = rw.bodyBytes
	rec.ClientBytes = rw.clientBytes
	if x.upstreamCalled {
		rec.UpstreamRequest = x.h.redact.Fields(x.upstream)
		x.upstream = nil // the record's now
		x.phaseEvents()
	} else if repl != nil {
		if _, ok := repl.Get("http.reverse_proxy.upstream.hostport"); ok {
			// A transport without httptrace: php_fastcgi's.
			rec.UpstreamRequest, rec.UpstreamParams = x.fastCGIRequest(r, repl)
		}
	}
	rec.Timing = x.timing
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
	x.h.store.PutRequest(rec)
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
