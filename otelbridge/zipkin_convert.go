package otelbridge

// Zipkin v2 spans as OTLP spans, as the OpenTelemetry Collector's Zipkin
// receiver translates them.

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Tags that carry what OpenTelemetry has fields for; they become those
// fields rather than attributes (the OpenTelemetry Zipkin exporters write
// them, the Collector's Zipkin receiver reads them back the same way).
const (
	tagError             = "error"
	tagStatusCode        = "otel.status_code"
	tagStatusDescription = "otel.status_description"
	tagScopeName         = "otel.scope.name"
	tagScopeVersion      = "otel.scope.version"
	tagLibraryName       = "otel.library.name"
	tagLibraryVersion    = "otel.library.version"
	tagTraceState        = "w3c.tracestate"
)

// zipkinToOTLP converts Zipkin spans into OTLP, one ResourceSpans per
// local service (service.name), one ScopeSpans per instrumentation scope
// named in the tags. Ids are copied (a 64-bit trace id is zero-padded to
// 128 bits); kinds map one to one (none: INTERNAL); timestamp and duration
// (microseconds) give start and end; annotations become events; tags become
// string attributes, except "error" and "otel.status_code", which set the
// status; the endpoints become attributes (zipkinEndpointAttrs).
//
// Zipkin v2 lets a server span share the id of its client span (shared:
// true, B3 propagation's "join"). The store, like OpenTelemetry, keys spans
// by id, so the shared server span gets an id of its own, derived from the
// trace, the shared id and its service (the same on a retried export), and
// the client span as its parent, which is how OpenTelemetry would have recorded the
// call; the spans of the same request and the same service whose parent
// is the shared id are moved under the new id, as Jaeger's query does
// (children reported in another request stay under the client span).
func zipkinToOTLP(spans []*model.SpanModel) []*tracepb.ResourceSpans {
	type sharedKey struct {
		trace   model.TraceID
		id      model.ID
		service string
	}
	var shared map[sharedKey]model.ID
	spans = slices.DeleteFunc(slices.Clone(spans), func(zs *model.SpanModel) bool { return zs == nil }) // a JSON null
	for _, zs := range spans {
		if zs.Shared {
			if shared == nil {
				shared = map[sharedKey]model.ID{}
			}
			service := localService(zs)
			shared[sharedKey{zs.TraceID, zs.ID, service}] = sharedSpanID(zs.TraceID, zs.ID, service)
		}
	}

	var out []*tracepb.ResourceSpans
	byService := map[string]*tracepb.ResourceSpans{}
	for _, zs := range spans {
		service := localService(zs)
		id := zs.ID
		var parent model.ID
		if zs.ParentID != nil && *zs.ParentID != zs.ID {
			parent = *zs.ParentID
		}
		if zs.Shared {
			parent, id = zs.ID, shared[sharedKey{zs.TraceID, zs.ID, service}]
		} else if nid, ok := shared[sharedKey{zs.TraceID, parent, service}]; ok && parent != 0 {
			parent = nid
		}

		tags := zs.Tags
		sp := &tracepb.Span{
			TraceId: traceIDBytes(zs.TraceID),
			SpanId:  spanIDBytes(id),
			Name:    zs.Name,
			Kind:    zipkinKind(zs.Kind),
		}
		if parent != 0 {
			sp.ParentSpanId = spanIDBytes(parent)
		}
		sp.StartTimeUnixNano, sp.EndTimeUnixNano = zipkinTimes(zs)
		sp.TraceState = tags[tagTraceState]
		sp.Status = zipkinStatus(tags)
		keys := make([]string, 0, len(tags))
		for k := range tags {
			switch k {
			case tagError, tagStatusCode, tagStatusDescription, tagScopeName, tagScopeVersion, tagLibraryName, tagLibraryVersion, tagTraceState:
				continue
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		sp.Attributes = make([]*commonpb.KeyValue, 0, len(keys)+6)
		for _, k := range keys {
			sp.Attributes = append(sp.Attributes, strKV(k, tags[k]))
		}
		sp.Attributes = zipkinEndpointAttrs(sp.Attributes, zs, tags)
		for _, a := range zs.Annotations {
			sp.Events = append(sp.Events, zipkinEvent(a))
		}

		rs := byService[service]
		if rs == nil {
			rs = &tracepb.ResourceSpans{Resource: &resourcepb.Resource{}}
			if service != "" {
				rs.Resource.Attributes = []*commonpb.KeyValue{strKV("service.name", service)}
			}
			byService[service] = rs
			out = append(out, rs)
		}
		scope := &commonpb.InstrumentationScope{Name: tags[tagScopeName], Version: tags[tagScopeVersion]}
		if scope.Name == "" {
			scope.Name, scope.Version = tags[tagLibraryName], tags[tagLibraryVersion]
		}
		var ss *tracepb.ScopeSpans
		for _, s := range rs.ScopeSpans {
			if s.Scope.GetName() == scope.Name && s.Scope.GetVersion() == scope.Version {
				ss = s
				break
			}
		}
		if ss == nil {
			ss = &tracepb.ScopeSpans{Scope: scope}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, sp)
	}
	return out
}

func localService(zs *model.SpanModel) string {
	if zs.LocalEndpoint == nil {
		return ""
	}
	return zs.LocalEndpoint.ServiceName
}

// sharedSpanID derives the id of a shared server span from the trace, the
// id it shares and its service (two services that join one client span
// stay two spans): FNV-1a, never zero, never the shared id itself.
func sharedSpanID(trace model.TraceID, id model.ID, service string) model.ID {
	h := fnv.New64a()
	h.Write(traceIDBytes(trace))
	h.Write(spanIDBytes(id))
	h.Write([]byte("zipkin shared server span\x00" + service))
	n := model.ID(h.Sum64())
	if n == 0 || n == id {
		n = ^id
	}
	return n
}

func traceIDBytes(t model.TraceID) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], t.High)
	binary.BigEndian.PutUint64(b[8:], t.Low)
	return b
}

func spanIDBytes(id model.ID) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(id))
}

func zipkinKind(k model.Kind) tracepb.Span_SpanKind {
	switch k {
	case model.Client:
		return tracepb.Span_SPAN_KIND_CLIENT
	case model.Server:
		return tracepb.Span_SPAN_KIND_SERVER
	case model.Producer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case model.Consumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_INTERNAL
}

// zipkinTimes gives a span's start and end. Zipkin allows a span without
// a timestamp (reported before it started, or merged later): its earliest
// annotation stands in, else both stay unset. zipkin-go's proto decoder
// turns an absent timestamp into the epoch, and overflowing microseconds
// wrap to negative times; both count as absent.
func zipkinTimes(zs *model.SpanModel) (start, end uint64) {
	start = unixNanos(zs.Timestamp)
	if start == 0 {
		for _, a := range zs.Annotations {
			if t := unixNanos(a.Timestamp); t != 0 && (start == 0 || t < start) {
				start = t
			}
		}
		if start == 0 {
			return 0, 0
		}
	}
	end = start
	if zs.Duration > 0 && uint64(zs.Duration) <= ^uint64(0)-start {
		end = start + uint64(zs.Duration)
	}
	return start, end
}

func unixNanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n > 0 {
		return uint64(n)
	}
	return 0
}

// zipkinStatus reads the status from the tags: "error" (Zipkin's: its
// value is the message, or "true"; "false" is no error) and the
// OpenTelemetry exporters' "otel.status_code" and
// "otel.status_description".
func zipkinStatus(tags map[string]string) *tracepb.Status {
	st := &tracepb.Status{}
	switch strings.ToUpper(strings.TrimPrefix(tags[tagStatusCode], "STATUS_CODE_")) {
	case "OK":
		st.Code = tracepb.Status_STATUS_CODE_OK
	case "ERROR":
		st.Code = tracepb.Status_STATUS_CODE_ERROR
		st.Message = tags[tagStatusDescription]
	}
	if msg, ok := tags[tagError]; ok && msg != "false" {
		st.Code = tracepb.Status_STATUS_CODE_ERROR
		if msg != "" && msg != "true" {
			st.Message = msg
		}
	}
	if st.Code == tracepb.Status_STATUS_CODE_UNSET {
		return nil
	}
	return st
}

// zipkinEndpointAttrs adds what the endpoints say beyond the local
// service name, in today's OpenTelemetry semantic conventions (the
// Collector's Zipkin receiver with its V1 network conventions reads the
// same addresses into network.local.address and network.peer.address):
// the local endpoint's address and port as network.local.address and
// network.local.port; the remote one's as network.peer.address and
// network.peer.port, and also as server.address and server.port for
// CLIENT, PRODUCER and CONSUMER spans (the remote side is the server or
// the broker) or client.address and client.port for SERVER spans; its
// service name as peer.service. A tag of the same name wins. IPv6 is
// preferred when an endpoint has both, as Zipkin's own conversion does.
func zipkinEndpointAttrs(attrs []*commonpb.KeyValue, zs *model.SpanModel, tags map[string]string) []*commonpb.KeyValue {
	add := func(k string, v *commonpb.AnyValue) {
		if _, ok := tags[k]; !ok {
			attrs = append(attrs, &commonpb.KeyValue{Key: k, Value: v})
		}
	}
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	num := func(p uint16) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(p)}}
	}
	if e := zs.LocalEndpoint; e != nil {
		if ip := endpointIP(e); ip != "" {
			add("network.local.address", str(ip))
		}
		if e.Port != 0 {
			add("network.local.port", num(e.Port))
		}
	}
	if e := zs.RemoteEndpoint; e != nil {
		role := "server"
		if zs.Kind == model.Server {
			role = "client"
		}
		if ip := endpointIP(e); ip != "" {
			add("network.peer.address", str(ip))
			if zs.Kind != model.Undetermined {
				add(role+".address", str(ip))
			}
		}
		if e.Port != 0 {
			add("network.peer.port", num(e.Port))
			if zs.Kind != model.Undetermined {
				add(role+".port", num(e.Port))
			}
		}
		if e.ServiceName != "" {
			add("peer.service", str(e.ServiceName))
		}
	}
	return attrs
}

// endpointIP is an endpoint's address, IPv6 first; bytes of another
// length than an address (proto3 carries raw bytes) are ignored.
func endpointIP(e *model.Endpoint) string {
	for _, ip := range []net.IP{e.IPv6, e.IPv4} {
		if len(ip) == net.IPv4len || len(ip) == net.IPv6len {
			return ip.String()
		}
	}
	return ""
}

func strKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// zipkinEvent reads an annotation as an event. OpenTelemetry's Zipkin
// exporters (the Collector's, Tracebar's forwarding) write an event with
// attributes as "name|{attributes as JSON}|dropped count"; the Collector's
// receiver reads it back so, and so does this one. Any other value is the
// event's name.
func zipkinEvent(a model.Annotation) *tracepb.Span_Event {
	ev := &tracepb.Span_Event{TimeUnixNano: unixNanos(a.Timestamp), Name: a.Value}
	parts := strings.Split(a.Value, "|")
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "{") {
		return ev
	}
	dropped, err := strconv.ParseUint(parts[2], 10, 32)
	if err != nil {
		return ev
	}
	var attrs map[string]any
	if json.Unmarshal([]byte(parts[1]), &attrs) != nil {
		return ev
	}
	keys := slices.Sorted(maps.Keys(attrs))
	ev.Name, ev.DroppedAttributesCount = parts[0], uint32(dropped)
	for _, k := range keys {
		ev.Attributes = append(ev.Attributes, &commonpb.KeyValue{Key: k, Value: jsonAnyValue(attrs[k])})
	}
	return ev
}

// jsonAnyValue is a JSON value as an OTLP AnyValue: strings, booleans and
// numbers (integral ones as integers) as such, anything else as its JSON.
func jsonAnyValue(v any) *commonpb.AnyValue {
	switch v := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(v)}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}
	}
	b, _ := json.Marshal(v)
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: string(b)}}
}
