package otelbridge

import (
	"github.com/tracebar/tracebar/toolbar"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// redactSpans redacts secrets in an export in place, before it is stored
// or forwarded: nothing redacted leaves the sink.
func redactSpans(rss []*tracepb.ResourceSpans, r *toolbar.Redactor) {
	for _, rs := range rss {
		redactKVs(rs.GetResource().GetAttributes(), r)
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				sp.Name = r.SpanName(sp.GetName())
				redactKVs(sp.GetAttributes(), r)
				for _, e := range sp.GetEvents() {
					redactKVs(e.GetAttributes(), r)
				}
				for _, l := range sp.GetLinks() {
					redactKVs(l.GetAttributes(), r)
				}
			}
		}
	}
}

// redactLogs is redactSpans for log records: attributes and bodies.
func redactLogs(rls []*logspb.ResourceLogs, r *toolbar.Redactor) {
	for _, rl := range rls {
		redactKVs(rl.GetResource().GetAttributes(), r)
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				redactKVs(lr.GetAttributes(), r)
				if b := lr.GetBody(); b != nil {
					redactValue("", b, r, 0)
				}
			}
		}
	}
}

// redactMetrics redacts the attributes of resources, data points and
// exemplars in place.
func redactMetrics(rms []*metricspb.ResourceMetrics, r *toolbar.Redactor) {
	for _, rm := range rms {
		redactKVs(rm.GetResource().GetAttributes(), r)
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, p := range m.GetGauge().GetDataPoints() {
					redactPoint(p.GetAttributes(), p.GetExemplars(), r)
				}
				for _, p := range m.GetSum().GetDataPoints() {
					redactPoint(p.GetAttributes(), p.GetExemplars(), r)
				}
				for _, p := range m.GetHistogram().GetDataPoints() {
					redactPoint(p.GetAttributes(), p.GetExemplars(), r)
				}
				for _, p := range m.GetExponentialHistogram().GetDataPoints() {
					redactPoint(p.GetAttributes(), p.GetExemplars(), r)
				}
				for _, p := range m.GetSummary().GetDataPoints() {
					redactKVs(p.GetAttributes(), r)
				}
			}
		}
	}
}

func redactPoint(attrs []*commonpb.KeyValue, exemplars []*metricspb.Exemplar, r *toolbar.Redactor) {
	redactKVs(attrs, r)
	for _, e := range exemplars {
		redactKVs(e.GetFilteredAttributes(), r)
	}
}

func redactKVs(kvs []*commonpb.KeyValue, r *toolbar.Redactor) {
	for _, kv := range kvs {
		if kv.GetValue() != nil {
			redactValue(kv.GetKey(), kv.Value, r, 0)
		}
	}
}

// redactValue redacts v, the value of key, in place: whole, whatever its
// type, when key names a secret; else each string of a list under key, and
// each entry of a map under its own key. A string without a key (a log
// body) is text, not a named value, and is kept.
func redactValue(key string, v *commonpb.AnyValue, r *toolbar.Redactor, depth int) {
	if depth > maxDepth {
		return
	}
	if key != "" && r.IsSecret(key) {
		v.Value = &commonpb.AnyValue_StringValue{StringValue: toolbar.Redacted}
		return
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		if key != "" {
			x.StringValue = r.Attribute(key, x.StringValue)
		}
	case *commonpb.AnyValue_ArrayValue:
		for _, e := range x.ArrayValue.GetValues() {
			if e != nil {
				redactValue(key, e, r, depth+1)
			}
		}
	case *commonpb.AnyValue_KvlistValue:
		for _, kv := range x.KvlistValue.GetValues() {
			if kv.GetValue() != nil {
				redactValue(kv.GetKey(), kv.Value, r, depth+1)
			}
		}
	}
}
