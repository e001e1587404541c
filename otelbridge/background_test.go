package otelbridge

import (
	"context"
	"testing"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// TestSinkRecordsBackgroundTraces: a trace the Go SDK exports with no
// proxied request behind it (a periodic job) becomes a record of kind
// background once its root span arrives; a trace that has a proxied
// request's record gets no second one.
func TestSinkRecordsBackgroundTraces(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	httpAddr, _ := serveSink(t, sink, sink)
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("worker"))))
	tr := tp.Tracer("test")

	jobCtx, job := tr.Start(ctx, "cleanup sessions")
	_, query := tr.Start(jobCtx, "DELETE sessions", trace.WithSpanKind(trace.SpanKindClient))
	query.End() // exported first: no record for a span with a parent
	jobID := toolbar.TraceID(job.SpanContext().TraceID())
	if recs := store.TraceRequests(jobID); len(recs) != 0 {
		t.Fatalf("a record before the root span came: %+v", recs[0])
	}
	job.End()

	// A proxied request's trace: its record comes first, as the proxy's does.
	pageCtx, page := tr.Start(ctx, "GET /")
	pageID := toolbar.TraceID(page.SpanContext().TraceID())
	store.PutRequest(&toolbar.Record{ID: page.SpanContext().SpanID().String(), TraceID: pageID})
	_, render := tr.Start(pageCtx, "render")
	render.End()
	page.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export failed: %v", err)
	}

	recs := store.TraceRequests(jobID)
	if len(recs) != 1 || recs[0].Kind != toolbar.RecordBackground || recs[0].URL != "cleanup sessions" ||
		recs[0].ID != job.SpanContext().SpanID().String() || !recs[0].Done {
		t.Fatalf("job's records %+v, want one of kind background for its root span", recs)
	}
	if recs := store.TraceRequests(pageID); len(recs) != 1 || recs[0].Kind != "" {
		t.Fatalf("page's records %+v, want the proxied request's alone", recs)
	}
}
