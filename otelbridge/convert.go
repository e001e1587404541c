package otelbridge

import (
	"time"

	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// fromProto converts an OTLP export into store spans. Spans whose ids have
// the wrong length or are zero are dropped and counted.
func fromProto(rss []*tracepb.ResourceSpans) (spans []toolbar.Span, rejected int) {
	for _, rs := range rss {
		res := &toolbar.Resource{SchemaURL: rs.GetSchemaUrl()}
		if r := rs.GetResource(); r != nil {
			res.Attributes = kvsFromProto(r.GetAttributes())
			res.DroppedAttributes = r.GetDroppedAttributesCount()
		}
		for _, ss := range rs.GetScopeSpans() {
			scope := &toolbar.Scope{SchemaURL: ss.GetSchemaUrl()}
			if s := ss.GetScope(); s != nil {
				scope.Name, scope.Version = s.GetName(), s.GetVersion()
				scope.Attributes = kvsFromProto(s.GetAttributes())
				scope.DroppedAttributes = s.GetDroppedAttributesCount()
			}
			for _, sp := range ss.GetSpans() {
				ts, ok := spanFromProto(sp)
				if !ok {
					rejected++
					continue
				}
				ts.Resource, ts.Scope = res, scope
				spans = append(spans, ts)
			}
		}
	}
	return spans, rejected
}

// logsFromProto converts the log records of an OTLP export that name a
// trace. Records without a trace id are not the toolbar's business and are
// skipped; ids of the wrong length are counted as rejected.
func logsFromProto(rls []*logspb.ResourceLogs) (logs []toolbar.LogRecord, rejected int) {
	for _, rl := range rls {
		service := ""
		for _, kv := range rl.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				if badLogIDs(lr) {
					rejected++
					continue
				}
				if len(lr.GetTraceId()) == 0 {
					continue // valid, but not about a trace
				}
				l := toolbar.LogRecord{
					Time:           unixNano(lr.GetTimeUnixNano()),
					ObservedTime:   unixNano(lr.GetObservedTimeUnixNano()),
					SeverityNumber: int32(lr.GetSeverityNumber()),
					SeverityText:   lr.GetSeverityText(),
					Body:           valueFromProto(lr.GetBody(), 0),
					Service:        service,
					Attributes:     kvsFromProto(lr.GetAttributes()),
				}
				copy(l.TraceID[:], lr.GetTraceId())
				copy(l.SpanID[:], lr.GetSpanId())
				logs = append(logs, l)
			}
		}
	}
	return logs, rejected
}

// badLogIDs reports whether a log record's ids are invalid: present with
// the wrong length, or a trace id of zeros. No trace id is valid (the
// record is not about a trace).
func badLogIDs(lr *logspb.LogRecord) bool {
	tid, sid := lr.GetTraceId(), lr.GetSpanId()
	if len(tid) == 0 {
		return len(sid) != 0 && len(sid) != 8
	}
	return len(tid) != 16 || toolbar.TraceID(tid) == toolbar.TraceID{} || (len(sid) != 0 && len(sid) != 8)
}

// badSpanIDs reports whether a span's ids make it one the store rejects:
// a trace id of 16 bytes and a span id of 8, neither all zero, and a
// parent id of 8 bytes or none.
func badSpanIDs(sp *tracepb.Span) bool {
	tid, sid, pid := sp.GetTraceId(), sp.GetSpanId(), sp.GetParentSpanId()
	return len(tid) != 16 || len(sid) != 8 || (len(pid) != 0 && len(pid) != 8) ||
		toolbar.TraceID(tid) == toolbar.TraceID{} || toolbar.SpanID(sid) == toolbar.SpanID{}
}

func spanFromProto(sp *tracepb.Span) (toolbar.Span, bool) {
	var s toolbar.Span
	if badSpanIDs(sp) {
		return s, false
	}
	copy(s.TraceID[:], sp.GetTraceId())
	copy(s.SpanID[:], sp.GetSpanId())
	copy(s.ParentSpanID[:], sp.GetParentSpanId())
	s.TraceState = sp.GetTraceState()
	s.Flags = sp.GetFlags()
	s.Name = sp.GetName()
	s.Kind = toolbar.SpanKind(sp.GetKind())
	s.Start = unixNano(sp.GetStartTimeUnixNano())
	s.End = unixNano(sp.GetEndTimeUnixNano())
	s.Attributes = kvsFromProto(sp.GetAttributes())
	s.DroppedAttributes = sp.GetDroppedAttributesCount()
	s.DroppedEvents = sp.GetDroppedEventsCount()
	s.DroppedLinks = sp.GetDroppedLinksCount()
	for _, e := range sp.GetEvents() {
		s.Events = append(s.Events, toolbar.Event{
			Time: unixNano(e.GetTimeUnixNano()), Name: e.GetName(),
			Attributes: kvsFromProto(e.GetAttributes()), DroppedAttributes: e.GetDroppedAttributesCount(),
		})
	}
	for _, l := range sp.GetLinks() {
		var tl toolbar.Link
		if len(l.GetTraceId()) != 16 || len(l.GetSpanId()) != 8 {
			continue
		}
		copy(tl.TraceID[:], l.GetTraceId())
		copy(tl.SpanID[:], l.GetSpanId())
		tl.TraceState, tl.Flags = l.GetTraceState(), l.GetFlags()
		tl.Attributes, tl.DroppedAttributes = kvsFromProto(l.GetAttributes()), l.GetDroppedAttributesCount()
		s.Links = append(s.Links, tl)
	}
	if st := sp.GetStatus(); st != nil {
		s.Status = toolbar.Status{Code: toolbar.StatusCode(st.GetCode()), Message: st.GetMessage()}
	}
	return s, true
}

func unixNano(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n))
}

func kvsFromProto(kvs []*commonpb.KeyValue) []toolbar.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]toolbar.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, toolbar.KeyValue{Key: kv.GetKey(), Value: valueFromProto(kv.GetValue(), 0)})
	}
	return out
}

// maxDepth bounds nested arrays and maps so hostile input cannot recurse deep.
const maxDepth = 16

func valueFromProto(v *commonpb.AnyValue, depth int) toolbar.Value {
	if v == nil || depth > maxDepth {
		return toolbar.Value{}
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return toolbar.StringValue(x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return toolbar.BoolValue(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return toolbar.IntValue(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return toolbar.DoubleValue(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return toolbar.BytesValue(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		vals := make([]toolbar.Value, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			vals = append(vals, valueFromProto(e, depth+1))
		}
		return toolbar.ArrayValue(vals)
	case *commonpb.AnyValue_KvlistValue:
		kvs := make([]toolbar.KeyValue, 0, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			kvs = append(kvs, toolbar.KeyValue{Key: kv.GetKey(), Value: valueFromProto(kv.GetValue(), depth+1)})
		}
		return toolbar.ListValue(kvs)
	}
	return toolbar.Value{}
}

// fromSDK converts a span ended in the proxy's own tracer provider. The
// span's scope is last when it equals it, so spans share it.
func fromSDK(s sdktrace.ReadOnlySpan, res *toolbar.Resource, last *toolbar.Scope) toolbar.Span {
	sc := s.SpanContext()
	ts := toolbar.Span{
		TraceID:           toolbar.TraceID(sc.TraceID()),
		SpanID:            toolbar.SpanID(sc.SpanID()),
		TraceState:        sc.TraceState().String(),
		Flags:             uint32(sc.TraceFlags()),
		Name:              s.Name(),
		Kind:              toolbar.SpanKind(s.SpanKind()),
		Start:             s.StartTime(),
		End:               s.EndTime(),
		Attributes:        kvsFromAttrs(s.Attributes()),
		DroppedAttributes: uint32(s.DroppedAttributes()),
		DroppedEvents:     uint32(s.DroppedEvents()),
		DroppedLinks:      uint32(s.DroppedLinks()),
		Resource:          res,
		Scope:             scopeFromSDK(s.InstrumentationScope(), last),
	}
	if p := s.Parent(); p.SpanID().IsValid() {
		ts.ParentSpanID = toolbar.SpanID(p.SpanID())
	}
	for _, e := range s.Events() {
		ts.Events = append(ts.Events, toolbar.Event{Time: e.Time, Name: e.Name, Attributes: kvsFromAttrs(e.Attributes), DroppedAttributes: uint32(e.DroppedAttributeCount)})
	}
	for _, l := range s.Links() {
		ts.Links = append(ts.Links, toolbar.Link{
			TraceID: toolbar.TraceID(l.SpanContext.TraceID()), SpanID: toolbar.SpanID(l.SpanContext.SpanID()),
			TraceState: l.SpanContext.TraceState().String(), Flags: uint32(l.SpanContext.TraceFlags()),
			Attributes: kvsFromAttrs(l.Attributes), DroppedAttributes: uint32(l.DroppedAttributeCount),
		})
	}
	st := s.Status()
	ts.Status = toolbar.Status{Code: statusFromSDK(st.Code), Message: st.Description}
	return ts
}

// statusFromSDK maps OpenTelemetry Go's codes (Unset, Error, Ok) to
// OTLP's numbering (Unset, Ok, Error).
func statusFromSDK(c codes.Code) toolbar.StatusCode {
	switch c {
	case codes.Error:
		return toolbar.StatusError
	case codes.Ok:
		return toolbar.StatusOK
	}
	return toolbar.StatusUnset
}

func scopeFromSDK(is instrumentation.Scope, last *toolbar.Scope) *toolbar.Scope {
	if last != nil && last.Name == is.Name && last.Version == is.Version && last.SchemaURL == is.SchemaURL {
		return last
	}
	return &toolbar.Scope{Name: is.Name, Version: is.Version, SchemaURL: is.SchemaURL}
}

func resourceFromSDK(r *resource.Resource) *toolbar.Resource {
	return &toolbar.Resource{Attributes: kvsFromAttrs(r.Attributes()), SchemaURL: r.SchemaURL()}
}

func kvsFromAttrs(attrs []attribute.KeyValue) []toolbar.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	kvs := make([]toolbar.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		kvs = append(kvs, keyValue(a))
	}
	return kvs
}

// keyValue converts one attribute to the store's key-value.
func keyValue(a attribute.KeyValue) toolbar.KeyValue {
	var v toolbar.Value
	switch a.Value.Type() {
	case attribute.BOOL:
		v = toolbar.BoolValue(a.Value.AsBool())
	case attribute.INT64:
		v = toolbar.IntValue(a.Value.AsInt64())
	case attribute.FLOAT64:
		v = toolbar.DoubleValue(a.Value.AsFloat64())
	case attribute.STRING:
		v = toolbar.StringValue(a.Value.AsString())
	case attribute.BOOLSLICE:
		v = arrayValue(a.Value.AsBoolSlice(), toolbar.BoolValue)
	case attribute.INT64SLICE:
		v = arrayValue(a.Value.AsInt64Slice(), toolbar.IntValue)
	case attribute.FLOAT64SLICE:
		v = arrayValue(a.Value.AsFloat64Slice(), toolbar.DoubleValue)
	case attribute.STRINGSLICE:
		v = arrayValue(a.Value.AsStringSlice(), toolbar.StringValue)
	default:
		v = toolbar.StringValue(a.Value.String())
	}
	return toolbar.KeyValue{Key: string(a.Key), Value: v}
}

func arrayValue[T any](xs []T, value func(T) toolbar.Value) toolbar.Value {
	out := make([]toolbar.Value, len(xs))
	for i, x := range xs {
		out[i] = value(x)
	}
	return toolbar.ArrayValue(out)
}
