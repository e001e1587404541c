package toolbar

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var metricBase = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// metricAt is metricBase plus s seconds.
func metricAt(s float64) time.Time { return metricBase.Add(time.Duration(s * float64(time.Second))) }

func gauge(service, name string, value float64, when time.Time, attrs ...KeyValue) MetricSeries {
	return MetricSeries{
		Metric: Metric{Service: service, Name: name, Kind: MetricGauge, Attributes: attrs},
		Points: []MetricPoint{{Time: when, Value: value}},
	}
}

func pointTimes(s MetricSeries) []float64 {
	var out []float64
	for _, p := range s.Points {
		out = append(out, p.Time.Sub(metricBase).Seconds())
	}
	return out
}

func TestMetricStoreKeepsTheNewestPointsOfASeriesInTimeOrder(t *testing.T) {
	m := NewMetricStore(MetricLimits{Points: 3})
	for _, s := range []float64{30, 10, 50, 20, 40} { // out of order, as retries come
		m.Add([]MetricSeries{gauge("web", "pool.used", s, metricAt(s))})
	}
	m.Add([]MetricSeries{gauge("web", "pool.used", 45, metricAt(40))}) // the same time again: replaces
	m.Add([]MetricSeries{gauge("web", "pool.used", 5, metricAt(5))})   // older than all kept: dropped
	got := m.Query("", time.Time{}, time.Time{})
	if len(got) != 1 || !slices.Equal(pointTimes(got[0]), []float64{30, 40, 50}) {
		t.Fatalf("points at %v, want the newest three [30 40 50]", got)
	}
	if v := got[0].Points[1].Value; v != 45 {
		t.Errorf("point at 40 s holds %v, want the replacement 45", v)
	}
}

func TestMetricStoreSeriesAreServiceNameAndAttributeSet(t *testing.T) {
	m := NewMetricStore(MetricLimits{})
	m.Add([]MetricSeries{
		gauge("web", "http.requests", 1, metricAt(1), attr("route", "/"), attr("method", "GET")),
		gauge("web", "http.requests", 2, metricAt(2), attr("method", "GET"), attr("route", "/")), // same set, other order
		gauge("web", "http.requests", 3, metricAt(3), attr("method", "POST"), attr("route", "/")),
		gauge("worker", "http.requests", 4, metricAt(4), attr("method", "GET"), attr("route", "/")),
		gauge("web", "db.pool", 5, metricAt(5)),
	})
	got := m.Query("", time.Time{}, time.Time{})
	var lens []int
	for _, s := range got {
		lens = append(lens, len(s.Points))
	}
	if len(got) != 4 || !slices.Equal(lens, []int{1, 2, 1, 1}) {
		t.Fatalf("%d series with %v points, want 4: db.pool, GET / (2 points), POST /, the worker's", len(got), lens)
	}
	if got[0].Name != "db.pool" || got[3].Service != "worker" {
		t.Errorf("order %s/%s ... %s/%s, want by service then name", got[0].Service, got[0].Name, got[3].Service, got[3].Name)
	}
	if only := m.Query("worker", time.Time{}, time.Time{}); len(only) != 1 || only[0].Service != "worker" {
		t.Errorf("service filter: %+v", only)
	}
	if s := m.Services(); !slices.Equal(s, []string{"web", "worker"}) {
		t.Errorf("Services() = %v", s)
	}
}

func TestMetricStoreEvictsTheLeastRecentlyUpdatedSeries(t *testing.T) {
	m := NewMetricStore(MetricLimits{Series: 2})
	m.Add([]MetricSeries{gauge("web", "a", 1, metricAt(1))})
	m.Add([]MetricSeries{gauge("web", "b", 1, metricAt(2))})
	m.Add([]MetricSeries{gauge("web", "a", 2, metricAt(3))}) // a is fresh again
	m.Add([]MetricSeries{gauge("web", "c", 1, metricAt(4))})
	var names []string
	for _, s := range m.Query("", time.Time{}, time.Time{}) {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"a", "c"}) {
		t.Fatalf("kept %v, want [a c]: b was updated least recently", names)
	}
}

func TestMetricStoreStaysWithinItsBytes(t *testing.T) {
	const limit = 64 << 10
	m := NewMetricStore(MetricLimits{Bytes: limit})
	big := strings.Repeat("x", 1000)
	for i := range 500 {
		m.Add([]MetricSeries{gauge("web", "m", 1, metricAt(float64(i)), attr("id", strconv.Itoa(i)+big))})
	}
	m.mu.Lock()
	held := m.bytes
	m.mu.Unlock()
	kept := len(m.Query("", time.Time{}, time.Time{}))
	if held > limit || held <= 0 || kept == 0 || kept == 500 {
		t.Fatalf("%d series in %d bytes, want at most %d bytes by evicting old series", kept, held, limit)
	}
	newest := m.Query("", metricAt(499), time.Time{})
	if len(newest) != 1 {
		t.Errorf("the newest series is gone: %v", newest)
	}
}

func TestMetricStoreRejectsPointsItCannotShow(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		series MetricSeries
	}{
		{"no time", MetricSeries{Metric: Metric{Name: "g", Kind: MetricGauge}, Points: []MetricPoint{{Value: 1}}}},
		{"NaN gauge", MetricSeries{Metric: Metric{Name: "g", Kind: MetricGauge}, Points: []MetricPoint{{Time: metricAt(1), Value: nan}}}},
		{"infinite sum", MetricSeries{Metric: Metric{Name: "h", Kind: MetricHistogram}, Points: []MetricPoint{{Time: metricAt(1), Sum: inf}}}},
		{"infinite max", MetricSeries{Metric: Metric{Name: "h", Kind: MetricHistogram}, Points: []MetricPoint{{Time: metricAt(1), Max: &inf}}}},
		{"buckets without bounds", MetricSeries{Metric: Metric{Name: "h", Kind: MetricHistogram}, Points: []MetricPoint{{Time: metricAt(1), Bounds: []float64{1, 2}, Counts: []uint64{1, 2}}}}},
		{"bounds not increasing", MetricSeries{Metric: Metric{Name: "h", Kind: MetricHistogram}, Points: []MetricPoint{{Time: metricAt(1), Bounds: []float64{2, 1}, Counts: []uint64{1, 2, 3}}}}},
		{"NaN quantile", MetricSeries{Metric: Metric{Name: "s", Kind: MetricSummary}, Points: []MetricPoint{{Time: metricAt(1), Quantiles: []Quantile{{Q: 0.5, Value: nan}}}}}},
		{"no name", MetricSeries{Metric: Metric{Kind: MetricGauge}, Points: []MetricPoint{{Time: metricAt(1)}}}},
		{"unknown kind", MetricSeries{Metric: Metric{Name: "x", Kind: "histogramish"}, Points: []MetricPoint{{Time: metricAt(1)}}}},
	}
	for _, tt := range tests {
		m := NewMetricStore(MetricLimits{})
		if got := m.Add([]MetricSeries{tt.series}); got != 1 {
			t.Errorf("%s: %d rejected, want 1", tt.name, got)
		}
		if got := m.Query("", time.Time{}, time.Time{}); len(got) != 0 || len(m.Services()) != 0 {
			t.Errorf("%s: kept %+v (services %v)", tt.name, got, m.Services())
		}
	}
	m := NewMetricStore(MetricLimits{})
	ok := MetricSeries{Metric: Metric{Name: "h", Kind: MetricHistogram}, Points: []MetricPoint{{
		Time: metricAt(1), Count: 1, Bounds: []float64{1}, Counts: []uint64{1, 0},
		Exemplars: []Exemplar{{Value: nan}, {Value: 0.5, TraceID: TraceID{1}, SpanID: SpanID{2}}},
	}}}
	if got := m.Add([]MetricSeries{ok}); got != 0 {
		t.Fatalf("a valid histogram: %d rejected", got)
	}
	if e := m.Query("", time.Time{}, time.Time{})[0].Points[0].Exemplars; len(e) != 1 || e[0].Value != 0.5 {
		t.Errorf("exemplars %+v, want the NaN one left out", e)
	}
}

func TestMetricStoreStartsOverWhenAnInstrumentChangesKind(t *testing.T) {
	m := NewMetricStore(MetricLimits{})
	m.Add([]MetricSeries{gauge("web", "x", 1, metricAt(1)), gauge("web", "x", 2, metricAt(2))})
	m.Add([]MetricSeries{{Metric: Metric{Service: "web", Name: "x", Kind: MetricSum, Temporality: "cumulative"}, Points: []MetricPoint{{Time: metricAt(3), Value: 7}}}})
	got := m.Query("", time.Time{}, time.Time{})
	if len(got) != 1 || got[0].Kind != MetricSum || len(got[0].Points) != 1 {
		t.Fatalf("%+v, want only the sum's point", got)
	}
}

// metricsAPI serves store's metrics through the API.
func metricsAPI(t *testing.T, m *MetricStore, query url.Values) (int, string) {
	t.Helper()
	api := NewAPI(NewStore(Limits{}))
	api.Metrics = m
	rr := httptest.NewRecorder()
	api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/metrics?"+query.Encode(), nil))
	return rr.Code, rr.Body.String()
}

type metricsAnswer struct {
	Enabled  bool     `json:"enabled"`
	Services []string `json:"services"`
	Series   []struct {
		Service, Name, Kind string
		Before              map[string]any   `json:"before"`
		Points              []map[string]any `json:"points"`
	} `json:"series"`
}

func TestMetricsAPIAnswersTheSeriesOfAWindow(t *testing.T) {
	m := NewMetricStore(MetricLimits{})
	for _, s := range []float64{0, 10, 20, 30, 40} {
		m.Add([]MetricSeries{gauge("web", "pool.used", s, metricAt(s)), gauge("worker", "queue", s, metricAt(s))})
	}
	m.Add([]MetricSeries{gauge("web", "late", 1, metricAt(100))})
	ms := func(s float64) string { return strconv.FormatInt(metricAt(s).UnixMilli(), 10) }
	tests := []struct {
		name     string
		query    url.Values
		series   int
		times    []float64 // of the first series
		beforeAt float64   // of the first series; -1: none
	}{
		{"RFC 3339, both ends in", url.Values{"service": {"web"}, "from": {metricAt(10).Format(time.RFC3339)}, "to": {metricAt(30).Format(time.RFC3339Nano)}}, 1, []float64{10, 20, 30}, 0},
		{"unix ms", url.Values{"service": {"web"}, "from": {ms(15)}, "to": {ms(35)}}, 1, []float64{20, 30}, 10},
		{"from the start", url.Values{"service": {"web"}, "to": {ms(5)}}, 1, []float64{0}, -1},
		{"every service", url.Values{"from": {ms(40)}, "to": {ms(40)}}, 2, []float64{40}, 30},
		{"a window without points", url.Values{"from": {ms(41)}, "to": {ms(99)}}, 0, nil, -1},
	}
	for _, tt := range tests {
		code, body := metricsAPI(t, m, tt.query)
		var got metricsAnswer
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Fatalf("%s: %d %s (%v)", tt.name, code, body, err)
		}
		if !got.Enabled || !slices.Equal(got.Services, []string{"web", "worker"}) || len(got.Series) != tt.series {
			t.Errorf("%s: %s, want %d series", tt.name, body, tt.series)
			continue
		}
		if tt.series == 0 {
			continue
		}
		var times []float64
		for _, p := range got.Series[0].Points {
			times = append(times, (p["time"].(float64)-float64(metricBase.UnixMilli()))/1000)
		}
		if !slices.Equal(times, tt.times) {
			t.Errorf("%s: points at %v s, want %v", tt.name, times, tt.times)
		}
		if b := got.Series[0].Before; tt.beforeAt < 0 && b != nil || tt.beforeAt >= 0 && (b == nil || b["value"] != tt.beforeAt) {
			t.Errorf("%s: before %v, want the point at %v s", tt.name, b, tt.beforeAt)
		}
	}
	for _, bad := range []url.Values{{"from": {"yesterday"}}, {"to": {"2025-13-01T00:00:00Z"}}, {"from": {ms(20)}, "to": {ms(10)}}} {
		if code, body := metricsAPI(t, m, bad); code != http.StatusBadRequest {
			t.Errorf("%v: %d %s, want 400", bad, code, body)
		}
	}
	if code, body := metricsAPI(t, nil, nil); code != 200 || body != `{"enabled":false,"services":[],"series":[]}` {
		t.Errorf("no MetricStore: %d %s", code, body)
	}
}

func TestMetricsAPIWritesEachKindsFields(t *testing.T) {
	one, four := 1.0, 4.0
	ex := []Exemplar{{Time: metricAt(1), Value: 0.25, TraceID: TraceID{0xab}, SpanID: SpanID{0xcd}, Attributes: []KeyValue{attr("user", "7")}}}
	m := NewMetricStore(MetricLimits{})
	m.Add([]MetricSeries{
		{Metric: Metric{Service: "s", Name: "1.gauge", Kind: MetricGauge}, Points: []MetricPoint{{Time: metricAt(1), Value: 0}}},
		{Metric: Metric{Service: "s", Name: "2.sum", Kind: MetricSum, Temporality: "cumulative", Monotonic: true}, Points: []MetricPoint{{Start: metricAt(0), Time: metricAt(1), Value: 12, Exemplars: ex}}},
		{Metric: Metric{Service: "s", Name: "3.histogram", Kind: MetricHistogram, Unit: "s"}, Points: []MetricPoint{{Start: metricAt(0), Time: metricAt(1), Count: 3, Sum: 6, Min: &one, Max: &four, Bounds: []float64{1, 2}, Counts: []uint64{1, 1, 1}, Exemplars: ex}}},
		{Metric: Metric{Service: "s", Name: "4.exponential", Kind: MetricExponentialHistogram}, Points: []MetricPoint{{Time: metricAt(1), Count: 2, Sum: 3, Scale: 0, ZeroCount: 0, Positive: ExpBuckets{Offset: -1, Counts: []uint64{1, 1}}}}},
		{Metric: Metric{Service: "s", Name: "5.summary", Kind: MetricSummary}, Points: []MetricPoint{{Time: metricAt(1), Count: 2, Sum: 3, Quantiles: []Quantile{{Q: 0.5, Value: 1}}}}},
	})
	_, body := metricsAPI(t, m, nil)
	at1 := strconv.FormatInt(metricAt(1).UnixMilli(), 10)
	for _, want := range []string{
		`"name":"1.gauge","kind":"gauge","attributes":[],"points":[{"start":0,"time":` + at1 + `,"value":0}]`,
		`"kind":"sum","temporality":"cumulative","monotonic":true`,
		`"value":12,"exemplars":[{"time":` + at1 + `,"value":0.25,"traceId":"ab000000000000000000000000000000","spanId":"cd00000000000000","attributes":[{"key":"user","value":{"stringValue":"7"}}]}]`,
		`"unit":"s","kind":"histogram","attributes":[],"points":[{"start":` + strconv.FormatInt(metricAt(0).UnixMilli(), 10) + `,"time":` + at1 + `,"count":3,"sum":6,"min":1,"max":4,"bounds":[1,2],"counts":[1,1,1],"exemplars":`,
		`"count":2,"sum":3,"scale":0,"zeroCount":0,"positive":{"offset":-1,"counts":[1,1]},"negative":{"offset":0}}`,
		`"count":2,"sum":3,"quantiles":[{"q":0.5,"value":1}]}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %s\nin %s", want, body)
		}
	}
}

func TestMetricsAPINamesTheRecordOfAnExemplarsTrace(t *testing.T) {
	store := NewStore(Limits{})
	page, fetch := TraceID{0x01}, TraceID{0x02}
	// The page's trace: the proxy's span 0a (the record), the app's 0b
	// under it. The fetch's trace holds two records (a redirect and its
	// target), 1a and 2a, the app's 2b under the second.
	store.AddSpans([]Span{
		{TraceID: page, SpanID: SpanID{0x0a}, Name: "proxy"},
		{TraceID: page, SpanID: SpanID{0x0b}, ParentSpanID: SpanID{0x0a}, Name: "GET /"},
		{TraceID: fetch, SpanID: SpanID{0x1a}, Name: "proxy"},
		{TraceID: fetch, SpanID: SpanID{0x2a}, Name: "proxy"},
		{TraceID: fetch, SpanID: SpanID{0x2b}, ParentSpanID: SpanID{0x2a}, Name: "GET /api"},
	})
	for _, r := range []struct {
		id    SpanID
		trace TraceID
	}{{SpanID{0x0a}, page}, {SpanID{0x1a}, fetch}, {SpanID{0x2a}, fetch}} {
		store.PutRequest(&Record{ID: r.id.String(), TraceID: r.trace, Done: true, StartTime: metricBase})
	}
	m := NewMetricStore(MetricLimits{})
	m.Add([]MetricSeries{{Metric: Metric{Service: "web", Name: "http.server.request.duration", Kind: MetricHistogram}, Points: []MetricPoint{{
		Time: metricAt(1), Count: 3, Bounds: []float64{1}, Counts: []uint64{3, 0},
		Exemplars: []Exemplar{
			{Value: 0.1, TraceID: page, SpanID: SpanID{0x0b}},
			{Value: 0.2, TraceID: fetch, SpanID: SpanID{0x2b}},
			{Value: 0.3, TraceID: TraceID{0x03}, SpanID: SpanID{0x3b}}, // a trace the store does not hold
			// More of the fetch's trace, read once: each span its own answer.
			{Value: 0.4, TraceID: fetch, SpanID: SpanID{0x1a}},
			{Value: 0.5, TraceID: fetch, SpanID: SpanID{0x9f}}, // a span not stored: the trace's first record
			{Value: 0.6, TraceID: fetch, SpanID: SpanID{0x2a}},
		},
	}}}})
	api := NewAPI(store)
	api.Metrics = m
	rr := httptest.NewRecorder()
	api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/metrics", nil))
	var got struct {
		Series []struct {
			Points []struct {
				Exemplars []struct {
					Value   float64
					Request string
				}
			}
		}
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &got); err != nil || len(got.Series) != 1 {
		t.Fatalf("%s (%v)", rr.Body, err)
	}
	want := []string{SpanID{0x0a}.String(), SpanID{0x2a}.String(), "", SpanID{0x1a}.String(), SpanID{0x1a}.String(), SpanID{0x2a}.String()}
	if n := len(got.Series[0].Points[0].Exemplars); n != len(want) {
		t.Fatalf("%d exemplars, want %d", n, len(want))
	}
	for i, e := range got.Series[0].Points[0].Exemplars {
		if e.Request != want[i] {
			t.Errorf("exemplar %v: request %q, want %q", e.Value, e.Request, want[i])
		}
	}
	// The store's own exemplars stay as they were.
	if e := m.Query("", time.Time{}, time.Time{})[0].Points[0].Exemplars[0]; e.Request != "" {
		t.Errorf("the store's exemplar was changed: %+v", e)
	}
}
