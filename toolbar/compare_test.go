package toolbar

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The services of the demo shop (tests/demoapp) behind Tracebar.
var (
	proxyService     = serviceResource("tracebar")
	shopService      = serviceResource("shop")
	inventoryService = serviceResource("inventory")
)

func serviceResource(name string) *Resource {
	return &Resource{Attributes: []KeyValue{{"service.name", ValueOf(name)}, {"telemetry.sdk.language", ValueOf("go")}}}
}

func str(key, value string) KeyValue { return KeyValue{key, ValueOf(value)} }

// traceBuilder writes the spans of one trace as Tracebar stores them: the
// proxy's SERVER span first, the app's spans under the proxy's CLIENT span.
type traceBuilder struct {
	trace TraceID
	start time.Time
	ids   int
	spans []Span
}

// span adds a span of res, from offset ms after the trace's start for ms
// milliseconds, and returns its id.
func (b *traceBuilder) span(parent SpanID, res *Resource, kind SpanKind, name string, offset, ms float64, attrs ...KeyValue) SpanID {
	b.ids++
	id := SpanID{0xa0, b.trace[14], b.trace[15], byte(b.ids >> 8), byte(b.ids)}
	start := b.start.Add(time.Duration(offset * float64(time.Millisecond)))
	b.spans = append(b.spans, Span{
		TraceID: b.trace, SpanID: id, ParentSpanID: parent, Name: name, Kind: kind,
		Start: start, End: start.Add(time.Duration(ms * float64(time.Millisecond))),
		Attributes: attrs, Resource: res,
	})
	return id
}

// orderLoad is one load of the shop's order page, GET /orders/{id}: the
// order's row, then one query per line item (the N+1 of issue 14's demo
// route) of itemMs each, then the inventory service's stock check. extra
// adds spans under the app's SERVER span.
func orderLoad(n int, start time.Time, order, items int, itemMs float64, extra func(b *traceBuilder, app SpanID)) (*Record, []Span) {
	b := &traceBuilder{trace: tid(0x100 + n), start: start}
	path := fmt.Sprintf("/orders/%d", order)
	root := b.span(SpanID{}, proxyService, KindServer, "GET "+path, 0, 20+float64(items)*itemMs,
		str("http.request.method", "GET"), str("url.path", path))
	upstream := b.span(root, proxyService, KindClient, "GET upstream", 0.2, 19+float64(items)*itemMs)
	app := b.span(upstream, shopService, KindServer, "GET /orders/{id}", 0.5, 18+float64(items)*itemMs,
		str("http.request.method", "GET"), str("http.route", "/orders/{id}"), str("url.path", path))
	b.span(app, shopService, KindClient, "SELECT orders", 1, 1.5,
		str("db.system.name", "sqlite"), str("db.query.text", fmt.Sprintf("SELECT id, customer, product_id FROM orders WHERE id = %d", order)))
	for i := range items {
		b.span(app, shopService, KindClient, "SELECT products", 3+float64(i)*itemMs, itemMs,
			str("db.system.name", "sqlite"), str("db.query.text", fmt.Sprintf("SELECT name, price_cents FROM products WHERE id = %d", i+1)))
	}
	stock := b.span(app, shopService, KindClient, "GET", 4+float64(items)*itemMs, 8, str("http.request.method", "GET"))
	inv := b.span(stock, inventoryService, KindServer, "GET /stock", 4.5+float64(items)*itemMs, 7, str("http.route", "/stock"))
	b.span(inv, inventoryService, KindInternal, "check stock", 5+float64(items)*itemMs, 5)
	if extra != nil {
		extra(b, app)
	}
	rec := &Record{ID: root.String(), TraceID: b.trace, Method: "GET", URL: path + "?ref=nav", Status: 200, Done: true,
		StartTime: start, DurationMs: 20 + float64(items)*itemMs}
	return rec, b.spans
}

// TestCompareFindsWhatChangedOnTheNPlusOneRoute: between two loads of the
// order page, the per-item query ran 2 then 5 times (an N+1 appeared), a
// cache lookup vanished and an invoice render appeared.
func TestCompareFindsWhatChangedOnTheNPlusOneRoute(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	base, baseSpans := orderLoad(1, t0, 42, 2, 2, func(b *traceBuilder, app SpanID) {
		b.span(app, shopService, KindInternal, "cache lookup", 2, 0.5)
	})
	rec, recSpans := orderLoad(2, t0.Add(time.Minute), 43, 5, 2, func(b *traceBuilder, app SpanID) {
		b.span(app, shopService, KindInternal, "render invoice", 15, 3)
	})
	c := Compare(rec, base, recSpans, baseSpans)

	if c.Request != rec.ID || c.Baseline == nil || *c.Baseline != base.ID || c.Route != "GET /orders/{id}" {
		t.Fatalf("head: request %s baseline %v route %q", c.Request, c.Baseline, c.Route)
	}
	if c.DurationMs != (MsPair{rec.DurationMs, base.DurationMs}) {
		t.Errorf("durations %+v", c.DurationMs)
	}
	if len(c.Spans.Added) != 1 || c.Spans.Added[0].Key != "shop render invoice" || c.Spans.Added[0].TotalMs != 3 {
		t.Errorf("added %+v, want the invoice render", c.Spans.Added)
	}
	if len(c.Spans.Removed) != 1 || c.Spans.Removed[0].Key != "shop cache lookup" || c.Spans.Removed[0].Count != 1 {
		t.Errorf("removed %+v, want the cache lookup", c.Spans.Removed)
	}
	changed := map[string]SpanChange{}
	for _, ch := range c.Spans.Changed {
		changed[ch.Key] = ch
	}
	products := changed["shop SELECT products SELECT name, price_cents FROM products WHERE id = ?"]
	if products.Count != (CountPair{5, 2}) || products.TotalMs != (MsPair{10, 4}) || products.DeltaMs != 6 {
		t.Errorf("per-item query %+v, want 5 runs against 2, 6 ms more", products)
	}
	// The proxy names its span after the path; its ids fold, so the two
	// loads' spans match.
	if proxy, ok := changed["tracebar GET /orders/{id}"]; !ok || proxy.Count != (CountPair{1, 1}) || proxy.DeltaMs != 6 {
		t.Errorf("proxy span %+v (%v), want matched across order ids", proxy, ok)
	}
	if app, ok := changed["shop GET /orders/{id} /orders/{id}"]; !ok || app.Name != "GET /orders/{id}" {
		t.Errorf("app span %+v (%v), want keyed by its http.route", app, ok)
	}
	if inv, ok := changed["inventory GET /stock /stock"]; !ok || inv.DeltaMs != 0 {
		t.Errorf("inventory span %+v (%v), want unchanged", inv, ok)
	}
	if len(c.Spans.Changed) != 8 {
		t.Errorf("%d changed keys, want the 8 both loads have: %+v", len(c.Spans.Changed), c.Spans.Changed)
	}
	for i := 1; i < len(c.Spans.Changed); i++ {
		if abs(c.Spans.Changed[i].DeltaMs) > abs(c.Spans.Changed[i-1].DeltaMs) {
			t.Fatalf("changed not by |deltaMs|: %+v", c.Spans.Changed)
		}
	}

	want := []QueryDiff{
		{Shape: "SELECT name, price_cents FROM products WHERE id = ?", System: "sqlite",
			Request: QueryTotal{5, 10}, Baseline: QueryTotal{2, 4}, NPlusOne: FlagPair{Request: true}},
		{Shape: "SELECT id, customer, product_id FROM orders WHERE id = ?", System: "sqlite",
			Request: QueryTotal{1, 1.5}, Baseline: QueryTotal{1, 1.5}},
	}
	if fmt.Sprint(c.Queries) != fmt.Sprint(want) {
		t.Errorf("queries\n got %+v\nwant %+v", c.Queries, want)
	}

	// The other way round, the N+1 went away.
	back := Compare(base, rec, baseSpans, recSpans)
	if q := back.Queries[0]; q.NPlusOne != (FlagPair{Baseline: true}) || q.Request.Count != 2 {
		t.Errorf("reversed: %+v, want the N+1 on the baseline's side", q)
	}
	if back.Spans.Added[0].Key != "shop cache lookup" || back.Spans.Removed[0].Key != "shop render invoice" {
		t.Errorf("reversed spans: %+v", back.Spans)
	}
}

func abs(x float64) float64 { return max(x, -x) }

// TestCompareWithoutBaseline: with no earlier load, every span is added
// and the baseline side is empty.
func TestCompareWithoutBaseline(t *testing.T) {
	rec, spans := orderLoad(1, time.Now(), 42, 3, 1, nil)
	c := Compare(rec, nil, spans, spans)
	if c.Baseline != nil || c.DurationMs.Baseline != 0 || len(c.Spans.Removed) != 0 || len(c.Spans.Changed) != 0 {
		t.Fatalf("comparison without baseline: %+v", c)
	}
	total := 0
	for _, g := range c.Spans.Added {
		total += g.Count
	}
	if total != len(spans) {
		t.Errorf("added %d spans, want all %d", total, len(spans))
	}
	for _, q := range c.Queries {
		if q.Baseline.Count != 0 || q.NPlusOne.Baseline {
			t.Errorf("query %+v has a baseline side", q)
		}
	}
	b, _ := json.Marshal(c)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || doc["baseline"] != nil {
		t.Fatalf("baseline not null in %s", b)
	}
	if _, ok := doc["baseline"]; !ok {
		t.Fatalf("baseline missing from %s", b)
	}
}

// TestCompareCountsEverySpanWhateverItsSource: spans the team's backend or
// an import supplied are compared like the others.
func TestCompareCountsEverySpanWhateverItsSource(t *testing.T) {
	t0 := time.Now()
	base, baseSpans := orderLoad(1, t0, 1, 1, 1, nil)
	rec, recSpans := orderLoad(2, t0.Add(time.Second), 2, 1, 1, func(b *traceBuilder, app SpanID) {
		b.span(app, shopService, KindInternal, "from backend", 1, 1, str("tracebar.source", BackendSource))
		b.span(app, shopService, KindInternal, "from import", 1, 1, str("tracebar.source", "import"))
	})
	c := Compare(rec, base, recSpans, baseSpans)
	if len(c.Spans.Added) != 2 {
		t.Fatalf("added %+v, want both spans whatever their source", c.Spans.Added)
	}
}

func TestSpanKeyFoldsIdsAndAddsStatementOrRoute(t *testing.T) {
	tests := []struct {
		name string
		span Span
		want string
	}{
		{"proxy span of a path with an id",
			Span{Name: "GET /orders/42", Resource: proxyService}, "tracebar GET /orders/{id}"},
		{"query by its shape",
			Span{Name: "SELECT products", Resource: shopService, Attributes: []KeyValue{
				str("db.system", "postgresql"), str("db.statement", "SELECT * FROM products WHERE id IN (1, 2, 3)")}},
			"shop SELECT products SELECT * FROM products WHERE id IN (?)"},
		{"server span by its route",
			Span{Name: "GET", Resource: shopService, Attributes: []KeyValue{str("http.route", "/orders/:id")}},
			"shop GET /orders/:id"},
		{"client span to a URL",
			Span{Name: "GET http://inventory:8081/stock/7f3c9e2a-1b4d-4c8e-9a6f-0d2e5b7c8a91?x=1", Resource: shopService},
			"shop GET http://inventory:8081/stock/{id}"},
		{"span without a service",
			Span{Name: "render"}, "unknown render"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := spanKey(&tt.span); got != tt.want {
				t.Errorf("key %q, want %q", got, tt.want)
			}
		})
	}
}

// loadPutter returns a function that stores a load's record and spans in s.
func loadPutter(s *Store) func(rec *Record, spans []Span) *Record {
	return func(rec *Record, spans []Span) *Record {
		s.PutRequest(rec)
		s.AddSpans(spans)
		return rec
	}
}

// getCompare asks api for the comparison of path, decoding a 200 answer.
func getCompare(t *testing.T, api http.Handler, path string) (int, Comparison, string) {
	t.Helper()
	w := httptest.NewRecorder()
	api.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	var c Comparison
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v in %s", path, err, w.Body)
		}
	}
	return w.Code, c, w.Body.String()
}

// TestCompareEndpointPicksTheLastEarlierLoadOfTheRoute: the baseline is the
// latest finished record of the same method and route that started
// before; ?with overrides it; unknown ids are 404.
func TestCompareEndpointPicksTheLastEarlierLoadOfTheRoute(t *testing.T) {
	s := NewStore(Limits{})
	putLoad := loadPutter(s)
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	first := putLoad(orderLoad(1, at(0), 41, 1, 1, nil))
	second := putLoad(orderLoad(2, at(10), 42, 2, 1, nil))
	// Between the second and the third: another route, another method, a
	// load still in flight, and a load with another app route.
	products, productSpans := orderLoad(3, at(11), 7, 1, 1, nil)
	products.URL = "/products/7"
	for i := range productSpans {
		if v := productSpans[i].AttrString("http.route"); v == "/orders/{id}" {
			productSpans[i].Attributes = []KeyValue{str("http.route", "/products/{id}")}
		}
	}
	putLoad(products, productSpans)
	post, postSpans := orderLoad(4, at(12), 43, 1, 1, nil)
	post.Method = "POST"
	putLoad(post, postSpans)
	inFlight, flightSpans := orderLoad(5, at(13), 44, 1, 1, nil)
	inFlight.Done, inFlight.Status = false, 0
	putLoad(inFlight, flightSpans)
	third := putLoad(orderLoad(6, at(20), 45, 5, 1, nil))
	// Published last but started first: an imported record.
	imported := putLoad(orderLoad(7, at(-30), 40, 1, 1, nil))

	api := NewAPI(s)
	base := func(r *Record) string { return "/api/requests/" + r.ID + "/compare" }
	tests := []struct {
		name, path   string
		wantStatus   int
		wantBaseline *Record
	}{
		{"the last earlier load, skipping other routes, methods and loads in flight", base(third), 200, second},
		{"never a later load", base(second), 200, first},
		{"an earlier load published after", base(first), 200, imported},
		{"no earlier load: baseline null", base(imported), 200, nil},
		{"with overrides", base(third) + "?with=" + first.ID, 200, first},
		{"with may name another route", base(third) + "?with=" + products.ID, 200, products},
		{"unknown request", "/api/requests/00000000000000ff/compare", 404, nil},
		{"unknown with", base(third) + "?with=00000000000000ff", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, c, body := getCompare(t, api, tt.path)
			if code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", code, tt.wantStatus, body)
			}
			if code != 200 {
				return
			}
			got := "null"
			if c.Baseline != nil {
				got = *c.Baseline
			}
			want := "null"
			if tt.wantBaseline != nil {
				want = tt.wantBaseline.ID
			}
			if got != want {
				t.Fatalf("baseline %s, want %s", got, want)
			}
			if c.Route != "GET /orders/{id}" {
				t.Errorf("route %q", c.Route)
			}
		})
	}

	// The third load against the second, as the panel gets it.
	code, c, body := getCompare(t, api, base(third))
	t.Logf("GET %s → %d\n%s", base(third), code, body)
	if q := c.Queries[0]; q.Request.Count != 5 || q.Baseline.Count != 2 || q.NPlusOne != (FlagPair{Request: true}) {
		t.Errorf("first query %+v, want the per-item query that became an N+1", q)
	}
	if c.DurationMs != (MsPair{third.DurationMs, second.DurationMs}) {
		t.Errorf("durations %+v", c.DurationMs)
	}
}

// TestCompareBaselineWhileAppSpansAreLate: the app's spans arrive seconds
// after the proxy's record (the Go SDK batches for 5 s); until they do, a
// record is matched by its folded path against an earlier load whose app
// named the route in its own way (Express: /orders/:id).
func TestCompareBaselineWhileAppSpansAreLate(t *testing.T) {
	s := NewStore(Limits{})
	putLoad := loadPutter(s)
	t0 := time.Now()
	earlier, spans := orderLoad(1, t0, 41, 2, 1, nil)
	for i := range spans {
		if spans[i].AttrString("http.route") == "/orders/{id}" {
			spans[i].Attributes = []KeyValue{str("http.route", "/orders/:id")}
		}
	}
	putLoad(earlier, spans)
	other, otherSpans := orderLoad(2, t0.Add(time.Second), 7, 1, 1, nil)
	other.URL = "/orders/7/items" // another path, same method, no app spans
	putLoad(other, otherSpans[:2])
	rec, recSpans := orderLoad(3, t0.Add(2*time.Second), 42, 2, 1, nil)
	putLoad(rec, recSpans[:2]) // only the proxy's spans so far

	api := NewAPI(s)
	_, c, body := getCompare(t, api, "/api/requests/"+rec.ID+"/compare")
	if c.Baseline == nil || *c.Baseline != earlier.ID || c.Route != "GET /orders/{id}" {
		t.Fatalf("baseline %v route %q, want the earlier load by its path: %s", c.Baseline, c.Route, body)
	}
	s.AddSpans(recSpans[2:]) // the app's spans arrive: its route now is /orders/{id}
	_, c, body = getCompare(t, api, "/api/requests/"+rec.ID+"/compare")
	if c.Baseline != nil {
		t.Fatalf("baseline %v, want none: both apps named routes, and they differ: %s", *c.Baseline, body)
	}
}
