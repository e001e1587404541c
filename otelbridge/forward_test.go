package otelbridge

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// backend is a second sink on real sockets, standing in for a collector;
// arrived receives a value after each export it handled.
type backend struct {
	store              *toolbar.Store
	httpAddr, grpcAddr string
	arrived            chan struct{}
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{store: toolbar.NewStore(toolbar.Limits{}), arrived: make(chan struct{}, 100)}
	sink := NewSink(b.store)
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink.ServeHTTP(w, r)
		b.arrived <- struct{}{}
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
	go g.Serve(gl)
	t.Cleanup(g.Stop)
	b.httpAddr, b.grpcAddr = hl.Addr().String(), gl.Addr().String()
	return b
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
					kv := spans[0].Attributes[0].Value.V.([]toolbar.KeyValue)
					if kv[0].Key != "k" || kv[0].Value.V != int64(7) {
						t.Fatalf("nested attribute changed: %+v", kv)
					}
					// Redacted by the front sink's configured names, not the backend's.
					if v := spans[0].Attributes[1].Value.V; v != toolbar.Redacted {
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
func TestForwarderPaths(t *testing.T) {
	tests := []struct {
		path  string
		exact bool
		want  string
	}{
		{"", false, "/v1/traces"},
		{"/otlp", false, "/otlp/v1/traces"},
		{"/otlp/v1/traces", false, "/otlp/v1/traces"},
		{"/custom/traces", true, "/custom/traces"},
	}
	for _, tt := range tests {
		got := make(chan string, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- r.URL.Path
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		f, err := NewForwarder(srv.URL+tt.path, tt.exact)
		if err != nil {
			t.Fatal(err)
		}
		f.Forward(nil)
		select {
		case p := <-got:
			if p != tt.want {
				t.Errorf("%q exact=%v: posted to %q, want %q", tt.path, tt.exact, p, tt.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: nothing posted", tt.path)
		}
		f.Shutdown(context.Background())
		srv.Close()
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
