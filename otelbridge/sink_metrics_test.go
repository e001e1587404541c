package otelbridge

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// metricsSink is a sink keeping metrics in a new MetricStore.
func metricsSink(cfg SinkConfig) (*Sink, *toolbar.MetricStore) {
	ms := toolbar.NewMetricStore(toolbar.MetricLimits{})
	cfg.Metrics = ms
	sink := NewSink(toolbar.NewStore(toolbar.Limits{}))
	sink.Configure(&cfg)
	return sink, ms
}

// bySeriesName indexes a query's answer by metric name.
func bySeriesName(series []toolbar.MetricSeries) map[string]toolbar.MetricSeries {
	out := map[string]toolbar.MetricSeries{}
	for _, s := range series {
		out[s.Name] = s
	}
	return out
}

func attrOf(kvs []toolbar.KeyValue, key string) any {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.Any()
		}
	}
	return nil
}

// TestSinkKeepsMetricsTheGoSDKExports: what the OpenTelemetry Go SDK's
// OTLP exporters send, over HTTP and gRPC, lands in the MetricStore by
// kind (a histogram with explicit buckets, an exponential one, a counter,
// an up-down counter, a gauge), redacted, with the exemplars that name
// the sampled span the measurements were made in.
func TestSinkKeepsMetricsTheGoSDKExports(t *testing.T) {
	for _, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			ctx := context.Background()
			sink, ms := metricsSink(SinkConfig{Redactor: toolbar.NewRedactor("tenant")})
			var exp sdkmetric.Exporter
			var err error
			if transport == "http" {
				srv := httptest.NewServer(sink)
				defer srv.Close()
				exp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"))
			} else {
				ln, lerr := net.Listen("tcp", "127.0.0.1:0")
				if lerr != nil {
					t.Fatal(lerr)
				}
				g := sink.NewGRPCServer()
				go g.Serve(ln)
				defer g.Stop()
				exp, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(ln.Addr().String()), otlpmetricgrpc.WithInsecure())
			}
			if err != nil {
				t.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(
				sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
				sdkmetric.WithResource(resource.NewSchemaless(semconv.ServiceName("shop"))),
				sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "payload.size"},
					sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})),
			)
			defer mp.Shutdown(ctx)
			tp := sdktrace.NewTracerProvider() // samples every root span
			defer tp.Shutdown(ctx)
			spanCtx, span := tp.Tracer("t").Start(ctx, "GET /")
			meter := mp.Meter("demo")

			duration, _ := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.01, 0.1, 1))
			duration.Record(spanCtx, 0.05, metric.WithAttributes(attribute.String("http.route", "/"), attribute.String("app.tenant", "acme")))
			orders, _ := meter.Int64Counter("orders.placed")
			orders.Add(spanCtx, 3)
			conns, _ := meter.Int64UpDownCounter("db.client.connection.count")
			conns.Add(ctx, 4)
			conns.Add(ctx, -1)
			memory, _ := meter.Float64Gauge("process.runtime.memory", metric.WithUnit("By"))
			memory.Record(ctx, 1.5e6)
			size, _ := meter.Float64Histogram("payload.size")
			size.Record(ctx, 100)
			size.Record(ctx, 200)
			span.End()
			// ForceFlush exports and waits for the sink's answer.
			if err := mp.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}

			got := bySeriesName(ms.Query("shop", time.Time{}, time.Time{}))
			if len(got) != 5 {
				t.Fatalf("kept %d series (%v), want 5", len(got), got)
			}
			h := got["http.server.request.duration"]
			if h.Kind != toolbar.MetricHistogram || h.Temporality != "cumulative" || h.Unit != "s" || h.Scope != "demo" || len(h.Points) != 1 {
				t.Fatalf("duration histogram %+v", h)
			}
			p := h.Points[0]
			if p.Count != 1 || p.Sum != 0.05 || len(p.Bounds) != 3 || len(p.Counts) != 4 || p.Counts[1] != 1 || p.Min == nil || *p.Min != 0.05 {
				t.Errorf("duration point %+v", p)
			}
			if attrOf(h.Attributes, "http.route") != "/" || attrOf(h.Attributes, "app.tenant") != toolbar.Redacted {
				t.Errorf("attributes %v: want the route, the tenant redacted", h.Attributes)
			}
			sc := span.SpanContext()
			if len(p.Exemplars) != 1 || p.Exemplars[0].TraceID != toolbar.TraceID(sc.TraceID()) || p.Exemplars[0].SpanID != toolbar.SpanID(sc.SpanID()) || p.Exemplars[0].Value != 0.05 {
				t.Errorf("exemplars %+v, want the one of span %s/%s", p.Exemplars, sc.TraceID(), sc.SpanID())
			}
			if c := got["orders.placed"]; c.Kind != toolbar.MetricSum || !c.Monotonic || c.Points[0].Value != 3 || len(c.Points[0].Exemplars) != 1 {
				t.Errorf("counter %+v", c)
			}
			if c := got["db.client.connection.count"]; c.Kind != toolbar.MetricSum || c.Monotonic || c.Points[0].Value != 3 || len(c.Points[0].Exemplars) != 0 {
				t.Errorf("up-down counter %+v: want 3, no exemplar (no span)", c)
			}
			if g := got["process.runtime.memory"]; g.Kind != toolbar.MetricGauge || g.Unit != "By" || g.Points[0].Value != 1.5e6 {
				t.Errorf("gauge %+v", g)
			}
			e := got["payload.size"]
			if e.Kind != toolbar.MetricExponentialHistogram || len(e.Points) != 1 {
				t.Fatalf("exponential histogram %+v", e)
			}
			var inBuckets uint64
			for _, n := range e.Points[0].Positive.Counts {
				inBuckets += n
			}
			if ep := e.Points[0]; ep.Count != 2 || ep.Sum != 300 || inBuckets != 2 || ep.Scale == 0 {
				t.Errorf("exponential point %+v", ep)
			}
		})
	}
}

// postMetrics posts an OTLP/JSON metrics export to sink.
func postMetrics(t *testing.T, sink *Sink, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/metrics", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	sink.ServeHTTP(w, req)
	return w
}

// TestSinkAnswersMetricsItCannotKeepAsTheSpecSays: a payload that does not
// decode is a 400; points the store cannot show are left out and counted
// in the answer's partial success (as spans with bad ids are), the others
// kept; exemplars with ids of the wrong length are left out.
func TestSinkAnswersMetricsItCannotKeepAsTheSpecSays(t *testing.T) {
	const point = `{"timeUnixNano":"1740830400000000000","asDouble":%s}`
	tests := []struct {
		name      string
		body      string
		code      int
		rejected  int64
		kept      int
		exemplars int
	}{
		{"not JSON", `{"resourceMetrics":`, 400, 0, 0, 0},
		{"a NaN beside a number", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[` +
			strings.Replace(point, "%s", `"NaN"`, 1) + `,` + strings.Replace(point, "%s", "2", 1) + `]}}]}]}]}`, 200, 1, 1, 0},
		{"buckets that do not match their bounds", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[
			{"timeUnixNano":"1740830400000000000","count":"1","explicitBounds":[1,2],"bucketCounts":["1"]}]}}]}]}]}`, 200, 1, 0, 0},
		{"no time", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asInt":"1"}]}}]}]}]}`, 200, 1, 0, 0},
		{"exemplars with bad ids", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"c","sum":{"isMonotonic":true,"aggregationTemporality":2,"dataPoints":[
			{"timeUnixNano":"1740830400000000000","asInt":"5","exemplars":[
				{"asInt":"1","traceId":"` + strings.Repeat("ab", 15) + `","spanId":"0102030405060708"},
				{"asInt":"2","spanId":"0102030405060708"},
				{"asInt":"3"},
				{"asInt":"4","traceId":"` + strings.Repeat("ab", 16) + `","spanId":"0102030405060708"}]}]}}]}]}]}`, 200, 0, 1, 2},
		{"no data", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"empty"}]}]}]}`, 200, 0, 0, 0},
	}
	for _, tt := range tests {
		sink, ms := metricsSink(SinkConfig{})
		w := postMetrics(t, sink, tt.body)
		if w.Code != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, w.Code, w.Body, tt.code)
			continue
		}
		if tt.code != 200 {
			continue
		}
		var resp collectormetrics.ExportMetricsServiceResponse
		if err := protojson.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s: answer %s: %v", tt.name, w.Body, err)
		}
		if got := resp.GetPartialSuccess().GetRejectedDataPoints(); got != tt.rejected || (got > 0) != (resp.GetPartialSuccess().GetErrorMessage() != "") {
			t.Errorf("%s: partial success %v, want %d rejected with a message", tt.name, resp.GetPartialSuccess(), tt.rejected)
		}
		kept, exemplars := 0, 0
		for _, s := range ms.Query("", time.Time{}, time.Time{}) {
			kept += len(s.Points)
			for _, p := range s.Points {
				exemplars += len(p.Exemplars)
			}
		}
		if kept != tt.kept || exemplars != tt.exemplars {
			t.Errorf("%s: kept %d points with %d exemplars, want %d with %d", tt.name, kept, exemplars, tt.kept, tt.exemplars)
		}
	}
	// Without a MetricStore (and no forwarder) an export is taken and dropped.
	sink := NewSink(toolbar.NewStore(toolbar.Limits{}))
	if w := postMetrics(t, sink, tests[1].body); w.Code != 200 || strings.Contains(w.Body.String(), "partialSuccess") {
		t.Errorf("no store: %d %s, want 200 without a partial success", w.Code, w.Body)
	}
}

// TestSinkKeepsAndForwardsMetrics: keeping metrics changes nothing of
// forwarding: the backend gets the whole export, redacted, the points the
// toolbar could not keep too.
func TestSinkKeepsAndForwardsMetrics(t *testing.T) {
	b := startBackend(t)
	f, err := NewForwarder("http://"+b.httpAddr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	sink, ms := metricsSink(SinkConfig{Forwarder: f})
	w := postMetrics(t, sink, `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"worker"}}]},
		"scopeMetrics":[{"metrics":[{"name":"queue.depth","gauge":{"dataPoints":[
		{"timeUnixNano":"1740830400000000000","asInt":"7","attributes":[{"key":"api_key","value":{"stringValue":"k"}}]},
		{"timeUnixNano":"1740830401000000000","asDouble":"Infinity"}]}}]}]}]}`)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var fwd *collectormetrics.ExportMetricsServiceRequest
	select {
	case fwd = <-b.metrics:
	case <-time.After(10 * time.Second):
		t.Fatal("no metrics reached the backend")
	}
	points := fwd.GetResourceMetrics()[0].GetScopeMetrics()[0].GetMetrics()[0].GetGauge().GetDataPoints()
	if len(points) != 2 || points[0].GetAttributes()[0].GetValue().GetStringValue() != toolbar.Redacted || !math.IsInf(points[1].GetAsDouble(), 1) {
		t.Fatalf("backend got %v, want both points, the key redacted", points)
	}
	kept := ms.Query("worker", time.Time{}, time.Time{})
	if len(kept) != 1 || len(kept[0].Points) != 1 || kept[0].Points[0].Value != 7 || attrOf(kept[0].Attributes, "api_key") != toolbar.Redacted {
		t.Fatalf("kept %+v, want the finite point, redacted", kept)
	}
}

// TestMetricsFromProtoByKind: each kind of OTLP data becomes series of
// that kind, one per data point, with the fields the kind has, its
// temporality and monotonicity; a point flagged as holding no recorded
// value is left out.
func TestMetricsFromProtoByKind(t *testing.T) {
	const t1, t2 = 1740830400000000000, 1740830401000000000
	one, four := 1.0, 4.0
	noValue := uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
	route := []*commonpb.KeyValue{{Key: "route", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "/a"}}}}
	exemplar := []*metricspb.Exemplar{{TimeUnixNano: t2, Value: &metricspb.Exemplar_AsInt{AsInt: 3},
		TraceId: []byte{1: 1, 15: 0}, SpanId: []byte{2: 2, 7: 0}}}
	cumulative, delta := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	tests := []struct {
		name   string
		metric *metricspb.Metric
		want   []toolbar.MetricSeries // attributes aside
	}{
		{"a gauge, int and double", &metricspb.Metric{Name: "g", Unit: "1", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
			{TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 7}, Attributes: route},
			{TimeUnixNano: t2, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 0.5}},
			{TimeUnixNano: t2, Flags: noValue},
		}}}}, []toolbar.MetricSeries{
			{Metric: toolbar.Metric{Name: "g", Unit: "1", Kind: toolbar.MetricGauge}, Points: []toolbar.MetricPoint{{Time: unixNano(t1), Value: 7}}},
			{Metric: toolbar.Metric{Name: "g", Unit: "1", Kind: toolbar.MetricGauge}, Points: []toolbar.MetricPoint{{Time: unixNano(t2), Value: 0.5}}},
		}},
		{"a counter with an exemplar", &metricspb.Metric{Name: "c", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, AggregationTemporality: cumulative,
			DataPoints: []*metricspb.NumberDataPoint{{StartTimeUnixNano: t1, TimeUnixNano: t2, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 12}, Exemplars: exemplar}}}}},
			[]toolbar.MetricSeries{{Metric: toolbar.Metric{Name: "c", Kind: toolbar.MetricSum, Temporality: "cumulative", Monotonic: true},
				Points: []toolbar.MetricPoint{{Start: unixNano(t1), Time: unixNano(t2), Value: 12,
					Exemplars: []toolbar.Exemplar{{Time: unixNano(t2), Value: 3, TraceID: toolbar.TraceID{1: 1}, SpanID: toolbar.SpanID{2: 2}}}}}}}},
		{"an up-down counter, delta", &metricspb.Metric{Name: "u", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{AggregationTemporality: delta,
			DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: t2, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: -2}}}}}},
			[]toolbar.MetricSeries{{Metric: toolbar.Metric{Name: "u", Kind: toolbar.MetricSum, Temporality: "delta"}, Points: []toolbar.MetricPoint{{Time: unixNano(t2), Value: -2}}}}},
		{"a histogram", &metricspb.Metric{Name: "h", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: cumulative,
			DataPoints: []*metricspb.HistogramDataPoint{
				{StartTimeUnixNano: t1, TimeUnixNano: t2, Count: 3, Sum: &four, Min: &one, Max: &four, ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{1, 1, 1}},
				{TimeUnixNano: t2, Flags: noValue},
			}}}}, []toolbar.MetricSeries{{Metric: toolbar.Metric{Name: "h", Unit: "s", Kind: toolbar.MetricHistogram, Temporality: "cumulative"},
			Points: []toolbar.MetricPoint{{Start: unixNano(t1), Time: unixNano(t2), Count: 3, Sum: 4, Min: &one, Max: &four, Bounds: []float64{1, 2}, Counts: []uint64{1, 1, 1}}}}}},
		{"an exponential histogram", &metricspb.Metric{Name: "e", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{AggregationTemporality: delta,
			DataPoints: []*metricspb.ExponentialHistogramDataPoint{{TimeUnixNano: t2, Count: 4, Sum: &four, Scale: -1, ZeroCount: 1,
				Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: -2, BucketCounts: []uint64{2}},
				Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 3, BucketCounts: []uint64{1}}}}}}},
			[]toolbar.MetricSeries{{Metric: toolbar.Metric{Name: "e", Kind: toolbar.MetricExponentialHistogram, Temporality: "delta"},
				Points: []toolbar.MetricPoint{{Time: unixNano(t2), Count: 4, Sum: 4, Scale: -1, ZeroCount: 1,
					Positive: toolbar.ExpBuckets{Offset: -2, Counts: []uint64{2}}, Negative: toolbar.ExpBuckets{Offset: 3, Counts: []uint64{1}}}}}}},
		{"a summary", &metricspb.Metric{Name: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{
			{StartTimeUnixNano: t1, TimeUnixNano: t2, Count: 2, Sum: 3, QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 1}, {Quantile: 1, Value: 2}}},
			{TimeUnixNano: t2, Flags: noValue},
		}}}}, []toolbar.MetricSeries{{Metric: toolbar.Metric{Name: "s", Kind: toolbar.MetricSummary},
			Points: []toolbar.MetricPoint{{Start: unixNano(t1), Time: unixNano(t2), Count: 2, Sum: 3, Quantiles: []toolbar.Quantile{{Q: 0.5, Value: 1}, {Q: 1, Value: 2}}}}}}},
		{"no data", &metricspb.Metric{Name: "empty"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metricsFromProto([]*metricspb.ResourceMetrics{{
				Resource:     &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "web"}}}}},
				ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "lib"}, Metrics: []*metricspb.Metric{tt.metric}}},
			}})
			if len(got) != len(tt.want) {
				t.Fatalf("%d series, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i].Service != "web" || got[i].Scope != "lib" {
					t.Errorf("series %d: service %q scope %q, want web and lib", i, got[i].Service, got[i].Scope)
				}
				if i == 0 && tt.metric.GetGauge() != nil && attrOf(got[i].Attributes, "route") != "/a" {
					t.Errorf("attributes %+v, want route=/a", got[i].Attributes)
				}
				got[i].Service, got[i].Scope, got[i].Attributes = "", "", nil
				if !reflect.DeepEqual(got[i], tt.want[i]) {
					t.Errorf("series %d:\n%+v\nwant\n%+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// FuzzMetricsFromProto: any export that decodes is redacted, converted
// and kept without a panic, and what is kept can be written as JSON (no
// NaN or infinity reaches the API).
func FuzzMetricsFromProto(f *testing.F) {
	nan := math.NaN()
	seed, _ := proto.Marshal(&collectormetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: []*metricspb.HistogramDataPoint{{
				TimeUnixNano: 1, Count: 2, Sum: &nan, ExplicitBounds: []float64{1}, BucketCounts: []uint64{1, 1},
				Attributes: []*commonpb.KeyValue{{Key: "token", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "t"}}}},
				Exemplars:  []*metricspb.Exemplar{{TraceId: make([]byte, 16), SpanId: make([]byte, 8), Value: &metricspb.Exemplar_AsDouble{AsDouble: nan}}},
			}}}}},
			{Name: "e", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{DataPoints: []*metricspb.ExponentialHistogramDataPoint{{
				TimeUnixNano: 2, Count: 1, Scale: -3, Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: -2, BucketCounts: []uint64{1}},
			}}}}},
			{Name: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
				TimeUnixNano: 3, QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 1}},
			}}}}},
		}}},
	}}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req collectormetrics.ExportMetricsServiceRequest
		if proto.Unmarshal(body, &req) != nil {
			return
		}
		redactMetrics(req.GetResourceMetrics(), nil)
		ms := toolbar.NewMetricStore(toolbar.MetricLimits{Series: 50, Points: 5})
		ms.Add(metricsFromProto(req.GetResourceMetrics()))
		if _, err := json.Marshal(ms.Query("", time.Time{}, time.Time{})); err != nil {
			t.Fatalf("kept points do not encode: %v", err)
		}
	})
}
