package otelbridge

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const jsonExport = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"browser"}}]},
 "scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
 "parentSpanId":"eee19b7ec3c1b173","name":"fetch","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"1544712660000000000",
 "endTimeUnixNano":1544712661000000000,"attributes":[{"key":"n","value":{"intValue":"42"}}],"status":{"code":2},"unknownField":1}]}]}]}`

func protoExport(t *testing.T, traceID, spanID []byte) []byte {
	t.Helper()
	b, err := proto.Marshal(&collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: traceID, SpanId: spanID, Name: "p"}}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestSinkHTTPStatusCodes(t *testing.T) {
	tid := bytes.Repeat([]byte{1}, 16)
	sid := bytes.Repeat([]byte{2}, 8)
	tests := []struct {
		name, method, path, ctype, encoding string
		body                                []byte
		want                                int
		stored                              int
	}{
		{"protobuf", "POST", "/v1/traces", "application/x-protobuf", "", protoExport(t, tid, sid), 200, 1},
		{"protobuf gzip", "POST", "/v1/traces", "application/x-protobuf", "gzip", gz(protoExport(t, tid, sid)), 200, 1},
		{"json with hex ids and enum names", "POST", "/v1/traces", "application/json", "", []byte(jsonExport), 200, 1},
		{"json gzip", "POST", "/v1/traces", "application/json; charset=utf-8", "gzip", gz([]byte(jsonExport)), 200, 1},
		{"truncated protobuf", "POST", "/v1/traces", "application/x-protobuf", "", protoExport(t, tid, sid)[:10], 400, 0},
		{"bad json", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[`), 400, 0},
		{"json id not hex: span rejected alone", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"00"}]}]}]}`), 200, 0},
		{"logs accepted and discarded", "POST", "/v1/logs", "application/json", "", []byte(`{"resourceLogs":[]}`), 200, 0},
		{"metrics accepted and discarded", "POST", "/v1/metrics", "application/x-protobuf", "", nil, 200, 0},
		{"bad logs", "POST", "/v1/logs", "application/json", "", []byte(`{"resourceLogs":{}}`), 400, 0},
		{"json wrong field type", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":{"a":1}}`), 400, 0},
		{"bad gzip", "POST", "/v1/traces", "application/x-protobuf", "gzip", []byte("not gzip"), 400, 0},
		{"wrong content type", "POST", "/v1/traces", "text/plain", "", []byte("x"), 415, 0},
		{"unknown encoding", "POST", "/v1/traces", "application/x-protobuf", "br", []byte("x"), 415, 0},
		{"wrong method", "GET", "/v1/traces", "", "", nil, 405, 0},
		{"wrong path", "POST", "/v1/profiles", "application/x-protobuf", "", nil, 404, 0},
		{"too large", "POST", "/v1/traces", "application/x-protobuf", "", make([]byte, 2048), 413, 0},
		{"gzip bomb", "POST", "/v1/traces", "application/x-protobuf", "gzip", gz(make([]byte, 1<<20)), 413, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := toolbar.NewStore(toolbar.Limits{})
			sink := NewSink(store)
			sink.Configure(&SinkConfig{MaxBodyBytes: 1024})
			if tt.name == "json with hex ids and enum names" || tt.name == "json gzip" {
				sink.Configure(nil)
			}
			req := httptest.NewRequest(tt.method, tt.path, bytes.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			sink.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
			}
			if rec.Code >= 400 && rec.Body.Len() == 0 {
				t.Fatal("error without a message")
			}
			if got := store.Stats().Spans; got != tt.stored {
				t.Fatalf("stored %d spans, want %d", got, tt.stored)
			}
		})
	}
}

func TestSinkJSONKeepsHexIDsAndFields(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	req := httptest.NewRequest("POST", "/v1/traces", strings.NewReader(jsonExport))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	NewSink(store).ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	id, _ := toolbar.ParseTraceID("5b8efff798038103d269b633813fc60c")
	spans, ok := store.Spans(id, 0)
	if !ok || len(spans) != 1 {
		t.Fatalf("span not stored under its hex trace id")
	}
	s := spans[0]
	if s.SpanID.String() != "eee19b7ec3c1b174" || s.ParentSpanID.String() != "eee19b7ec3c1b173" ||
		s.Kind != toolbar.KindClient || s.Status.Code != toolbar.StatusError || s.End.Sub(s.Start).Seconds() != 1 ||
		s.Attributes[0].Value.Any() != int64(42) || s.Resource.Attributes[0].Value.Any() != "browser" {
		t.Fatalf("span decoded wrong: %+v", s)
	}
}

func TestSinkRejectsBadIDsWithPartialSuccess(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	good := &tracepb.Span{TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8), Name: "ok"}
	short := &tracepb.Span{TraceId: []byte{1, 2}, SpanId: bytes.Repeat([]byte{2}, 8)}
	zero := &tracepb.Span{TraceId: make([]byte, 16), SpanId: bytes.Repeat([]byte{3}, 8)}
	resp, err := sink.Export(context.Background(), &collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{good, short, zero}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetPartialSuccess().GetRejectedSpans(); got != 2 {
		t.Fatalf("rejected %d, want 2", got)
	}
	if store.Stats().Spans != 1 {
		t.Fatal("the valid span was not kept")
	}
}

// TestSinkRejectsBadLogIDs: log records whose ids are malformed are
// counted as rejected, kept from the store and from the backend; a record
// without a trace is valid, forwarded but not kept.
func TestSinkRejectsBadLogIDs(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	b := startBackend(t)
	f, err := NewForwarder("http://"+b.httpAddr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	sink.Configure(&SinkConfig{Forwarder: f})
	rec := func(body string, tid, sid []byte) *logspb.LogRecord {
		return &logspb.LogRecord{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}}, TraceId: tid, SpanId: sid}
	}
	trace, span := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 8)
	resp, err := logsService{s: sink}.Export(context.Background(), &collectorlogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			rec("in a trace", trace, span),
			rec("no trace", nil, nil),
			rec("short trace id", trace[:4], span),
			rec("zero trace id", make([]byte, 16), span),
			rec("long span id, no trace", nil, trace),
		}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetPartialSuccess().GetRejectedLogRecords(); got != 3 {
		t.Fatalf("rejected %d, want 3", got)
	}
	if logs, _ := store.Logs(toolbar.TraceID(trace), 0); len(logs) != 1 || store.Stats().Traces != 1 {
		t.Fatalf("kept %d records in %d traces, want the one in a trace", len(logs), store.Stats().Traces)
	}
	select {
	case got := <-b.logs:
		var bodies []string
		for _, r := range got.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords() {
			bodies = append(bodies, r.GetBody().GetStringValue())
		}
		if strings.Join(bodies, ",") != "in a trace,no trace" {
			t.Fatalf("forwarded %q, want the valid records", bodies)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing forwarded")
	}
}

// serveSink serves h (the sink, or a wrapper) over OTLP/HTTP and the sink
// over OTLP/gRPC on loopback for the test, returning their addresses.
func serveSink(t *testing.T, sink *Sink, h http.Handler) (httpAddr, grpcAddr string) {
	t.Helper()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(hl)
	t.Cleanup(func() { srv.Close() })
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := sink.NewGRPCServer()
	go g.Serve(gl)
	t.Cleanup(g.Stop)
	return hl.Addr().String(), gl.Addr().String()
}

// TestSinkReceivesRealGoExporters sends spans with the OpenTelemetry Go
// SDK's OTLP/HTTP and OTLP/gRPC exporters over real sockets.
func TestSinkReceivesRealGoExporters(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	httpAddr, grpcAddr := serveSink(t, sink, sink)

	ctx := context.Background()
	exporters := map[string]sdktrace.SpanExporter{}
	var err error
	if exporters["http"], err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(otlptracehttp.GzipCompression)); err != nil {
		t.Fatal(err)
	}
	if exporters["grpc"], err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip")); err != nil {
		t.Fatal(err)
	}
	for name, exp := range exporters {
		t.Run(name, func(t *testing.T) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
				sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("svc-"+name))))
			tr := tp.Tracer("test")
			pctx, parent := tr.Start(ctx, "parent", trace.WithSpanKind(trace.SpanKindServer))
			_, child := tr.Start(pctx, "child")
			child.AddEvent("log", trace.WithAttributes(semconv.ExceptionMessage("boom")))
			child.End()
			parent.End()
			if err := tp.Shutdown(ctx); err != nil {
				t.Fatalf("export failed: %v", err)
			}
			spans, ok := store.Spans(toolbar.TraceID(parent.SpanContext().TraceID()), 0)
			if !ok || len(spans) != 2 {
				t.Fatalf("got %d spans, want 2", len(spans))
			}
			for _, s := range spans {
				if s.Name == "child" && (s.ParentSpanID != toolbar.SpanID(parent.SpanContext().SpanID()) || len(s.Events) != 1) {
					t.Fatalf("child span %+v lost its parent or event", s)
				}
				if s.Resource.Attributes[0].Value.Any() != "svc-"+name {
					t.Fatalf("resource %+v", s.Resource)
				}
			}
		})
	}
}

func FuzzSinkProtobuf(f *testing.F) {
	f.Add(protoExportF(f))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzSink(t, "application/x-protobuf", body)
	})
}

func FuzzSinkJSON(f *testing.F) {
	f.Add([]byte(jsonExport))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"` + strings.Repeat("ab", 16) + `","spanId":"0102030405060708","body":{"kvlistValue":{"values":[{"key":"password","value":{"stringValue":"p"}}]}}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","histogram":{"dataPoints":[{"attributes":[{"key":"token","value":{"stringValue":"t"}}],"exemplars":[{"filteredAttributes":[{"key":"k","value":{"intValue":"1"}}]}]}]}}]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzSink(t, "application/json", body)
	})
}

func protoExportF(f *testing.F) []byte {
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8)}}}},
	}}})
	return b
}

// fuzzSink: any body gets 200 or 400, never a panic, and what a 200
// stores can be served back as valid OTLP/JSON.
func fuzzSink(t *testing.T, ctype string, body []byte) {
	// The same bytes as logs and metrics exports: whatever decodes is
	// redacted, converted and filtered as the sink does, without a panic.
	decode := func(m proto.Message) bool {
		if ctype == "application/json" {
			return unmarshalJSON(body, m) == nil
		}
		return proto.Unmarshal(body, m) == nil
	}
	var logsReq collectorlogs.ExportLogsServiceRequest
	if decode(&logsReq) {
		redactLogs(logsReq.GetResourceLogs(), nil)
		logsFromProto(logsReq.GetResourceLogs())
		dropInvalidLogs(logsReq.GetResourceLogs())
	}
	var metricsReq collectormetrics.ExportMetricsServiceRequest
	if decode(&metricsReq) {
		redactMetrics(metricsReq.GetResourceMetrics(), nil)
	}

	store := toolbar.NewStore(toolbar.Limits{})
	req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	NewSink(store).ServeHTTP(rec, req)
	if rec.Code != 200 && rec.Code != 400 {
		t.Fatalf("status %d", rec.Code)
	}
	if rec.Code != 200 {
		return
	}
	var export collectortrace.ExportTraceServiceRequest
	var err error
	if ctype == "application/json" {
		err = unmarshalJSON(body, &export)
	} else {
		err = proto.Unmarshal(body, &export)
	}
	if err != nil {
		t.Fatalf("accepted a body that does not decode: %v", err)
	}
	spans, _ := fromProto(export.GetResourceSpans())
	out, err := toolbar.MarshalOTLPJSON(spans)
	if err != nil || !json.Valid(out) {
		t.Fatalf("stored spans do not serve as JSON: %v", err)
	}
}

// TestSinkErrorBodiesAreRPCStatus: 4xx bodies are google.rpc.Status in the
// request's encoding, as OTLP/HTTP requires.
func TestSinkErrorBodiesAreRPCStatus(t *testing.T) {
	for _, ct := range []string{"application/x-protobuf", "application/json"} {
		req := httptest.NewRequest("POST", "/v1/traces", strings.NewReader("\x00garbage{"))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		NewSink(toolbar.NewStore(toolbar.Limits{})).ServeHTTP(rec, req)
		var st spb.Status
		var err error
		if ct == "application/json" {
			err = protojson.Unmarshal(rec.Body.Bytes(), &st)
		} else {
			err = proto.Unmarshal(rec.Body.Bytes(), &st)
		}
		if rec.Code != 400 || rec.Header().Get("Content-Type") != ct || err != nil || !strings.Contains(st.GetMessage(), "bad payload") {
			t.Fatalf("%s: %d %q %v %+v", ct, rec.Code, rec.Header().Get("Content-Type"), err, &st)
		}
	}
}

func TestSinkCORS(t *testing.T) {
	tests := []struct {
		name, origin string
		allowed      []string
		want         bool
	}{
		{"loopback page", "http://localhost:8080", nil, true},
		{"127.0.0.1 page", "http://127.0.0.1:3000", nil, true},
		{"foreign page", "https://evil.example", nil, false},
		{"configured", "https://app.test", []string{"https://app.test"}, true},
		{"configured list excludes loopback", "http://localhost:8080", []string{"https://app.test"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := NewSink(toolbar.NewStore(toolbar.Limits{}))
			sink.Configure(&SinkConfig{CORSOrigins: tt.allowed})
			req := httptest.NewRequest("OPTIONS", "/v1/traces", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			rec := httptest.NewRecorder()
			sink.ServeHTTP(rec, req)
			got := rec.Header().Get("Access-Control-Allow-Origin") == tt.origin
			if got != tt.want || (tt.want && rec.Code != 204) {
				t.Fatalf("allowed %v (status %d), want %v", got, rec.Code, tt.want)
			}
		})
	}
}

// TestSinkConfigRestore: a config that stops hands the sink back to the
// one before it, but never takes it from a newer one.
func TestSinkConfigRestore(t *testing.T) {
	sink := NewSink(toolbar.NewStore(toolbar.Limits{}))
	a := &SinkConfig{MaxBodyBytes: 1}
	b := &SinkConfig{MaxBodyBytes: 2}
	prevA := sink.Configure(a)
	prevB := sink.Configure(b) // a reload to b
	sink.Restore(a, prevA)     // a stops: b stays
	if sink.config() != b {
		t.Fatal("stopping the old config undid the new one")
	}
	sink.Restore(b, prevB) // b failed to start after all: a is back
	if sink.config() != a {
		t.Fatal("a failed config did not hand the sink back")
	}
}

// TestSinkKeepsLogsOfTraces sends log records with the OpenTelemetry Go
// SDK's OTLP/HTTP and OTLP/gRPC log exporters: a record emitted inside a
// span is kept under its trace and span; one outside any trace is dropped.
func TestSinkKeepsLogsOfTraces(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	httpAddr, grpcAddr := serveSink(t, sink, sink)

	ctx := context.Background()
	exporters := map[string]sdklog.Exporter{}
	var err error
	if exporters["http"], err = otlploghttp.New(ctx, otlploghttp.WithEndpoint(httpAddr), otlploghttp.WithInsecure()); err != nil {
		t.Fatal(err)
	}
	if exporters["grpc"], err = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(grpcAddr), otlploggrpc.WithInsecure()); err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	for name, exp := range exporters {
		t.Run(name, func(t *testing.T) {
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
				sdklog.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("svc-"+name))))
			logger := lp.Logger("test")
			sctx, span := tp.Tracer("test").Start(ctx, "work")
			var in, out otellog.Record
			in.SetBody(attribute.StringValue("cache miss"))
			in.SetSeverity(otellog.SeverityWarn)
			in.SetSeverityText("WARN")
			in.AddAttributes(attribute.String("cache.key", "user:1"))
			logger.Emit(sctx, in)
			out.SetBody(attribute.StringValue("no trace"))
			logger.Emit(ctx, out)
			span.End()
			if err := lp.Shutdown(ctx); err != nil {
				t.Fatalf("export failed: %v", err)
			}
			logs, ok := store.Logs(toolbar.TraceID(span.SpanContext().TraceID()), 0)
			if !ok || len(logs) != 1 {
				t.Fatalf("got %d log records under the trace, want 1", len(logs))
			}
			l := logs[0]
			if l.Body.Any() != "cache miss" || l.SpanID != toolbar.SpanID(span.SpanContext().SpanID()) || l.SeverityNumber != 13 ||
				l.Service != "svc-"+name || len(l.Attributes) != 1 || l.Attributes[0].Value.Any() != "user:1" {
				t.Fatalf("log record decoded wrong: %+v", l)
			}
		})
	}
	if got := store.Stats().Traces; got != 2 {
		t.Fatalf("%d traces; the record outside a trace must not create one", got)
	}
}

// TestSinkSaturatedAsksToRetry: with every decoding slot taken, an export
// is answered 429 with Retry-After (HTTP) or UNAVAILABLE with RetryInfo
// (gRPC); the Go SDK's exporter retries and its spans arrive once a slot
// frees up.
func TestSinkSaturatedAsksToRetry(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	sink.wait = 0
	for i := 0; i < cap(sink.slots); i++ {
		sink.slots <- struct{}{}
	}
	busy := make(chan int, 100)
	httpAddr, grpcAddr := serveSink(t, sink, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sink.ServeHTTP(rec, r)
		if rec.Code == http.StatusTooManyRequests {
			if rec.Header().Get("Retry-After") != "1" {
				t.Errorf("429 without Retry-After")
			}
			busy <- rec.Code
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))

	// gRPC: the status a saturated sink gives.
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A malformed message gets the same answer: it is not even decoded.
	err = conn.Invoke(context.Background(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		[]byte("\xff\xff not protobuf"), new([]byte), grpc.ForceCodecV2(rawCodec{}))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || len(st.Details()) != 1 {
		t.Fatalf("saturated gRPC answer %v %q (details %v), want UNAVAILABLE with RetryInfo", st.Code(), st.Message(), st.Details())
	}
	if ri, ok := st.Details()[0].(*errdetails.RetryInfo); !ok || ri.GetRetryDelay().AsDuration() != time.Second {
		t.Fatalf("detail %v, want RetryInfo of 1s", st.Details()[0])
	}

	// HTTP with the real exporter: free the slots once it has been told to retry.
	go func() {
		<-busy
		for i := 0; i < cap(sink.slots); i++ {
			<-sink.slots
		}
	}()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("t").Start(ctx, "retried")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export failed: %v", err)
	}
	if spans, _ := store.Spans(toolbar.TraceID(span.SpanContext().TraceID()), 0); len(spans) != 1 {
		t.Fatalf("%d spans after the retry, want 1", len(spans))
	}

	// gRPC exports give their slot back when they end, whatever the outcome.
	client := collectortrace.NewTraceServiceClient(conn)
	for i := 0; i < 3*cap(sink.slots); i++ {
		if _, err := client.Export(context.Background(), &collectortrace.ExportTraceServiceRequest{}); err != nil {
			t.Fatalf("export %d after the slots freed: %v", i, err)
		}
		conn.Invoke(context.Background(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
			[]byte("\xff\xff"), new([]byte), grpc.ForceCodecV2(rawCodec{}))
	}
}

// rawCodec sends bytes as they are, to put malformed messages on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestSinkHostileSizes: a 1 GB body announced in Content-Length is refused
// before it is read; a span with 100,000 attributes within the size limit
// is kept whole.
func TestSinkHostileSizes(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewSink(store)}
	go srv.Serve(ln)
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: sink\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\nxxxx", 1<<30)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("1 GB announced: status %d, want 413", resp.StatusCode)
	}

	attrs := make([]*commonpb.KeyValue, 100_000)
	for i := range attrs {
		attrs[i] = &commonpb.KeyValue{Key: fmt.Sprint("k", i), Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(i)}}}
	}
	tid, sid := bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{8}, 8)
	body, _ := proto.Marshal(&collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: tid, SpanId: sid, Name: "wide", Attributes: attrs}}}},
	}}})
	r, err := http.Post("http://"+ln.Addr().String()+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	spans, _ := store.Spans(toolbar.TraceID(tid), 0)
	if r.StatusCode != 200 || len(spans) != 1 || len(spans[0].Attributes) != 100_000 {
		t.Fatalf("status %d, %d spans: the wide span was not kept whole (%d bytes)", r.StatusCode, len(spans), len(body))
	}
}

// TestSinkRedactsNestedValues: secrets inside lists, maps, log bodies,
// URL userinfo and fragments, and span names are redacted before storage
// and forwarding, whatever the value's type.
func TestSinkRedactsNestedValues(t *testing.T) {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	list := func(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
	}
	kvlist := func(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
	}
	tid, sid := bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{4}, 8)
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	sink.Export(context.Background(), &collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: tid, SpanId: sid, Name: "GET /cb?token=SECRET5",
			Attributes: []*commonpb.KeyValue{
				kv("http.request.header.authorization", list(str("Bearer SECRET1"))),
				kv("app.config", kvlist(kv("password", str("SECRET2")), kv("region", str("eu")))),
				kv("url.full", str("https://u:SECRET3@h/cb#access_token=SECRET4")),
			}}}}},
	}}})
	sink.ingestLogs(&collectorlogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{TraceId: tid, SpanId: sid,
			Body: kvlist(kv("msg", str("login")), kv("password", str("SECRET6")))}}}},
	}}})
	spans, _ := store.Spans(toolbar.TraceID(tid), 0)
	logs, _ := store.Logs(toolbar.TraceID(tid), 0)
	out, _ := toolbar.MarshalOTLPJSON(spans)
	lb, _ := json.Marshal(logs)
	all := string(out) + string(lb)
	for _, secret := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6"} {
		if strings.Contains(all, secret) {
			t.Errorf("%s stored: %s", secret, all)
		}
	}
	for _, kept := range []string{`"eu"`, `"login"`, "GET /cb?token="} {
		if !strings.Contains(all, kept) {
			t.Errorf("%s lost: %s", kept, all)
		}
	}
}

// TestSinkSlowUploadsDoNotLockOut: clients that announce a body and send
// it slowly hold their slots only until the read deadline; an export
// waiting for a slot then gets in.
func TestSinkSlowUploadsDoNotLockOut(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	sink.readTimeout, sink.wait = 200*time.Millisecond, 10*time.Second
	httpAddr, _ := serveSink(t, sink, sink)
	for i := 0; i < cap(sink.slots); i++ {
		conn, err := net.Dial("tcp", httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: sink\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100\r\n\r\nxx")
	}
	for deadline := time.Now().Add(10 * time.Second); len(sink.slots) < cap(sink.slots); {
		if time.Now().After(deadline) {
			t.Fatal("slow uploads never took the slots")
		}
		time.Sleep(time.Millisecond) // polling the semaphore: it has no signal
	}
	tid, sid := bytes.Repeat([]byte{5}, 16), bytes.Repeat([]byte{6}, 8)
	resp, err := http.Post("http://"+httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(protoExport(t, tid, sid)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("export behind slow uploads: status %d", resp.StatusCode)
	}
}

// openFileStore opens a store on a storage file of its own that takes at
// most maxPending items at once, closed when the test ends.
func openFileStore(t *testing.T, maxPending int) (*toolbar.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tracebar.db")
	store, err := toolbar.OpenStore(path, toolbar.Limits{}, toolbar.StorageOptions{MaxPending: maxPending})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, path
}

// TestSinkAnswersWhatTheFileDidNotTakeAsRetryable: an export that the
// storage file did not take is a transient failure, as the OTLP
// specification names it: 503 over HTTP, UNAVAILABLE over gRPC, for
// spans and logs. The items are in memory.
func TestSinkAnswersWhatTheFileDidNotTakeAsRetryable(t *testing.T) {
	store, _ := openFileStore(t, 1) // each export below holds two items
	sink := NewSink(store)
	httpAddr, grpcAddr := serveSink(t, sink, sink)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	traceReq := func(n byte) *collectortrace.ExportTraceServiceRequest {
		tid := bytes.Repeat([]byte{n}, 16)
		return &collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: tid, SpanId: bytes.Repeat([]byte{1}, 8), Name: "job"},
			{TraceId: tid, SpanId: bytes.Repeat([]byte{2}, 8), ParentSpanId: bytes.Repeat([]byte{1}, 8), Name: "query"},
		}}}}}}
	}
	logsReq := func(n byte) *collectorlogs.ExportLogsServiceRequest {
		tid := bytes.Repeat([]byte{n}, 16)
		return &collectorlogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{TraceId: tid, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}},
			{TraceId: tid, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "b"}}},
		}}}}}}
	}
	// OTLP/JSON writes ids in hex.
	jsonTraces := func(n byte) []byte {
		return fmt.Appendf(nil, `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%032x","spanId":"%016x","name":"job"},
			{"traceId":"%032x","spanId":"%016x","parentSpanId":"%016x","name":"query"}]}]}]}`,
			bytes.Repeat([]byte{n}, 16), bytes.Repeat([]byte{1}, 8), bytes.Repeat([]byte{n}, 16), bytes.Repeat([]byte{2}, 8), bytes.Repeat([]byte{1}, 8))
	}
	jsonLogs := func(n byte) []byte {
		return fmt.Appendf(nil, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"%032x","body":{"stringValue":"a"}},
			{"traceId":"%032x","body":{"stringValue":"b"}}]}]}]}`, bytes.Repeat([]byte{n}, 16), bytes.Repeat([]byte{n}, 16))
	}
	postHTTP := func(path, ctype string, body []byte) error {
		resp, err := http.Post("http://"+httpAddr+path, ctype, bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var st spb.Status
		b, _ := io.ReadAll(resp.Body)
		if ctype == "application/json" {
			err = protojson.Unmarshal(b, &st)
		} else {
			err = proto.Unmarshal(b, &st)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || err != nil || codes.Code(st.Code) != codes.Unavailable || !strings.Contains(st.Message, "storage") {
			return fmt.Errorf("answer %s, status %v (%v), want 503 with an UNAVAILABLE status naming the storage", resp.Status, &st, err)
		}
		return nil
	}
	mustProto := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	grpcStatus := func(err error) error {
		if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "storage") {
			return fmt.Errorf("answer %v, want UNAVAILABLE naming the storage", err)
		}
		return nil
	}
	tests := []struct {
		name   string
		trace  byte
		export func(n byte) error
		items  func(id toolbar.TraceID) int
	}{
		{"OTLP/HTTP protobuf spans", 1, func(n byte) error { return postHTTP("/v1/traces", "application/x-protobuf", mustProto(traceReq(n))) }, spansOf(store)},
		{"OTLP/HTTP JSON spans", 2, func(n byte) error { return postHTTP("/v1/traces", "application/json", jsonTraces(n)) }, spansOf(store)},
		{"OTLP/HTTP protobuf logs", 3, func(n byte) error { return postHTTP("/v1/logs", "application/x-protobuf", mustProto(logsReq(n))) }, logsOf(store)},
		{"OTLP/HTTP JSON logs", 6, func(n byte) error { return postHTTP("/v1/logs", "application/json", jsonLogs(n)) }, logsOf(store)},
		{"OTLP/gRPC spans", 4, func(n byte) error {
			_, err := collectortrace.NewTraceServiceClient(conn).Export(context.Background(), traceReq(n))
			return grpcStatus(err)
		}, spansOf(store)},
		{"Zipkin v2 JSON spans", 7, func(n byte) error {
			body := fmt.Sprintf(`[{"traceId":"%032x","id":"%016x","name":"job"},{"traceId":"%032x","id":"%016x","parentId":"%016x","name":"query"}]`,
				bytes.Repeat([]byte{n}, 16), bytes.Repeat([]byte{1}, 8), bytes.Repeat([]byte{n}, 16), bytes.Repeat([]byte{2}, 8), bytes.Repeat([]byte{1}, 8))
			rec := httptest.NewRecorder()
			sink.ZipkinHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v2/spans", strings.NewReader(body)))
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "storage") {
				return fmt.Errorf("answer %d %q, want 503 naming the storage", rec.Code, rec.Body)
			}
			return nil
		}, spansOf(store)},
		{"OTLP/gRPC logs", 5, func(n byte) error {
			_, err := collectorlogs.NewLogsServiceClient(conn).Export(context.Background(), logsReq(n))
			return grpcStatus(err)
		}, logsOf(store)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.export(tt.trace); err != nil {
				t.Fatal(err)
			}
			var id toolbar.TraceID
			copy(id[:], bytes.Repeat([]byte{tt.trace}, 16))
			if n := tt.items(id); n != 2 {
				t.Errorf("%d items in memory, want 2", n)
			}
		})
	}
}

func spansOf(s *toolbar.Store) func(toolbar.TraceID) int {
	return func(id toolbar.TraceID) int { spans, _ := s.Spans(id, 0); return len(spans) }
}

func logsOf(s *toolbar.Store) func(toolbar.TraceID) int {
	return func(id toolbar.TraceID) int { logs, _ := s.Logs(id, 0); return len(logs) }
}

// TestSinkExportTheFileDidNotTakeIsRetriedIntoIt: the Go SDK's exporters,
// told to retry, send the export again until the file takes it; then its
// spans and its root's background record are in the file.
func TestSinkExportTheFileDidNotTakeIsRetriedIntoIt(t *testing.T) {
	store, path := openFileStore(t, 2) // each export holds three spans
	sink := NewSink(store)
	httpAddr, grpcAddr := serveSink(t, sink, sink)
	ctx := context.Background()
	httpExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	grpcExp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	traces := map[string]trace.TraceID{}
	for i, exp := range []sdktrace.SpanExporter{httpExp, grpcExp} {
		tid := trace.TraceID{0xb0, byte(i + 1)}
		traces[fmt.Sprint(i)] = tid
		sc := func(n byte) trace.SpanContext {
			return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{byte(i + 1), n}, TraceFlags: trace.FlagsSampled})
		}
		now := time.Now()
		stubs := tracetest.SpanStubs{
			{Name: "nightly cleanup", SpanContext: sc(1), StartTime: now, EndTime: now.Add(time.Millisecond)},
			{Name: "DELETE sessions", SpanContext: sc(2), Parent: sc(1), StartTime: now, EndTime: now.Add(time.Millisecond)},
			{Name: "DELETE carts", SpanContext: sc(3), Parent: sc(1), StartTime: now, EndTime: now.Add(time.Millisecond)},
		}
		if err := exp.ExportSpans(ctx, stubs.Snapshots()); err != nil {
			t.Fatalf("export %d not taken after retries: %v", i, err)
		}
		exp.Shutdown(ctx)
	}
	if st := store.Stats(); st.StorageDropped == 0 {
		t.Fatalf("stats %+v: no export was refused, the test proves nothing", st)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := toolbar.OpenStore(path, toolbar.Limits{}, toolbar.StorageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for name, tid := range traces {
		id := toolbar.TraceID(tid)
		if spans, _ := again.Spans(id, 0); len(spans) != 3 {
			t.Errorf("export %s: %d spans in the file, want 3", name, len(spans))
		}
		if recs := again.TraceRequests(id); len(recs) != 1 || recs[0].Kind != toolbar.RecordBackground {
			t.Errorf("export %s: records in the file %+v, want the root's background record", name, recs)
		}
	}
}
