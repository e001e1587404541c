// Produces go.txt: the exception.stacktrace that OpenTelemetry Go's
// Span.RecordError(err, trace.WithStackTrace(true)) writes (runtime.Stack
// of the calling goroutine), from a handler run in its own goroutine.
// Run from the repository root: go run ./assets/testdata/stacks/go.go
package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
)

type orders struct{ tracer oteltrace.Tracer }

func (o *orders) load(ctx context.Context, id int) {
	_, span := o.tracer.Start(ctx, "load order")
	defer span.End()
	span.RecordError(fmt.Errorf("order %d: %w", id, errors.New("not found")), oteltrace.WithStackTrace(true))
}

func main() {
	recorder := tracetest.NewSpanRecorder()
	provider := trace.NewTracerProvider(trace.WithSpanProcessor(recorder))
	o := &orders{tracer: provider.Tracer("stacks")}
	done := make(chan struct{})
	go func() {
		defer close(done)
		func() { o.load(context.Background(), 3) }()
	}()
	<-done
	for _, attribute := range recorder.Ended()[0].Events()[0].Attributes {
		if attribute.Key == "exception.stacktrace" {
			fmt.Print(attribute.Value.AsString())
		}
	}
}
