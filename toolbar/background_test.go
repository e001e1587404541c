package toolbar

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestAddSpansWithBackgroundRoots: the root span of a trace no proxied
// request started becomes a record of kind background, Done, named by the
// span (or by its HTTP attributes), with its spans; spans with a parent,
// traces that have a record, root spans sent again and root spans the
// store did not take make none.
func TestAddSpansWithBackgroundRoots(t *testing.T) {
	start := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	root := func(trace int, name string, attrs ...KeyValue) Span {
		return Span{TraceID: tid(trace), SpanID: sid(trace), Name: name, Start: start, End: start.Add(1500 * time.Microsecond), Attributes: attrs}
	}
	failed := root(5, "cleanup sessions")
	failed.Status = Status{Code: StatusError, Message: "disk full"}
	// A trace may take half the store: its third span does not fit.
	full := []Span{{TraceID: tid(8), SpanID: sid(81), ParentSpanID: sid(80)}, {TraceID: tid(8), SpanID: sid(82), ParentSpanID: sid(80)}, root(8, "too late")}
	for _, tc := range []struct {
		name    string
		proxied bool // the trace has a proxied request's record
		spans   []Span
		want    []Record // the records published, in order
	}{
		{"a cron job's root span", false, []Span{root(1, "cleanup sessions")},
			[]Record{{ID: sid(1).String(), TraceID: tid(1), URL: "cleanup sessions", Done: true, DurationMs: 1.5}}},
		{"a worker's CONSUMER root with its child", false,
			[]Span{root(2, "process jobs"), {TraceID: tid(2), SpanID: sid(200), ParentSpanID: sid(2), Name: "UPDATE orders"}},
			[]Record{{ID: sid(2).String(), TraceID: tid(2), URL: "process jobs", Done: true, DurationMs: 1.5}}},
		{"an HTTP server span that did not come through the proxy", false,
			[]Span{root(3, "GET", str("http.request.method", "GET"), str("url.path", "/health"), str("url.query", "deep=1"),
				KeyValue{"http.response.status_code", ValueOf(int64(503))}, str("server.address", "app.internal"))},
			[]Record{{ID: sid(3).String(), TraceID: tid(3), Method: "GET", URL: "/health?deep=1", Host: "app.internal", Status: 503, Done: true, DurationMs: 1.5}}},
		{"a root span that failed", false, []Span{failed},
			[]Record{{ID: sid(5).String(), TraceID: tid(5), URL: "cleanup sessions", Done: true, DurationMs: 1.5, Error: "disk full"}}},
		{"spans whose parent is elsewhere", false, []Span{{TraceID: tid(6), SpanID: sid(60), ParentSpanID: sid(61), Name: "SELECT"}}, nil},
		{"a root span in a proxied request's trace", true, []Span{root(7, "documentLoad")}, nil},
		{"a root span the store dropped, its trace full", false, full, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(Limits{Spans: 4})
			if tc.proxied {
				s.PutRequest(&Record{ID: "00000000000000aa", TraceID: tc.spans[0].TraceID})
			}
			added, err := s.AddSpansWithRoots(tc.spans, BackgroundRoots)
			if err != nil || len(added.Records) != len(tc.want) {
				t.Fatalf("added %+v (%v), want %d records", added, err, len(tc.want))
			}
			if again, _ := s.AddSpansWithRoots(tc.spans, BackgroundRoots); len(again.Records) != 0 {
				t.Fatalf("the same spans again published %v", again.Records)
			}
			var got []*Record
			for _, rec := range s.Requests(0) {
				if rec.Kind == RecordBackground {
					got = append(got, rec)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d background records stored, want %d", len(got), len(tc.want))
			}
			for i, want := range tc.want {
				want.Kind, want.StartTime = RecordBackground, start
				if rec := got[i]; !reflect.DeepEqual(*rec, want) {
					t.Fatalf("record\n got  %+v\n want %+v", *rec, want)
				}
			}
		})
	}
}

// TestAddSpansWithImportedRoots: each span of an import whose parent is
// not among the import's spans becomes an Imported record, unless the
// store has its record already; the ids of both are listed.
func TestAddSpansWithImportedRoots(t *testing.T) {
	s := NewStore(Limits{})
	own := &Record{ID: sid(1).String(), TraceID: tid(1), Method: "GET", URL: "/own"}
	s.PutRequest(own)
	spans := []Span{
		{TraceID: tid(1), SpanID: sid(1), Name: "GET /own"},                                 // the proxy's record's span
		{TraceID: tid(1), SpanID: sid(2), ParentSpanID: sid(1), Name: "SELECT"},             // its child
		{TraceID: tid(2), SpanID: sid(3), ParentSpanID: sid(9), Name: "GET /orders/7"},      // a subtree: its parent not imported
		{TraceID: tid(2), SpanID: sid(4), ParentSpanID: sid(3), Name: "render"},             // its child
		{TraceID: tid(3), SpanID: SpanID{}, ParentSpanID: sid(9), Name: "no id, not taken"}, // invalid
	}
	added, err := s.AddSpansWithRoots(spans, ImportedRoots)
	if err != nil || !slices.Equal(added.Records, []string{sid(1).String(), sid(3).String()}) || added.Stored != 4 {
		t.Fatalf("added %+v (%v), want 4 spans stored, records of span 1 (kept) and span 3", added, err)
	}
	if s.Request(own.ID) != own {
		t.Error("the store's own record was replaced")
	}
	if rec := s.Request(sid(3).String()); rec == nil || !rec.Imported || rec.Method != "GET" || rec.URL != "/orders/7" || rec.Kind != "" {
		t.Errorf("record of the subtree's root %+v, want an imported GET /orders/7", rec)
	}
}

// TestBackgroundRecordsInTheHistory: a background record's summary says
// its kind and reads its spans like any other's (services, queries).
func TestBackgroundRecordsInTheHistory(t *testing.T) {
	s := NewStore(Limits{})
	res := &Resource{Attributes: []KeyValue{str("service.name", "node-worker")}}
	spans := []Span{
		{TraceID: tid(1), SpanID: sid(1), Name: "cleanup sessions", Resource: res},
		{TraceID: tid(1), SpanID: sid(2), ParentSpanID: sid(1), Name: "DELETE sessions", Resource: res,
			Attributes: []KeyValue{str("db.system.name", "sqlite"), str("db.query.text", "DELETE FROM sessions WHERE expires < ?")}},
	}
	s.AddSpansWithRoots(spans, BackgroundRoots)
	got := getSummaries(t, NewAPI(s), 0)
	if len(got) != 1 {
		t.Fatalf("%d summaries, want 1", len(got))
	}
	if sum := got[0]; sum.Kind != RecordBackground || sum.Route != "cleanup sessions" || len(sum.Services) != 1 || sum.Services[0] != "node-worker" || sum.Queries != 1 {
		t.Fatalf("summary %+v, want kind background, route cleanup sessions, node-worker, 1 query", sum)
	}
}
