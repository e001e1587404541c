package otelbridge

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

type customError struct{}

func (customError) Error() string { return "custom" }

// TestStoreTracerIsTheSDKs: the same calls on the SDK's provider (with a
// StoreProcessor, as when spans are forwarded) and on StoreTracerProvider
// store the same spans, ids aside.
func TestStoreTracerIsTheSDKs(t *testing.T) {
	at := func(ms int) time.Time { return time.Date(2026, 12, 7, 10, 0, 0, ms*int(time.Millisecond), time.UTC) }
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ts, _ := trace.ParseTraceState("vendor=value")
	remote = remote.WithTraceState(ts)
	tests := []struct {
		name   string
		parent trace.SpanContext
		calls  func(ctx context.Context, tr trace.Tracer)
	}{
		{"server and client, as the proxy makes them", trace.SpanContext{}, func(ctx context.Context, tr trace.Tracer) {
			ctx, server := tr.Start(ctx, "GET /", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(0)))
			_, client := tr.Start(ctx, "GET upstream", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(1)))
			client.AddEvent("response.first_byte", trace.WithTimestamp(at(2)))
			client.AddEvent("connect.done", trace.WithTimestamp(at(3)), trace.WithAttributes(attribute.String("error.message", "refused"), attribute.String("", "no key"), attribute.String("error.message", "reset")))
			client.SetAttributes(attribute.String("server.address", "127.0.0.1"), attribute.Int("http.response.status_code", 404))
			client.SetStatus(codes.Error, "Not Found")
			client.End(trace.WithTimestamp(at(4)))
			server.SetAttributes(attribute.String("http.request.method", "GET"), attribute.Bool("b", true),
				attribute.Float64("f", 1.5), attribute.StringSlice("s", []string{"a", "b"}), attribute.Int64Slice("i", []int64{1, 2}))
			server.RecordError(errors.New("boom"), trace.WithTimestamp(at(5)))
			server.SetStatus(codes.Error, "boom")
			server.End(trace.WithTimestamp(at(6)))
		}},
		{"a remote parent's trace and trace state", remote, func(ctx context.Context, tr trace.Tracer) {
			_, s := tr.Start(ctx, "child", trace.WithTimestamp(at(0)))
			s.End(trace.WithTimestamp(at(1)))
		}},
		{"status: Ok wins, and a description only with Error", trace.SpanContext{}, func(ctx context.Context, tr trace.Tracer) {
			_, ok := tr.Start(ctx, "ok", trace.WithTimestamp(at(0)))
			ok.SetStatus(codes.Ok, "dropped")
			ok.SetStatus(codes.Error, "too late")
			ok.End(trace.WithTimestamp(at(1)))
			_, failed := tr.Start(ctx, "failed", trace.WithTimestamp(at(0)))
			failed.SetStatus(codes.Error, "first")
			failed.SetStatus(codes.Unset, "")
			failed.End(trace.WithTimestamp(at(1)))
		}},
		{"duplicate and empty keys", trace.SpanContext{}, func(ctx context.Context, tr trace.Tracer) {
			_, s := tr.Start(ctx, "s", trace.WithTimestamp(at(0)), trace.WithAttributes(attribute.Int("a", 1), attribute.String("", "no key")))
			s.SetAttributes(attribute.Int("b", 2), attribute.Int("a", 3))
			s.End(trace.WithTimestamp(at(1)))
		}},
		{"new root, links, rename", remote, func(ctx context.Context, tr trace.Tracer) {
			_, s := tr.Start(ctx, "job", trace.WithNewRoot(), trace.WithTimestamp(at(0)),
				trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("k", "v")}}))
			s.AddLink(trace.Link{})
			s.AddLink(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.Int("n", 1), attribute.Int("n", 2)}})
			s.SetName("renamed")
			s.End(trace.WithTimestamp(at(1)))
		}},
		{"nothing changes after End", trace.SpanContext{}, func(ctx context.Context, tr trace.Tracer) {
			_, s := tr.Start(ctx, "s", trace.WithTimestamp(at(0)))
			s.End(trace.WithTimestamp(at(1)))
			s.SetAttributes(attribute.Int("late", 1))
			s.AddEvent("late", trace.WithTimestamp(at(2)))
			s.SetStatus(codes.Error, "late")
			s.End(trace.WithTimestamp(at(3)))
		}},
		{"exception types", trace.SpanContext{}, func(ctx context.Context, tr trace.Tracer) {
			_, s := tr.Start(ctx, "s", trace.WithTimestamp(at(0)))
			s.RecordError(customError{}, trace.WithTimestamp(at(1)))
			s.RecordError(&fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}, trace.WithTimestamp(at(2)))
			s.RecordError(nil)
			s.End(trace.WithTimestamp(at(3)))
		}},
	}
	res := resource.NewSchemaless(attribute.String("service.name", "caddy"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(tp trace.TracerProvider, store *toolbar.Store) []toolbar.Span {
				ctx := trace.ContextWithRemoteSpanContext(context.Background(), tt.parent)
				if !tt.parent.IsValid() {
					ctx = context.Background()
				}
				tr := &recordingTracer{Tracer: tp.Tracer("github.com/tracebar/tracebar", trace.WithInstrumentationVersion("v1"))}
				tt.calls(ctx, tr)
				var all []toolbar.Span
				for _, id := range tr.traces {
					spans, _ := store.Spans(id, 0)
					all = append(all, spans...)
				}
				return withOrdinalIDs(all)
			}
			sdkStore, store := toolbar.NewStore(toolbar.Limits{}), toolbar.NewStore(toolbar.Limits{})
			sdk := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithSpanProcessor(NewStoreProcessor(sdkStore, res)))
			want := run(sdk, sdkStore)
			got := run(NewStoreTracerProvider(store, res), store)
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("StoreTracerProvider stored\n%+v\nthe SDK\n%+v", got, want)
			}
		})
	}
}

// recordingTracer notes the trace of every span it starts.
type recordingTracer struct {
	trace.Tracer
	traces []toolbar.TraceID
}

func (r *recordingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, s := r.Tracer.Start(ctx, name, opts...)
	id := toolbar.TraceID(s.SpanContext().TraceID())
	for _, known := range r.traces {
		if known == id {
			return ctx, s
		}
	}
	r.traces = append(r.traces, id)
	return ctx, s
}

// withOrdinalIDs replaces random trace and span ids by their order of
// appearance; the remote parent's keep theirs.
func withOrdinalIDs(spans []toolbar.Span) []toolbar.Span {
	traces, ids := map[toolbar.TraceID]toolbar.TraceID{}, map[toolbar.SpanID]toolbar.SpanID{}
	trace := func(id toolbar.TraceID) toolbar.TraceID {
		if id[0] == 1 && id[1] == 2 { // the remote parent's
			return id
		}
		if _, ok := traces[id]; !ok {
			traces[id] = toolbar.TraceID{0xff, byte(len(traces) + 1)}
		}
		return traces[id]
	}
	span := func(id toolbar.SpanID) toolbar.SpanID {
		if id == (toolbar.SpanID{}) || id[0] == 4 && id[1] == 5 {
			return id
		}
		if _, ok := ids[id]; !ok {
			ids[id] = toolbar.SpanID{0xff, byte(len(ids) + 1)}
		}
		return ids[id]
	}
	for i := range spans {
		s := &spans[i]
		s.TraceID, s.SpanID, s.ParentSpanID = trace(s.TraceID), span(s.SpanID), span(s.ParentSpanID)
		for j := range s.Links {
			s.Links[j].TraceID, s.Links[j].SpanID = trace(s.Links[j].TraceID), span(s.Links[j].SpanID)
		}
	}
	return spans
}
