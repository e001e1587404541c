package toolbar

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"weak"
)

// linkTo is a span link to span s of trace t.
func linkTo(t TraceID, s SpanID) Link { return Link{TraceID: t, SpanID: s} }

// getRelated reads /api/traces/{id}/related from api.
func getRelated(t *testing.T, api http.Handler, id string) (int, Related) {
	t.Helper()
	w := httptest.NewRecorder()
	api.ServeHTTP(w, httptest.NewRequest("GET", "/api/traces/"+id+"/related", nil))
	var rel Related
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &rel); err != nil {
			t.Fatalf("related of %s: %v %s", id, err, w.Body)
		}
	}
	return w.Code, rel
}

// jobTraces stores a request's trace (page: root sid(1), its PRODUCER
// sid(2)), a job's trace whose CONSUMER sid(10) links to the PRODUCER,
// and a batch job's trace whose span sid(20) links to both the page's
// root and the job's CONSUMER, to its own trace (not a relation) and to
// an invalid span.
func jobTraces(s *Store) (page, job, batch TraceID) {
	page, job, batch = tid(1), tid(2), tid(3)
	s.AddSpans([]Span{
		{TraceID: page, SpanID: sid(1), Name: "GET /enqueue", Kind: KindServer},
		{TraceID: page, SpanID: sid(2), ParentSpanID: sid(1), Name: "send jobs", Kind: KindProducer},
	})
	s.AddSpans([]Span{
		{TraceID: job, SpanID: sid(10), Name: "process jobs", Kind: KindConsumer, Links: []Link{linkTo(page, sid(2))}},
		{TraceID: job, SpanID: sid(11), ParentSpanID: sid(10), Name: "UPDATE orders"},
	})
	s.AddSpans([]Span{{TraceID: batch, SpanID: sid(20), Name: "nightly", Links: []Link{
		linkTo(page, sid(1)), linkTo(batch, sid(21)), linkTo(job, sid(10)), linkTo(job, SpanID{}),
	}}})
	return page, job, batch
}

// TestRelatedListsLinksBothWays: each trace lists the links of its spans
// into other traces and the links of other traces' spans into it, with
// the span ids at both ends; links within a trace and to invalid spans
// are no relation.
func TestRelatedListsLinksBothWays(t *testing.T) {
	s := NewStore(Limits{})
	page, job, batch := jobTraces(s)
	api := NewAPI(s)
	link := func(span int, other TraceID, linked int) RelatedLink {
		return RelatedLink{SpanID: sid(span).String(), TraceID: other, LinkedSpanID: sid(linked).String()}
	}
	for _, tc := range []struct {
		name               string
		trace              TraceID
		outgoing, incoming []RelatedLink
		traces             []TraceID
	}{
		{"the request's PRODUCER is linked to by the job and its root by the batch", page, nil,
			[]RelatedLink{link(2, job, 10), link(1, batch, 20)}, []TraceID{job, batch}},
		{"the job's CONSUMER links to the PRODUCER and is linked to by the batch", job,
			[]RelatedLink{link(10, page, 2)}, []RelatedLink{link(10, batch, 20)}, []TraceID{page, batch}},
		{"the batch links to both, not to itself", batch,
			[]RelatedLink{link(20, page, 1), link(20, job, 10)}, nil, []TraceID{page, job}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got := getRelated(t, api, tc.trace.String())
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			want := Related{TraceID: tc.trace, Outgoing: append([]RelatedLink{}, tc.outgoing...),
				Incoming: append([]RelatedLink{}, tc.incoming...), Traces: tc.traces}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestRelatedFollowsTheStore: links that arrive after a first answer are
// in the next one, links of an evicted trace leave with it, and a trace
// the store does not hold is a 404 (a malformed id a 400).
func TestRelatedFollowsTheStore(t *testing.T) {
	page := tid(1)
	producer := Span{TraceID: page, SpanID: sid(2), Name: "send jobs", Kind: KindProducer}
	consumer := Span{TraceID: tid(2), SpanID: sid(10), Name: "process jobs", Links: []Link{linkTo(page, sid(2))}}
	incoming := func(rel Related) int { return len(rel.Incoming) }

	t.Run("a link that comes late", func(t *testing.T) {
		s := NewStore(Limits{})
		api := NewAPI(s)
		s.AddSpans([]Span{producer})
		if _, rel := getRelated(t, api, page.String()); incoming(rel) != 0 || len(rel.Traces) != 0 {
			t.Fatalf("links before any job: %+v", rel)
		}
		// The job's trace: a child first, the CONSUMER root later.
		s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(11), ParentSpanID: sid(10), Name: "UPDATE orders"}})
		getRelated(t, api, page.String())
		s.AddSpans([]Span{consumer})
		if _, rel := getRelated(t, api, page.String()); incoming(rel) != 1 || rel.Incoming[0].LinkedSpanID != sid(10).String() {
			t.Fatalf("the job's link, come late, not listed: %+v", rel)
		}
	})
	t.Run("evictions", func(t *testing.T) {
		s := NewStore(Limits{Traces: 3})
		api := NewAPI(s)
		s.AddSpans([]Span{consumer}) // the job's trace is the oldest
		s.AddSpans([]Span{producer})
		if _, rel := getRelated(t, api, page.String()); incoming(rel) != 1 {
			t.Fatalf("the job's link not listed: %+v", rel)
		}
		s.AddSpans([]Span{{TraceID: tid(3), SpanID: sid(30)}, {TraceID: tid(4), SpanID: sid(40)}}) // evicts the job's
		if _, rel := getRelated(t, api, page.String()); incoming(rel) != 0 || len(rel.Traces) != 0 {
			t.Fatalf("the link of an evicted trace still listed: %+v", rel)
		}
		s.AddSpans([]Span{{TraceID: tid(5), SpanID: sid(50)}}) // evicts the page's
		if code, _ := getRelated(t, api, page.String()); code != http.StatusNotFound {
			t.Fatalf("evicted trace: status %d, want 404", code)
		}
		if code, _ := getRelated(t, api, "not-a-trace-id"); code != http.StatusBadRequest {
			t.Fatalf("bad id: status %d, want 400", code)
		}
	})
	t.Run("a trace evicted and stored anew under the same id", func(t *testing.T) {
		s := NewStore(Limits{Spans: 8})
		api := NewAPI(s)
		// The job's trace, the oldest, with three spans read...
		s.AddSpans([]Span{consumer, {TraceID: tid(2), SpanID: sid(11), ParentSpanID: sid(10)}, {TraceID: tid(2), SpanID: sid(12), ParentSpanID: sid(10)}})
		s.AddSpans([]Span{producer, {TraceID: page, SpanID: sid(1)}})
		if _, rel := getRelated(t, api, page.String()); incoming(rel) != 1 {
			t.Fatalf("the job's link not listed: %+v", rel)
		}
		// ...evicted, and stored anew with two, the first linking to the
		// page's root.
		s.AddSpans([]Span{{TraceID: tid(3), SpanID: sid(30)}, {TraceID: tid(3), SpanID: sid(31)}, {TraceID: tid(3), SpanID: sid(32)}, {TraceID: tid(3), SpanID: sid(33)}})
		s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(20), Links: []Link{linkTo(page, sid(1))}}, {TraceID: tid(2), SpanID: sid(21)}})
		if st := s.Stats(); st.Traces != 3 || st.Evicted != 1 {
			t.Fatalf("store %+v: want the job's trace evicted once and stored anew", st)
		}
		_, rel := getRelated(t, api, page.String())
		if want := []RelatedLink{{SpanID: sid(1).String(), TraceID: tid(2), LinkedSpanID: sid(20).String()}}; !slices.Equal(rel.Incoming, want) {
			t.Fatalf("links into the page %+v, want only the new trace's %+v", rel.Incoming, want)
		}
	})
}

// TestRelatedIndexHoldsNoTrace: the index of links keeps no evicted trace
// alive: once the store lets it go, its spans are garbage, with no
// /related call since.
func TestRelatedIndexHoldsNoTrace(t *testing.T) {
	s := NewStore(Limits{Traces: 2})
	api := NewAPI(s)
	page := tid(1)
	s.AddSpans([]Span{{TraceID: tid(2), SpanID: sid(10), Links: []Link{linkTo(page, sid(2))}}})
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(2)}})
	if _, rel := getRelated(t, api, page.String()); len(rel.Incoming) != 1 {
		t.Fatalf("the job's link not listed: %+v", rel)
	}
	job := storedTrace(s, tid(2))
	s.AddSpans([]Span{{TraceID: tid(3), SpanID: sid(30)}}) // evicts the job's
	runtime.GC()
	if job.Value() != nil {
		t.Fatal("the evicted trace is still reachable")
	}
	if _, rel := getRelated(t, api, page.String()); len(rel.Incoming) != 0 {
		t.Fatalf("the evicted trace's link still listed: %+v", rel)
	}
}

// storedTrace is a weak pointer to the store's trace id.
func storedTrace(s *Store, id TraceID) weak.Pointer[trace] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return weak.Make(s.traces[id].Value.(*trace))
}

// TestRelatedIsBounded: a request that enqueued more jobs than an answer
// lists gets the first maxRelatedLinks, marked truncated.
func TestRelatedIsBounded(t *testing.T) {
	s := NewStore(Limits{})
	page := tid(1)
	s.AddSpans([]Span{{TraceID: page, SpanID: sid(1), Name: "send jobs"}})
	for i := range maxRelatedLinks + 5 {
		s.AddSpans([]Span{{TraceID: tid(100 + i), SpanID: sid(100 + i), Links: []Link{linkTo(page, sid(1))}}})
	}
	_, rel := getRelated(t, NewAPI(s), page.String())
	if len(rel.Incoming) != maxRelatedLinks || len(rel.Traces) != maxRelatedLinks || !rel.Truncated {
		t.Fatalf("%d incoming links, %d traces, truncated %v; want %d, %d, true", len(rel.Incoming), len(rel.Traces), rel.Truncated,
			maxRelatedLinks, maxRelatedLinks)
	}
	if rel.Incoming[0].TraceID != tid(100) {
		t.Fatalf("first link from %s, want the oldest job's %s", rel.Incoming[0].TraceID, tid(100))
	}
}

// benchTrace is a trace id for any n.
func benchTrace(n int) TraceID {
	var t TraceID
	t[0] = 2
	binary.BigEndian.PutUint64(t[8:], uint64(n))
	return t
}

// BenchmarkRelated is the cost of an answer from a full store (1,000
// traces of 200 spans, every tenth span linking to another trace): cold,
// the first answer, which reads every span; warm, with nothing new, a
// pass over the trace list; and while traces arrive: a new trace of 20 linking spans (and an
// eviction) per answer.
func BenchmarkRelated(b *testing.B) {
	const traces, perTrace = 1000, 200
	fill := func() *Store {
		s := NewStore(Limits{Traces: traces, Spans: 1 << 30, Bytes: 1 << 40})
		for i := range traces {
			batch := make([]Span, perTrace)
			for j := range batch {
				batch[j] = Span{TraceID: tid(i + 1), SpanID: sid(j + 1), ParentSpanID: sid(j), Name: "work"}
				if j%10 == 0 {
					batch[j].Links = []Link{linkTo(tid((i+7)%traces+1), sid(1))}
				}
			}
			s.AddSpans(batch)
		}
		return s
	}
	s := fill()
	page := tid(500)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			var x linkIndex
			if _, ok := x.related(s, page); !ok {
				b.Fatal("no trace")
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		var x linkIndex
		x.related(s, page)
		for b.Loop() {
			x.related(s, page)
		}
	})
	b.Run("a new trace of 20 spans each", func(b *testing.B) {
		var x linkIndex
		x.related(s, page)
		n := traces
		for b.Loop() {
			n++
			batch := make([]Span, 20)
			for j := range batch {
				batch[j] = Span{TraceID: benchTrace(n), SpanID: sid(j + 1), Links: []Link{linkTo(tid(1), sid(1))}}
			}
			s.AddSpans(batch) // evicts the oldest trace
			x.related(s, benchTrace(n))
		}
	})
}
