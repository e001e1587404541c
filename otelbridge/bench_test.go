package otelbridge

import (
	"bytes"
	"encoding/binary"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/tracebar/tracebar/toolbar"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
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
