package toolbar

import (
	"net/http"
	"slices"
	"sync"
	"weak"
)

// Traces linked to a trace: a span's Links may point into another trace,
// as a job's CONSUMER span points to the PRODUCER span of the request that
// enqueued it (the messaging conventions start the job's trace anew and
// link it). GET /api/traces/{id}/related lists such links both ways, as
// JSON Related: the links of the trace's spans into other traces
// (outgoing) and of other traces' spans into it (incoming). The trace's
// stream (stream.go) sends the same, and the spans of the linked traces,
// as they come.

// Related is the answer of GET /api/traces/{id}/related.
type Related struct {
	TraceID TraceID `json:"traceId"`
	// Outgoing are the links of this trace's spans into other traces, in
	// the order the spans arrived.
	Outgoing []RelatedLink `json:"outgoing"`
	// Incoming are the links of other traces' spans into this one, the
	// oldest trace's first.
	Incoming []RelatedLink `json:"incoming"`
	// Traces are the other traces, each once: outgoing ones first.
	Traces []TraceID `json:"traces"`
	// Truncated tells that a direction had more than maxRelatedLinks links
	// and only the first are listed (Traces lists their traces only).
	Truncated bool `json:"truncated,omitempty"`
}

// RelatedLink is one span link between this trace and another. SpanID is
// always this trace's span and LinkedSpanID the other trace's: for an
// outgoing link, the span with the link and the span it points to; for an
// incoming one, the span pointed to and the span with the link.
type RelatedLink struct {
	SpanID       string  `json:"spanId"`
	TraceID      TraceID `json:"traceId"` // the other trace
	LinkedSpanID string  `json:"linkedSpanId"`
}

const (
	// maxRelatedLinks bounds each direction of an answer: a request that
	// enqueued ten thousand jobs lists the first of them.
	maxRelatedLinks = 100
	// maxFollowed bounds the linked traces a trace's stream sends the
	// spans of; the UI grafts whichever come.
	maxFollowed = 5
)

// related serves GET /api/traces/{id}/related from the API's index of
// the store's cross-trace links, which each call brings up to date.
func (a *API) related(w http.ResponseWriter, r *http.Request) {
	id, ok := traceID(w, r)
	if !ok {
		return
	}
	rel, ok := a.links.related(a.Store, id)
	if !ok {
		noTrace(w)
		return
	}
	writeJSON(w, rel)
}

// linkIndex holds the links of a store's spans that point into other
// traces, each span read once: spans are only ever appended to a trace
// and traces evicted whole, so what a trace held when it was last read
// stays as it was, and an update reads the spans added since and drops
// the traces evicted since. Only the store's trace list is read under
// the store's lock; the new spans are read after it is released.
// BenchmarkRelated: over a full store (1,000 traces, 200,000 spans) the
// first answer takes some 20 ms, the next ones some 40 µs.
//
// The index is keyed by trace id and holds no trace: an evicted trace,
// with its spans, is garbage as soon as the store lets it go. A weak
// pointer tells a trace evicted and stored anew under the same id (late
// spans, a backend's copy) from the one the index read.
type linkIndex struct {
	mu      sync.Mutex
	store   *Store
	pass    uint64
	read    map[TraceID]*readMark     // per trace: how far it was read, and when last seen stored
	out     map[TraceID][]RelatedLink // its spans' links into other traces, in span order
	in      map[TraceID][]inLink      // links into a trace, the oldest trace's first
	pending []pendingSpans            // reused between updates
	renewed []TraceID                 // reused between updates
}

// readMark is how far the index read a trace, and when it last saw it.
type readMark struct {
	trace weak.Pointer[trace] // the trace read: another one under its id is a new trace
	spans int
	pass  uint64
}

// inLink is a link into a trace from a span of trace from.
type inLink struct {
	from TraceID
	link RelatedLink
}

// pendingSpans are spans of trace id not read yet.
type pendingSpans struct {
	id    TraceID
	spans []Span
}

// update brings the index up to date with s. x.mu must be held.
func (x *linkIndex) update(s *Store) {
	if x.store != s { // a new store (never, in Caddy): start over
		x.store, x.read, x.out, x.in = s, map[TraceID]*readMark{}, map[TraceID][]RelatedLink{}, map[TraceID][]inLink{}
	}
	x.pass++
	pending, renewed := x.pending[:0], x.renewed[:0]
	s.mu.Lock()
	for e := s.order.Front(); e != nil; e = e.Next() {
		t := e.Value.(*trace)
		mark := x.read[t.id]
		if mark != nil && mark.trace.Value() != t {
			renewed = append(renewed, t.id)
			mark = nil
		}
		if mark == nil {
			mark = &readMark{trace: weak.Make(t)}
			x.read[t.id] = mark
		}
		if n := len(t.spans); n > mark.spans {
			// A copy of the slice header: the spans up to n never change.
			pending = append(pending, pendingSpans{t.id, t.spans[mark.spans:n]})
			mark.spans = n
		}
		mark.pass = x.pass
	}
	s.mu.Unlock()
	for _, id := range renewed { // the old trace's links first
		x.drop(id)
	}
	for _, p := range pending {
		for i := range p.spans {
			x.add(p.id, &p.spans[i])
		}
	}
	clear(pending) // let evicted traces' spans go
	x.pending, x.renewed = pending[:0], renewed[:0]
	for id, mark := range x.read {
		if mark.pass != x.pass {
			x.drop(id)
			delete(x.read, id)
		}
	}
}

// add indexes the links of sp, a span of trace id, into other traces.
func (x *linkIndex) add(id TraceID, sp *Span) {
	for _, l := range sp.Links {
		if l.TraceID == id || !l.TraceID.IsValid() || !l.SpanID.IsValid() {
			continue
		}
		x.out[id] = append(x.out[id], RelatedLink{SpanID: sp.SpanID.String(), TraceID: l.TraceID, LinkedSpanID: l.SpanID.String()})
		x.in[l.TraceID] = append(x.in[l.TraceID], inLink{id, RelatedLink{SpanID: l.SpanID.String(), TraceID: id, LinkedSpanID: sp.SpanID.String()}})
	}
}

// drop forgets the links of trace id's spans, evicted from the store.
func (x *linkIndex) drop(id TraceID) {
	var done []TraceID // the traces it links to, each filtered once
	for _, l := range x.out[id] {
		if slices.Contains(done, l.TraceID) {
			continue
		}
		done = append(done, l.TraceID)
		links := x.in[l.TraceID]
		kept := slices.DeleteFunc(links, func(in inLink) bool { return in.from == id })
		if len(kept) == 0 {
			delete(x.in, l.TraceID)
		} else {
			x.in[l.TraceID] = kept
		}
	}
	delete(x.out, id)
}

// related returns the links of trace id, and false when s does not hold
// the trace.
func (x *linkIndex) related(s *Store, id TraceID) (Related, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.update(s)
	s.mu.Lock()
	_, ok := s.traces[id]
	s.mu.Unlock()
	if !ok {
		return Related{}, false
	}
	rel := Related{TraceID: id, Outgoing: []RelatedLink{}, Incoming: []RelatedLink{}, Traces: []TraceID{}}
	seen := map[TraceID]bool{}
	note := func(l RelatedLink) {
		if !seen[l.TraceID] {
			seen[l.TraceID] = true
			rel.Traces = append(rel.Traces, l.TraceID)
		}
	}
	for _, l := range x.out[id] {
		if len(rel.Outgoing) == maxRelatedLinks {
			rel.Truncated = true
			break
		}
		rel.Outgoing = append(rel.Outgoing, l)
		note(l)
	}
	for _, in := range x.in[id] {
		if len(rel.Incoming) == maxRelatedLinks {
			rel.Truncated = true
			break
		}
		rel.Incoming = append(rel.Incoming, in.link)
		note(in.link)
	}
	return rel, true
}
