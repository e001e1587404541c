package otelbridge

import (
	"context"
	"sync/atomic"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// StoreProcessor is a span processor that puts the proxy's ended spans into
// the toolbar store, synchronously, so they are there when the UI asks.
type StoreProcessor struct {
	store *toolbar.Store
	res   *toolbar.Resource
	scope atomic.Pointer[toolbar.Scope] // the last scope seen: tracers are few
}

var _ sdktrace.SpanProcessor = (*StoreProcessor)(nil)

// NewStoreProcessor returns a processor writing to store the spans of a
// tracer provider with resource res, which is converted once.
func NewStoreProcessor(store *toolbar.Store, res *resource.Resource) *StoreProcessor {
	return &StoreProcessor{store: store, res: resourceFromSDK(res)}
}

// OnStart does nothing: only ended spans are stored.
func (p *StoreProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd stores s, without waiting for the store's file (storage): no one
// acknowledges the proxy's own spans, so no proxied request waits for a disk.
func (p *StoreProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	ts := fromSDK(s, p.res, p.scope.Load())
	p.scope.Store(ts.Scope)
	p.store.AddProxySpans([]toolbar.Span{ts})
}

// Shutdown does nothing; the store outlives tracer providers.
func (p *StoreProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing: OnEnd is synchronous.
func (p *StoreProcessor) ForceFlush(context.Context) error { return nil }
