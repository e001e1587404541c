package otelbridge

// The sink's metrics: an OTLP metrics export, redacted, goes into the
// config's MetricStore (the Metrics panel) and on to the forwarder.

import (
	"github.com/tracebar/tracebar/toolbar"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

// exportMetrics keeps a metrics export's points in the config's
// MetricStore, if any, and forwards the export when forwarding is on,
// with one config read, as ingest does spans. Both get it redacted.
func (s *Sink) exportMetrics(req *collectormetrics.ExportMetricsServiceRequest) *collectormetrics.ExportMetricsServiceResponse {
	resp := &collectormetrics.ExportMetricsServiceResponse{}
	cfg := s.config()
	if cfg.Metrics == nil && cfg.Forwarder == nil {
		return resp // nowhere to go
	}
	redactMetrics(req.GetResourceMetrics(), cfg.Redactor)
	if cfg.Metrics != nil {
		if rejected := cfg.Metrics.Add(metricsFromProto(req.GetResourceMetrics())); rejected > 0 {
			resp.PartialSuccess = &collectormetrics.ExportMetricsPartialSuccess{
				RejectedDataPoints: int64(rejected),
				ErrorMessage:       "data points without a time, with values that are not finite or with buckets that do not match their bounds were not kept",
			}
		}
	}
	if cfg.Forwarder != nil {
		cfg.Forwarder.ForwardMetrics(req)
	}
	return resp
}

// metricsFromProto converts an export into MetricStore series, one per
// data point (the store joins those of one series). Points flagged as
// holding no recorded value are skipped, as are metrics without data.
func metricsFromProto(rms []*metricspb.ResourceMetrics) (out []toolbar.MetricSeries) {
	for _, rm := range rms {
		service := ""
		for _, kv := range rm.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				meta := toolbar.Metric{Service: service, Name: m.GetName(), Description: m.GetDescription(), Unit: m.GetUnit(), Scope: sm.GetScope().GetName()}
				switch d := m.GetData().(type) {
				case *metricspb.Metric_Gauge:
					out = gaugeSeries(out, meta, d.Gauge)
				case *metricspb.Metric_Sum:
					out = sumSeries(out, meta, d.Sum)
				case *metricspb.Metric_Histogram:
					out = histogramSeries(out, meta, d.Histogram)
				case *metricspb.Metric_ExponentialHistogram:
					out = exponentialSeries(out, meta, d.ExponentialHistogram)
				case *metricspb.Metric_Summary:
					out = summarySeries(out, meta, d.Summary)
				}
			}
		}
	}
	return out
}

// pointSeries appends to out the series of meta with attrs, holding p,
// unless flags say the point recorded no value.
func pointSeries(out []toolbar.MetricSeries, meta toolbar.Metric, attrs []*commonpb.KeyValue, p toolbar.MetricPoint, flags uint32) []toolbar.MetricSeries {
	if flags&uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
		return out
	}
	meta.Attributes = kvsFromProto(attrs)
	return append(out, toolbar.MetricSeries{Metric: meta, Points: []toolbar.MetricPoint{p}})
}

func gaugeSeries(out []toolbar.MetricSeries, meta toolbar.Metric, g *metricspb.Gauge) []toolbar.MetricSeries {
	meta.Kind = toolbar.MetricGauge
	for _, p := range g.GetDataPoints() {
		out = pointSeries(out, meta, p.GetAttributes(), numberPoint(p), p.GetFlags())
	}
	return out
}

func sumSeries(out []toolbar.MetricSeries, meta toolbar.Metric, s *metricspb.Sum) []toolbar.MetricSeries {
	meta.Kind, meta.Monotonic = toolbar.MetricSum, s.GetIsMonotonic()
	meta.Temporality = temporality(s.GetAggregationTemporality())
	for _, p := range s.GetDataPoints() {
		out = pointSeries(out, meta, p.GetAttributes(), numberPoint(p), p.GetFlags())
	}
	return out
}

func histogramSeries(out []toolbar.MetricSeries, meta toolbar.Metric, h *metricspb.Histogram) []toolbar.MetricSeries {
	meta.Kind, meta.Temporality = toolbar.MetricHistogram, temporality(h.GetAggregationTemporality())
	for _, p := range h.GetDataPoints() {
		out = pointSeries(out, meta, p.GetAttributes(), toolbar.MetricPoint{
			Start: unixNano(p.GetStartTimeUnixNano()), Time: unixNano(p.GetTimeUnixNano()),
			Count: p.GetCount(), Sum: p.GetSum(), Min: p.Min, Max: p.Max,
			Bounds: p.GetExplicitBounds(), Counts: p.GetBucketCounts(),
			Exemplars: exemplarsFromProto(p.GetExemplars()),
		}, p.GetFlags())
	}
	return out
}

func exponentialSeries(out []toolbar.MetricSeries, meta toolbar.Metric, h *metricspb.ExponentialHistogram) []toolbar.MetricSeries {
	meta.Kind, meta.Temporality = toolbar.MetricExponentialHistogram, temporality(h.GetAggregationTemporality())
	for _, p := range h.GetDataPoints() {
		out = pointSeries(out, meta, p.GetAttributes(), toolbar.MetricPoint{
			Start: unixNano(p.GetStartTimeUnixNano()), Time: unixNano(p.GetTimeUnixNano()),
			Count: p.GetCount(), Sum: p.GetSum(), Min: p.Min, Max: p.Max,
			Scale: p.GetScale(), ZeroCount: p.GetZeroCount(),
			Positive:  toolbar.ExpBuckets{Offset: p.GetPositive().GetOffset(), Counts: p.GetPositive().GetBucketCounts()},
			Negative:  toolbar.ExpBuckets{Offset: p.GetNegative().GetOffset(), Counts: p.GetNegative().GetBucketCounts()},
			Exemplars: exemplarsFromProto(p.GetExemplars()),
		}, p.GetFlags())
	}
	return out
}

func summarySeries(out []toolbar.MetricSeries, meta toolbar.Metric, s *metricspb.Summary) []toolbar.MetricSeries {
	meta.Kind = toolbar.MetricSummary
	for _, p := range s.GetDataPoints() {
		qs := make([]toolbar.Quantile, 0, len(p.GetQuantileValues()))
		for _, q := range p.GetQuantileValues() {
			qs = append(qs, toolbar.Quantile{Q: q.GetQuantile(), Value: q.GetValue()})
		}
		out = pointSeries(out, meta, p.GetAttributes(), toolbar.MetricPoint{
			Start: unixNano(p.GetStartTimeUnixNano()), Time: unixNano(p.GetTimeUnixNano()),
			Count: p.GetCount(), Sum: p.GetSum(), Quantiles: qs,
		}, p.GetFlags())
	}
	return out
}

func temporality(t metricspb.AggregationTemporality) string {
	switch t {
	case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE:
		return "cumulative"
	case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA:
		return "delta"
	}
	return ""
}

func numberPoint(p *metricspb.NumberDataPoint) toolbar.MetricPoint {
	return toolbar.MetricPoint{
		Start: unixNano(p.GetStartTimeUnixNano()), Time: unixNano(p.GetTimeUnixNano()),
		Value: numberValue(p.GetAsDouble(), p.GetAsInt(), p.GetValue()), Exemplars: exemplarsFromProto(p.GetExemplars()),
	}
}

// numberValue is a point's or exemplar's value, int or double, as a
// float64 (exact up to 2^53).
func numberValue(asDouble float64, asInt int64, v any) float64 {
	switch v.(type) {
	case *metricspb.NumberDataPoint_AsInt, *metricspb.Exemplar_AsInt:
		return float64(asInt)
	}
	return asDouble
}

// exemplarsFromProto keeps the exemplars whose ids, when present, are
// valid; an exemplar naming no span is kept without ids.
func exemplarsFromProto(es []*metricspb.Exemplar) []toolbar.Exemplar {
	if len(es) == 0 {
		return nil
	}
	out := make([]toolbar.Exemplar, 0, len(es))
	for _, e := range es {
		tid, sid := e.GetTraceId(), e.GetSpanId()
		if len(tid) != 0 && len(tid) != 16 || len(sid) != 0 && len(sid) != 8 || len(tid) != len(sid)*2 {
			continue // ids of the wrong length, or half a pair
		}
		x := toolbar.Exemplar{
			Time: unixNano(e.GetTimeUnixNano()), Value: numberValue(e.GetAsDouble(), e.GetAsInt(), e.GetValue()),
			Attributes: kvsFromProto(e.GetFilteredAttributes()),
		}
		copy(x.TraceID[:], tid)
		copy(x.SpanID[:], sid)
		out = append(out, x)
	}
	return out
}
