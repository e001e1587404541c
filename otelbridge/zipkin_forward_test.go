package otelbridge

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// zipkinPost is one POST a fake Zipkin server took, decoded with
// zipkin-go's model, and as plain JSON for what the model hides (the ids'
// spelling, microseconds).
type zipkinPost struct {
	path, ctype string
	body        []byte
	spans       []*model.SpanModel
	raw         []map[string]any
	at          time.Time
}

// zipkinCollector is a Zipkin server on a real socket: answer decides the
// status of the n-th POST (from 1); 0 means decode and take it (202), -1
// that answer dealt with the request.
type zipkinCollector struct {
	url   string
	posts chan zipkinPost
	calls atomic.Int32
}

func startZipkinCollector(t *testing.T, answer func(n int, w http.ResponseWriter) int) *zipkinCollector {
	t.Helper()
	c := &zipkinCollector{posts: make(chan zipkinPost, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(c.calls.Add(1))
		body, _ := io.ReadAll(r.Body)
		if answer != nil {
			if status := answer(n, w); status > 0 {
				w.WriteHeader(status)
				return
			} else if status < 0 {
				return
			}
		}
		p := zipkinPost{path: r.URL.Path, ctype: r.Header.Get("Content-Type"), body: body, at: time.Now()}
		if err := json.Unmarshal(body, &p.spans); err != nil {
			t.Errorf("zipkin-go's model cannot read the body: %v: %.300s", err, body)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := json.Unmarshal(body, &p.raw); err != nil {
			t.Errorf("not a JSON list: %v", err)
		}
		c.posts <- p
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + ZipkinPath
	return c
}

func (c *zipkinCollector) next(t *testing.T) zipkinPost {
	t.Helper()
	select {
	case p := <-c.posts:
		return p
	case <-time.After(15 * time.Second):
		t.Fatalf("no POST reached the Zipkin server (%d calls)", c.calls.Load())
		return zipkinPost{}
	}
}

// attr makes an OTLP attribute of a Go value.
func attr(k string, v any) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: anyOf(v)}
}

func anyOf(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case int:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(x)}}
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	case []byte:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: x}}
	case []any:
		arr := &commonpb.ArrayValue{}
		for _, e := range x {
			arr.Values = append(arr.Values, anyOf(e))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}
	case map[string]any:
		kvs := &commonpb.KeyValueList{}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			kvs.Values = append(kvs.Values, attr(k, x[k]))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: kvs}}
	}
	panic(fmt.Sprintf("attr of %T", v))
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func endpointText(e *model.Endpoint) string {
	if e == nil {
		return ""
	}
	ip := ""
	if len(e.IPv4) > 0 {
		ip = e.IPv4.String()
	}
	if len(e.IPv6) > 0 {
		ip = "[" + e.IPv6.String() + "]"
	}
	return fmt.Sprintf("%s@%s:%d", e.ServiceName, ip, e.Port)
}

// TestZipkinForwardConversion: OTLP spans, forwarded through a real
// Forwarder to a Zipkin server on a real socket, arrive as zipkin-go reads
// them, translated as the OpenTelemetry Collector's Zipkin exporter does:
// kinds, 128-bit ids, parents, endpoints, tags (non-string values as
// text), annotations, the error status.
func TestZipkinForwardConversion(t *testing.T) {
	zc := startZipkinCollector(t, nil)
	f, err := NewForwarder("zipkin://"+strings.TrimPrefix(strings.TrimSuffix(zc.url, ZipkinPath), "http://"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	if f.Protocol != "zipkin" || f.Endpoint != zc.url || f.ForwardsLogsAndMetrics() {
		t.Fatalf("forwarder %s to %s, logs and metrics %v", f.Protocol, f.Endpoint, f.ForwardsLogsAndMetrics())
	}

	const trace = "0102030405060708090a0b0c0d0e0f10"
	start := time.Date(2026, 1, 2, 3, 4, 5, 123_456_789, time.UTC)
	ns := func(d time.Duration) uint64 { return uint64(start.Add(d).UnixNano()) }
	span := func(id string, kind tracepb.Span_SpanKind, attrs ...*commonpb.KeyValue) *tracepb.Span {
		return &tracepb.Span{TraceId: mustHex(trace), SpanId: mustHex(id), Name: "op " + id, Kind: kind,
			StartTimeUnixNano: ns(0), EndTimeUnixNano: ns(1500*time.Microsecond + 400), Attributes: attrs}
	}
	server := span("00000000000000a1", tracepb.Span_SPAN_KIND_SERVER,
		attr("http.request.method", "GET"), attr("http.response.status_code", 200),
		attr("client.address", "10.1.2.3"), attr("client.port", 51000),
		attr("network.peer.address", "10.1.2.3"), attr("network.peer.port", 51000), attr("error", "false"))
	server.ParentSpanId = mustHex("1111111111111111")
	server.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}
	server.Name = "GET /Users"
	client := span("00000000000000a2", tracepb.Span_SPAN_KIND_CLIENT,
		attr("server.address", "192.0.2.7"), attr("server.port", "8080"), attr("peer.service", "inventory"),
		attr("db.rows", 1.5), attr("big", 1e21), attr("ok", true), attr("raw", []byte{1, 2, 3}),
		attr("list", []any{"a", 1}), attr("m", map[string]any{"k": 7}), attr("error", true))
	client.ParentSpanId = server.SpanId
	client.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	producer := span("00000000000000a3", tracepb.Span_SPAN_KIND_PRODUCER,
		attr("network.peer.address", "2001:db8::1"), attr("network.peer.port", 9092), attr("server.address", "kafka.test"))
	consumer := span("00000000000000a4", tracepb.Span_SPAN_KIND_CONSUMER)
	internal := span("00000000000000a5", tracepb.Span_SPAN_KIND_INTERNAL,
		attr("network.local.address", "10.0.0.9"), attr("network.local.port", 8443))
	internal.TraceState = "ts=1"
	internal.Events = []*tracepb.Span_Event{
		{Name: "cache miss", TimeUnixNano: ns(10 * time.Microsecond)},
		{Name: "exception", TimeUnixNano: ns(20 * time.Microsecond), Attributes: []*commonpb.KeyValue{attr("exception.message", "a|b"), attr("n", 2)}, DroppedAttributesCount: 1},
		{Name: "a|b"}, // no time: the span's start
	}
	internal.Links = []*tracepb.Span_Link{{TraceId: mustHex(trace), SpanId: mustHex("00000000000000a1"), TraceState: "k=v", Attributes: []*commonpb.KeyValue{attr("l", "x")}},
		{TraceId: []byte{1}, SpanId: mustHex("00000000000000a1")}} // a bad link is left out
	unspecified := span("00000000000000a6", tracepb.Span_SPAN_KIND_UNSPECIFIED)
	unspecified.StartTimeUnixNano, unspecified.EndTimeUnixNano = 0, 0
	short := &tracepb.Span{TraceId: mustHex("0000000000000000aabbccddeeff0011"), SpanId: mustHex("00000000000000a7"), Name: "short",
		StartTimeUnixNano: ns(0), EndTimeUnixNano: ns(0) - 5} // ends before it starts: no duration
	invalid := span("0000000000000000", tracepb.Span_SPAN_KIND_SERVER)

	resourceTags := map[string]string{"host.name": "h1", "scope.attr": "s", "otel.library.name": "lib", "otel.library.version": "1.2"}
	with := func(m map[string]string) map[string]string {
		out := maps.Clone(resourceTags)
		maps.Copy(out, m)
		return out
	}
	f.Forward([]*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{attr("service.name", "Shop-Web"), attr("host.name", "h1")}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "lib", Version: "1.2", Attributes: []*commonpb.KeyValue{attr("scope.attr", "s")}},
			Spans: []*tracepb.Span{server, client, producer, consumer, internal, unspecified, invalid},
		}},
	}, {
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{short}}}, // no resource: no service name
	}})
	p := zc.next(t)
	if p.path != ZipkinPath || p.ctype != "application/json" {
		t.Fatalf("posted %s to %s", p.ctype, p.path)
	}
	if len(p.spans) != 7 {
		t.Fatalf("%d spans posted, want 7 (the one with a zero id left out): %s", len(p.spans), p.body)
	}

	startMicros := float64(start.Round(time.Microsecond).UnixMicro())
	micros := func(d time.Duration) int64 { return start.Add(d).Round(time.Microsecond).UnixMicro() }
	tests := []struct {
		id            string
		name          string
		kind          model.Kind
		parent        string
		local, remote string
		tags          map[string]string
		annotations   []string // value@microseconds
	}{
		{"00000000000000a1", "get /users", model.Server, "1111111111111111", "shop-web@:0", "@10.1.2.3:51000", with(map[string]string{
			"http.request.method": "GET", "http.response.status_code": "200", "client.address": "10.1.2.3", "client.port": "51000",
			"error": "true", "otel.status_code": "STATUS_CODE_ERROR", "otel.status_description": "boom"}), nil},
		{"00000000000000a2", "op 00000000000000a2", model.Client, "00000000000000a1", "shop-web@:0", "inventory@192.0.2.7:8080", with(map[string]string{
			"server.address": "192.0.2.7", "server.port": "8080", "db.rows": "1.5", "big": "1e+21", "ok": "true", "raw": "AQID",
			"list": `["a",1]`, "m": `{"k":7}`, "otel.status_code": "STATUS_CODE_OK"}), nil},
		{"00000000000000a3", "op 00000000000000a3", model.Producer, "", "shop-web@:0", "@[2001:db8::1]:9092", with(map[string]string{"server.address": "kafka.test"}), nil},
		{"00000000000000a4", "op 00000000000000a4", model.Consumer, "", "shop-web@:0", "", with(nil), nil},
		{"00000000000000a5", "op 00000000000000a5", model.Undetermined, "", "shop-web@10.0.0.9:8443", "", with(map[string]string{
			"span.kind": "internal", "w3c.tracestate": "ts=1",
			"otlp.link.0": trace + `|00000000000000a1|k=v|{"l":"x"}|0`}), []string{
			fmt.Sprintf("cache miss@%d", micros(10*time.Microsecond)),
			fmt.Sprintf(`exception|{"exception.message":"a|b","n":2}|1@%d`, micros(20*time.Microsecond)),
			fmt.Sprintf("a¦b@%d", micros(0))}},
		{"00000000000000a6", "op 00000000000000a6", model.Undetermined, "", "shop-web@:0", "", with(nil), nil},
		{"00000000000000a7", "short", model.Undetermined, "", "", "", nil, nil},
	}
	byID := map[string]*model.SpanModel{}
	rawByID := map[string]map[string]any{}
	for i, s := range p.spans {
		byID[s.ID.String()] = s
		rawByID[s.ID.String()] = p.raw[i]
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			s, raw := byID[tt.id], rawByID[tt.id]
			if s == nil {
				t.Fatalf("span %s not posted", tt.id)
			}
			parent := ""
			if s.ParentID != nil {
				parent = s.ParentID.String()
			}
			if s.Name != tt.name || s.Kind != tt.kind || parent != tt.parent {
				t.Errorf("name %q kind %q parent %q, want %q %q %q", s.Name, s.Kind, parent, tt.name, tt.kind, tt.parent)
			}
			if l, r := endpointText(s.LocalEndpoint), endpointText(s.RemoteEndpoint); l != tt.local || r != tt.remote {
				t.Errorf("local endpoint %q remote %q, want %q and %q", l, r, tt.local, tt.remote)
			}
			if !maps.Equal(s.Tags, tt.tags) {
				t.Errorf("tags\n got %v\nwant %v", s.Tags, tt.tags)
			}
			var annotations []string
			for _, a := range s.Annotations {
				annotations = append(annotations, fmt.Sprintf("%s@%d", a.Value, a.Timestamp.UnixMicro()))
			}
			if !slices.Equal(annotations, tt.annotations) {
				t.Errorf("annotations\n got %q\nwant %q", annotations, tt.annotations)
			}
			switch tt.id {
			case "00000000000000a6": // no start: neither timestamp nor duration
				if raw["timestamp"] != nil || raw["duration"] != nil {
					t.Errorf("timestamp %v duration %v, want none", raw["timestamp"], raw["duration"])
				}
			case "00000000000000a7": // a high half of zeros: 16 digits, the same id to Zipkin
				if raw["traceId"] != "aabbccddeeff0011" || raw["duration"] != nil {
					t.Errorf("traceId %v duration %v", raw["traceId"], raw["duration"])
				}
			default: // 128 bits as 32 hex digits; microseconds
				if raw["traceId"] != trace || raw["timestamp"] != startMicros || raw["duration"] != float64(1500) {
					t.Errorf("traceId %v timestamp %v duration %v, want %s %v 1500", raw["traceId"], raw["timestamp"], raw["duration"], trace, startMicros)
				}
			}
		})
	}

	// Logs and metrics have nowhere to go, and are not counted as lost.
	f.ForwardLogs(&collectorlogs.ExportLogsServiceRequest{})
	f.ForwardMetrics(&collectormetrics.ExportMetricsServiceRequest{})
	if f.Dropped() != 0 {
		t.Fatalf("dropped %d", f.Dropped())
	}
}

// TestZipkinForwardBatches: through the real Forwarder, each received
// export is one POST and the proxy's own spans come in the SDK's batches,
// each span once; a batch larger than the POST bound goes in parts.
func TestZipkinForwardBatches(t *testing.T) {
	zc := startZipkinCollector(t, nil)
	f, err := NewZipkinForwarder(zc.url)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())

	export := func(trace byte, n int) []*tracepb.ResourceSpans {
		ss := &tracepb.ScopeSpans{}
		for i := range n {
			ss.Spans = append(ss.Spans, &tracepb.Span{TraceId: bytes.Repeat([]byte{trace}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, trace, byte(i + 1)},
				Name: strings.Repeat("x", 100), StartTimeUnixNano: uint64(time.Now().UnixNano())})
		}
		return []*tracepb.ResourceSpans{{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{attr("service.name", "app")}}, ScopeSpans: []*tracepb.ScopeSpans{ss}}}
	}
	for trace := byte(1); trace <= 3; trace++ {
		f.Forward(export(trace, 2))
	}
	for trace := byte(1); trace <= 3; trace++ {
		p := zc.next(t)
		if len(p.spans) != 2 || p.spans[0].TraceID.Low != uint64(0x0101010101010101)*uint64(trace) || p.spans[0].LocalEndpoint.ServiceName != "app" {
			t.Fatalf("POST %d: %s", trace, p.body)
		}
	}

	// The proxy's spans, through the batch span processor.
	res := resource.NewSchemaless(attribute.String("service.name", "caddy"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.SpanProcessor()), sdktrace.WithResource(res))
	ctx, root := tp.Tracer("tracebar").Start(context.Background(), "GET /")
	var ids []string
	for range 4 {
		_, s := tp.Tracer("tracebar").Start(ctx, "child")
		s.End()
		ids = append(ids, s.SpanContext().SpanID().String())
	}
	root.End()
	ids = append(ids, root.SpanContext().SpanID().String())
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < len(ids) {
		for _, s := range zc.next(t).spans {
			if s.LocalEndpoint.ServiceName != "caddy" || s.Tags["otel.library.name"] != "tracebar" {
				t.Fatalf("proxy span %+v", s)
			}
			if rootID := root.SpanContext().SpanID().String(); s.ID.String() != rootID && (s.ParentID == nil || s.ParentID.String() != rootID) {
				t.Fatalf("child %s has parent %v", s.ID, s.ParentID)
			}
			got = append(got, s.ID.String())
		}
	}
	tp.Shutdown(context.Background())
	slices.Sort(ids)
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("proxy spans posted %v, want %v", got, ids)
	}

	// A batch over the bound goes in parts, each within it, every span once.
	f.client.(*zipkinClient).maxPost = 1000
	f.Forward(export(9, 12))
	seen := map[string]int{}
	posts := 0
	for len(seen) < 12 {
		p := zc.next(t)
		posts++
		if len(p.body) > 1000 {
			t.Fatalf("a POST of %d bytes, over the bound of 1000", len(p.body))
		}
		for _, s := range p.spans {
			seen[s.ID.String()]++
		}
	}
	if posts < 2 {
		t.Fatalf("12 spans in %d POSTs, want parts", posts)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("span %s posted %d times", id, n)
		}
	}
	if f.Dropped() != 0 {
		t.Fatalf("dropped %d", f.Dropped())
	}
}

// TestZipkinForwardRetries: a Zipkin server that cannot take a batch now
// (429, 502, 503, 504, a broken connection) gets it again, after the wait
// its Retry-After asks for; nothing is lost.
func TestZipkinForwardRetries(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			zc := startZipkinCollector(t, func(n int, w http.ResponseWriter) int {
				if n == 1 {
					w.Header().Set("Retry-After", "0")
					return status
				}
				return 0
			})
			f, err := NewZipkinForwarder(zc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Shutdown(context.Background())
			f.Forward(oneSpan("00000000000000b1"))
			if p := zc.next(t); len(p.spans) != 1 || zc.calls.Load() != 2 || f.Dropped() != 0 {
				t.Fatalf("%d spans after %d calls, %d dropped", len(p.spans), zc.calls.Load(), f.Dropped())
			}
		})
	}

	t.Run("connection error then Retry-After", func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		zc := startZipkinCollector(t, func(n int, w http.ResponseWriter) int {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			switch n {
			case 1: // the connection breaks without an answer
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
				}
				conn.Close()
				return -1
			case 2:
				w.Header().Set("Retry-After", "1")
				return http.StatusServiceUnavailable
			}
			return 0
		})
		f, err := NewZipkinForwarder(zc.url)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		var lost atomic.Int32
		f.OnLost(func(error) { lost.Add(1) })
		f.Forward(oneSpan("00000000000000b2"))
		p := zc.next(t)
		mu.Lock()
		defer mu.Unlock()
		if len(p.spans) != 1 || len(times) != 3 || lost.Load() != 0 || f.Dropped() != 0 {
			t.Fatalf("%d spans after %d calls, %d lost, %d dropped", len(p.spans), len(times), lost.Load(), f.Dropped())
		}
		if wait := times[2].Sub(times[1]); wait < time.Second {
			t.Fatalf("retried %v after Retry-After: 1", wait)
		}
	})
}

func oneSpan(id string) []*tracepb.ResourceSpans {
	return []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
		TraceId: mustHex(strings.Repeat("ab", 16)), SpanId: mustHex(id), Name: "one", StartTimeUnixNano: uint64(time.Now().UnixNano())}}}}}}
}

// TestZipkinForwardCountsLostBatches: a batch the Zipkin server refuses
// (400: not retried), or still cannot take after the retries, is a dropped
// batch (forwardDroppedBatches in /api/stats) and reported with the
// server's message; a server stuck for good fills the queue's bounds and
// the rest is dropped, as with OTLP.
func TestZipkinForwardCountsLostBatches(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "Cannot decode spans: bad kind\nat line 1", http.StatusBadRequest)
		}))
		defer srv.Close()
		f, err := NewZipkinForwarder(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		lost := make(chan error, 1)
		f.OnLost(func(err error) { lost <- err })
		f.Forward(oneSpan("00000000000000c1"))
		select {
		case err := <-lost:
			if msg := err.Error(); !strings.Contains(msg, "400") || !strings.Contains(msg, "Cannot decode spans: bad kind") || strings.Contains(msg, "line 1") ||
				!strings.Contains(msg, srv.URL+ZipkinPath) {
				t.Fatalf("reported %q", msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a refused batch was not reported")
		}
		if f.Dropped() != 1 || calls.Load() != 1 {
			t.Fatalf("dropped %d after %d calls, want 1 and 1", f.Dropped(), calls.Load())
		}
	})

	t.Run("busy after every retry", func(t *testing.T) {
		zc := startZipkinCollector(t, func(_ int, w http.ResponseWriter) int {
			w.Header().Set("Retry-After", "0")
			return http.StatusServiceUnavailable
		})
		f, err := NewZipkinForwarder(zc.url)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Shutdown(context.Background())
		lost := make(chan error, 1)
		f.OnLost(func(err error) { lost <- err })
		f.Forward(oneSpan("00000000000000c2"))
		select {
		case err := <-lost:
			if !strings.Contains(err.Error(), "503") {
				t.Fatalf("reported %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a batch lost after the retries was not reported")
		}
		if f.Dropped() != 1 || zc.calls.Load() != retryAttempts {
			t.Fatalf("dropped %d after %d calls, want 1 after %d", f.Dropped(), zc.calls.Load(), retryAttempts)
		}
	})

	t.Run("stuck", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.WriteHeader(http.StatusAccepted)
		}))
		defer srv.Close()
		f, err := NewZipkinForwarder(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		const sent = forwardQueue + 20
		for i := range sent {
			f.Forward(oneSpan(fmt.Sprintf("%016x", i+1)))
		}
		// One batch is being sent, forwardQueue wait; the rest is dropped.
		if d := f.Dropped(); d < sent-forwardQueue-1 || d > sent-forwardQueue {
			t.Fatalf("dropped %d of %d with the server stuck, want %d or %d", d, sent, sent-forwardQueue-1, sent-forwardQueue)
		}
		close(release)
		if err := f.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.held.Load() != 0 {
			t.Fatalf("%d bytes still held", f.held.Load())
		}
	})
}

// TestZipkinForwarderEndpoints: where each endpoint form posts, and the
// loop guard: this process's own Zipkin receiver (or sink) is refused,
// whatever the spelling of loopback.
func TestZipkinForwarderEndpoints(t *testing.T) {
	self := []string{"127.0.0.1:4318", "127.0.0.1:4317", "127.0.0.1:9411"}
	tests := []struct {
		endpoint, post, err string
	}{
		{"zipkin://zipkin.test:9412", "http://zipkin.test:9412/api/v2/spans", ""},
		{"zipkin://zipkin.test", "http://zipkin.test:9411/api/v2/spans", ""},
		{"zipkin://zipkin.test:9412/base/", "http://zipkin.test:9412/base/api/v2/spans", ""},
		{"zipkin://zipkin.test:9412/api/v2/spans", "http://zipkin.test:9412/api/v2/spans", ""},
		{"http://zipkin.test:9412", "http://zipkin.test:9412/api/v2/spans", ""},
		{"https://zipkin.test/custom/spans", "https://zipkin.test/custom/spans", ""},
		{"zipkin://localhost", "", "loop"},
		{"zipkin://127.0.0.1:9411", "", "loop"},
		{"http://[::1]:9411/api/v2/spans", "", "loop"},
		{"zipkin://0.0.0.0:4318", "", "loop"},
		{"grpc://zipkin.test:9411", "", "unsupported scheme"},
		{"zipkin.test:9411", "", "not a URL"},
	}
	for _, tt := range tests {
		f, err := NewZipkinForwarder(tt.endpoint, self...)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.endpoint, err, tt.err)
			}
			if f != nil {
				f.Shutdown(context.Background())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.endpoint, err)
			continue
		}
		if f.Endpoint != tt.post || f.Protocol != "zipkin" {
			t.Errorf("%s: posts to %s (%s), want %s", tt.endpoint, f.Endpoint, f.Protocol, tt.post)
		}
		f.Shutdown(context.Background())
	}
	// NewForwarder takes the zipkin scheme too, whatever OTLP variables say.
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	if _, err := NewForwarder("zipkin://localhost:9411", false, self...); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("NewForwarder(zipkin://localhost:9411): %v, want a refusal", err)
	}
	f, err := NewForwarder("zipkin://zipkin.test", false, self...)
	if err != nil || f.Protocol != "zipkin" {
		t.Fatalf("NewForwarder(zipkin://zipkin.test): %v", err)
	}
	f.Shutdown(context.Background())
}

// TestZipkinForwardRoundTrip: OTLP spans forwarded as Zipkin JSON to
// Tracebar's own Zipkin receiver (a second store behind Sink.ZipkinHandler
// on a real socket) come back as they left: ids, parents, kinds, service,
// attributes (as text), error status, the name of an event without
// attributes. Both directions agree. What Zipkin cannot carry or changes
// is listed: names in lower case, the resource's other attributes and
// the endpoints' addresses as span attributes.
func TestZipkinForwardRoundTrip(t *testing.T) {
	back := toolbar.NewStore(toolbar.Limits{})
	f, err := NewZipkinForwarder(zipkinServer(t, NewSink(back)))
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 10)
	f.OnLost(func(err error) { lost <- err })

	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	now := uint64(time.Now().Truncate(time.Microsecond).UnixNano()) // Zipkin's resolution
	mk := func(id, parent, name string, kind tracepb.Span_SpanKind, attrs ...*commonpb.KeyValue) *tracepb.Span {
		s := &tracepb.Span{TraceId: mustHex(trace), SpanId: mustHex(id), Name: name, Kind: kind,
			StartTimeUnixNano: now, EndTimeUnixNano: now + 2_000_000, Attributes: attrs}
		if parent != "" {
			s.ParentSpanId = mustHex(parent)
		}
		return s
	}
	root := mk("00f067aa0ba902b7", "", "get /", tracepb.Span_SPAN_KIND_SERVER,
		attr("http.request.method", "GET"), attr("url.path", "/"), attr("http.response.status_code", 500),
		attr("client.address", "127.0.0.1"), attr("client.port", 40000))
	root.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream failed"}
	upstream := mk("00f067aa0ba902b8", "00f067aa0ba902b7", "get upstream", tracepb.Span_SPAN_KIND_CLIENT,
		attr("server.address", "127.0.0.1"), attr("server.port", "8081"), attr("network.peer.address", "127.0.0.1"), attr("network.peer.port", 8081))
	render := mk("00f067aa0ba902b9", "00f067aa0ba902b8", "render", tracepb.Span_SPAN_KIND_INTERNAL,
		attr("template", "index.html"), attr("items", 12), attr("cached", false), attr("ratio", 0.25))
	render.Events = []*tracepb.Span_Event{{Name: "rendered", TimeUnixNano: now + 1000},
		{Name: "cache miss", TimeUnixNano: now + 2000, Attributes: []*commonpb.KeyValue{attr("cache.key", "stock:all"), attr("size", 3)}}}
	publish := mk("00f067aa0ba902ba", "00f067aa0ba902b8", "publish", tracepb.Span_SPAN_KIND_PRODUCER, attr("messaging.system", "kafka"))
	consume := mk("00f067aa0ba902bb", "00f067aa0ba902ba", "consume", tracepb.Span_SPAN_KIND_CONSUMER, attr("messaging.system", "kafka"))
	sent := []*tracepb.ResourceSpans{
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{attr("service.name", "caddy"), attr("telemetry.sdk.language", "go")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "tracebar", Version: "1"}, Spans: []*tracepb.Span{root, upstream}}}},
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{attr("service.name", "shop-web")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{render, publish}}}},
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{attr("service.name", "worker")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{consume}}}},
	}
	f.Forward(sent)
	if err := f.Shutdown(context.Background()); err != nil { // sends what is queued
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		t.Fatalf("the receiver refused the batch: %v", err)
	default:
	}

	id, _ := toolbar.ParseTraceID(trace)
	got, _ := back.Spans(id, 0)
	byID := map[toolbar.SpanID]toolbar.Span{}
	for _, s := range got {
		byID[s.SpanID] = s
	}
	// What the Zipkin form adds, by span: the resource's other attributes
	// (tags of every span), the endpoints read back as attributes (the
	// receiver's names for them), INTERNAL's span.kind tag.
	extra := map[string]map[string]string{
		"00f067aa0ba902b7": {"telemetry.sdk.language": "go", "network.peer.address": "127.0.0.1", "network.peer.port": "40000"},
		"00f067aa0ba902b8": {"telemetry.sdk.language": "go"},
		"00f067aa0ba902b9": {"span.kind": "internal"},
	}
	wantStatus := map[string]toolbar.Status{"00f067aa0ba902b7": {Code: toolbar.StatusCode(tracepb.Status_STATUS_CODE_ERROR), Message: "upstream failed"}}
	n := 0
	for _, rs := range sent {
		service := rs.Resource.Attributes[0].Value.GetStringValue()
		for _, ss := range rs.ScopeSpans {
			for _, want := range ss.Spans {
				n++
				sid := hex.EncodeToString(want.SpanId)
				s, ok := byID[toolbar.SpanID(want.SpanId)]
				if !ok {
					t.Errorf("span %s %q did not come back", sid, want.Name)
					continue
				}
				var parent toolbar.SpanID
				copy(parent[:], want.ParentSpanId)
				if s.TraceID != toolbar.TraceID(want.TraceId) || s.ParentSpanID != parent {
					t.Errorf("%s: trace %s parent %s, want %x %x", sid, s.TraceID, s.ParentSpanID, want.TraceId, want.ParentSpanId)
				}
				if s.Name != want.Name || int32(s.Kind) != int32(want.Kind) || serviceOf(s) != service {
					t.Errorf("%s: %q kind %d service %q, want %q %d %q", sid, s.Name, s.Kind, serviceOf(s), want.Name, want.Kind, service)
				}
				if uint64(s.Start.UnixNano()) != want.StartTimeUnixNano || uint64(s.End.UnixNano()) != want.EndTimeUnixNano {
					t.Errorf("%s: %v-%v, want the same microseconds as sent", sid, s.Start, s.End)
				}
				if s.Status != wantStatus[sid] {
					t.Errorf("%s: status %+v, want %+v", sid, s.Status, wantStatus[sid])
				}
				gotAttrs := map[string]string{}
				for _, a := range s.Attributes {
					gotAttrs[a.Key] = fmt.Sprint(a.Value.Any())
				}
				wantAttrs := maps.Clone(extra[sid])
				if wantAttrs == nil {
					wantAttrs = map[string]string{}
				}
				for _, a := range want.Attributes {
					wantAttrs[a.Key] = anyText(a.Value)
				}
				if !maps.Equal(gotAttrs, wantAttrs) {
					t.Errorf("%s: attributes\n got %v\nwant %v", sid, gotAttrs, wantAttrs)
				}
				var events []string
				for _, e := range s.Events {
					events = append(events, fmt.Sprintf("%s@%d", e.Name, e.Time.UnixNano()))
					for _, a := range e.Attributes {
						events = append(events, a.Key+"="+fmt.Sprint(a.Value.Any()))
					}
				}
				var wantEvents []string
				for _, e := range want.Events {
					wantEvents = append(wantEvents, fmt.Sprintf("%s@%d", e.Name, e.TimeUnixNano))
					for _, a := range e.Attributes {
						wantEvents = append(wantEvents, a.Key+"="+anyText(a.Value))
					}
				}
				if !slices.Equal(events, wantEvents) {
					t.Errorf("%s: events %v, want %v", sid, events, wantEvents)
				}
			}
		}
	}
	if sc := byID[toolbar.SpanID(root.SpanId)].Scope; sc == nil || sc.Name != "tracebar" || sc.Version != "1" {
		t.Errorf("scope of the proxy's span %+v, want tracebar 1", sc)
	}
	if len(got) != n {
		t.Errorf("%d spans came back, want %d", len(got), n)
	}
}
