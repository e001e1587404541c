package otelbridge

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// sdkTrace records a small trace with OpenTelemetry Go's SDK, through
// the proxy's own span processor: every attribute type, an event, a
// link, an error status and a secret in a header attribute and a URL.
func sdkTrace(t *testing.T) []toolbar.Span {
	t.Helper()
	store := toolbar.NewStore(toolbar.Limits{})
	res := resource.NewSchemaless(attribute.String("service.name", "shop-web"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(NewStoreProcessor(store, res)))
	tracer := tp.Tracer("shop/web", trace.WithInstrumentationVersion("1.2.3"))
	ctx, server := tracer.Start(context.Background(), "GET /orders/{id}", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.route", "/orders/{id}"),
			attribute.Int64("http.response.status_code", 500),
			attribute.Float64("app.ratio", 0.25),
			attribute.Bool("app.cached", false),
			attribute.StringSlice("app.tags", []string{"a", "b"}),
			attribute.String("http.request.header.authorization", "Bearer SECRET"),
			attribute.String("url.full", "https://shop.test/orders/7?token=SECRET&page=2"),
		))
	_, query := tracer.Start(ctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: server.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("why", "retry")}}),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", "SELECT * FROM orders WHERE id = $1")))
	query.AddEvent("exception", trace.WithAttributes(attribute.String("exception.type", "DeadlockError"), attribute.String("exception.message", "deadlock")))
	query.SetStatus(codes.Error, "deadlock")
	query.End()
	server.End()
	spans, _ := store.Spans(toolbar.TraceID(server.SpanContext().TraceID()), 0)
	if len(spans) != 2 {
		t.Fatalf("SDK stored %d spans, want 2", len(spans))
	}
	return spans
}

// base64IDs rewrites OTLP/JSON as protobuf's own JSON mapping writes it:
// ids in base64, enums by name (what Tempo answers).
func base64IDs(t *testing.T, otlpJSON []byte) []byte {
	t.Helper()
	var req collectortrace.ExportTraceServiceRequest
	if err := unmarshalJSON(otlpJSON, &req); err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"SPAN_KIND_SERVER"`) || strings.Contains(string(b), `"traceId":"`+toolbar.TraceID{}.String()) {
		t.Fatalf("not protobuf's JSON mapping: %s", b)
	}
	return b
}

// tempoV1 rewrites OTLP/JSON as Tempo's /api/traces/{id} answers it:
// {"batches": [...]}, with instrumentationLibrarySpans for scopeSpans.
func tempoV1(t *testing.T, otlpJSON []byte) []byte {
	t.Helper()
	var doc struct {
		ResourceSpans []map[string]json.RawMessage `json:"resourceSpans"`
	}
	if err := json.Unmarshal(otlpJSON, &doc); err != nil {
		t.Fatal(err)
	}
	for _, rs := range doc.ResourceSpans {
		rs["instrumentationLibrarySpans"] = json.RawMessage(strings.ReplaceAll(string(rs["scopeSpans"]), `"scope":`, `"instrumentationLibrary":`))
		delete(rs, "scopeSpans")
	}
	b, err := json.Marshal(map[string]any{"batches": doc.ResourceSpans})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"instrumentationLibrary":`) {
		t.Fatalf("not Tempo's older names: %s", b)
	}
	return b
}

// wallClock strips what a round trip through JSON cannot keep: the
// monotonic clock reading of the SDK's times.
func wallClock(spans []toolbar.Span) []toolbar.Span {
	out := make([]toolbar.Span, len(spans))
	for i, sp := range spans {
		sp.Start, sp.End = time.Unix(0, sp.Start.UnixNano()), time.Unix(0, sp.End.UnixNano())
		sp.Events = append([]toolbar.Event(nil), sp.Events...)
		for j := range sp.Events {
			sp.Events[j].Time = time.Unix(0, sp.Events[j].Time.UnixNano())
		}
		out[i] = sp
	}
	return out
}

func TestDecodeTracesReadsWhatTheToolbarWrites(t *testing.T) {
	spans := sdkTrace(t)
	hexJSON, err := toolbar.MarshalOTLPJSON(spans)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
	}{
		{"hex ids, the toolbar's OTLP/JSON", hexJSON},
		{"base64 ids and enum names, protobuf's JSON mapping", base64IDs(t, hexJSON)},
		{"a Jaeger API v3 answer", []byte(`{"result":` + string(hexJSON) + `}`)},
		{"a Tempo API v1 answer: batches, base64 ids, OTLP's older field names", tempoV1(t, base64IDs(t, hexJSON))},
		{"a Tempo API v2 answer", []byte(`{"trace":` + string(base64IDs(t, hexJSON)) + `}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTraces(tt.body, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The SDK's spans were not redacted on the way in: the import is.
			want := wallClock(spans)
			for i := range want {
				want[i].Attributes = append([]toolbar.KeyValue(nil), want[i].Attributes...)
				for j, kv := range want[i].Attributes {
					if kv.Value.Kind() == toolbar.KindString {
						want[i].Attributes[j].Value = toolbar.StringValue(toolbar.NewRedactor().Attribute(kv.Key, kv.Value.AsString()))
					}
				}
			}
			if got := wallClock(got); !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			server := &got[0]
			if server.Kind != toolbar.KindServer {
				server = &got[1] // the SDK ends the child first
			}
			if v := server.AttrString("http.request.header.authorization"); v != toolbar.Redacted {
				t.Errorf("authorization header attribute kept as %q", v)
			}
			if v := server.AttrString("url.full"); strings.Contains(v, "SECRET") || !strings.Contains(v, "page=2") {
				t.Errorf("url.full = %q, want the token redacted and the page kept", v)
			}
		})
	}
}

func TestDecodeTracesUsesTheConfiguredRedactor(t *testing.T) {
	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"spans":[
		{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /cb?tenant=acme&x=1","kind":2,
		 "startTimeUnixNano":"1765090000000000000","endTimeUnixNano":"1765090000010000000",
		 "attributes":[{"key":"app.tenant","value":{"stringValue":"acme"}}]}]}]}]}`
	spans, err := DecodeTraces([]byte(body), toolbar.NewRedactor("tenant"))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 1 || spans[0].Name != "GET /cb?tenant=%5Bredacted%5D&x=1" || spans[0].AttrString("app.tenant") != toolbar.Redacted {
		t.Fatalf("spans %+v: want the configured word redacted in the name and attribute", spans)
	}
	if spans[0].Service() != "api" || spans[0].Kind != toolbar.KindServer {
		t.Fatalf("span %+v lost its resource or kind", spans[0])
	}
}

func TestDecodeTracesRefusesWhatItCannotRead(t *testing.T) {
	span := func(traceID, spanID string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + traceID + `","spanId":"` + spanID + `","name":"s"}]}]}]}`
	}
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `<html>`, "not JSON"},
		{"a JSON list", `[1, 2]`, "not JSON"},
		{"a wrong field type", `{"resourceSpans":{"a":1}}`, "not OTLP/JSON"},
		{"a short trace id", span("5b8efff798038103", "eee19b7ec3c1b174"), "invalid trace or span id"},
		{"a zero span id", span("5b8efff798038103d269b633813fc60c", "0000000000000000"), "invalid trace or span id"},
		{"an id neither hex nor base64", span("5b8efff798038103d269b633813fc60c", "not an id!"), "not OTLP/JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, err := DecodeTraces([]byte(tt.body), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeTraces = %v, %v; want an error saying %q", spans, err, tt.want)
			}
		})
	}
	if spans, err := DecodeTraces([]byte(`{"resourceSpans":[]}`), nil); err != nil || len(spans) != 0 {
		t.Fatalf("an empty export: %v, %v; want no spans and no error", spans, err)
	}
}
