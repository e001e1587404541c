package otelbridge

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/tracebar/tracebar/toolbar"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// batch512 is an export of 512 spans with typical attributes, in trace n.
func batch512(n int) []byte {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "bench"}}
	for i := 0; i < 512; i++ {
		tid, sid := make([]byte, 16), make([]byte, 8)
		binary.BigEndian.PutUint64(tid, uint64(n)+1)
		binary.BigEndian.PutUint64(sid, uint64(i)+1)
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId: tid, SpanId: sid, Name: "SELECT products", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: 1e18, EndTimeUnixNano: 1e18 + 1e6,
			Attributes: []*commonpb.KeyValue{str("db.system.name", "postgresql"), str("db.query.text", "SELECT id, name FROM products WHERE id = $1"), str("server.address", "db")},
		})
	}
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "shop")}},
		ScopeSpans: []*tracepb.ScopeSpans{ss},
	}}})
	return b
}

// BenchmarkSinkHTTPProtobuf512 measures OTLP/HTTP protobuf ingest in
// batches of 512 spans (decode, convert, store), without the network.
func BenchmarkSinkHTTPProtobuf512(b *testing.B) {
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = batch512(i)
	}
	sink := NewSink(toolbar.NewStore(toolbar.Limits{Traces: 1000, Spans: 1 << 20}))
	b.ResetTimer()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", "application/x-protobuf")
		sink.ServeHTTP(httptest.NewRecorder(), req)
		i++
	}
	b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkSinkLoopback512 measures ingest over real loopback sockets,
// OTLP/HTTP protobuf and OTLP/gRPC, batches of 512 spans, from parallel
// clients as several app processes would send.
func BenchmarkSinkLoopback512(b *testing.B) {
	bodies := make([][]byte, 64)
	reqs := make([]*collectortrace.ExportTraceServiceRequest, len(bodies))
	for i := range bodies {
		bodies[i] = batch512(i)
		reqs[i] = &collectortrace.ExportTraceServiceRequest{}
		proto.Unmarshal(bodies[i], reqs[i])
	}
	sink := NewSink(toolbar.NewStore(toolbar.Limits{Traces: 1000, Spans: 1 << 20}))
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: sink}
	go srv.Serve(hl)
	defer srv.Close()
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	g := sink.NewGRPCServer()
	go g.Serve(gl)
	defer g.Stop()

	b.Run("http", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Post("http://"+hl.Addr().String()+"/v1/traces", "application/x-protobuf", bytes.NewReader(bodies[n.Add(1)%int64(len(bodies))]))
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("export: %v %v", err, resp)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "spans/s")
	})
	b.Run("grpc", func(b *testing.B) {
		conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		client := collectortrace.NewTraceServiceClient(conn)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.Export(context.Background(), reqs[n.Add(1)%int64(len(reqs))]); err != nil {
					b.Fatalf("export: %v", err)
				}
			}
		})
		b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "spans/s")
	})
}

// BenchmarkStoreBytesPerSpan reports the heap each stored span costs.
func BenchmarkStoreBytesPerSpan(b *testing.B) {
	for b.Loop() {
		store := toolbar.NewStore(toolbar.Limits{Traces: 1000, Spans: 1 << 20})
		sink := NewSink(store)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 200; i++ { // 102,400 spans
			req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(batch512(i)))
			req.Header.Set("Content-Type", "application/x-protobuf")
			sink.ServeHTTP(httptest.NewRecorder(), req)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(store.Stats().Spans), "bytes/span")
		runtime.KeepAlive(store)
	}
}
