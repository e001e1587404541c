package otelbridge

import (
	"github.com/tracebar/tracebar/toolbar"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// redactSpans redacts secret string attributes of an export in place,
// before it is stored or forwarded: nothing redacted leaves the sink.
func redactSpans(rss []*tracepb.ResourceSpans, r *toolbar.Redactor) {
	for _, rs := range rss {
		redactKVs(rs.GetResource().GetAttributes(), r)
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
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

// redactLogs is redactSpans for log records' attributes.
func redactLogs(rls []*logspb.ResourceLogs, r *toolbar.Redactor) {
	for _, rl := range rls {
		redactKVs(rl.GetResource().GetAttributes(), r)
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				redactKVs(lr.GetAttributes(), r)
			}
		}
	}
}

func redactKVs(kvs []*commonpb.KeyValue, r *toolbar.Redactor) {
	for _, kv := range kvs {
		if s, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok {
			s.StringValue = r.Attribute(kv.GetKey(), s.StringValue)
		}
	}
}
