package toolbar

// GET /api/metrics?service=&from=&to= answers the series of the
// MetricStore (API.Metrics) with points in [from, to], for the Metrics
// panel. from and to are RFC 3339 times or unix milliseconds; either may
// be left out (no bound); service "" means every service. The answer:
//
//	{"enabled": true,                  false: this Tracebar keeps no metrics
//	 "services": ["shop-web", ...],    every service with metrics, in or out of the window
//	 "series": [{"service", "name", "description", "unit", "kind", "temporality",
//	   "monotonic", "scope", "attributes": [OTLP/JSON], "before": point (the newest
//	   point older than from, if any), "points": [point, ...] (oldest first)}]}
//
// A point: {"start", "time" (unix ms), then by kind: "value" (gauge, sum);
// "count", "sum", "min", "max", "bounds", "counts" (histogram);
// "count", "sum", "min", "max", "scale", "zeroCount", "positive" and
// "negative" ({"offset", "counts"}) (exponential_histogram); "count", "sum",
// "quantiles" ([{"q", "value"}]) (summary); "exemplars": [{"time", "value",
// "traceId", "spanId", "request" (the record of the trace, when stored),
// "attributes"}]}.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// unixMillis encodes a time as unix milliseconds (a JSON number).
type unixMillis time.Time

// MarshalJSON writes the zero time as 0.
func (t unixMillis) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("0"), nil
	}
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMicro())/1000, 'f', -1, 64), nil
}

// pointJSON is a point as the API writes it: times in unix milliseconds,
// only the fields of its metric's kind.
type pointJSON struct {
	Start     unixMillis     `json:"start"`
	Time      unixMillis     `json:"time"`
	Value     *float64       `json:"value,omitempty"`
	Count     *uint64        `json:"count,omitempty"`
	Sum       *float64       `json:"sum,omitempty"`
	Min       *float64       `json:"min,omitempty"`
	Max       *float64       `json:"max,omitempty"`
	Bounds    []float64      `json:"bounds,omitempty"`
	Counts    []uint64       `json:"counts,omitempty"`
	Scale     *int32         `json:"scale,omitempty"`
	ZeroCount *uint64        `json:"zeroCount,omitempty"`
	Positive  *ExpBuckets    `json:"positive,omitempty"`
	Negative  *ExpBuckets    `json:"negative,omitempty"`
	Quantiles []Quantile     `json:"quantiles,omitempty"`
	Exemplars []exemplarJSON `json:"exemplars,omitempty"`
}

type exemplarJSON struct {
	Time       unixMillis `json:"time"`
	Value      float64    `json:"value"`
	TraceID    string     `json:"traceId,omitempty"`
	SpanID     string     `json:"spanId,omitempty"`
	Request    string     `json:"request,omitempty"`
	Attributes []KeyValue `json:"attributes,omitempty"`
}

func encodePoint(kind MetricKind, p *MetricPoint) pointJSON {
	out := pointJSON{Start: unixMillis(p.Start), Time: unixMillis(p.Time)}
	switch kind {
	case MetricGauge, MetricSum:
		out.Value = &p.Value
	case MetricHistogram:
		out.Count, out.Sum, out.Min, out.Max = &p.Count, &p.Sum, p.Min, p.Max
		out.Bounds, out.Counts = p.Bounds, p.Counts
	case MetricExponentialHistogram:
		out.Count, out.Sum, out.Min, out.Max = &p.Count, &p.Sum, p.Min, p.Max
		out.Scale, out.ZeroCount, out.Positive, out.Negative = &p.Scale, &p.ZeroCount, &p.Positive, &p.Negative
	case MetricSummary:
		out.Count, out.Sum, out.Quantiles = &p.Count, &p.Sum, p.Quantiles
	}
	for _, e := range p.Exemplars {
		x := exemplarJSON{Time: unixMillis(e.Time), Value: e.Value, Request: e.Request, Attributes: e.Attributes}
		if e.TraceID.IsValid() {
			x.TraceID = e.TraceID.String()
		}
		if e.SpanID.IsValid() {
			x.SpanID = e.SpanID.String()
		}
		out.Exemplars = append(out.Exemplars, x)
	}
	return out
}

// MarshalJSON encodes s in the API's shape: the Metric's fields, then
// before (or none) and points, each with only its kind's fields.
func (s MetricSeries) MarshalJSON() ([]byte, error) {
	type metric Metric // Metric's fields, not this method
	out := struct {
		metric
		Attributes []KeyValue  `json:"attributes"`
		Before     *pointJSON  `json:"before,omitempty"`
		Points     []pointJSON `json:"points"`
	}{metric: metric(s.Metric), Attributes: orEmpty(s.Attributes), Points: make([]pointJSON, len(s.Points))}
	if s.Before != nil {
		b := encodePoint(s.Kind, s.Before)
		out.Before = &b
	}
	for i := range s.Points {
		out.Points[i] = encodePoint(s.Kind, &s.Points[i])
	}
	return json.Marshal(out)
}

// metrics answers GET /api/metrics?service=&from=&to=: the series with
// points in the window, each exemplar with the record of its trace.
func (a *API) metrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, errFrom := parseTimeParam(q.Get("from"))
	to, errTo := parseTimeParam(q.Get("to"))
	switch {
	case errFrom != nil || errTo != nil:
		http.Error(w, "toolbar: "+errors.Join(errFrom, errTo).Error(), http.StatusBadRequest)
	case !from.IsZero() && !to.IsZero() && to.Before(from):
		http.Error(w, fmt.Sprintf("toolbar: to (%s) is before from (%s)", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano)), http.StatusBadRequest)
	default:
		a.writeMetrics(w, q.Get("service"), from, to)
	}
}

func (a *API) writeMetrics(w http.ResponseWriter, service string, from, to time.Time) {
	out := struct {
		Enabled  bool           `json:"enabled"` // false: this Tracebar keeps no metrics
		Services []string       `json:"services"`
		Series   []MetricSeries `json:"series"`
	}{Services: []string{}, Series: []MetricSeries{}}
	if a.Metrics != nil {
		out.Enabled, out.Services = true, a.Metrics.Services()
		if s := a.Metrics.Query(service, from, to); s != nil {
			out.Series = s
		}
		a.linkExemplars(out.Series)
	}
	writeJSON(w, out)
}

// parseTimeParam reads a query's time: unix milliseconds or RFC 3339;
// "" is the zero time (no bound).
func parseTimeParam(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseFloat(v, 64); err == nil && finite(ms) {
		return time.UnixMicro(int64(ms * 1000)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, fmt.Errorf("time %q: want unix milliseconds or RFC 3339", v)
	}
	return t, nil
}

// linkExemplars names, on each exemplar, the record its trace belongs to:
// the one whose span is the exemplar's span or an ancestor of it, else
// the trace's first. The exemplars are copied: the store's are shared.
// Each trace is read once, however many exemplars name it.
func (a *API) linkExemplars(series []MetricSeries) {
	traces := map[TraceID]*exemplarTrace{}
	link := func(p *MetricPoint) {
		if len(p.Exemplars) == 0 {
			return
		}
		p.Exemplars = slices.Clone(p.Exemplars)
		for i := range p.Exemplars {
			e := &p.Exemplars[i]
			if !e.TraceID.IsValid() {
				continue
			}
			t, ok := traces[e.TraceID]
			if !ok {
				t = a.exemplarTrace(e.TraceID)
				traces[e.TraceID] = t
			}
			e.Request = t.requestOf(e.SpanID)
		}
	}
	for i := range series {
		if series[i].Before != nil {
			link(series[i].Before)
		}
		for j := range series[i].Points {
			link(&series[i].Points[j])
		}
	}
}

// exemplarTrace is what telling an exemplar's record takes of its trace:
// its records and, when it has several, its spans' parents.
type exemplarTrace struct {
	first  string          // the trace's first record; "" when the Store has none
	ids    map[string]bool // its records, when more than one
	parent map[SpanID]SpanID
}

func (a *API) exemplarTrace(trace TraceID) *exemplarTrace {
	recs := a.Store.TraceRequests(trace)
	t := &exemplarTrace{}
	if len(recs) == 0 {
		return t
	}
	t.first = recs[0].ID
	if len(recs) == 1 {
		return t
	}
	t.ids = make(map[string]bool, len(recs))
	for _, rec := range recs {
		t.ids[rec.ID] = true
	}
	spans, _ := a.Store.Spans(trace, 0)
	t.parent = make(map[SpanID]SpanID, len(spans))
	for i := range spans {
		t.parent[spans[i].SpanID] = spans[i].ParentSpanID
	}
	return t
}

// requestOf returns the id of the record that holds span: the nearest
// record among span and its ancestors, else the trace's first.
func (t *exemplarTrace) requestOf(span SpanID) string {
	if t.ids == nil {
		return t.first
	}
	// Up the parents, at most once per span: a cycle cannot loop.
	for id, steps := span, 0; id.IsValid() && steps <= len(t.parent); id, steps = t.parent[id], steps+1 {
		if t.ids[id.String()] {
			return id.String()
		}
	}
	return t.first
}
