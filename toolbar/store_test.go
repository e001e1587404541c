package toolbar

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func tid(n int) TraceID {
	var t TraceID
	t[0], t[15] = 1, byte(n)
	t[14] = byte(n >> 8)
	return t
}

func sid(n int) SpanID {
	var s SpanID
	s[0], s[7] = 1, byte(n)
	s[6] = byte(n >> 8)
	return s
}

func TestStoreEvictsOldestTraceWhole(t *testing.T) {
	tests := []struct {
		name          string
		limits        Limits
		traces, spans int // added: traces × spans each
		wantTraces    int
		wantFirstKept int
	}{
		{"by traces", Limits{Traces: 3, Spans: 1000}, 5, 2, 3, 2},
		{"by spans", Limits{Traces: 100, Spans: 7}, 5, 2, 3, 2},
		{"under limits", Limits{Traces: 10, Spans: 100}, 5, 2, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(tt.limits)
			for i := 0; i < tt.traces; i++ {
				for j := 0; j < tt.spans; j++ {
					s.AddSpans([]Span{{TraceID: tid(i), SpanID: sid(j)}})
				}
			}
			st := s.Stats()
			if st.Traces != tt.wantTraces || st.Spans != tt.wantTraces*tt.spans {
				t.Fatalf("stats %+v, want %d whole traces", st, tt.wantTraces)
			}
			if _, ok := s.Spans(tid(tt.wantFirstKept), 0); !ok {
				t.Fatalf("trace %d evicted, want kept", tt.wantFirstKept)
			}
			if tt.wantFirstKept > 0 {
				if _, ok := s.Spans(tid(tt.wantFirstKept-1), 0); ok {
					t.Fatalf("trace %d kept, want evicted", tt.wantFirstKept-1)
				}
			}
		})
	}
}

func TestStoreIgnoresDuplicateAndInvalidSpans(t *testing.T) {
	s := NewStore(Limits{})
	sp := Span{TraceID: tid(1), SpanID: sid(1)}
	if n, dups, _ := s.AddSpans([]Span{sp, sp, {TraceID: tid(1)}, {SpanID: sid(2)}}); n != 1 || dups != 1 {
		t.Fatalf("stored %d with %d duplicates, want 1 and 1", n, dups)
	}
}

func TestStoreBoundsOneTrace(t *testing.T) {
	s := NewStore(Limits{Spans: 100, Requests: 10})
	for i := 0; i < 500; i++ {
		s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(i)}})
		s.PutRequest(&Record{ID: fmt.Sprint(i), TraceID: tid(1)})
	}
	if st := s.Stats(); st.Spans != 50 || st.Dropped != 450 {
		t.Fatalf("stats %+v: one trace must stop at half the spans", st)
	}
	if n := len(s.TraceRequests(tid(1))); n != 10 {
		t.Fatalf("trace keeps %d records, want 10", n)
	}
}

// TestStreamEndsWhenIdle: a stream whose requests are done and whose trace
// is quiet ends with an "idle" event.
func TestStreamEndsWhenIdle(t *testing.T) {
	s := NewStore(Limits{})
	s.PutRequest(&Record{ID: "r", TraceID: tid(3), Done: true})
	api := NewAPI(s)
	api.Idle = 50 * time.Millisecond
	srv := httptest.NewServer(api)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/traces/" + tid(3).String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) // returns when the server ends the stream
	if !strings.HasSuffix(string(body), "event: idle\ndata: {}\n\n") {
		t.Fatalf("stream did not end idle: %q", body)
	}
}

func TestStoreRequestsNewestFirstAndBounded(t *testing.T) {
	s := NewStore(Limits{Requests: 2})
	for i := 0; i < 3; i++ {
		s.PutRequest(&Record{ID: fmt.Sprint(i), TraceID: tid(i)})
	}
	s.PutRequest(&Record{ID: "2", TraceID: tid(2), Status: 200})
	got := s.Requests(0)
	if len(got) != 2 || got[0].ID != "2" || got[0].Status != 200 || got[1].ID != "1" {
		t.Fatalf("requests %+v", got)
	}
	if s.Request("0") != nil {
		t.Fatal("oldest record not dropped")
	}
}

// TestStreamDeliversLateSpans: spans added after a client subscribed reach
// it, each once, with the record of the trace.
func TestStreamDeliversLateSpans(t *testing.T) {
	s := NewStore(Limits{})
	srv := httptest.NewServer(NewAPI(s))
	defer srv.Close()
	trace := tid(7)
	s.PutRequest(&Record{ID: sid(1).String(), TraceID: trace, Status: 200})
	s.AddSpans([]Span{{TraceID: trace, SpanID: sid(1), Name: "proxy"}})

	resp, err := http.Get(srv.URL + "/api/traces/" + trace.String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	next := sseEvents(t, resp)
	if e := next(); e[0] != "request" || !strings.Contains(e[1], `"status":200`) {
		t.Fatalf("first event %v, want the request", e)
	}
	if e := next(); e[0] != "spans" || !strings.Contains(e[1], `"name":"proxy"`) {
		t.Fatalf("second event %v, want the stored span", e)
	}
	s.AddSpans([]Span{{TraceID: trace, SpanID: sid(2), Name: "late <b>"}})
	e := next()
	if e[0] != "spans" || strings.Contains(e[1], `"proxy"`) {
		t.Fatalf("late event %v, want only the new span", e)
	}
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct{ Spans []struct{ Name string } }
		}
	}
	if err := json.Unmarshal([]byte(e[1]), &doc); err != nil || doc.ResourceSpans[0].ScopeSpans[0].Spans[0].Name != "late <b>" {
		t.Fatalf("late span not delivered intact: %v %s", err, e[1])
	}
}

// sseEvents returns a function that reads the next event of an SSE
// response as [name, data], failing the test after 10 s without one.
func sseEvents(t *testing.T, resp *http.Response) func() [2]string {
	events := make(chan [2]string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				ev = v
			} else if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- [2]string{ev, v}
			}
		}
		close(events)
	}()
	return func() [2]string {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return [2]string{}
	}
}

// TestLogsOfATraceAreServedAndStreamed: log records naming a trace are
// listed with it and pushed to its open streams; they count against the
// store's span limit.
func TestLogsOfATraceAreServedAndStreamed(t *testing.T) {
	s := NewStore(Limits{Spans: 4})
	srv := httptest.NewServer(NewAPI(s))
	defer srv.Close()
	trace := tid(9)
	s.AddSpans([]Span{{TraceID: trace, SpanID: sid(1), Name: "proxy"}})
	resp, err := http.Get(srv.URL + "/api/traces/" + trace.String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	next := sseEvents(t, resp)
	if e := next(); e[0] != "spans" {
		t.Fatalf("first event %v, want spans", e)
	}
	if n, _ := s.AddLogs([]LogRecord{
		{TraceID: trace, SpanID: sid(1), SeverityNumber: 17, SeverityText: "ERROR", Body: ValueOf("db down <b>"), Time: time.Unix(1, 5)},
		{Body: ValueOf("no trace")},
	}); n != 1 {
		t.Fatalf("stored %d records, want 1", n)
	}
	e := next()
	var got []struct {
		Time     string `json:"timeUnixNano"`
		Severity int    `json:"severityNumber"`
		Body     string `json:"body"`
		TraceID  string `json:"traceId"`
		SpanID   string `json:"spanId"`
	}
	if err := json.Unmarshal([]byte(e[1]), &got); e[0] != "logs" || err != nil || len(got) != 1 ||
		got[0].Body != "db down <b>" || got[0].Severity != 17 || got[0].Time != "1000000005" || got[0].SpanID != sid(1).String() {
		t.Fatalf("logs event %v (%v), want the record", e, err)
	}
	r2, err := http.Get(srv.URL + "/api/traces/" + trace.String() + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || !strings.Contains(string(b), `"body":"db down \u003cb\u003e"`) {
		t.Fatalf("logs endpoint: %d %s", r2.StatusCode, b)
	}
	if st := s.Stats(); st.Spans != 1 || st.Logs != 1 {
		t.Fatalf("store counts %d spans and %d log records, want one of each", st.Spans, st.Logs)
	}
}

// TestRequestStreamSendsNewAndUpdatedRecords: the history list's stream
// sends the newest records first, then a summary for each record published
// after it opened, and again when the record is replaced.
func TestRequestStreamSendsNewAndUpdatedRecords(t *testing.T) {
	s := NewStore(Limits{})
	s.PutRequest(&Record{ID: "old", TraceID: tid(1)})
	srv := httptest.NewServer(NewAPI(s))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/requests/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	next := sseEvents(t, resp)
	if e := next(); e[0] != "request" || !strings.Contains(e[1], `"id":"old"`) {
		t.Fatalf("event %v, want the record from before first", e)
	}
	s.PutRequest(&Record{ID: "new", TraceID: tid(2), URL: "/a"})
	if e := next(); e[0] != "request" || !strings.Contains(e[1], `"id":"new"`) || strings.Contains(e[1], "clientRequestHeaders") {
		t.Fatalf("event %v, want the new record's summary", e)
	}
	s.PutRequest(&Record{ID: "new", TraceID: tid(2), URL: "/a", Status: 302, Done: true,
		ClientResponse: Headers{{"Location", "/b"}}})
	e := next()
	if e[0] != "request" || !strings.Contains(e[1], `"status":302`) || !strings.Contains(e[1], `"location":"/b"`) {
		t.Fatalf("event %v, want the update with its redirect target", e)
	}
}

func TestAPIStatusCodesAndHeaders(t *testing.T) {
	s := NewStore(Limits{})
	s.AddSpans([]Span{{TraceID: tid(1), SpanID: sid(1)}})
	s.PutRequest(&Record{ID: "abc", TraceID: tid(1)})
	api := NewAPI(s)
	tests := []struct {
		path, site string
		want       int
	}{
		{"/api/requests", "", 200},
		{"/api/requests/abc", "", 200},
		{"/api/requests/nope", "", 404},
		{"/api/traces/" + tid(1).String(), "", 200},
		{"/api/traces/" + tid(2).String(), "", 404},
		{"/api/traces/xyz", "", 400},
		{"/api/traces/" + tid(1).String() + "/logs", "", 200},
		{"/api/traces/" + tid(2).String() + "/logs", "", 404},
		{"/api/traces/" + tid(2).String() + "/stream", "", 404},
		{"/api/stats", "", 200},
		{"/api/requests", "cross-site", 403},
		{"/api/requests", "same-origin", 200},
	}
	for _, tt := range tests {
		t.Run(tt.path+tt.site, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.site != "" {
				req.Header.Set("Sec-Fetch-Site", tt.site)
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("missing no-store / nosniff")
			}
		})
	}
}

func TestValueMarshalsAsOTLPAnyValue(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"s", `{"stringValue":"s"}`},
		{int64(-3), `{"intValue":"-3"}`},
		{1.5, `{"doubleValue":1.5}`},
		{true, `{"boolValue":true}`},
		{[]byte{1, 2}, `{"bytesValue":"AQI="}`},
		{[]Value{StringValue("a")}, `{"arrayValue":{"values":[{"stringValue":"a"}]}}`},
		{[]KeyValue{{Key: "k", Value: ValueOf(int64(1))}}, `{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"1"}}]}}`},
		{nil, `{}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(ValueOf(tt.v))
		if err != nil || string(b) != tt.want {
			t.Errorf("%#v: got %s (%v), want %s", tt.v, b, err, tt.want)
		}
	}
}

// TestStoreBoundsBytes: big spans evict the oldest traces by estimated
// size, not only by count, and one span over half the bytes is refused.
func TestStoreBoundsBytes(t *testing.T) {
	s := NewStore(Limits{Bytes: 100_000})
	big := func(trace, span int, n int) Span {
		return Span{TraceID: tid(trace), SpanID: sid(span), Attributes: []KeyValue{{"payload", ValueOf(strings.Repeat("x", n))}}}
	}
	for i := 1; i <= 5; i++ {
		s.AddSpans([]Span{big(i, i, 30_000)})
	}
	st := s.Stats()
	if st.Bytes > 100_000 || st.Traces != 3 || st.Evicted != 2 {
		t.Fatalf("stats %+v: want 3 newest traces within 100,000 bytes", st)
	}
	if _, ok := s.Spans(tid(1), 0); ok {
		t.Fatal("oldest trace kept")
	}
	if n, _, _ := s.AddSpans([]Span{big(9, 9, 60_000)}); n != 0 || s.Stats().Dropped != 1 {
		t.Fatalf("a span over half the byte limit was stored (%d)", n)
	}
	for i := 3; i <= 5; i++ {
		if spans, _ := s.Spans(tid(i), 0); len(spans) != 1 {
			t.Fatalf("trace %d lost its span to a refused one", i)
		}
	}
}

// TestStatsShowForwardDrops: with a forwarder, /api/stats counts the
// batches it dropped; without one, the field is absent.
func TestStatsShowForwardDrops(t *testing.T) {
	api := NewAPI(NewStore(Limits{}))
	get := func() string {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", "/api/stats", nil))
		return rec.Body.String()
	}
	if b := get(); strings.Contains(b, "forwardDroppedBatches") || !strings.Contains(b, `"traces":0`) {
		t.Fatalf("stats without a forwarder: %s", b)
	}
	api.ForwardDropped = func() uint64 { return 3 }
	if b := get(); !strings.Contains(b, `"forwardDroppedBatches":3`) || !strings.Contains(b, `"limits":{"traces":1000`) {
		t.Fatalf("stats with a forwarder: %s", b)
	}
}

// TestStoreFindsDuplicatesInLargeTraces: past the size where a trace
// switches from searching its spans to a map, duplicates are still found.
func TestStoreFindsDuplicatesInLargeTraces(t *testing.T) {
	s := NewStore(Limits{})
	var spans []Span
	for i := range 2 * seenAfter {
		spans = append(spans, Span{TraceID: tid(1), SpanID: sid(i + 1)})
	}
	if n, dups, _ := s.AddSpans(spans[:seenAfter/2]); n != seenAfter/2 || dups != 0 {
		t.Fatalf("first batch: stored %d, %d duplicates", n, dups)
	}
	if n, dups, _ := s.AddSpans(spans); n != len(spans)-seenAfter/2 || dups != seenAfter/2 {
		t.Fatalf("second batch: stored %d, %d duplicates", n, dups)
	}
	if n, dups, _ := s.AddSpans(spans); n != 0 || dups != len(spans) {
		t.Fatalf("third batch: stored %d, %d duplicates", n, dups)
	}
}

type stubBackend struct{ name string }

func (stubBackend) Fetch(context.Context, TraceID) BackendStatus { return BackendStatus{OK: true} }
func (stubBackend) Follow(TraceID) (<-chan BackendStatus, func()) {
	return make(chan BackendStatus), func() {}
}

// TestBackendSlotsAcrossReloads: Caddy starts a config before it stops the
// one before; a config that stops gives the store back only if its own
// slot is in force, so config C without a backend never gets back the
// backend of A, which B (also without one) replaced.
func TestBackendSlotsAcrossReloads(t *testing.T) {
	s := NewStore(Limits{})
	a := &BackendSlot{Backend: stubBackend{"a"}}
	prevA := s.SetBackend(a)
	b := &BackendSlot{}
	prevB := s.SetBackend(b)   // B starts,
	s.RestoreBackend(a, prevA) // then A stops
	c := &BackendSlot{}
	prevC := s.SetBackend(c)   // C starts,
	s.RestoreBackend(b, prevB) // then B stops
	if got := s.Backend(); got != nil {
		t.Fatalf("C has no backend, the store reads from %v", got)
	}
	s.RestoreBackend(c, prevC) // C stops for good: back to B's, none
	if got := s.Backend(); got != nil {
		t.Fatalf("after C: %v", got)
	}
	d := &BackendSlot{Backend: stubBackend{"d"}}
	s.SetBackend(d)
	if got := s.Backend(); got != d.Backend {
		t.Fatalf("D's backend not in force: %v", got)
	}
}

// getSummaries reads /api/requests?limit=n.
func getSummaries(t testing.TB, api http.Handler, n int) []summary {
	t.Helper()
	w := httptest.NewRecorder()
	api.ServeHTTP(w, httptest.NewRequest("GET", fmt.Sprintf("/api/requests?limit=%d", n), nil))
	var out []summary
	if err := json.Unmarshal(w.Body.Bytes(), &out); w.Code != 200 || err != nil {
		t.Fatalf("/api/requests: %d %v %s", w.Code, err, w.Body)
	}
	return out
}

// TestSummariesReadTheRecordsSpans: the history's summaries name the
// route, the operation and the services, count the queries and mark
// errors, and follow the spans as they arrive.
func TestSummariesReadTheRecordsSpans(t *testing.T) {
	s := NewStore(Limits{})
	api := NewAPI(s)
	t0 := time.Now()
	rec, spans := orderLoad(1, t0, 42, 3, 1, nil)
	s.PutRequest(rec)
	s.AddSpans(spans[:2]) // the proxy's spans: the app's come later
	graphql := &Record{ID: sid(900).String(), TraceID: tid(900), Method: "POST", URL: "/graphql", Status: 502, Done: true,
		StartTime: t0.Add(time.Second), RequestBody: &Body{ContentType: "application/json", Text: `{"operationName":"GetCart","query":"query GetCart { cart { id } }"}`}}
	s.PutRequest(graphql)

	got := getSummaries(t, api, 10)
	if len(got) != 2 || got[0].ID != graphql.ID || got[1].ID != rec.ID {
		t.Fatalf("summaries %+v", got)
	}
	if g := got[0]; g.Route != "POST /graphql" || g.Operation != "query GetCart" || !g.Error || g.Queries != 0 ||
		g.Services == nil || len(g.Services) != 0 {
		t.Errorf("graphql summary %+v, want its operation from the body, marked failed, no services", g)
	}
	if g := got[1]; g.Route != "GET /orders/{id}" || g.Queries != 0 || fmt.Sprint(g.Services) != "[tracebar]" || g.Error {
		t.Errorf("summary before the app's spans %+v", g)
	}

	// A record replaced on the same spans is read again.
	fixed := *graphql
	fixed.Status = 200
	s.PutRequest(&fixed)
	if g := getSummaries(t, api, 10)[0]; g.Error || g.Status != 200 || g.Operation != "query GetCart" {
		t.Errorf("summary of the replaced record %+v, want no error", g)
	}

	failed := spans[len(spans)-1] // the inventory's stock check
	failed.Events = []Event{{Name: "exception", Attributes: []KeyValue{str("exception.message", "out of stock")}}}
	s.AddSpans(append(spans[2:len(spans)-1:len(spans)-1], failed))
	g := getSummaries(t, api, 10)[1]
	if g.Route != "GET /orders/{id}" || g.Queries != 4 || fmt.Sprint(g.Services) != "[tracebar shop inventory]" || !g.Error {
		t.Errorf("summary after the app's spans %+v, want 4 queries, 3 services, the exception", g)
	}
}

// TestAddSpansWakesRequestSubscribersOfRecordedTraces: spans of a trace
// with records change the history's summaries and wake its subscribers,
// once per batch; spans of other traces do not.
func TestAddSpansWakesRequestSubscribersOfRecordedTraces(t *testing.T) {
	s := NewStore(Limits{})
	s.PutRequest(&Record{ID: sid(1).String(), TraceID: tid(1)})
	wake, cancel := s.SubscribeRequests()
	defer cancel()
	woken := func() bool {
		select {
		case <-wake:
			return true
		default:
			return false
		}
	}
	woken() // PutRequest's, if any
	tests := []struct {
		name  string
		spans []Span
		want  bool
	}{
		{"a trace without records", []Span{{TraceID: tid(2), SpanID: sid(2)}}, false},
		{"a trace with a record", []Span{{TraceID: tid(1), SpanID: sid(1)}, {TraceID: tid(1), SpanID: sid(3), ParentSpanID: sid(1)}}, true},
		{"a duplicate", []Span{{TraceID: tid(1), SpanID: sid(1)}}, false},
		{"a mixed batch", []Span{{TraceID: tid(2), SpanID: sid(4)}, {TraceID: tid(1), SpanID: sid(5)}}, true},
	}
	for _, tt := range tests {
		s.AddSpans(tt.spans)
		if got := woken(); got != tt.want {
			t.Errorf("%s: woken %v, want %v", tt.name, got, tt.want)
		}
		if woken() {
			t.Errorf("%s: woken twice", tt.name)
		}
	}
}

// summaries opens api's history stream and returns a function that
// reads its next event, which must be a request summary.
func summaries(t *testing.T, api http.Handler) func() summary {
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/api/requests/stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	next := sseEvents(t, resp)
	return func() summary {
		t.Helper()
		e := next()
		var sum summary
		if err := json.Unmarshal([]byte(e[1]), &sum); e[0] != "request" || err != nil {
			t.Fatalf("event %v (%v), want a request summary", e, err)
		}
		return sum
	}
}

// TestRequestStreamResendsWhenSpansArrive: the app's spans arrive seconds
// after the proxy's record; the history's stream then sends the record's
// summary again, with its route, services and queries.
func TestRequestStreamResendsWhenSpansArrive(t *testing.T) {
	s := NewStore(Limits{})
	rec, spans := orderLoad(1, time.Now(), 42, 3, 1, nil)
	s.PutRequest(rec)
	s.AddSpans(spans[:1])
	read := summaries(t, NewAPI(s))
	if sum := read(); sum.ID != rec.ID || sum.Queries != 0 || fmt.Sprint(sum.Services) != "[tracebar]" {
		t.Fatalf("first summary %+v", sum)
	}
	s.AddSpans(spans[1:])
	if sum := read(); sum.ID != rec.ID || sum.Queries != 4 || fmt.Sprint(sum.Services) != "[tracebar shop inventory]" {
		t.Fatalf("summary after the app's spans %+v", sum)
	}
	// A record of another trace comes next, not a copy of the first.
	other := &Record{ID: sid(77).String(), TraceID: tid(77), Method: "GET", URL: "/api/products"}
	s.PutRequest(other)
	if sum := read(); sum.ID != other.ID || sum.Route != "GET /api/products" {
		t.Fatalf("summary %+v, want the new record's", sum)
	}
}

// TestRequestStreamCoalescesBursts: a burst of span batches (the proxy
// adds one per span that ends) right after a pass is sent as one summary
// of the record with every span, historyEvery after that pass, not as a
// summary per batch.
func TestRequestStreamCoalescesBursts(t *testing.T) {
	s := NewStore(Limits{})
	rec, spans := orderLoad(1, time.Now(), 42, 3, 1, nil)
	s.PutRequest(rec)
	s.AddSpans(spans)
	api := NewAPI(s)
	api.historyEvery = 300 * time.Millisecond
	next := summaries(t, api)
	read := func() summary {
		t.Helper()
		sum := next()
		if sum.ID != rec.ID {
			t.Fatalf("summary %+v, want one of %s", sum, rec.ID)
		}
		return sum
	}
	first := read()
	passed := time.Now()
	const batches = 50
	root, _ := ParseSpanID(rec.ID)
	for i := range batches {
		s.AddSpans([]Span{{TraceID: rec.TraceID, SpanID: sid(0x200 + i), ParentSpanID: root, Name: "SELECT",
			Attributes: []KeyValue{str("db.system.name", "sqlite"), str("db.query.text", "SELECT 1")}}})
	}
	sum := read()
	if waited := time.Since(passed); sum.Queries != first.Queries+batches || waited < api.historyEvery/2 {
		t.Fatalf("after %v: a summary of %d queries, want one of %d after about %v", waited, sum.Queries, first.Queries+batches, api.historyEvery)
	}
}

// BenchmarkRequestsSummaries is /api/requests?limit=1000 over a full
// store: a thousand records of fifty spans each. "cached" reads the list
// again with nothing new; "uncached" after every record was replaced (as
// when it finishes), so that every summary is read again off its spans.
func BenchmarkRequestsSummaries(b *testing.B) {
	s := NewStore(Limits{})
	t0 := time.Now()
	var recs []*Record
	for i := range 1000 {
		rec, spans := orderLoad(i, t0.Add(time.Duration(i)*time.Second), i+1, 43, 0.5, nil) // 50 spans
		s.PutRequest(rec)
		s.AddSpans(spans)
		recs = append(recs, rec)
	}
	if st := s.Stats(); st.Spans != 50_000 || st.Records != 1000 {
		b.Fatalf("store %+v, want 1000 records of 50 spans", st)
	}
	api := NewAPI(s)
	if got := getSummaries(b, api, 1000); len(got) != 1000 || got[0].Queries != 44 || got[0].Route != "GET /orders/{id}" {
		b.Fatalf("%d summaries, first %+v", len(got), got[0])
	}
	serve := func() {
		w := httptest.NewRecorder()
		api.ServeHTTP(w, httptest.NewRequest("GET", "/api/requests?limit=1000", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			serve()
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			for i, rec := range recs {
				again := *rec
				recs[i] = &again
				s.PutRequest(&again)
			}
			b.StartTimer()
			serve()
		}
	})
}
