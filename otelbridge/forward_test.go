package otelbridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// backend is a second sink on real sockets, standing in for a collector;
// arrived receives a value after each export it handled.
type backend struct {
	store              *toolbar.Store
	httpAddr, grpcAddr string
	arrived            chan struct{}
	logs               chan *collectorlogs.ExportLogsServiceRequest
	metrics            chan *collectormetrics.ExportMetricsServiceRequest
	keys               chan string // the X-Api-Key each logs or metrics export came with
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{store: toolbar.NewStore(toolbar.Limits{}), arrived: make(chan struct{}, 100),
		logs: make(chan *collectorlogs.ExportLogsServiceRequest, 10), metrics: make(chan *collectormetrics.ExportMetricsServiceRequest, 10),
		keys: make(chan string, 20)}
	sink := NewSink(b.store)
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if p := r.URL.Path; p == "/v1/logs" || p == "/v1/metrics" {
			b.keys <- r.Header.Get("X-Api-Key")
		}
		switch r.URL.Path {
		case "/v1/logs":
			req := new(collectorlogs.ExportLogsServiceRequest)
			if proto.Unmarshal(body, req) != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			b.logs <- req
		case "/v1/metrics":
			req := new(collectormetrics.ExportMetricsServiceRequest)
			if proto.Unmarshal(body, req) != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			b.metrics <- req
		default:
			r.Body = io.NopCloser(bytes.NewReader(body))
			sink.ServeHTTP(w, r)
			b.arrived <- struct{}{}
		}
	})}
	go srv.Serve(hl)
	t.Cleanup(func() { srv.Close() })
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	g := grpc.NewServer(grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		b.arrived <- struct{}{}
		return resp, err
	}))
	collectortrace.RegisterTraceServiceServer(g, sink)
	collectorlogs.RegisterLogsServiceServer(g, backendLogs{b: b})
	collectormetrics.RegisterMetricsServiceServer(g, backendMetrics{b: b})
	go g.Serve(gl)
	t.Cleanup(g.Stop)
	b.httpAddr, b.grpcAddr = hl.Addr().String(), gl.Addr().String()
	return b
}

type backendLogs struct {
	b *backend
	collectorlogs.UnimplementedLogsServiceServer
}

func (l backendLogs) Export(ctx context.Context, req *collectorlogs.ExportLogsServiceRequest) (*collectorlogs.ExportLogsServiceResponse, error) {
	l.b.keys <- strings.Join(metadata.ValueFromIncomingContext(ctx, "x-api-key"), ",")
	l.b.logs <- req
	return &collectorlogs.ExportLogsServiceResponse{}, nil
}

type backendMetrics struct {
	b *backend
	collectormetrics.UnimplementedMetricsServiceServer
}

func (m backendMetrics) Export(ctx context.Context, req *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	m.b.keys <- strings.Join(metadata.ValueFromIncomingContext(ctx, "x-api-key"), ",")
	m.b.metrics <- req
	return &collectormetrics.ExportMetricsServiceResponse{}, nil
}

// TestForwarderSendsReceivedAndOwnSpans: received batches go on whole,
// once, redacted; the proxy's own spans go through the batch processor.
func TestForwarderSendsReceivedAndOwnSpans(t *testing.T) {
	b := startBackend(t)
	for _, endpoint := range []string{"http://" + b.httpAddr, "grpc://" + b.grpcAddr} {
		t.Run(strings.Split(endpoint, ":")[0], func(t *testing.T) {
			f, err := NewForwarder(endpoint, false)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Shutdown(context.Background())

			// A received batch goes on as it came: the nested value survives.
			front := toolbar.NewStore(toolbar.Limits{})
			sink := NewSink(front)
			sink.Configure(&SinkConfig{Forwarder: f, Redactor: toolbar.NewRedactor("tenant")})
			tid := strings.Repeat("ab", 16)
			if strings.HasPrefix(endpoint, "grpc") {
				tid = strings.Repeat("cd", 16)
			}
			body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"app"}}]},"scopeSpans":[{"spans":[{"traceId":"` + tid + `","spanId":"0102030405060708","name":"received","attributes":[{"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"7"}}]}}},{"key":"app.tenant","value":{"stringValue":"acme"}}]}]}]}]}`
			req, _ := http.NewRequest("POST", "/v1/traces", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			sink.ServeHTTP(&discard{}, req)
			// The same batch again (a retry, or a loop back from the
			// backend) is not forwarded twice.
			req, _ = http.NewRequest("POST", "/v1/traces", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			sink.ServeHTTP(&discard{}, req)

			// The proxy's own span through the batch processor.
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.SpanProcessor()))
			_, span := tp.Tracer("t").Start(context.Background(), "own")
			span.End()
			if err := tp.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			tp.Shutdown(context.Background())

			id, _ := toolbar.ParseTraceID(tid)
			deadline := time.After(10 * time.Second)
			for {
				spans, _ := b.store.Spans(id, 0)
				own, _ := b.store.Spans(toolbar.TraceID(span.SpanContext().TraceID()), 0)
				if len(spans) == 1 && len(own) == 1 {
					kv := spans[0].Attributes[0].Value.Any().([]toolbar.KeyValue)
					if kv[0].Key != "k" || kv[0].Value.Any() != int64(7) {
						t.Fatalf("nested attribute changed: %+v", kv)
					}
					// Redacted by the front sink's configured names, not the backend's.
					if v := spans[0].Attributes[1].Value.Any(); v != toolbar.Redacted {
						t.Fatalf("secret attribute forwarded as %q", v)
					}
					return
				}
				select {
				case <-b.arrived:
				case <-deadline:
					t.Fatalf("backend has %d received and %d own spans", len(spans), len(own))
				}
			}
		})
	}
	if got := b.store.Stats().Spans; got != 4 {
		t.Fatalf("backend holds %d spans, want 4 (each sent once)", got)
	}
}

// TestForwarderSendsLogsAndMetrics: with forwarding on, the app can keep
// Tracebar as its only OTLP endpoint: logs exports (records without a trace
// too, which the toolbar does not keep) and metrics exports reach the
// backend whole, redacted, over either protocol, with the headers that
// OTEL_EXPORTER_OTLP_HEADERS names (an API key).
func TestForwarderSendsLogsAndMetrics(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%201")
	b := startBackend(t)
	for _, endpoint := range []string{"http://" + b.httpAddr, "grpc://" + b.grpcAddr} {
		t.Run(strings.Split(endpoint, ":")[0], func(t *testing.T) {
			f, err := NewForwarder(endpoint, false)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Shutdown(context.Background())
			sink := NewSink(toolbar.NewStore(toolbar.Limits{}))
			sink.Configure(&SinkConfig{Forwarder: f, Redactor: toolbar.NewRedactor("tenant")})
			post := func(path, body string) {
				req, _ := http.NewRequest("POST", path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				sink.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
			}
			post("/v1/logs", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[
				{"traceId":"`+strings.Repeat("ab", 16)+`","body":{"stringValue":"in a trace"},"attributes":[{"key":"app.tenant","value":{"stringValue":"acme"}}]},
				{"body":{"stringValue":"no trace"}}]}]}]}`)
			post("/v1/metrics", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"queue.depth","gauge":{"dataPoints":[
				{"asInt":"3","attributes":[{"key":"app.tenant","value":{"stringValue":"acme"}},{"key":"queue","value":{"stringValue":"mail"}}]}]}}]}]}]}`)

			var logs *collectorlogs.ExportLogsServiceRequest
			select {
			case logs = <-b.logs:
			case <-time.After(10 * time.Second):
				t.Fatal("no logs reached the backend")
			}
			records := logs.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()
			if len(records) != 2 || records[1].GetBody().GetStringValue() != "no trace" {
				t.Fatalf("backend got records %v", records)
			}
			if v := records[0].GetAttributes()[0].GetValue().GetStringValue(); v != toolbar.Redacted {
				t.Fatalf("secret log attribute forwarded as %q", v)
			}
			var metrics *collectormetrics.ExportMetricsServiceRequest
			select {
			case metrics = <-b.metrics:
			case <-time.After(10 * time.Second):
				t.Fatal("no metrics reached the backend")
			}
			m := metrics.GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics()[0]
			attrs := m.GetGauge().GetDataPoints()[0].GetAttributes()
			if m.GetName() != "queue.depth" || m.GetGauge().GetDataPoints()[0].GetAsInt() != 3 ||
				attrs[0].GetValue().GetStringValue() != toolbar.Redacted || attrs[1].GetValue().GetStringValue() != "mail" {
				t.Fatalf("backend got metric %v", m)
			}
			for range 2 {
				if k := <-b.keys; k != "k 1" {
					t.Fatalf("export came with X-Api-Key %q, want %q", k, "k 1")
				}
			}
		})
	}
}

// TestForwarderRetriesLogs: a backend that cannot take an export now (HTTP
// 503 with Retry-After, gRPC UNAVAILABLE) gets it again.
func TestForwarderRetriesLogs(t *testing.T) {
	var calls atomic.Int32
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got <- struct{}{}
	}))
	defer srv.Close()
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	g := grpc.NewServer()
	collectorlogs.RegisterLogsServiceServer(g, flakyLogs{calls: &calls, got: got})
	go g.Serve(gl)
	defer g.Stop()
	for _, endpoint := range []string{srv.URL, "grpc://" + gl.Addr().String()} {
		calls.Store(0)
		f, err := NewForwarder(endpoint, false)
		if err != nil {
			t.Fatal(err)
		}
		f.ForwardLogs(&collectorlogs.ExportLogsServiceRequest{})
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: export not retried (%d calls)", endpoint, calls.Load())
		}
		f.Shutdown(context.Background())
	}
}

type flakyLogs struct {
	calls *atomic.Int32
	got   chan struct{}
	collectorlogs.UnimplementedLogsServiceServer
}

func (l flakyLogs) Export(context.Context, *collectorlogs.ExportLogsServiceRequest) (*collectorlogs.ExportLogsServiceResponse, error) {
	if l.calls.Add(1) == 1 {
		return nil, status.Error(codes.Unavailable, "busy")
	}
	l.got <- struct{}{}
	return &collectorlogs.ExportLogsServiceResponse{}, nil
}

func TestForwarderRefusesItsOwnSink(t *testing.T) {
	for _, endpoint := range []string{"http://localhost:4318", "grpc://127.0.0.1:4317", "http://127.0.0.1:4318/v1/traces"} {
		if _, err := NewForwarder(endpoint, false, "127.0.0.1:4318", "127.0.0.1:4317"); err == nil || !strings.Contains(err.Error(), "loop") {
			t.Errorf("%s: err %v, want a refusal", endpoint, err)
		}
	}
	if _, err := NewForwarder("ftp://x:1", false); err == nil {
		t.Error("ftp accepted")
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// TestForwardAfterShutdownDrops: a sink still holding a replaced
// Forwarder must not panic sending to it.
func TestForwardAfterShutdownDrops(t *testing.T) {
	f, err := NewForwarder("http://127.0.0.1:1", false)
	if err != nil {
		t.Fatal(err)
	}
	f.Shutdown(context.Background())
	f.Forward(nil)
	if f.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", f.Dropped())
	}
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestForwarderPaths: a base URL gets /v1/traces appended, as the SDKs do
// with OTEL_EXPORTER_OTLP_ENDPOINT; an exact one is used as given.
// Logs go beside the traces path; a traces URL that does not end in
// /v1/traces names no place for them, and they are not sent.
func TestForwarderPaths(t *testing.T) {
	tests := []struct {
		path       string
		exact      bool
		want, logs string
	}{
		{"", false, "/v1/traces", "/v1/logs"},
		{"/otlp", false, "/otlp/v1/traces", "/otlp/v1/logs"},
		{"/otlp/v1/traces", false, "/otlp/v1/traces", "/otlp/v1/logs"},
		{"/otlp/v1/traces", true, "/otlp/v1/traces", "/otlp/v1/logs"},
		{"/custom/traces", true, "/custom/traces", ""},
	}
	for _, tt := range tests {
		got := make(chan string, 2)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.URL.Path
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		f, err := NewForwarder(srv.URL+tt.path, tt.exact)
		if err != nil {
			t.Fatal(err)
		}
		f.Forward(nil)
		f.ForwardLogs(&collectorlogs.ExportLogsServiceRequest{})
		f.Shutdown(context.Background()) // sends what is queued
		srv.Close()
		close(got)
		var paths []string
		for p := range got {
			paths = append(paths, p)
		}
		want := []string{tt.want}
		if tt.logs != "" {
			want = append(want, tt.logs)
		}
		slices.Sort(paths)
		slices.Sort(want)
		if strings.Join(paths, " ") != strings.Join(want, " ") {
			t.Errorf("%q exact=%v: posted to %q, want %q", tt.path, tt.exact, paths, want)
		}
	}
}

// TestForwarderOutlivesShutdownForItsProcessors: Caddy cleans modules up in
// any order; the proxy's last span still goes out when the Forwarder is
// shut down before the tracer provider that uses it.
func TestForwarderOutlivesShutdownForItsProcessors(t *testing.T) {
	b := startBackend(t)
	f, err := NewForwarder("http://"+b.httpAddr, false)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.SpanProcessor()))
	_, span := tp.Tracer("t").Start(context.Background(), "last")
	span.End()
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("final export failed: %v", err)
	}
	select {
	case <-b.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the last span never reached the backend")
	}
	if spans, _ := b.store.Spans(toolbar.TraceID(span.SpanContext().TraceID()), 0); len(spans) != 1 {
		t.Fatalf("backend has %d spans", len(spans))
	}
}

// TestForwarderCountsLostExports: an export the backend refuses for good
// (a 404: no logs pipeline) is counted and reported, not retried.
func TestForwarderCountsLostExports(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	f, err := NewForwarder(srv.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	lost := make(chan error, 1)
	f.OnLost(func(err error) { lost <- err })
	f.ForwardLogs(&collectorlogs.ExportLogsServiceRequest{})
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), "/v1/logs") || !strings.Contains(err.Error(), "404") {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a refused export was not reported")
	}
	if f.Dropped() != 1 || calls.Load() != 1 {
		t.Fatalf("dropped %d after %d calls, want 1 and 1", f.Dropped(), calls.Load())
	}
}

// TestShutdownEndsRetries: a backend that keeps asking to wait does not
// keep a Forwarder alive past the deadline Shutdown is given.
func TestShutdownEndsRetries(t *testing.T) {
	first := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case first <- struct{}{}:
		default:
		}
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	f, err := NewForwarder(srv.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	f.ForwardLogs(&collectorlogs.ExportLogsServiceRequest{})
	<-first
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sender still retries after Shutdown gave up")
	}
}

// TestForwarderBoundsHeldBytes: with the backend stuck, what waits for it
// stays within the byte bound; the rest is dropped and counted.
func TestForwarderBoundsHeldBytes(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	f, err := NewForwarder(srv.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	export := &collectorlogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{SchemaUrl: strings.Repeat("x", 1000)}}}
	size := int64(proto.Size(export))
	f.maxBytes = 2*size + size/2
	for range 3 {
		f.ForwardLogs(export)
	}
	if f.Dropped() != 1 || f.held.Load() != 2*size {
		t.Fatalf("dropped %d, holding %d bytes; want 1 dropped and %d held", f.Dropped(), f.held.Load(), 2*size)
	}
	close(release)
	f.Shutdown(context.Background())
	if f.held.Load() != 0 {
		t.Fatalf("%d bytes still held after Shutdown", f.held.Load())
	}
}
