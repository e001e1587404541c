package otelbridge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// StoreTracerProvider is an OpenTelemetry tracer provider whose spans go
// straight into the toolbar store when they end. It is the proxy's
// provider when nothing is forwarded: the SDK's provider with a
// StoreProcessor stores the same spans, but pays for what only exporting
// needs (a snapshot of every span, attribute limits and de-duplication
// maps, then a conversion): a sixth of Tracebar's own CPU on a small
// request (25.5 to 22 µs in process). When spans are forwarded, the SDK's
// provider exports them.
//
// Its spans behave as the SDK's with AlwaysSample: sampled, with the
// parent's trace id and trace state, random ids (math/rand/v2's ChaCha8,
// as unguessable as the SDK's), and the SDK's rules for status, errors and
// duplicate attributes. TestStoreTracerIsTheSDKs
// holds them to it.
type StoreTracerProvider struct {
	embedded.TracerProvider
	store *toolbar.Store
	res   *toolbar.Resource
}

var _ trace.TracerProvider = (*StoreTracerProvider)(nil)

// NewStoreTracerProvider returns a provider storing spans of resource res.
func NewStoreTracerProvider(store *toolbar.Store, res *resource.Resource) *StoreTracerProvider {
	return &StoreTracerProvider{store: store, res: resourceFromSDK(res)}
}

// Tracer returns a tracer of the instrumentation scope name.
func (p *StoreTracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	c := trace.NewTracerConfig(opts...)
	return &storeTracer{p: p, scope: &toolbar.Scope{Name: name, Version: c.InstrumentationVersion(), SchemaURL: c.SchemaURL()}}
}

// Shutdown does nothing: spans are stored as they end.
func (p *StoreTracerProvider) Shutdown(context.Context) error { return nil }

type storeTracer struct {
	embedded.Tracer
	p     *StoreTracerProvider
	scope *toolbar.Scope
}

// Start starts a span as a child of the span in ctx, if any.
func (t *storeTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	c := trace.NewSpanStartConfig(opts...)
	parent := trace.SpanContextFromContext(ctx)
	if c.NewRoot() {
		parent = trace.SpanContext{}
	}
	traceID := parent.TraceID()
	if !parent.IsValid() {
		traceID = newTraceID()
	}
	start := c.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	s := &storeSpan{tracer: t, name: name}
	s.span = toolbar.Span{
		TraceID:    toolbar.TraceID(traceID),
		SpanID:     toolbar.SpanID(newSpanID()),
		TraceState: parent.TraceState().String(),
		Flags:      uint32(trace.FlagsSampled),
		Kind:       toolbar.SpanKind(trace.ValidateSpanKind(c.SpanKind())),
		Start:      start,
		Resource:   t.p.res,
		Scope:      t.scope,
	}
	if parent.IsValid() {
		s.span.ParentSpanID = toolbar.SpanID(parent.SpanID())
	}
	s.sc = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: trace.SpanID(s.span.SpanID), TraceFlags: trace.FlagsSampled, TraceState: parent.TraceState(),
	})
	s.setAttributes(c.Attributes())
	for _, l := range c.Links() {
		s.addLink(l)
	}
	return trace.ContextWithSpan(ctx, s), s
}

// newTraceID and newSpanID are random and never zero, as the SDK's.
func newTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		hi, lo := rand.Uint64(), rand.Uint64()
		for i := range 8 {
			id[i], id[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
		}
	}
	return id
}

func newSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		v := rand.Uint64()
		for i := range 8 {
			id[i] = byte(v >> (56 - 8*i))
		}
	}
	return id
}

// storeSpan is a span of a StoreTracerProvider.
type storeSpan struct {
	embedded.Span
	tracer *storeTracer
	sc     trace.SpanContext

	mu     sync.Mutex
	name   string
	span   toolbar.Span // the stored span, completed at End
	status codes.Code
	ended  bool
}

var _ trace.Span = (*storeSpan)(nil)

func (s *storeSpan) SpanContext() trace.SpanContext { return s.sc }

func (s *storeSpan) TracerProvider() trace.TracerProvider { return s.tracer.p }

func (s *storeSpan) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

func (s *storeSpan) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.name = name
	}
}

func (s *storeSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.setAttributes(kv)
	}
}

// setAttributes adds kvs; those without a key count as dropped, as the
// SDK counts them.
func (s *storeSpan) setAttributes(kvs []attribute.KeyValue) {
	s.span.Attributes = slices.Grow(s.span.Attributes, len(kvs))
	for _, kv := range kvs {
		if kv.Valid() {
			s.span.Attributes = append(s.span.Attributes, keyValue(kv))
		} else {
			s.span.DroppedAttributes++
		}
	}
}

// SetStatus keeps the highest status set (Unset < Error < Ok), and a
// description only for Error, as the SDK does.
func (s *storeSpan) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.status > code {
		return
	}
	s.status = code
	s.span.Status = toolbar.Status{Code: statusFromSDK(code)}
	if code == codes.Error {
		s.span.Status.Message = description
	}
}

func (s *storeSpan) AddEvent(name string, opts ...trace.EventOption) {
	c := trace.NewEventConfig(opts...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.span.Events = append(s.span.Events, toolbar.Event{Time: c.Timestamp(), Name: name, Attributes: kvsFromAttrs(c.Attributes())})
	}
}

// RecordError adds an exception event, as the SDK does.
func (s *storeSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	opts = append(opts, trace.WithAttributes(
		attribute.String("exception.type", typeName(err)),
		attribute.String("exception.message", err.Error()),
	))
	if c := trace.NewEventConfig(opts...); c.StackTrace() {
		stack := make([]byte, 2048)
		opts = append(opts, trace.WithAttributes(attribute.String("exception.stacktrace", string(stack[:runtime.Stack(stack, false)]))))
	}
	s.AddEvent("exception", opts...)
}

// typeName names an error's type as the SDK's exception.type does.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return fmt.Sprintf("%s.%s", t.PkgPath(), t.Name())
}

func (s *storeSpan) AddLink(l trace.Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.addLink(l)
	}
}

// addLink keeps a link, unless it names nothing (as the SDK drops it).
func (s *storeSpan) addLink(l trace.Link) {
	sc := l.SpanContext
	if !sc.IsValid() && len(l.Attributes) == 0 && sc.TraceState().Len() == 0 {
		return
	}
	s.span.Links = append(s.span.Links, toolbar.Link{
		TraceID: toolbar.TraceID(sc.TraceID()), SpanID: toolbar.SpanID(sc.SpanID()),
		TraceState: sc.TraceState().String(), Flags: uint32(sc.TraceFlags()),
		Attributes: kvsFromAttrs(l.Attributes),
	})
}

// End stores the span; later calls do nothing.
func (s *storeSpan) End(opts ...trace.SpanEndOption) {
	c := trace.NewSpanEndConfig(opts...)
	end := c.Timestamp()
	if end.IsZero() {
		end = time.Now()
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	span := s.span
	span.Name, span.End, span.Attributes = s.name, end, dedupe(span.Attributes)
	s.mu.Unlock()
	s.tracer.p.store.AddProxySpans([]toolbar.Span{span})
}

// dedupe keeps one value per key of a span's attributes, in place: the
// last value, at the first key's place, as the SDK does. (It keeps an
// event's or a link's as they came.)
func dedupe(kvs []toolbar.KeyValue) []toolbar.KeyValue {
	out := kvs[:0]
	for _, kv := range kvs {
		i := 0
		for i < len(out) && out[i].Key != kv.Key {
			i++
		}
		if i < len(out) {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	clear(kvs[len(out):])
	return out
}
