package otelbridge

import (
	"context"
	"testing"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestStoreProcessorMapsStatusToOTLP: Go's codes (Error=1, Ok=2) become
// OTLP's (Ok=1, Error=2).
func TestStoreProcessorMapsStatusToOTLP(t *testing.T) {
	tests := []struct {
		code codes.Code
		want toolbar.StatusCode
	}{
		{codes.Unset, toolbar.StatusUnset},
		{codes.Ok, toolbar.StatusOK},
		{codes.Error, toolbar.StatusError},
	}
	for _, tt := range tests {
		store := toolbar.NewStore(toolbar.Limits{})
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewStoreProcessor(store, resource.Empty())))
		_, span := tp.Tracer("t").Start(context.Background(), "s")
		span.SetStatus(tt.code, "m")
		span.End()
		spans, _ := store.Spans(toolbar.TraceID(span.SpanContext().TraceID()), 0)
		if len(spans) != 1 || spans[0].Status.Code != tt.want {
			t.Fatalf("%v stored as %+v, want %v", tt.code, spans, tt.want)
		}
	}
}
