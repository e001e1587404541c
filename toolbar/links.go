package toolbar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Traces linked to a trace: a span's Links may point into another trace,
// as a job's CONSUMER span points to the PRODUCER span of the request that
// enqueued it (the messaging conventions start the job's trace anew and
// link it). GET /api/traces/{id}/related lists such links both ways:
//
//	GET /api/traces/{id}/related      JSON Related: the links of the trace's spans into other
//	                                  traces (outgoing) and of other traces' spans into it (incoming)
//	  with Accept: text/event-stream  SSE: "related" (Related) whenever the links change, and
//	                                  "spans" ({"traceId", "trace": OTLP/JSON}) with the spans of up
//	                                  to maxFollowed linked traces as they arrive; "idle" after
//	                                  API.Idle without news, "evicted" when the trace is gone
//
// One stream carries every linked trace: a page has only six HTTP/1.1
// connections to its host, and its own trace's stream holds one already.

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
	// maxFollowed bounds the linked traces a stream sends the spans of.
	maxFollowed = 5
	// relatedEvery is the least time between two passes of a related
	// stream: every record published in the store wakes it.
	relatedEvery = 150 * time.Millisecond
)

// relatedHandler serves GET /api/traces/{id}/related with an index of
// the store's cross-trace links that each call brings up to date.
type relatedHandler struct {
	api   *API
	index linkIndex
}

func newRelatedHandler(a *API) *relatedHandler { return &relatedHandler{api: a} }

func (h *relatedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := traceID(w, r)
	if !ok {
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.stream(w, r, id)
		return
	}
	rel, ok := h.index.related(h.api.Store, id)
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
type linkIndex struct {
	mu      sync.Mutex
	store   *Store
	pass    uint64
	read    map[*trace]readMark      // per trace: the spans read, and the pass that last saw it stored
	out     map[*trace][]RelatedLink // its spans' links into other traces, in span order
	in      map[TraceID][]inLink     // links into a trace, the oldest trace's first
	pending []pendingSpans           // reused between updates
}

// readMark is how far the index read a trace, and when it last saw it.
type readMark struct {
	spans int
	pass  uint64
}

// inLink is a link into a trace from a span of trace from.
type inLink struct {
	from *trace
	link RelatedLink
}

// pendingSpans are spans of t not read yet.
type pendingSpans struct {
	t     *trace
	spans []Span
}

// update brings the index up to date with s. x.mu must be held.
func (x *linkIndex) update(s *Store) {
	if x.store != s { // a new store (never, in Caddy): start over
		x.store, x.read, x.out, x.in = s, map[*trace]readMark{}, map[*trace][]RelatedLink{}, map[TraceID][]inLink{}
	}
	x.pass++
	pending := x.pending[:0]
	s.mu.Lock()
	for e := s.order.Front(); e != nil; e = e.Next() {
		t := e.Value.(*trace)
		mark := x.read[t]
		if n := len(t.spans); n > mark.spans {
			// A copy of the slice header: the spans up to n never change.
			pending = append(pending, pendingSpans{t, t.spans[mark.spans:n]})
			mark.spans = n
		}
		mark.pass = x.pass
		x.read[t] = mark
	}
	s.mu.Unlock()
	for _, p := range pending {
		for i := range p.spans {
			x.add(p.t, &p.spans[i])
		}
	}
	clear(pending) // let evicted traces go
	x.pending = pending[:0]
	for t, mark := range x.read {
		if mark.pass != x.pass {
			x.evict(t)
		}
	}
}

// add indexes the links of sp, a span of t, into other traces.
func (x *linkIndex) add(t *trace, sp *Span) {
	for _, l := range sp.Links {
		if l.TraceID == t.id || !l.TraceID.IsValid() || !l.SpanID.IsValid() {
			continue
		}
		x.out[t] = append(x.out[t], RelatedLink{SpanID: sp.SpanID.String(), TraceID: l.TraceID, LinkedSpanID: l.SpanID.String()})
		x.in[l.TraceID] = append(x.in[l.TraceID], inLink{t, RelatedLink{SpanID: l.SpanID.String(), TraceID: t.id, LinkedSpanID: sp.SpanID.String()}})
	}
}

// evict drops what the index holds of t, evicted from the store.
func (x *linkIndex) evict(t *trace) {
	var done []TraceID // the traces t links to, each filtered once
	for _, l := range x.out[t] {
		if slices.Contains(done, l.TraceID) {
			continue
		}
		done = append(done, l.TraceID)
		links := x.in[l.TraceID]
		kept := slices.DeleteFunc(links, func(in inLink) bool { return in.from == t })
		if len(kept) == 0 {
			delete(x.in, l.TraceID)
		} else {
			x.in[l.TraceID] = kept
		}
	}
	delete(x.out, t)
	delete(x.read, t)
}

// related returns the links of trace id, and false when s does not hold
// the trace.
func (x *linkIndex) related(s *Store, id TraceID) (Related, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.update(s)
	s.mu.Lock()
	e, ok := s.traces[id]
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
	for _, l := range x.out[e.Value.(*trace)] {
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

// stream sends the links of trace id and the spans of the traces they
// name as they change (see the note at the top of this file). New links
// come with new spans of other traces: every record published wakes the
// stream (a job's trace gets its record, of kind RecordBackground, when its root
// span arrives), and so does the keep-alive tick.
func (h *relatedHandler) stream(w http.ResponseWriter, r *http.Request, id TraceID) {
	a, store := h.api, h.api.Store
	wake, cancel := store.SubscribeRequests() // before the first answer: no news missed
	defer cancel()
	rel, ok := h.index.related(store, id)
	if !ok {
		noTrace(w)
		return
	}
	ctx, stop := context.WithCancel(r.Context())
	defer stop() // ends the followers

	poke := make(chan struct{}, 1) // a followed trace changed
	rc := startEvents(w)
	var sentLinks []byte
	followed := map[TraceID]int{} // spans sent of each followed trace
	ticker := time.NewTicker(min(a.KeepAlive, a.Idle))
	defer ticker.Stop()
	changed := time.Now()
	for {
		if b, err := json.Marshal(rel); err == nil && !bytes.Equal(b, sentLinks) {
			sentLinks, changed = b, time.Now()
			if _, err := fmt.Fprintf(w, "event: related\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		for _, other := range rel.Traces {
			sent, ok := followed[other]
			if !ok {
				if len(followed) == maxFollowed || !follow(ctx, store, other, poke) {
					continue
				}
			}
			spans, _ := store.Spans(other, sent)
			followed[other] = sent + len(spans)
			if len(spans) == 0 {
				continue
			}
			changed = time.Now()
			b, err := MarshalOTLPJSON(spans)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "event: spans\ndata: {\"traceId\":\"%s\",\"trace\":%s}\n\n", other, b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
		passed := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poke:
		case <-ticker.C:
			if time.Since(changed) >= a.Idle {
				fmt.Fprint(w, "event: idle\ndata: {}\n\n")
				rc.Flush()
				return
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if wait := relatedEvery - time.Since(passed); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		if rel, ok = h.index.related(store, id); !ok {
			fmt.Fprint(w, "event: evicted\ndata: {}\n\n")
			rc.Flush()
			return
		}
	}
}

// follow pokes whenever trace id changes, until ctx ends or the trace is
// evicted. It reports false when the store does not hold the trace.
func follow(ctx context.Context, store *Store, id TraceID, poke chan<- struct{}) bool {
	changes, cancel, ok := store.Subscribe(id)
	if !ok {
		return false
	}
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, open := <-changes:
				select {
				case poke <- struct{}{}:
				default:
				}
				if !open {
					return
				}
			}
		}
	}()
	return true
}
