package toolbar

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// traceStream opens the stream of trace id and returns its events.
func openTraceStream(t *testing.T, url string, id TraceID) func() [2]string {
	t.Helper()
	resp, err := http.Get(url + "/api/traces/" + id.String() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
	}
	return sseEvents(t, resp)
}

// expectEvent reads the next event, failing unless it is named name and
// its data holds each of want.
func expectEvent(t *testing.T, next func() [2]string, name string, want ...string) string {
	t.Helper()
	e := next()
	if e[0] != name {
		t.Fatalf("event %v, want %q", e, name)
	}
	for _, w := range want {
		if !strings.Contains(e[1], w) {
			t.Fatalf("%s event %s lacks %s", name, e[1], w)
		}
	}
	return e[1]
}

// linkedEvent is the data of a "linked" event.
type linkedEvent struct {
	TraceID TraceID         `json:"traceId"`
	Trace   json.RawMessage `json:"trace"`
}

// jobSpans is a job's trace whose CONSUMER span links to span producer of
// trace page, with a child for each name of children.
func jobSpans(job TraceID, consumer SpanID, page TraceID, producer SpanID, name string, children ...string) []Span {
	spans := []Span{{TraceID: job, SpanID: consumer, Name: name, Kind: KindConsumer, Links: []Link{linkTo(page, producer)}}}
	for i, child := range children {
		spans = append(spans, Span{TraceID: job, SpanID: sid(0x100 + i), ParentSpanID: consumer, Name: child})
	}
	return spans
}

// TestStreamSendsLinkedTracesLive: a page's trace stream tells of a job's
// trace that links to it once the job's spans arrive, after the stream
// opened, and sends the job's spans, then its late ones: one stream, the
// page's own, carries both.
func TestStreamSendsLinkedTracesLive(t *testing.T) {
	s := NewStore(Limits{})
	srv := httptest.NewServer(NewAPI(s))
	t.Cleanup(srv.Close) // after the stream's body is closed
	page, job := tid(1), tid(2)
	s.PutRequest(&Record{ID: sid(1).String(), TraceID: page, Done: true})
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(1), Name: "GET /enqueue"}, {TraceID: page, SpanID: sid(2), ParentSpanID: sid(1), Name: "send jobs"}})
	next := openTraceStream(t, srv.URL, page)
	expectEvent(t, next, "request", `"id":"`+sid(1).String())
	expectEvent(t, next, "spans", `"send jobs"`) // no "related": no links yet

	// The job's spans, as the sink stores them: a record for its root.
	spans := jobSpans(job, sid(10), page, sid(2), "process jobs")
	s.AddSpans(spans)
	s.PutBackground(spans)
	var rel Related
	if err := json.Unmarshal([]byte(expectEvent(t, next, "related")), &rel); err != nil || !slices.Equal(rel.Traces, []TraceID{job}) ||
		len(rel.Incoming) != 1 || rel.Incoming[0].LinkedSpanID != sid(10).String() {
		t.Fatalf("related %+v (%v), want the job's CONSUMER linked", rel, err)
	}
	var linked linkedEvent
	if err := json.Unmarshal([]byte(expectEvent(t, next, "linked", `"process jobs"`)), &linked); err != nil || linked.TraceID != job {
		t.Fatalf("linked spans of %s (%v), want the job's %s", linked.TraceID, err, job)
	}
	s.AddSpans([]Span{{TraceID: job, SpanID: sid(11), ParentSpanID: sid(10), Name: "UPDATE orders"}})
	if data := expectEvent(t, next, "linked", `"UPDATE orders"`); strings.Contains(data, `"process jobs"`) {
		t.Fatalf("linked event %s, want only the job's late span", data)
	}
}

// TestStreamFollowsAtMostMaxFollowedLinkedTraces: of a request that
// enqueued more jobs than a stream follows, the stream sends the spans
// of the first maxFollowed; the UI grafts whichever come.
func TestStreamFollowsAtMostMaxFollowedLinkedTraces(t *testing.T) {
	s := NewStore(Limits{})
	srv := httptest.NewServer(NewAPI(s))
	t.Cleanup(srv.Close)
	page := tid(1)
	s.PutRequest(&Record{ID: sid(1).String(), TraceID: page, Done: true})
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(1), Name: "send jobs"}})
	next := openTraceStream(t, srv.URL, page)
	expectEvent(t, next, "request")
	expectEvent(t, next, "spans")

	var jobs []Span
	for i := range maxFollowed + 2 {
		jobs = append(jobs, jobSpans(tid(10+i), sid(10+i), page, sid(1), "process jobs")...)
	}
	s.AddSpans(jobs)
	s.PutBackground(jobs)
	if data := expectEvent(t, next, "related"); strings.Count(data, `"linkedSpanId"`) != maxFollowed+2 {
		t.Fatalf("related %s, want %d links", data, maxFollowed+2)
	}
	var sent []TraceID
	for range maxFollowed {
		var linked linkedEvent
		if err := json.Unmarshal([]byte(expectEvent(t, next, "linked")), &linked); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, linked.TraceID)
	}
	if want := []TraceID{tid(10), tid(11), tid(12), tid(13), tid(14)}; !slices.Equal(sent, want) {
		t.Fatalf("linked traces sent %v, want the first %d: %v", sent, maxFollowed, want)
	}
	// Every pass sends what is new of the linked traces: had another one
	// been followed, its spans would have come before the page's new span.
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(2), ParentSpanID: sid(1), Name: "render"}})
	expectEvent(t, next, "spans", `"render"`)
}

// TestStreamSendsALinkedTraceStoredAnew: a linked trace evicted and
// stored anew under the same id (late spans, a backend's copy) is sent
// from its first span, though the stream had sent more of the old one.
func TestStreamSendsALinkedTraceStoredAnew(t *testing.T) {
	s := NewStore(Limits{Spans: 8})
	srv := httptest.NewServer(NewAPI(s))
	t.Cleanup(srv.Close)
	page, job := tid(1), tid(2)
	// The job's trace first, the oldest: three spans.
	s.AddSpans(jobSpans(job, sid(10), page, sid(2), "process jobs", "SELECT orders", "UPDATE orders"))
	s.PutRequest(&Record{ID: sid(1).String(), TraceID: page, Done: true})
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(1), Name: "GET /enqueue"}, {TraceID: page, SpanID: sid(2), ParentSpanID: sid(1), Name: "send jobs"}})
	next := openTraceStream(t, srv.URL, page)
	expectEvent(t, next, "request")
	expectEvent(t, next, "spans")
	expectEvent(t, next, "related")
	expectEvent(t, next, "linked", `"UPDATE orders"`)

	// A trace of four spans evicts the job's; then the job's trace comes
	// anew, two spans, fewer than the stream sent of the old one.
	s.AddSpans([]Span{{TraceID: tid(3), SpanID: sid(30)}, {TraceID: tid(3), SpanID: sid(31)}, {TraceID: tid(3), SpanID: sid(32)}, {TraceID: tid(3), SpanID: sid(33)}})
	again := jobSpans(job, sid(20), page, sid(2), "process jobs again", "retry")
	s.AddSpans(again)
	s.PutBackground(again)
	if st := s.Stats(); st.Evicted != 1 || st.Traces != 3 {
		t.Fatalf("store %+v: want the job's trace evicted and stored anew", st)
	}
	for {
		switch e := next(); e[0] {
		case "related": // the links without the job's, then with it again
		case "linked":
			if !strings.Contains(e[1], `"process jobs again"`) || !strings.Contains(e[1], `"retry"`) {
				t.Fatalf("linked %s, want the new trace's spans", e[1])
			}
			return
		default:
			t.Fatalf("event %v, want the new job's spans", e)
		}
	}
}

// TestStreamShowsALateJobWhenOpenedAgain: a stream that ended idle sends,
// when opened again (the toolbar does when its page is looked at again),
// the job linked to the trace since.
func TestStreamShowsALateJobWhenOpenedAgain(t *testing.T) {
	s := NewStore(Limits{})
	api := NewAPI(s)
	api.Idle, api.KeepAlive = 50*time.Millisecond, 10*time.Millisecond
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	page, job := tid(1), tid(2)
	s.PutRequest(&Record{ID: sid(1).String(), TraceID: page, Done: true})
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(2), Name: "send jobs"}})
	next := openTraceStream(t, srv.URL, page)
	expectEvent(t, next, "request")
	expectEvent(t, next, "spans")
	expectEvent(t, next, "idle")

	spans := jobSpans(job, sid(10), page, sid(2), "process jobs", "UPDATE orders")
	s.AddSpans(spans)
	s.PutBackground(spans)
	next = openTraceStream(t, srv.URL, page)
	expectEvent(t, next, "request")
	expectEvent(t, next, "spans", `"send jobs"`)
	expectEvent(t, next, "related", `"traces":["`+job.String()+`"]`)
	expectEvent(t, next, "linked", `"process jobs"`, `"UPDATE orders"`)
}

// TestRelatedIsPlainJSON: /related answers JSON even to an EventSource:
// the trace's stream carries the links live.
func TestRelatedIsPlainJSON(t *testing.T) {
	s := NewStore(Limits{})
	jobTraces(s)
	req := httptest.NewRequest("GET", "/api/traces/"+tid(1).String()+"/related", nil)
	req.Header.Set("Accept", "text/event-stream")
	w := httptest.NewRecorder()
	NewAPI(s).ServeHTTP(w, req)
	var rel Related
	if ct := w.Header().Get("Content-Type"); w.Code != http.StatusOK || ct != "application/json" || json.Unmarshal(w.Body.Bytes(), &rel) != nil || len(rel.Traces) != 2 {
		t.Fatalf("status %d, %s: %s", w.Code, ct, w.Body)
	}
}
